"""Blink rate of the generated video, in blinks per minute (people blink about 15-20 times a minute).

Eye openness (lid gap over eye width, both eyes averaged) is divided by its median over the video,
the open-eye baseline; a blink is a run of frames below 0.5 of the baseline, and runs closer than
0.1 s are merged. Frames without a face are left out of the runs.
"""

from __future__ import annotations

import numpy as np

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.landmarks import sample_mesh

CLOSED_RATIO = 0.5
MERGE_SECONDS = 0.1


def count_blinks(openness: np.ndarray, fps: float) -> int:
    """Number of closure events in a [T] eye-openness series (NaN where unknown)."""
    valid = ~np.isnan(openness)
    if valid.sum() < 2:
        return 0
    baseline = np.median(openness[valid])
    closed = valid & (openness < CLOSED_RATIO * baseline)
    starts = np.flatnonzero(closed & ~np.concatenate([[False], closed[:-1]]))
    ends = np.flatnonzero(closed & ~np.concatenate([closed[1:], [False]]))
    gap = max(1, int(round(MERGE_SECONDS * fps)))
    return int(1 + np.count_nonzero(starts[1:] - ends[:-1] > gap)) if len(starts) else 0


def eye_openness_series(points: np.ndarray, found: np.ndarray) -> np.ndarray:
    from thead.face.geometry import eye_openness

    return np.array([np.mean(eye_openness(p)) if ok else np.nan for p, ok in zip(points, found)])


class BlinkRate(Metric):
    name = "blink"
    label = "blinks/min"
    higher_is_better = None
    needs = frozenset()
    protocol = {
        "measure": "eye openness (lid gap / eye width, both eyes) over its median; blink = run below 0.5",
        "merge": "runs closer than 0.1 s count once", "unit": "blinks per minute of video",
        "landmarks": "embedded MediaPipe 478-point mesh (tracking mode)",
    }

    def compute(self, sample: Sample) -> MetricResult:
        openness = eye_openness_series(*sample_mesh(sample))
        blinks = count_blinks(openness, sample.fps)
        minutes = len(sample.frames) / sample.fps / 60.0
        return MetricResult(blinks / minutes, extras={"blinks": blinks}, per_frame=openness)
