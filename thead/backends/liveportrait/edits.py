"""``thead edit`` on liveportrait-space frames: pose, smile and named expressions, gaze, eyes, lips.

Pose edits add degrees to the motion extractor's angles (its pitch grows downwards, hence the sign
flip). Named expressions, smile, wink and gaze move expression keypoints along the directions of
LivePortrait's own editing sliders (``src/gradio_pipeline.py``: smile, wink, eyebrow, lip
variations, eyeball direction); the presets combine them, and ``neutral`` scales the expression
deltas towards zero (LivePortrait's canonical face). Eye and mouth openness set target ratios and switch
on the retargeting MLPs through the ``lp_retarget`` channel (weights 0..1 for eyes and lips).
"""

from __future__ import annotations

import numpy as np

from thead.errors import UsageError
from thead.motion.frame_edit import FrameEdit

# (keypoint, axis, coefficient) per unit of LivePortrait's slider; axes 0 = x, 1 = y, 2 = z
SMILE = ((20, 1, -0.01), (14, 1, -0.02), (17, 1, 0.0065), (17, 2, 0.003), (13, 1, -0.00275),
         (16, 1, -0.00275), (3, 1, -0.0035), (7, 1, -0.0035))
WINK = ((11, 1, 0.001), (13, 1, -0.0003), (17, 0, 0.0003), (17, 1, 0.0003), (3, 1, -0.0003))
GAZE_X_RIGHT = ((11, 0, 0.0007), (15, 0, 0.001))  # slider x > 0 (towards the image's right)
GAZE_X_LEFT = ((11, 0, 0.001), (15, 0, 0.0007))
GAZE_UP = ((11, 1, -0.001), (15, 1, -0.001))  # slider y > 0 looks up ...
GAZE_LIDS = ((11, 1, 0.0005), (13, 1, -0.00015), (15, 1, 0.0005), (16, 1, -0.00015))  # ... and lifts the lids
BROWS_UP = ((1, 1, 0.001), (2, 1, -0.001))  # the eyebrow slider > 0, per unit
BROWS_DOWN = ((1, 0, 0.001), (2, 0, -0.001), (1, 1, -0.0003), (2, 1, 0.0003))  # per unit of the slider < 0
MOUTH_OPEN = ((19, 1, 0.001), (19, 2, 0.0001), (17, 1, -0.0001))  # lip variation three
UPPER_LIP_UP = ((20, 2, -0.001), (20, 1, -0.001), (14, 1, -0.001))  # lip variation two
# named expression -> ((direction, slider units at strength 1), ...); "neutral" also relaxes lp_exp
EXPRESSIONS = {
    "neutral": (),
    "happy": ((SMILE, 1.0),),
    "sad": ((SMILE, -0.6), (BROWS_UP, 8.0)),
    "surprised": ((BROWS_UP, 25.0), (MOUTH_OPEN, 60.0)),
    "angry": ((BROWS_DOWN, 25.0), (MOUTH_OPEN, -20.0)),
    "disgusted": ((UPPER_LIP_UP, 40.0), (BROWS_DOWN, 10.0)),
    "smile": ((SMILE, 1.0),),
    "wink": ((WINK, 25.0),),
}
GAZE_SLIDER_PER_HALF_WIDTH = 40.0  # slider units per half eye width of iris offset


def _move(exp: np.ndarray, direction: tuple[tuple[int, int, float], ...], amount: float) -> None:
    for keypoint, axis, coefficient in direction:
        exp[keypoint, axis] += coefficient * amount


def apply_frame_edit(frame: dict[str, np.ndarray], edit: FrameEdit) -> dict[str, np.ndarray]:
    """``frame`` with ``edit`` applied (the input frame is not modified)."""
    out = {name: np.array(value, np.float32, copy=True) for name, value in frame.items()}
    out.setdefault("lp_retarget", np.zeros(2, np.float32))
    exp = out["lp_exp"]
    for name, sign in (("yaw", 1.0), ("pitch", -1.0), ("roll", 1.0)):
        degrees = getattr(edit, name)
        if degrees is not None:
            out[f"lp_{name}"] += sign * degrees
            out[name] += degrees
    expressions = list(edit.expressions) + ([("smile", edit.smile)] if edit.smile is not None else [])
    for name, strength in expressions:
        if name not in EXPRESSIONS:
            raise UsageError(f"backend 'liveportrait' has no expression '{name}'",
                             f"choose one of: {', '.join(EXPRESSIONS)}")
        if name == "neutral":  # towards LivePortrait's canonical face, whose expression deltas are zero
            exp *= 1.0 - strength
        for direction, units in EXPRESSIONS[name]:
            _move(exp, direction, strength * units)
    if edit.gaze is not None:
        dx, dy = (np.asarray(edit.gaze, np.float64) - out["gaze"]) * GAZE_SLIDER_PER_HALF_WIDTH
        _move(exp, GAZE_X_RIGHT if dx > 0 else GAZE_X_LEFT, dx)
        _move(exp, GAZE_UP, -dy)
        _move(exp, GAZE_LIDS, -dy)
        out["gaze"] = np.asarray(edit.gaze, np.float32)
    if edit.eyes is not None:
        # LivePortrait's ratio and ours differ in definition: keep their ratio per eye.
        scale = out["lp_eye_ratio"] / np.maximum(out["eye_open"], 1e-3)
        out["lp_eye_ratio"] = (edit.eyes * np.where(out["eye_open"] > 1e-3, scale, 1.0)).astype(np.float32)
        out["eye_open"][:] = edit.eyes
        out["lp_retarget"][0] = 1.0
    if edit.mouth is not None:
        scale = out["lp_lip_ratio"] / out["mouth_open"] if out["mouth_open"] > 1e-3 else 1.0
        out["lp_lip_ratio"] = np.float32(edit.mouth * scale)
        out["mouth_open"] = np.float32(edit.mouth)
        out["lp_retarget"][1] = 1.0
    return out
