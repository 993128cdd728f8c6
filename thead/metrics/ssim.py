"""SSIM (Wang et al. 2004) in float64 with OpenCV's separable filter, plus the field's named variants.

Default protocol = Wang's ``ssim_index.m`` / scikit-image ``structural_similarity(gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=255)``: 11x11 Gaussian window, K1 0.01, K2 0.03,
population covariance, valid region only, RGB = mean of the per-channel SSIMs, mean over frames.

Speed: the five local moments of (x, y) are rewritten as four moments of s = x + y and d = x - y
(2 mu_x mu_y = (mu_s^2 - mu_d^2) / 2, 2 sigma_xy = (var_s - var_d) / 2, and likewise for the
sums), filtered per plane in float64 on a thread pool; the result equals scikit-image to ~1e-14.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import cv2
import numpy as np

from thead.metrics.base import Metric, MetricResult, Sample, parallel_map

K1, K2 = 0.01, 0.03
BT601 = (0.299, 0.587, 0.114)


def gaussian_kernel(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    """The 1-D Gaussian scipy/scikit-image use: radius int(truncate * sigma + 0.5), normalised."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def uniform_kernel(size: int = 7) -> np.ndarray:
    """scikit-image's legacy default window: a ``size`` box filter."""
    return np.full(size, 1.0 / size)


def ssim_plane(x: np.ndarray, y: np.ndarray, kernel: np.ndarray | None = None, data_range: float = 255.0,
               sample_covariance: bool = False) -> float:
    """Mean SSIM of two 2-D planes over the valid region of ``kernel`` (separable, odd length)."""
    kernel = gaussian_kernel() if kernel is None else kernel
    pad = len(kernel) // 2
    n = len(kernel) ** 2
    cov_norm = n / (n - 1) if sample_covariance else 1.0
    s = x.astype(np.float64) + y
    d = x.astype(np.float64) - y
    mu_s, mu_d, m_ss, m_dd = (
        cv2.sepFilter2D(m, cv2.CV_64F, kernel, kernel)[pad:-pad, pad:-pad] for m in (s, d, s * s, d * d)
    )
    # In place, all terms doubled: 2 mu_x mu_y = (mu_s^2 - mu_d^2) / 2, mu_x^2 + mu_y^2 = (mu_s^2 + mu_d^2) / 2,
    # and likewise for the (co)variances; the factor 2 cancels in the ratio.
    c1, c2 = 2 * (K1 * data_range) ** 2, 2 * (K2 * data_range) ** 2
    mu_s *= mu_s
    mu_d *= mu_d
    m_ss -= mu_s
    m_dd -= mu_d
    m_ss *= cov_norm
    m_dd *= cov_norm
    numerator = mu_s - mu_d
    numerator += c1
    mu_s += mu_d
    mu_s += c1
    var_diff = m_ss - m_dd
    var_diff += c2
    m_ss += m_dd
    m_ss += c2
    numerator *= var_diff
    mu_s *= m_ss
    numerator /= mu_s
    return float(numerator.mean())


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """Unrounded BT.601 luma of an HxWx3 image, float64."""
    return rgb.astype(np.float64) @ np.array(BT601)


def downsample_wang(plane: np.ndarray) -> np.ndarray:
    """Wang's ``ssim.m`` pre-step: f = max(1, round(min(H, W) / 256)); f x f mean filter
    (MATLAB ``imfilter`` 'symmetric' 'same'), then every f-th pixel from the first."""
    f = max(1, int(np.floor(min(plane.shape) / 256 + 0.5)))
    if f == 1:
        return plane.astype(np.float64)
    before = (f + 1) // 2 - 1  # MATLAB's kernel centre for an even or odd size f
    padded = np.pad(plane.astype(np.float64), ((before, f - 1 - before),) * 2, mode="symmetric")
    rows, cols = -(-plane.shape[0] // f), -(-plane.shape[1] // f)
    return padded[: rows * f, : cols * f].reshape(rows, f, cols, f).mean(axis=(1, 3))


def _planes(generated: np.ndarray, reference: np.ndarray, variant: str) -> list[tuple[np.ndarray, np.ndarray]]:
    if variant == "gray":
        return [(to_gray(generated), to_gray(reference))]
    planes = [(generated[..., c], reference[..., c]) for c in range(generated.shape[2])]
    if variant == "downsample":
        planes = [(downsample_wang(x), downsample_wang(y)) for x, y in planes]
    return planes


def ssim_frames(generated: Sequence[np.ndarray], reference: Sequence[np.ndarray], variant: str = "wang") -> np.ndarray:
    """Per-frame SSIM of two aligned uint8 RGB frame lists under ``variant``
    ("wang", "gray", "downsample" or "skimage-legacy")."""
    kernel, sample_cov = (uniform_kernel(7), True) if variant == "skimage-legacy" else (gaussian_kernel(), False)
    jobs = [(i, x, y) for i, (g, r) in enumerate(zip(generated, reference)) for x, y in _planes(g, r, variant)]
    values = parallel_map(lambda job: ssim_plane(job[1], job[2], kernel, 255.0, sample_cov), jobs)
    per_frame = np.zeros(len(generated))
    counts = np.zeros(len(generated))
    for (i, _, _), value in zip(jobs, values):
        per_frame[i] += value
        counts[i] += 1
    return per_frame / counts


class SSIM(Metric):
    name = "ssim"
    higher_is_better = True
    needs = frozenset({"ref"})
    variant: ClassVar[str] = "wang"
    protocol = {
        "reference": "Wang et al. 2004 ssim_index.m = scikit-image structural_similarity(gaussian_weights=True, "
                     "sigma=1.5, use_sample_covariance=False, data_range=255)",
        "window": "11x11 Gaussian, sigma 1.5", "K": [K1, K2], "data_range": 255,
        "region": "valid (5 px border dropped)", "color": "RGB, mean over channels",
        "resolution": "native, no downsampling", "frames": "per frame, then mean",
    }

    def compute(self, sample: Sample) -> MetricResult:
        per_frame = ssim_frames(sample.frames, sample.reference, self.variant)
        return MetricResult(float(per_frame.mean()), per_frame=per_frame)


class SSIMGray(SSIM):
    name = "ssim-gray"
    variant = "gray"
    protocol = {**SSIM.protocol, "color": "BT.601 luma 0.299R + 0.587G + 0.114B, unrounded"}


class SSIMDownsample(SSIM):
    name = "ssim-downsample"
    variant = "downsample"
    protocol = {**SSIM.protocol, "reference": "Wang's ssim.m (2009) automatic downsampling (= piq's default)",
                "resolution": "f = max(1, round(min(H, W) / 256)): f x f mean, every f-th pixel"}


class SSIMSkimageLegacy(SSIM):
    name = "ssim-skimage-legacy"
    variant = "skimage-legacy"
    protocol = {**SSIM.protocol, "reference": "scikit-image structural_similarity defaults (many talking-head repos)",
                "window": "7x7 uniform", "covariance": "sample (N - 1)", "region": "valid (3 px border dropped)"}
