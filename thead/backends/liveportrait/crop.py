"""LivePortrait-style face crops from our 478 MediaPipe landmarks, and soft paste-back.

The crop follows LivePortrait's rule on 68-point landmarks (an MIT/Apache path: no insightface):
the square's up axis runs from the lip centre to the eye centre (roll is cancelled), its side is
the landmarks' extent times ``scale`` and its centre is shifted by ``vy_ratio`` of the side
towards the forehead. Eye and lip ratios use MediaPipe points standing in for the 203-point pairs
of :mod:`.retargeting` (vertical gap at the middle of the lids / inner lips over the width).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from thead.face.geometry import to_68

CROP_SIZE = 512  # the decoder's output size; the networks see the crop resized to 256


@dataclass(frozen=True)
class CropSettings:
    """Crop box rule: side = landmark extent * ``scale``; centre shifted by ``vx_ratio``/``vy_ratio`` of the side."""

    scale: float
    vx_ratio: float = 0.0
    vy_ratio: float = 0.0


SOURCE_CROP = CropSettings(scale=2.3, vy_ratio=-0.125)  # LivePortrait's source defaults
DRIVING_CROP = CropSettings(scale=2.2, vy_ratio=-0.1)  # and its driving-video defaults

# MediaPipe indices playing LivePortrait's ratio pairs: (numerator pair, denominator pair)
MEDIAPIPE_RATIO_PAIRS = {
    "left_eye": ((159, 145), (33, 133)),  # the eye on the image's left: mid upper/lower lid, corners
    "right_eye": ((386, 374), (362, 263)),
    "lip": ((13, 14), (61, 291)),  # inner lip middle, mouth corners
}


@dataclass(frozen=True)
class FaceCrop:
    """A similarity transform from the image to a ``size`` x ``size`` crop."""

    to_crop: np.ndarray  # 3x3, image pixels -> crop pixels
    size: int = CROP_SIZE

    @property
    def to_image(self) -> np.ndarray:
        return np.linalg.inv(self.to_crop)

    def cut(self, image: np.ndarray, size: int | None = None) -> np.ndarray:
        """The crop of an RGB image, resampled bilinearly to ``size`` (default: the crop size)."""
        size = size or self.size
        matrix = self.to_crop[:2] * np.array([[size / self.size], [size / self.size]])
        return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR)

    def points(self, points: np.ndarray) -> np.ndarray:
        """Image pixel coordinates [N, >=2] -> crop pixel coordinates [N, 2]."""
        return np.asarray(points, np.float64)[:, :2] @ self.to_crop[:2, :2].T + self.to_crop[:2, 2]


def crop_from_landmarks(points: np.ndarray, settings: CropSettings = SOURCE_CROP, size: int = CROP_SIZE) -> FaceCrop:
    """LivePortrait's rotated square crop around a face given its 478 landmarks."""
    pts = np.asarray(to_68(points), np.float64)[:, :2]
    eyes = (pts[36] + pts[39] + pts[42] + pts[45]) / 4
    lips = (pts[48] + pts[54]) / 2
    down = lips - eyes
    length = np.linalg.norm(down)
    down = down / length if length > 1e-3 else np.array([0.0, 1.0])
    right = np.array([down[1], -down[0]])
    axes = np.stack([right, down])  # rows: the crop's x and y axes in image coordinates
    centre = pts.mean(axis=0)
    local = (pts - centre) @ axes.T
    low, high = local.min(axis=0), local.max(axis=0)
    side = float((high - low).max()) * settings.scale
    centre = centre + axes.T @ ((low + high) / 2)
    centre = centre + right * settings.vx_ratio * side + down * settings.vy_ratio * side
    s = size / side
    to_crop = np.eye(3)
    to_crop[:2, :2] = s * axes
    to_crop[:2, 2] = size / 2 - s * axes @ centre
    return FaceCrop(to_crop, size)


def closure_ratios(points: np.ndarray) -> tuple[np.ndarray, float]:
    """(left, right) eye and lip opening ratios of 478 landmarks, in LivePortrait's definitions."""
    p = np.asarray(points, np.float64)[:, :2]

    def ratio(name: str) -> float:
        (a, b), (c, d) = MEDIAPIPE_RATIO_PAIRS[name]
        return float(np.linalg.norm(p[a] - p[b]) / (np.linalg.norm(p[c] - p[d]) + 1e-6))

    return np.array([ratio("left_eye"), ratio("right_eye")], np.float32), ratio("lip")


def paste_mask(size: int = CROP_SIZE, margin: float = 0.08, feather: float = 0.06) -> np.ndarray:
    """Soft [size, size] float32 mask: 1 inside the crop, falling smoothly to 0 at its border."""
    mask = np.zeros((size, size), np.float32)
    inner = int(round(size * (margin + feather)))
    mask[inner : size - inner, inner : size - inner] = 1.0
    sigma = feather * size / 2
    return cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma)


def paste_back(crop_rgb: np.ndarray, crop: FaceCrop, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Blend a rendered crop into ``image`` through the crop's inverse transform and a soft mask.

    ``mask`` is the paste mask already warped to the image (:func:`image_mask`).
    """
    height, width = image.shape[:2]
    scale = crop.size / crop_rgb.shape[0]
    to_image = crop.to_image[:2] @ np.diag([scale, scale, 1.0])
    warped = cv2.warpAffine(crop_rgb, to_image, (width, height), flags=cv2.INTER_LINEAR)
    blended = mask[..., None] * warped.astype(np.float32) + (1 - mask[..., None]) * image.astype(np.float32)
    return np.clip(blended, 0, 255).astype(np.uint8)


def image_mask(crop: FaceCrop, image_size: tuple[int, int]) -> np.ndarray:
    """The soft paste mask warped into an image of ``(width, height)``."""
    return cv2.warpAffine(paste_mask(crop.size), crop.to_image[:2], image_size, flags=cv2.INTER_LINEAR)
