"""Sharpness: face-box Laplacian variance of the generated frames against the reference's.

Each video's face box comes from its own MediaPipe mesh (extent of the 478 points); the focus
measure is the variance of the 4-neighbour Laplacian of the BT.601 luma inside the box (=
scikit-image ``filters.laplace``). The ratio is mean-over-frames generated / mean-over-frames
reference: 1 means as much fine detail as the real frames, below 1 blurrier, above 1 noisier or
over-sharpened. The headline is the gap |log2 ratio| (0 = as sharp as the reference, 1 = half or
twice the detail); the ratio itself is the extra ``sharpness ratio``.
"""

from __future__ import annotations

import math

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.landmarks import face_boxes
from thead.metrics.regions import sharpness_ratio

RATIO = "sharpness ratio"


class Sharpness(Metric):
    name = "sharpness"
    label = "sharpness gap"
    higher_is_better = False
    extra_higher_is_better = {RATIO: None}
    needs = frozenset({"ref"})
    protocol = {
        "measure": "variance of the 4-neighbour Laplacian of BT.601 luma (= skimage.filters.laplace), box border dropped",
        "region": "each video's own face box (MediaPipe 478-point mesh extent)",
        "ratio": "mean over generated frames / mean over reference frames (1 = as sharp as the reference)",
        "headline": "|log2 ratio| (0 = as sharp as the reference)",
    }

    def compute(self, sample: Sample) -> MetricResult:
        generated_boxes, _ = face_boxes(sample, "generated")
        reference_boxes, _ = face_boxes(sample, "reference")
        ratio, per_frame = sharpness_ratio(sample.frames, generated_boxes, sample.reference, reference_boxes)
        gap = abs(math.log2(ratio)) if ratio > 0 else math.inf
        return MetricResult(gap, extras={RATIO: ratio}, per_frame=per_frame)
