"""The face-centred working region: cut it from the source, paste the rendered crop back.

Rendering happens in a box around the head (the fixed anchor ring plus a margin), clipped to
the image and scaled down when the face is large, so the per-frame cost does not grow with the
image size. Pasting back at full resolution is a plain copy when the box was not scaled (the
warp is exactly the identity at the box border) and a feathered blend otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from thead.backends.warp.mesh import FIXED_RING

BOX_REACH = FIXED_RING + 0.35  # box half-side over the face oval's largest radius
MAX_WORK_SIDE = 1024  # working crops larger than this are scaled down (faces over ~390 px across)
CROP_ONLY_REACH = 1.6  # ``--crop-only`` half-side over the oval radius
CROP_ONLY_SIDE = 512


@dataclass(frozen=True)
class PasteMask:
    """Where and how much of a scaled working crop replaces the original image (box pixels)."""

    roi: tuple[int, int, int, int]  # x0, y0, x1, y1 of the blended part of the box
    weight: np.ndarray  # float32 weights of the rendered crop inside ``roi``
    inverse: np.ndarray  # 1 - weight


@dataclass(frozen=True)
class CropBox:
    """An axis-aligned box of the source image and the scale of its working copy."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float

    @classmethod
    def around(cls, centre: np.ndarray, radius: float, image_size: tuple[int, int]) -> CropBox:
        """The working box for a face whose oval is centred at ``centre`` with largest radius ``radius``."""
        width, height = image_size
        half = BOX_REACH * radius
        x0, y0 = max(0, int(np.floor(centre[0] - half))), max(0, int(np.floor(centre[1] - half)))
        x1, y1 = min(width, int(np.ceil(centre[0] + half))), min(height, int(np.ceil(centre[1] + half)))
        scale = min(1.0, MAX_WORK_SIDE / max(x1 - x0, y1 - y0))
        return cls(x0, y0, x1, y1, scale)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the working crop."""
        return (max(2, round((self.x1 - self.x0) * self.scale)), max(2, round((self.y1 - self.y0) * self.scale)))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image points [N, 3] (x, y, z pixels) to working-crop pixels."""
        out = np.asarray(points, np.float32).copy()
        out[:, 0] = (out[:, 0] + 0.5 - self.x0) * self.scale - 0.5
        out[:, 1] = (out[:, 1] + 0.5 - self.y0) * self.scale - 0.5
        out[:, 2] *= self.scale
        return out

    def cut(self, image: np.ndarray) -> np.ndarray:
        """The working crop of ``image``."""
        crop = image[self.y0 : self.y1, self.x0 : self.x1]
        if self.scale == 1.0:
            return np.ascontiguousarray(crop)
        return cv2.resize(crop, self.size, interpolation=cv2.INTER_AREA)

    def paste_mask(self, moving: np.ndarray) -> PasteMask | None:
        """Feathered blend weights at full box resolution from a working-size ``moving`` mask (None when unscaled)."""
        if self.scale == 1.0:
            return None
        feather = max(3, int(0.03 * max(moving.shape)) | 1)
        soft = cv2.GaussianBlur(moving.astype(np.float32), (feather, feather), 0)
        weight = cv2.resize(soft, (self.x1 - self.x0, self.y1 - self.y0), interpolation=cv2.INTER_LINEAR)
        ys, xs = np.nonzero(weight > 1.0 / 512)
        if len(xs) == 0:
            ys, xs = np.array([0]), np.array([0])
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        inside = np.ascontiguousarray(weight[y0:y1, x0:x1])
        return PasteMask((x0, y0, x1, y1), inside, 1.0 - inside)

    def paste(self, image: np.ndarray, crop: np.ndarray, mask: PasteMask | None) -> np.ndarray:
        """``image`` with the rendered working ``crop`` put back in its box."""
        out = image.copy()
        if mask is None:
            out[self.y0 : self.y1, self.x0 : self.x1] = crop
            return out
        full = cv2.resize(crop, (self.x1 - self.x0, self.y1 - self.y0), interpolation=cv2.INTER_LINEAR)
        x0, y0, x1, y1 = mask.roi
        region = out[self.y0 + y0 : self.y0 + y1, self.x0 + x0 : self.x0 + x1]
        region[...] = cv2.blendLinear(full[y0:y1, x0:x1], region, mask.weight, mask.inverse)
        return out


def face_crop(image: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """A square ``CROP_ONLY_SIDE`` crop centred on the face (``--crop-only``).

    Where the crop reaches past the frame, the frame is mirrored at its edge (not its edge pixels
    stretched into stripes), and the mirrored part is softened and dimmed a little so that it
    reads as padding rather than as more of the scene.
    """
    side = 2 * CROP_ONLY_REACH * radius
    scale = CROP_ONLY_SIDE / side
    affine = np.array([[scale, 0, CROP_ONLY_SIDE / 2 - scale * centre[0]],
                       [0, scale, CROP_ONLY_SIDE / 2 - scale * centre[1]]], np.float32)
    size = (CROP_ONLY_SIDE, CROP_ONLY_SIDE)
    flags = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, affine, size, flags=flags, borderMode=cv2.BORDER_REFLECT_101)
    # Share of each crop pixel that lies in the frame, per axis (1 inside, ramping to 0 over one pixel).
    along = np.arange(CROP_ONLY_SIDE, dtype=np.float32)
    in_x = np.clip(np.minimum((along - affine[0, 2]) / scale + 1, image.shape[1] - (along - affine[0, 2]) / scale), 0, 1)
    in_y = np.clip(np.minimum((along - affine[1, 2]) / scale + 1, image.shape[0] - (along - affine[1, 2]) / scale), 0, 1)
    if in_x.min() >= 1.0 and in_y.min() >= 1.0:
        return crop
    return _mark_padding(crop, np.outer(in_y, in_x))


PADDING_BLUR = 0.02  # blur of the mirrored padding, as a fraction of the crop side
PADDING_DIM = 0.85  # brightness of the mirrored padding relative to the scene


def _mark_padding(crop: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """``crop`` with its mirrored padding (where ``inside`` < 1) blurred and dimmed, fading in past the frame edge."""
    sigma = PADDING_BLUR * crop.shape[0]
    soft = cv2.GaussianBlur(crop, (0, 0), sigma).astype(np.float32) * PADDING_DIM
    keep = np.maximum(inside, cv2.GaussianBlur(inside, (0, 0), sigma))[..., None]  # 1 in the frame
    return np.clip(soft + keep * (crop.astype(np.float32) - soft) + 0.5, 0, 255).astype(np.uint8)


def polygon_mask(polygon: np.ndarray, shape: tuple[int, int], supersample: int = 4) -> np.ndarray:
    """Anti-aliased float32 mask in [0, 1] of a polygon given in pixel coordinates of an image of ``shape``."""
    h, w = shape
    big = np.zeros((h * supersample, w * supersample), np.uint8)
    scaled = np.round((np.asarray(polygon) + 0.5) * supersample - 0.5).astype(np.int32)
    cv2.fillPoly(big, [scaled], 255)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
