"""The ``liveportrait`` space: LivePortrait's implicit-keypoint motion plus the shared channels."""

from __future__ import annotations

from thead.motion.spaces.schema import Channel, MotionSpace
from thead.motion.spaces.shared import COMMON, DEGREES, RATIO, rest_common

KEYPOINTS = 21
# The motion-extractor channels that drive the keypoints (what a driving reference depends on).
LP_MOTION = ("lp_pitch", "lp_yaw", "lp_roll", "lp_t", "lp_exp", "lp_scale")
LP_CHANNELS = LP_MOTION + ("lp_eye_ratio", "lp_lip_ratio")


def _rest() -> dict[str, object]:
    return {**rest_common(), "lp_pitch": 0.0, "lp_yaw": 0.0, "lp_roll": 0.0, "lp_t": [0.0] * 3,
            "lp_exp": [[0.0] * 3] * KEYPOINTS, "lp_scale": 1.0, "lp_eye_ratio": [0.3, 0.3], "lp_lip_ratio": 0.0,
            "lp_retarget": [0.0, 0.0]}


LIVEPORTRAIT = MotionSpace(
    name="liveportrait",
    doc="LivePortrait's motion extractor output per frame, its eye/lip ratios and retargeting weights",
    channels=COMMON + (
        Channel("lp_pitch", (), DEGREES, "degrees", "motion-extractor pitch (grows downwards)"),
        Channel("lp_yaw", (), DEGREES, "degrees", "motion-extractor yaw"),
        Channel("lp_roll", (), DEGREES, "degrees", "motion-extractor roll"),
        Channel("lp_t", (3,), (-100.0, 100.0), "crop units", "keypoint translation"),
        Channel("lp_exp", (KEYPOINTS, 3), (-100.0, 100.0), "crop units", "expression offsets of the 21 keypoints"),
        Channel("lp_scale", (), (1e-3, 1e3), "factor", "keypoint scale"),
        Channel("lp_eye_ratio", (2,), RATIO, "ratio", "LivePortrait's left, right eye opening ratios"),
        Channel("lp_lip_ratio", (), RATIO, "ratio", "LivePortrait's lip opening ratio"),
        Channel("lp_retarget", (2,), (0.0, 1.0), "weight",
                "eye and lip retargeting weights (0 as measured; edits set 1)"),
    ),
    rest=_rest,
)
