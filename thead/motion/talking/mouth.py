"""One frame's mouth from articulation values: jaw opening, spread or rounding, lip closure, teeth.

A face whose lips are only slightly parted keeps that opening in silence and speaks from it; one
caught mid-word, or smiling with its lips apart, rests with its lips closed (:func:`rest_openness`).

The shape is absolute: the openness channel is set to a target, not moved by a difference, so
applying it to a frame measured on a video replaces that frame's own lip motion (dubbing); give
``rest`` (a frame of the same face with the mouth at rest) to also replace the frame's lip shape.
"""

from __future__ import annotations

import numpy as np

from thead.backends.liveportrait import edits as lp_edits
from thead.errors import UsageError
from thead.face import geometry
from thead.motion import edits
from thead.motion.frame_edit import FrameEdit

SPEECH_OPEN = 0.45  # openness (inner-lip gap / mouth width) of jaw = 1: real speakers peak near 0.3-0.45
JAW_POWER = 1.5  # the opening grows faster than the jaw value: the articulation's jaw is a square-root curve of the
# lip opening, there so that small openings showed through the warp renderer's former dead zone; now that the renderer
# opens small gaps as asked, this undoes most of it (1.5 rather than 2: measured best lip sync on GRID)
PARTED = (0.16, 0.19)  # a face whose lips are parted (openness) up to the first value keeps them so in silence, as
# relaxed faces do; fading to shut at the second: a portrait caught mid-word rests with its lips closed. Measured: the
# shared GRID speakers whose first frame is relaxed (0.095, 0.147) stay so in their silences, two portraits with relaxed
# parted lips read 0.151 and 0.164; first frames caught mid-word read 0.194-0.5 (their speakers rest under 0.01).
# Speech opens from this rest: letting it close below the rest while speaking suits brbk7n (rests at 0.15, speaks
# from 0 to 0.24: landmark-distance gain +0.10) and not lwbsza (rests at 0.095, speaks above it: -0.13), so no.
SMILE_LIFT = (0.12, 0.16)  # and a face smiling with its lips apart (mouth corners this far above the lips' centre line,
# in mouth widths: geometry.corner_lift) rests with them closed, fading over this range: relaxed faces measure 0.02-0.10,
# a broad smile showing its teeth 0.18
UPPER_LIFT = 0.15  # the upper lip rises this share of the opening (times the mouth width) as the mouth opens, as
# real speakers' does (the jaw rig, edits.set_mouth, keeps it still). 0.15 matches GRID speakers' outer upper-lip rise
# per unit of openness; every leave-one-clip-out fold picks it among 0, 0.05, 0.1 and 0.15 (landmark distance cannot
# tell these apart)
UPPER_REACH = 0.15  # mouth widths: the skin this close to the upper lip rises with it
LOWER_LIP = (146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324)  # outer and inner
CORNERS = (61, 291, 78, 308)
TUCK_CLOSE = 0.8  # share of the opening a full F/V tuck closes (the lower lip rises under the upper teeth)
# liveportrait: slider units of LivePortrait's own directions per unit of articulation
LP_SPREAD = 0.6  # smile slider per unit of spread
LP_ROUND = 0.4  # negative smile slider per unit of rounding: corners in and down
LP_PRESS = 15.0  # lip-variation-three (open) slider, negative: lips pressed
LP_TEETH = 12.0  # lip-variation-two slider: upper lip up, teeth shown
LP_LIPS = (14, 17, 19, 20)  # keypoints LivePortrait's lip sliders move (reset from ``rest``)


def openness(jaw: float, closure: float, rest: float = 0.0) -> float:
    """Mouth openness target of a jaw value (0..1) under a lip closure (0..1, 1 shut), from a rest opening."""
    rest = float(np.clip(rest, 0.0, SPEECH_OPEN))
    opening = rest + (SPEECH_OPEN - rest) * float(np.clip(jaw, 0.0, 1.0)) ** JAW_POWER
    return opening * (1.0 - float(np.clip(closure, 0.0, 1.0)))


def rest_openness(face_openness: float, corner_lift: float = 0.0) -> float:
    """The opening a face with lips ``face_openness`` apart and mouth corners ``corner_lift`` above their centre
    line keeps in silence (see :data:`PARTED` and :data:`SMILE_LIFT`)."""
    openness = float(face_openness)
    parted = _fade(openness, *PARTED) * _fade(float(corner_lift), *SMILE_LIFT)
    return openness * parted


def _fade(value: float, kept: float, shut: float) -> float:
    """1 up to ``kept``, 0 from ``shut``, linear between."""
    return float(np.clip((shut - value) / (shut - kept), 0.0, 1.0))


def mouth_edit(frame: dict[str, np.ndarray], space: str, jaw: float, spread: float, closure: float, teeth: float,
               rest: dict[str, np.ndarray] | None = None, keep: float = 0.0) -> dict[str, np.ndarray]:
    """``frame`` (a motion frame of ``space``) with its mouth set from one frame of articulation.

    ``jaw`` 0..1 opens the mouth from its rest (:func:`rest_openness`) up to :data:`SPEECH_OPEN` (as
    ``jaw ** JAW_POWER``), the upper lip rising a little (:data:`UPPER_LIFT`) as the lower one drops; ``spread``
    -1 (rounded, OO) .. 1 (spread, EE); ``closure`` 0..1 presses the lips shut (M, B, P) whatever the jaw; ``teeth``
    0..1 tucks the lower lip under the upper teeth (F, V). ``keep`` 0..1 moves the rest opening towards the
    face's own (1: a mouth caught mid-word keeps its opening too). The input frame is not modified.
    """
    spread = float(np.clip(spread, -1.0, 1.0))
    closure = float(np.clip(closure, 0.0, 1.0))
    teeth = float(np.clip(teeth, 0.0, 1.0))
    face = frame if rest is None else rest
    own = float(face["mouth_open"])
    lift = geometry.corner_lift(face["expression"]) if space == "landmarks" else 0.0
    keep = float(np.clip(keep, 0.0, 1.0))
    parted = (1.0 - keep) * rest_openness(own, lift) + keep * own
    target = openness(jaw, closure, parted)
    if space == "landmarks":
        return _lift_upper_lip(_landmarks(frame, target, spread, closure, teeth, rest), max(target - parted, 0.0))
    if space == "liveportrait":
        return _liveportrait(frame, target, spread, closure, teeth, rest)
    raise UsageError(f"no mouth shapes for the '{space}' motion space", "use the landmarks or liveportrait space")


def _landmarks(frame, target, spread, closure, teeth, rest):
    if rest is not None:
        frame = edits.reset_lips(frame, rest)
    if spread:
        frame = edits.shape_lips(frame, spread)
    frame = edits.set_mouth(frame, target)
    if closure:
        frame = edits.press_lips(frame, closure)
    if teeth:
        frame = edits.tuck_lower_lip(frame, teeth)
        # The tuck also lifts the upper lip, which on a small opening would part the lips further.
        tucked = (1.0 - TUCK_CLOSE * teeth) * target
        if float(frame["mouth_open"]) > tucked:
            frame = edits.set_mouth(frame, tucked)
    return frame


def _lift_upper_lip(frame, opening):
    """``frame`` with the upper lip and the skin above it raised :data:`UPPER_LIFT` of ``opening`` (the asked opening
    beyond the rest one) mouth widths; the corners rise half as much, the lower lip not at all."""
    if opening <= 0:
        return frame
    expr = np.array(frame["expression"], np.float64)
    width = np.linalg.norm(expr[61, :2] - expr[291, :2])
    upper = expr[edits.UPPER_LIP, :2]
    distance = np.linalg.norm(expr[:, None, :2] - upper[None], axis=2).min(axis=1)
    weight = np.exp(-((distance / (UPPER_REACH * width)) ** 2))
    weight[list(CORNERS)] *= 0.5
    weight[list(LOWER_LIP)] = 0.0
    expr[:, 1] -= UPPER_LIFT * opening * width * weight  # y grows down
    return dict(frame, expression=expr.astype(np.float32), mouth_open=np.float32(geometry.mouth_openness(expr)))


def _liveportrait(frame, target, spread, closure, teeth, rest):
    out = {name: np.array(value, np.float32, copy=True) for name, value in frame.items()}
    if rest is not None:
        out["lp_exp"][list(LP_LIPS)] = rest["lp_exp"][list(LP_LIPS)]
        out["lp_lip_ratio"] = np.array(rest["lp_lip_ratio"], np.float32)
        out["mouth_open"] = np.array(rest["mouth_open"], np.float32)
    out = lp_edits.apply_frame_edit(out, FrameEdit(mouth=target))
    exp = out["lp_exp"]
    _move(exp, lp_edits.SMILE, LP_SPREAD * spread if spread > 0 else LP_ROUND * spread)
    _move(exp, lp_edits.MOUTH_OPEN, -LP_PRESS * closure)
    _move(exp, lp_edits.UPPER_LIP_UP, LP_TEETH * teeth)
    return out


def _move(exp: np.ndarray, direction: tuple[tuple[int, int, float], ...], amount: float) -> None:
    """Move LivePortrait expression keypoints ``amount`` slider units along ``direction``."""
    for keypoint, axis, coefficient in direction:
        exp[keypoint, axis] += coefficient * amount
