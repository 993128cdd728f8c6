"""Face and mouth regions for the region metrics: boxes from landmarks, SSIM inside a box, Laplacian sharpness.

Boxes are (x0, y0, x1, y1) in pixels. The face box is the extent of the 478-point mesh (brow to chin,
ear to ear); the mouth box is the extent of the 20 iBUG-68 mouth points (48-67) widened by
``MOUTH_MARGIN`` of the mouth's width on every side, so lips, teeth and the skin around them count.
A box is clipped to the frame and never smaller than the SSIM window.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from thead.metrics.ssim import gaussian_kernel, ssim_plane, to_gray

MOUTH = slice(48, 68)
MOUTH_MARGIN = 0.25
MIN_SIDE = 2 * (len(gaussian_kernel()) // 2) + 3  # the valid region of the 11x11 window keeps >= 3x3 pixels


def mouth_boxes(points68: np.ndarray) -> np.ndarray:
    """[T, 4] mouth boxes of [T, 68, 2] landmarks (NaN rows where a frame has no landmarks)."""
    mouth = np.asarray(points68, np.float64)[:, MOUTH, :2]
    low, high = mouth.min(axis=1), mouth.max(axis=1)
    pad = MOUTH_MARGIN * (high[:, :1] - low[:, :1])
    return np.concatenate([low - pad, high + pad], axis=1)


def mesh_boxes(points: np.ndarray) -> np.ndarray:
    """[T, 4] extents of [T, N, 2+] landmark sets (NaN rows where a frame has no landmarks)."""
    xy = np.asarray(points, np.float64)[..., :2]
    return np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1)


def fill_nearest(boxes: np.ndarray) -> np.ndarray:
    """Rows that are NaN take the nearest frame's box; all NaN stays all NaN."""
    valid = np.nonzero(~np.isnan(boxes).any(axis=1))[0]
    if len(valid) in (0, len(boxes)):
        return boxes
    nearest = valid[np.abs(np.arange(len(boxes))[:, None] - valid[None, :]).argmin(axis=1)]
    return boxes[nearest]


def pixel_box(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """``box`` rounded outwards, clipped to the frame and grown to ``MIN_SIDE``; None for a NaN box."""
    if np.isnan(box).any():
        return None
    x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
    x1, y1 = int(np.ceil(box[2])), int(np.ceil(box[3]))
    x0, x1 = _span(x0, x1, width)
    y0, y1 = _span(y0, y1, height)
    return x0, y0, x1, y1


def _span(start: int, stop: int, size: int) -> tuple[int, int]:
    start, stop = max(0, start), min(size, stop)
    missing = MIN_SIDE - (stop - start)
    if missing > 0:
        start = max(0, start - (missing + 1) // 2)
        stop = min(size, max(stop, start + MIN_SIDE))
        start = max(0, stop - MIN_SIDE)
    return start, stop


def crop(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return frame[y0:y1, x0:x1]


def region_ssim(generated: np.ndarray, reference: np.ndarray, box: np.ndarray) -> float:
    """SSIM (Wang protocol, RGB mean over channels) of two frames inside ``box``; NaN for a NaN box."""
    height, width = reference.shape[:2]
    pixels = pixel_box(box, width, height)
    if pixels is None:
        return float("nan")
    g, r = crop(generated, pixels), crop(reference, pixels)
    return float(np.mean([ssim_plane(g[..., c], r[..., c]) for c in range(g.shape[2])]))


def region_ssim_frames(generated: Sequence[np.ndarray], reference: Sequence[np.ndarray], boxes: np.ndarray) -> np.ndarray:
    """Per-frame region SSIM of aligned frames, one box per frame."""
    return np.array([region_ssim(g, r, b) for g, r, b in zip(generated, reference, boxes)], dtype=np.float64)


def laplacian_variance(frame: np.ndarray, box: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the BT.601 luma inside ``box`` (the box's border row and
    column dropped): the usual focus measure, = scikit-image ``filters.laplace`` on the same crop."""
    height, width = frame.shape[:2]
    pixels = pixel_box(box, width, height)
    if pixels is None:
        return float("nan")
    gray = to_gray(crop(frame, pixels)) if frame.ndim == 3 else crop(frame, pixels).astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F, ksize=1)[1:-1, 1:-1].var())


def sharpness_ratio(generated: Sequence[np.ndarray], generated_boxes: np.ndarray, reference: Sequence[np.ndarray],
                    reference_boxes: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean face-box Laplacian variance of ``generated`` over that of ``reference`` (each in its own boxes),
    and the per-frame ratios."""
    g = np.array([laplacian_variance(f, b) for f, b in zip(generated, generated_boxes)])
    r = np.array([laplacian_variance(f, b) for f, b in zip(reference, reference_boxes)])
    with np.errstate(divide="ignore", invalid="ignore"):
        per_frame = g / r
        return float(np.nanmean(g) / np.nanmean(r)), per_frame
