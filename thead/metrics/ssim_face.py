"""Face-region SSIM: the default SSIM protocol inside the reference frame's face box.

The box is the extent of the reference frame's 478-point MediaPipe mesh (brow to chin, ear to ear),
so background, hair and shoulders do not count; mean over frames. Frames where the reference has
no face take the nearest frame's box.
"""

from __future__ import annotations

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.landmarks import face_boxes
from thead.metrics.regions import region_ssim_frames
from thead.metrics.ssim import SSIM


class FaceSSIM(Metric):
    name = "ssim-face"
    label = "SSIM face"
    higher_is_better = True
    needs = frozenset({"ref"})
    protocol = {**SSIM.protocol, "region": "reference face box: extent of the MediaPipe 478-point mesh"}

    def compute(self, sample: Sample) -> MetricResult:
        boxes, _ = face_boxes(sample, "reference")
        per_frame = region_ssim_frames(sample.frames, sample.reference, boxes)
        return MetricResult(float(per_frame.mean()), per_frame=per_frame)
