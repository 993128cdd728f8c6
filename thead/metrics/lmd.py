"""LMD, landmark distance of the mouth (Chen et al. 2018).

Per frame, the 20 mouth landmarks of the iBUG 68-point scheme (points 48-67) of the generated and
the reference frame are each centred on their own mean (so head translation does not count), and
the mean Euclidean distance over the 20 points is taken, in pixels of the generated frame; LMD is
the mean over frames where both faces were found (the others are skipped and counted).
"""

from __future__ import annotations

import numpy as np

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.landmarks import dlib_available, sample_68

MOUTH = slice(48, 68)


def mouth_landmark_distance(generated: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-frame LMD of [T, 68, 2] landmark sets (NaN where either frame has no landmarks)."""
    g = generated[:, MOUTH] - generated[:, MOUTH].mean(axis=1, keepdims=True)
    r = reference[:, MOUTH] - reference[:, MOUTH].mean(axis=1, keepdims=True)
    return np.linalg.norm(g - r, axis=2).mean(axis=1)


def paired_result(per_frame: np.ndarray, total: int) -> MetricResult:
    """Mean over frames with a value, and a note counting the skipped ones."""
    valid = ~np.isnan(per_frame)
    notes = [f"{total - int(valid.sum())} of {total} frames skipped (no face in one of the pair)"] if not valid.all() else []
    value = float(per_frame[valid].mean()) if valid.any() else float("nan")
    return MetricResult(value, per_frame=per_frame, notes=notes)


class LMD(Metric):
    name = "lmd"
    higher_is_better = False
    needs = frozenset({"ref"})
    landmark_model = "mediapipe"
    protocol = {
        "reference": "Chen et al. 2018 (ATVGnet) LMD", "points": "iBUG-68 mouth 48-67, each set mean-centred",
        "distance": "mean Euclidean per point, pixels of the generated frame", "frames": "mean over paired detections",
        "landmarks": "embedded MediaPipe 478-point mesh (tracking mode) mapped to iBUG-68",
    }

    def compute(self, sample: Sample) -> MetricResult:
        generated, _ = sample_68(sample, "generated", self.landmark_model)
        reference, _ = sample_68(sample, "reference", self.landmark_model)
        return paired_result(mouth_landmark_distance(generated, reference), len(sample.frames))


class LMDDlib(LMD):
    name = "lmd-dlib"
    landmark_model = "dlib"
    protocol = {**LMD.protocol, "landmarks": "dlib 68-point shape predictor on HOG detections (paper-compatible)"}
    unavailable = staticmethod(dlib_available)
