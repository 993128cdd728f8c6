"""PSNR: per frame on uint8 RGB with data range 255, then the mean over frames.

This is scikit-image's ``peak_signal_noise_ratio`` per frame; the mean of per-frame PSNRs is not the
PSNR of the pooled MSE (the survey's tables average per-frame values). An identical frame has an
infinite PSNR, which makes the mean infinite; the result says so instead of hiding it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from thead.metrics.base import Metric, MetricResult, Sample, parallel_map

BATCH = 8


def mse_frames(generated: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> np.ndarray:
    """Per-frame mean squared error of aligned uint8 frames, exact (integer sums)."""
    def batch_mse(start: int) -> np.ndarray:
        g = np.stack(generated[start:start + BATCH]).astype(np.int32)
        r = np.stack(reference[start:start + BATCH]).astype(np.int32)
        diff = (g - r).reshape(len(g), -1)
        return np.einsum("ij,ij->i", diff, diff).astype(np.float64) / diff.shape[1]
    return np.concatenate(parallel_map(batch_mse, range(0, len(generated), BATCH)))


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
