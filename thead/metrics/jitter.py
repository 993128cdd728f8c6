"""Landmark jitter of the generated video: frame-to-frame acceleration of rigid face points.

Rigid points (eye corners, nose bridge and tip, face outline of the iBUG-68 scheme) move smoothly
in real footage; flicker and tracking noise in generated video show up as large second
differences. Per frame t: mean over points of ||p(t+1) - 2 p(t) + p(t-1)||, divided by the
inter-ocular distance and given in percent; the value is the mean over frames where all three
neighbours have a face.
"""

from __future__ import annotations

import numpy as np

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.landmarks import sample_68

RIGID = np.array([0, 1, 2, 14, 15, 16, 27, 28, 29, 30, 36, 39, 42, 45])


def landmark_jitter(points: np.ndarray) -> np.ndarray:
    """[T] jitter in percent of the inter-ocular distance (NaN at the ends and around missing faces)."""
    rigid = points[:, RIGID, :2].astype(np.float64)
    ocular = np.linalg.norm(points[:, 36, :2] - points[:, 45, :2], axis=1)
    out = np.full(len(points), np.nan)
    if len(points) >= 3:
        acceleration = np.linalg.norm(rigid[2:] - 2 * rigid[1:-1] + rigid[:-2], axis=2).mean(axis=1)
        out[1:-1] = 100.0 * acceleration / ocular[1:-1]
    return out


class LandmarkJitter(Metric):
    name = "jitter"
    label = "jitter %"
    higher_is_better = False
    needs = frozenset()
    protocol = {
        "measure": "mean ||second difference|| of 14 rigid iBUG-68 points / inter-ocular distance, percent",
        "frames": "mean over frames with faces at t-1, t, t+1",
        "landmarks": "embedded MediaPipe 478-point mesh (tracking mode)",
    }

    def compute(self, sample: Sample) -> MetricResult:
        points, _ = sample_68(sample)
        per_frame = landmark_jitter(points)
        valid = np.isfinite(per_frame)
        return MetricResult(float(per_frame[valid].mean()) if valid.any() else float("nan"), per_frame=per_frame)
