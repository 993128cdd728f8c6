"""AKD, average keypoint distance (FOMM evaluation, Siarohin et al. 2019).

Face landmarks of the generated and the reference frame are expressed in a 256x256 frame (FOMM
evaluates 256x256 videos), and AKD is the mean absolute coordinate difference over all 68 points
and both coordinates (L1 per coordinate, not Euclidean), averaged over frames where both faces
were found (the others are skipped and counted).
"""

from __future__ import annotations

import numpy as np

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.landmarks import dlib_available, sample_68
from thead.metrics.lmd import paired_result

EVAL_SIZE = 256


def to_eval_frame(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[T, K, 2] pixel landmarks of a (width, height) frame rescaled to the 256x256 evaluation frame."""
    return points * (EVAL_SIZE / np.array(size, dtype=np.float64))


def average_keypoint_distance(generated: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-frame AKD of [T, K, 2] landmark sets: mean |difference| over points and coordinates."""
    return np.abs(generated - reference).mean(axis=(1, 2))


class AKD(Metric):
    name = "akd"
    higher_is_better = False
    needs = frozenset({"ref"})
    landmark_model = "mediapipe"
    protocol = {
        "reference": "FOMM evaluation (Siarohin et al. 2019) AKD", "points": "iBUG-68",
        "distance": "mean absolute coordinate difference (L1 per coordinate)", "resolution": "coordinates at 256x256",
        "frames": "mean over paired detections",
        "landmarks": "embedded MediaPipe 478-point mesh (tracking mode) mapped to iBUG-68 (FOMM used face-alignment)",
    }

    def compute(self, sample: Sample) -> MetricResult:
        height, width = sample.frames[0].shape[:2]
        generated, _ = sample_68(sample, "generated", self.landmark_model)
        reference, _ = sample_68(sample, "reference", self.landmark_model)
        per_frame = average_keypoint_distance(to_eval_frame(generated, (width, height)),
                                              to_eval_frame(reference, (width, height)))
        return paired_result(per_frame, len(sample.frames))


class AKDDlib(AKD):
    name = "akd-dlib"
    landmark_model = "dlib"
    protocol = {**AKD.protocol, "landmarks": "dlib 68-point shape predictor on HOG detections"}
    unavailable = staticmethod(dlib_available)
