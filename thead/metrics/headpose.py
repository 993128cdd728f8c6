"""Head-pose range of the generated video: how much the head moves (a still head reads as fake).

Yaw, pitch and roll (degrees) from the 3D landmarks per frame; the range of each is its 5th to
95th percentile span, robust to a few bad frames. The headline value is the yaw range.
"""

from __future__ import annotations

import numpy as np

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.landmarks import sample_mesh


def pose_series(points: np.ndarray, found: np.ndarray) -> np.ndarray:
    """[T, 3] yaw, pitch, roll in degrees (NaN where no face)."""
    from thead.face.geometry import estimate_head_pose

    out = np.full((len(points), 3), np.nan)
    for i in np.flatnonzero(found):
        pose = estimate_head_pose(points[i])
        out[i] = pose.yaw, pose.pitch, pose.roll
    return out


def robust_range(values: np.ndarray) -> float:
    """5th-95th percentile span of the finite values (NaN if none)."""
    finite = values[np.isfinite(values)]
    return float(np.percentile(finite, 95) - np.percentile(finite, 5)) if finite.size else float("nan")


class HeadPoseRange(Metric):
    name = "headpose"
    label = "yaw range"
    higher_is_better = None
    extra_higher_is_better = {"pitch_range": None, "roll_range": None}
    needs = frozenset()
    protocol = {
        "measure": "yaw, pitch, roll from the 478-point mesh (thead.face.geometry.estimate_head_pose)",
        "range": "5th-95th percentile span, degrees", "landmarks": "embedded MediaPipe mesh (tracking mode)",
    }

    def compute(self, sample: Sample) -> MetricResult:
        poses = pose_series(*sample_mesh(sample))
        return MetricResult(robust_range(poses[:, 0]),
                            extras={"pitch_range": robust_range(poses[:, 1]), "roll_range": robust_range(poses[:, 2])},
                            per_frame=poses)
