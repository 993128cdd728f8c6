"""Mouth-region SSIM: the default SSIM protocol inside the reference frame's mouth box.

Where the real speaker's lips, teeth and tongue are (iBUG-68 points 48-67 of the reference frame,
widened by a quarter of the mouth's width on every side), the generated and reference frames are
compared with Wang's SSIM (RGB mean over channels); mean over frames. Frames where the reference
has no face take the nearest frame's box.
"""

from __future__ import annotations

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.landmarks import sample_68
from thead.metrics.lmd import paired_result
from thead.metrics.regions import MOUTH_MARGIN, fill_nearest, mouth_boxes, region_ssim_frames
from thead.metrics.ssim import SSIM


class MouthSSIM(Metric):
    name = "ssim-mouth"
    label = "SSIM mouth"
    higher_is_better = True
    needs = frozenset({"ref"})
    protocol = {
        **SSIM.protocol, "region": f"reference mouth box: iBUG-68 points 48-67 + {MOUTH_MARGIN} of the mouth "
        "width per side (MediaPipe mesh), valid SSIM window inside it",
    }

    def compute(self, sample: Sample) -> MetricResult:
        points, _ = sample_68(sample, "reference")
        per_frame = region_ssim_frames(sample.frames, sample.reference, fill_nearest(mouth_boxes(points)))
        return paired_result(per_frame, len(sample.frames))
