"""CPBD sharpness (Narvekar & Karam 2011), reproducing the ``cpbd`` 1.0.7 package exactly, vectorised.

Pipeline of ``cpbd.compute`` on a grayscale image (RGB frames are converted the way PIL's 'L'
mode rounds): scikit-image Canny edges (sigma 1, default thresholds) pick the 64x64 edge blocks
(> 0.2 % edge pixels); Octave-style Sobel edges (normalised vertical kernel, threshold
2 sqrt(mean), simple thinning) get Marziliano edge widths along the quantised gradient direction
(0 or 180 degrees only, at most 101 px per side); blur probability 1 - exp(-(w / w_JNB)^3.6) with
w_JNB = 5 for block contrast <= 50 else 3; score = fraction of probabilities that round (half to
even, as Python's ``round``) to <= 63 %. The package's per-pixel loops become run-length scans.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve
from skimage.feature import canny

from thead.metrics.base import Metric, MetricResult, Sample, luma_pil, parallel_map

THRESHOLD = 0.002
BETA = 3.6
BLOCK = 64
MAX_MARGIN = 100
# The Octave/skimage Sobel kernel (1, 2, 1) x (1, 0, -1) / 4, normalised by its absolute sum, transposed.
SOBEL_X = (np.array([[0.25, 0.5, 0.25], [0.0, 0.0, 0.0], [-0.25, -0.5, -0.25]]) / 2.0).T


def sobel_edges(image: np.ndarray) -> np.ndarray:
    """Octave ``edge(..., 'sobel')`` as the package ports it: vertical edges, thresholded, thinned."""
    strength = np.square(convolve(image, SOBEL_X))
    strength[strength <= 2 * np.sqrt(np.mean(strength))] = 0
    zero_col = np.zeros((strength.shape[0], 1))
    zero_row = np.zeros((1, strength.shape[1]))
    horizontal = (strength > np.hstack([zero_col, strength[:, :-1]])) & (strength > np.hstack([strength[:, 1:], zero_col]))
    vertical = (strength > np.vstack([zero_row, strength[:-1]])) & (strength > np.vstack([strength[1:], zero_row]))
    return horizontal | vertical


def _run_left(cond: np.ndarray) -> np.ndarray:
    """Per row: how many consecutive True values end at each column (scanning leftwards from it)."""
    idx = np.arange(cond.shape[1])
    last_false = np.maximum.accumulate(np.where(cond, -1, idx), axis=1)
    return idx - last_false


def _run_right(cond: np.ndarray) -> np.ndarray:
    return _run_left(cond[:, ::-1])[:, ::-1]


def marziliano_widths(edges: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Edge widths at edge pixels (0 elsewhere), as ``cpbd.compute.marziliano_method``."""
    widths = np.zeros(image.shape)
    grad_y, grad_x = np.gradient(image)
    angles = np.where(grad_x != 0, np.arctan2(grad_y, grad_x) * (180 / np.pi), 0.0)
    if not np.any(angles):
        return widths
    quantized = 45 * np.round(angles / 45)
    step = np.diff(image, axis=1)  # step[:, p] = image[:, p + 1] - image[:, p]
    falls = np.zeros(image.shape, dtype=bool)  # image[p - 1] > image[p]: still rising when walking left
    rises = np.zeros(image.shape, dtype=bool)  # image[p - 1] < image[p]
    falls[:, 1:], rises[:, 1:] = step < 0, step > 0
    dec_right = np.zeros(image.shape, dtype=bool)  # image[p + 1] < image[p]
    inc_right = np.zeros(image.shape, dtype=bool)
    dec_right[:, :-1], inc_right[:, :-1] = step < 0, step > 0
    inner = np.zeros(image.shape, dtype=bool)
    inner[1:-1, 1:-1] = edges[1:-1, 1:-1]
    for direction, left_cond, right_cond in ((180, falls, dec_right), (0, rises, inc_right)):
        mask = inner & ((quantized == direction) | (quantized == -direction))
        rows, cols = np.nonzero(mask)
        if rows.size == 0:
            continue
        left = np.minimum(_run_left(left_cond)[rows, cols - 1], MAX_MARGIN) + 1
        right = np.minimum(_run_right(right_cond)[rows, cols + 1], MAX_MARGIN) + 1
        widths[rows, cols] = left + right
    return widths


def cpbd_gray(image: np.ndarray) -> float:
    """CPBD of one grayscale image (any numeric dtype, 0..255 scale)."""
    image = np.asarray(image, dtype=np.float64)
    canny_edges = canny(image)
    widths = marziliano_widths(sobel_edges(image), image)
    rows, cols = image.shape[0] // BLOCK, image.shape[1] // BLOCK
    crop = (slice(0, rows * BLOCK), slice(0, cols * BLOCK))

    def blocks(a: np.ndarray) -> np.ndarray:
        return a[crop].reshape(rows, BLOCK, cols, BLOCK).swapaxes(1, 2).reshape(rows * cols, BLOCK * BLOCK)

    is_edge_block = np.count_nonzero(blocks(canny_edges), axis=1) > BLOCK * BLOCK * THRESHOLD
    pixels = blocks(image)[is_edge_block]
    block_widths = blocks(widths)[is_edge_block]
    contrast = (pixels.max(axis=1) - pixels.min(axis=1)).astype(int)
    jnb = np.where(contrast <= 50, 5.0, 3.0)[:, None]
    probability = 1 - np.exp(-np.abs(block_widths / jnb) ** BETA)
    buckets = np.rint(probability[block_widths != 0] * 100)
    if buckets.size == 0:
        return 0.0
    return float(np.count_nonzero(buckets <= 63) / buckets.size)


def cpbd_frames(frames: list[np.ndarray]) -> np.ndarray:
    """Per-frame CPBD of RGB (or gray) uint8 frames."""
    return np.array(parallel_map(lambda frame: cpbd_gray(luma_pil(frame)), frames))


class CPBD(Metric):
    name = "cpbd"
    higher_is_better = True
    needs = frozenset()
    protocol = {
        "reference": "cpbd 1.0.7 (Narvekar & Karam 2011), reproduced exactly", "gray": "PIL 'L' rounding",
        "edges": "scikit-image canny (sigma 1) for blocks; Octave Sobel for widths",
        "blocks": "64x64, edge block if > 0.2 % edge pixels", "jnb": "5 if contrast <= 50 else 3", "beta": BETA,
        "score": "P(blur probability <= 0.63)", "frames": "per frame of the generated video, then mean",
    }

    def compute(self, sample: Sample) -> MetricResult:
        per_frame = cpbd_frames(sample.frames)
        return MetricResult(float(per_frame.mean()), per_frame=per_frame)
