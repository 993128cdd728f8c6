"""PSNR: per frame on uint8 RGB with data range 255, then the mean over frames.

This is scikit-image's ``peak_signal_noise_ratio`` per frame; the mean of per-frame PSNRs is not the
PSNR of the pooled MSE (the survey's tables average per-frame values). An identical frame has an
infinite PSNR, which makes the mean infinite; the result says so instead of hiding it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from thead.metrics.base import Metric, MetricResult, Sample, parallel_map



def mse_frames(generated: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> np.ndarray:
    """Per-frame mean squared error of aligned uint8 frames, exact (OpenCV's integer-accumulated L2SQR)."""
    def frame_mse(pair: tuple[np.ndarray, np.ndarray]) -> float:
        g, r = pair
        if g.dtype != np.uint8 or r.dtype != np.uint8:
            diff = g.astype(np.float64) - r
            return float(np.mean(diff * diff))
        return cv2.norm(g, r, cv2.NORM_L2SQR) / g.size
    return np.array(parallel_map(frame_mse, list(zip(generated, reference))), dtype=np.float64)


def psnr_from_mse(mse: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """10 log10(range^2 / MSE); +inf where MSE is 0."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / np.asarray(mse, dtype=np.float64))


class PSNR(Metric):
    name = "psnr"
    higher_is_better = True
    needs = frozenset({"ref"})
    protocol = {
        "reference": "scikit-image peak_signal_noise_ratio", "data_range": 255, "color": "RGB uint8",
        "frames": "per-frame PSNR, then mean (not PSNR of the pooled MSE)",
    }

    def compute(self, sample: Sample) -> MetricResult:
        per_frame = psnr_from_mse(mse_frames(sample.frames, sample.reference))
        notes = []
        identical = int(np.isinf(per_frame).sum())
        if identical:
            notes.append(f"{identical} frame(s) identical to the reference: PSNR is infinite")
        return MetricResult(float(per_frame.mean()), per_frame=per_frame, notes=notes)
