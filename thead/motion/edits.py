"""Edits on ``landmarks``-space motion frames: eyes, mouth, gaze, smile, brows, lips, pose, and the
lip shapes of speech (spread or rounded, pressed, lower lip under the teeth).

They change the canonical expression (R^T (p - c) / s, x towards the subject's left eye, y down)
and the matching scalar channels together, so that a renderer and a reader of the track agree.
"""

from __future__ import annotations

import numpy as np

from thead.easing import smoothstep
from thead.face import geometry

# Upper and lower lid contours, paired point by point (outer corner to inner corner).
_LIDS = {
    "right": (np.array([246, 161, 160, 159, 158, 157, 173]), np.array([7, 163, 144, 145, 153, 154, 155])),
    "left": (np.array([466, 388, 387, 386, 385, 384, 398]), np.array([249, 390, 373, 374, 380, 381, 382])),
}
_BROW_FOLD = {"right": np.array([247, 30, 29, 27, 28, 56, 190]), "left": np.array([467, 260, 259, 257, 258, 286, 414])}
_LIDS_MEET = 0.2  # closed lids meet a fifth of the way up from the lower lid
_IRISES = np.arange(468, 478)
_MOUTH_CORNERS = np.array([61, 291, 78, 308])
_INNER_LOWER = np.array([95, 88, 178, 87, 14, 317, 402, 318, 324])
_INNER_UPPER = np.array([191, 80, 81, 82, 13, 312, 311, 310, 415])
_INNER_CORNERS = (78, 308)
# The gap of parted lips along the mouth, as a share of the centre's: (distance from the nearer inner corner in half
# mouth widths, share). Measured on the shared GRID and HDTF speakers (MediaPipe, 94 frames opened beyond 0.25; the
# spread between frames is 0.01-0.03): a lens, narrower by the corners than an ellipse (0.53 at 0.15).
_LENS = ((0.0, 0.15, 0.29, 0.46, 0.69, 1.0), (0.0, 0.32, 0.57, 0.80, 0.95, 1.0))
_UPPER_LIP_LINE = np.array([61, 78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 291])  # the opening's top edge
# Brows (upper and lower contours) and their inner ends, by the subject's side.
BROWS = {"right": ([70, 63, 105, 66, 107, 46, 53, 52, 65, 55], 55),
         "left": ([300, 293, 334, 296, 336, 276, 283, 282, 295, 285], 285)}
BROW_REACH = 0.1  # inter-ocular units: the skin within about this distance moves with a brow
_UPPER_LIP_HALF = 0.4  # mouth widths from the centre: above the opening and this close, it is the upper lip
_UPPER_LIP_FADE = 0.2  # mouth widths over which the skin beside it fades back to following the jaw
UPPER_LIP = [0, 37, 39, 40, 185, 267, 269, 270, 409, 13, 82, 81, 80, 191, 312, 311, 310, 415]
NOSE_WINGS = [48, 64, 98, 278, 294, 327]


def _with(frame: dict[str, np.ndarray], **changes: np.ndarray) -> dict[str, np.ndarray]:
    updated = dict(frame)
    updated.update(changes)
    return updated


def _refresh(frame: dict[str, np.ndarray], expression: np.ndarray) -> dict[str, np.ndarray]:
    """Recompute the eye, mouth and gaze channels from an edited canonical expression."""
    return _with(
        frame,
        expression=expression.astype(np.float32),
        eye_open=np.array(geometry.eye_openness(expression), np.float32),
        mouth_open=np.float32(geometry.mouth_openness(expression)),
        gaze=np.array(geometry.gaze(expression), np.float32),
    )


def set_eyes(frame: dict[str, np.ndarray], openness: float | tuple[float, float]) -> dict[str, np.ndarray]:
    """Set eye openness (lid gap / eye width; 0 closed, ~0.3 open) of the left and right eye."""
    left, right = (openness, openness) if np.isscalar(openness) else openness
    expr = np.array(frame["expression"], np.float64)
    current = geometry.eye_openness(expr)
    for side, target, now in (("left", left, current[0]), ("right", right, current[1])):
        upper, lower = _LIDS[side]
        ratio = max(float(target), 0.0) / max(now, 1e-3)
        anchor = expr[lower] + _LIDS_MEET * (expr[upper] - expr[lower])
        new_upper = anchor + (expr[upper] - anchor) * ratio
        new_lower = anchor + (expr[lower] - anchor) * ratio
        moved = new_upper - expr[upper]
        expr[upper], expr[lower] = new_upper, new_lower
        expr[_BROW_FOLD[side]] += 0.3 * moved  # the skin fold above the lid follows a little
    return _refresh(frame, expr)


def set_mouth(frame: dict[str, np.ndarray], openness: float) -> dict[str, np.ndarray]:
    """Set mouth openness (inner-lip gap / mouth width) by moving the jaw and lower lip; the upper lip stays, its
    inner edge taking 15 % of the change. The lips part as real ones do, least by the corners (:data:`_LENS`)."""
    expr = np.array(frame["expression"], np.float64)
    width = np.linalg.norm(expr[geometry.MOUTH["left"]] - expr[geometry.MOUTH["right"]])
    corner_y = expr[_MOUTH_CORNERS, 1].mean()
    centre_x = expr[_MOUTH_CORNERS, 0].mean()
    chin_y = expr[152, 1]
    below = np.clip((expr[:, 1] - corner_y) / max(chin_y - corner_y, 1e-6) + 0.35, 0.0, 1.0)
    falloff = np.exp(-(((expr[:, 0] - centre_x) / (1.2 * width)) ** 2))
    weight = below * falloff
    # The upper lip and the skin above it stay (real speakers' upper lip does not drop as the jaw opens): above the
    # opening, only the cheeks beside the corners follow the jaw.
    beside = np.clip((np.abs(expr[:, 0] - centre_x) / width - _UPPER_LIP_HALF) / _UPPER_LIP_FADE, 0.0, 1.0)
    contour = expr[_UPPER_LIP_LINE, :2][np.argsort(expr[_UPPER_LIP_LINE, 0])]
    upper = expr[:, 1] < np.interp(expr[:, 0], contour[:, 0], contour[:, 1])  # above the mouth's opening
    corners = weight[_MOUTH_CORNERS]
    weight[upper] *= beside[upper]
    weight[_MOUTH_CORNERS] = corners
    weight[_INNER_UPPER] = 0.0  # the inner lips are placed below, by the lens
    target, current = max(float(openness), 0.0), geometry.mouth_openness(expr)
    delta = (target - current) * width
    # Opening, the inner lips part as a lens, least by the corners (scaled so that the opening at the centre is the
    # one asked); closing, every gap shrinks in proportion, so the lips keep their shape and a shut mouth shuts
    # all along, whatever its shape was (a rounded "oo" too).
    lens = _lens(expr)
    lens /= max(float(lens[list(geometry.MOUTH["lower"])].mean()), 1e-6)
    gap = expr[_INNER_LOWER, 1] - expr[_INNER_UPPER, 1]
    gap = gap * (target / current) if target < current else gap + delta * lens[_INNER_LOWER]
    expr[:, 1] += 0.85 * delta * weight
    expr[_INNER_UPPER, 1] -= 0.15 * delta * lens[_INNER_UPPER]
    expr[_INNER_LOWER, 1] = expr[_INNER_UPPER, 1] + gap
    return _refresh(frame, expr)


def _lens(expr: np.ndarray) -> np.ndarray:
    """Per landmark, the share of the opening's centre gap real lips open to at its place along the mouth (_LENS)."""
    left, right = expr[_INNER_CORNERS[0], :2], expr[_INNER_CORNERS[1], :2]
    half = max(float(np.linalg.norm(right - left)) / 2, 1e-6)
    along = (expr[:, :2] - left) @ (right - left) / (2 * half) / half  # 0 at the left corner, 2 at the right one
    return np.interp(np.minimum(along, 2.0 - along), *_LENS)


def set_gaze(frame: dict[str, np.ndarray], x: float, y: float) -> dict[str, np.ndarray]:
    """Move both irises to (x, y) in half eye widths from the eye centres."""
    expr = np.array(frame["expression"], np.float64)
    now = np.array(geometry.gaze(expr))
    half_width = np.linalg.norm(expr[133] - expr[33]) / 2
    expr[_IRISES, :2] += (np.array([x, y]) - now) * half_width
    return _refresh(frame, expr)


def pull_corners(frame: dict[str, np.ndarray], out: float, up: float) -> dict[str, np.ndarray]:
    """Move both mouth corners ``out`` (sideways) and ``up``, in mouth widths, the skin around following."""
    expr = np.array(frame["expression"], np.float64)
    width = np.linalg.norm(expr[61] - expr[291])
    for corner, side in ((61, -1.0), (291, 1.0)):
        weight = _falloff(expr, [corner], 0.35 * width)
        expr[:, 0] += side * out * width * weight
        expr[:, 1] -= up * width * weight
    return _refresh(frame, expr)


def add_smile(frame: dict[str, np.ndarray], strength: float) -> dict[str, np.ndarray]:
    """Pull the mouth corners out and up (strength about -1..1; negative is a frown)."""
    return pull_corners(frame, 0.12 * strength, 0.14 * strength)


def level_corners(frame: dict[str, np.ndarray], amount: float) -> dict[str, np.ndarray]:
    """Move the mouth corners ``amount`` (0..1) of the way to the height of the lips' centre."""
    expr = np.array(frame["expression"], np.float64)
    centre_y = expr[[13, 14], 1].mean()
    for corner in (61, 291):
        expr[:, 1] += amount * (centre_y - expr[corner, 1]) * _falloff(expr, [corner], 0.35 * np.linalg.norm(expr[61] - expr[291]))
    return _refresh(frame, expr)


def move_brows(frame: dict[str, np.ndarray], up: float = 0.0, inner_up: float = 0.0,
               together: float = 0.0) -> dict[str, np.ndarray]:
    """Raise both brows by ``up``, their inner ends by ``inner_up`` more, and draw the inner ends
    ``together`` towards the nose; inter-ocular units (negative values lower / spread)."""
    return shift_expression(frame, brow_shift(frame, up, inner_up, together))


def brow_shift(frame: dict[str, np.ndarray], up: float = 0.0, inner_up: float = 0.0,
               together: float = 0.0) -> np.ndarray:
    """The per-point move [478, 3] of :func:`move_brows`; linear in its amounts, so a clip can scale one
    shift per frame (the brows' skin weights do not change with the mouth, which is out of their reach)."""
    expr = np.asarray(frame["expression"], np.float64)
    shift = np.zeros_like(expr)
    for side, (brow, inner) in BROWS.items():
        whole = _falloff(expr, brow, BROW_REACH)
        near_inner = _falloff(expr, [inner], 2 * BROW_REACH) * whole
        towards_nose = 1.0 if side == "right" else -1.0  # x grows towards the subject's left
        shift[:, 1] -= up * whole + inner_up * near_inner
        shift[:, 0] += towards_nose * together * near_inner
    return shift


def shift_expression(frame: dict[str, np.ndarray], shift: np.ndarray) -> dict[str, np.ndarray]:
    """``frame`` with ``shift`` [478, 3] added to its canonical expression (eye, mouth and gaze channels follow)."""
    return _refresh(frame, np.asarray(frame["expression"], np.float64) + shift)


def raise_upper_lip(frame: dict[str, np.ndarray], amount: float) -> dict[str, np.ndarray]:
    """Lift the upper lip and the nose wings by ``amount`` (inter-ocular units), as in a sneer."""
    expr = np.array(frame["expression"], np.float64)
    lip_line = expr[[13, 14], 1].mean()
    above = expr[:, 1] < lip_line + 0.01
    weight = np.where(above, _falloff(expr, UPPER_LIP, 0.12), 0.0)
    weight = np.maximum(weight, 0.6 * _falloff(expr, NOSE_WINGS, 0.06))
    expr[:, 1] -= amount * weight
    return _refresh(frame, expr)


# Outer and inner lip contours paired point by point, corner to corner (the corners excluded).
_OUTER_UPPER = np.array([185, 40, 39, 37, 0, 267, 269, 270, 409])
_INNER_UPPER_PAIRED = np.array([191, 80, 81, 82, 13, 312, 311, 310, 415])
_OUTER_LOWER = np.array([146, 91, 181, 84, 17, 314, 405, 321, 375])
_INNER_LOWER_PAIRED = np.array([95, 88, 178, 87, 14, 317, 402, 318, 324])
LIPS = np.concatenate([[61, 291, 78, 308], _OUTER_UPPER, _INNER_UPPER_PAIRED, _OUTER_LOWER, _INNER_LOWER_PAIRED])

LIP_REACH = 0.08  # inter-ocular units: the skin within about this distance moves with a dragged lip point


def _drag(expr: np.ndarray, handles: np.ndarray, moves: np.ndarray, reach: float = LIP_REACH) -> np.ndarray:
    """Move ``handles`` by ``moves`` [k, 3] and the skin around them by Gaussian-weighted shares of those moves."""
    distance = np.linalg.norm(expr[:, None, :2] - expr[None, handles, :2], axis=2)
    weights = np.exp(-((distance / reach) ** 2))
    share = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
    return expr + share @ moves


def shape_lips(frame: dict[str, np.ndarray], amount: float) -> dict[str, np.ndarray]:
    """Spread (``amount`` > 0, as in EE) or round (< 0, as in OO) the lips; about -1..1.

    Spreading pulls the corners sideways and a little up; rounding draws them in by up to a
    fifth of the mouth width, pushes the lips forward (towards the camera) and lets them part
    a little higher in the middle, the shape of a pout.
    """
    amount = float(amount)
    if amount >= 0:
        return pull_corners(frame, 0.08 * amount, 0.015 * amount)
    rounding = -amount
    frame = pull_corners(frame, -0.1 * rounding, 0.0)
    expr = np.array(frame["expression"], np.float64)
    width = np.linalg.norm(expr[61] - expr[291])
    forward = _falloff(expr, LIPS, 0.25 * width)
    expr[:, 2] -= 0.08 * rounding * width * forward  # z grows into the head
    return _refresh(frame, expr)


def press_lips(frame: dict[str, np.ndarray], amount: float) -> dict[str, np.ndarray]:
    """Press the lips together (0..1, as in M, B, P): shut the mouth and roll the lips in, thinning them."""
    frame = set_mouth(frame, (1.0 - float(amount)) * float(frame["mouth_open"]))
    expr = np.array(frame["expression"], np.float64)
    outer = np.concatenate([_OUTER_UPPER, _OUTER_LOWER])
    inner = np.concatenate([_INNER_UPPER_PAIRED, _INNER_LOWER_PAIRED])
    moves = np.zeros((len(outer), 3))
    moves[:, 1] = 0.3 * float(amount) * (expr[inner, 1] - expr[outer, 1])
    return _refresh(frame, _drag(expr, outer, moves))


def tuck_lower_lip(frame: dict[str, np.ndarray], amount: float) -> dict[str, np.ndarray]:
    """Raise the lower lip under the upper teeth (0..1, as in F, V): it rises most of the inner-lip
    gap and rolls back, and the upper lip lifts a little so the teeth edge shows."""
    amount = float(amount)
    expr = np.array(frame["expression"], np.float64)
    gap = np.maximum(expr[_INNER_LOWER_PAIRED, 1] - expr[_INNER_UPPER_PAIRED, 1], 0.0)
    thickness = expr[_OUTER_UPPER, 1].mean() - expr[_INNER_UPPER_PAIRED, 1].mean()  # negative: y grows down
    lower = np.concatenate([_INNER_LOWER_PAIRED, _OUTER_LOWER])
    moves = np.zeros((len(lower), 3))
    moves[:, 1] = -amount * 0.8 * np.concatenate([gap, gap])
    moves[:, 2] = amount * 0.1 * abs(thickness)
    expr = _drag(expr, lower, moves)
    lift = np.zeros((len(_INNER_UPPER_PAIRED), 3))
    lift[:, 1] = amount * 0.25 * thickness
    return _refresh(frame, _drag(expr, _INNER_UPPER_PAIRED, lift, 0.5 * LIP_REACH))


def reset_lips(frame: dict[str, np.ndarray], rest: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``frame`` with the lower face (lips, mouth surroundings, jaw) of ``rest``; both ``landmarks`` frames of one face.

    The change fades in from under the nose to the highest lip point, so the nose and the rest
    of the face keep ``frame``'s own motion.
    """
    expr = np.array(frame["expression"], np.float64)
    nose, lip = float(expr[2, 1]), float(expr[LIPS, 1].min())  # subnasale, highest lip point; y grows down
    ramp = np.clip((expr[:, 1] - nose) / max(lip - nose, 1e-6), 0.0, 1.0)
    weight = smoothstep(ramp)
    weight[_IRISES] = 0.0
    expr += weight[:, None] * (np.asarray(rest["expression"], np.float64) - expr)
    return _refresh(frame, expr)


def _falloff(expr: np.ndarray, centres, reach: float) -> np.ndarray:
    """Per point, exp(-(distance to the nearest of ``centres`` / reach)^2), in the image plane."""
    distance = np.linalg.norm(expr[:, None, :2] - expr[None, list(centres), :2], axis=2).min(axis=1)
    return np.exp(-((distance / reach) ** 2))


def set_pose(frame: dict[str, np.ndarray], yaw: float | None = None, pitch: float | None = None,
             roll: float | None = None) -> dict[str, np.ndarray]:
    """Set head angles in degrees (None keeps a channel). A frame measured on a video whose hair was followed (the
    optional ``skull`` channel) has its hair rolled with the head, so the hair goes where the head is sent."""
    changes = {name: np.float32(value) for name, value in (("yaw", yaw), ("pitch", pitch), ("roll", roll)) if value is not None}
    if roll is not None and "skull" in frame:
        skull = np.array(frame["skull"], np.float32, copy=True)
        skull[2] += np.float32(roll) - np.float32(frame["roll"])
        changes["skull"] = skull
    return _with(frame, **changes)


def _scaled_eyes(frame: dict[str, np.ndarray], factor: float) -> dict[str, np.ndarray]:
    return set_eyes(frame, tuple(float(v) * factor for v in frame["eye_open"]))


def _neutral(frame: dict[str, np.ndarray], s: float) -> dict[str, np.ndarray]:
    frame = level_corners(frame, s)
    return set_mouth(frame, (1.0 - s) * float(frame["mouth_open"]))


def _happy(frame: dict[str, np.ndarray], s: float) -> dict[str, np.ndarray]:
    return _scaled_eyes(pull_corners(frame, 0.12 * s, 0.16 * s), 1.0 - 0.15 * s)


def _sad(frame: dict[str, np.ndarray], s: float) -> dict[str, np.ndarray]:
    frame = pull_corners(frame, -0.04 * s, -0.12 * s)
    return move_brows(frame, up=-0.015 * s, inner_up=0.06 * s, together=0.015 * s)


def _surprised(frame: dict[str, np.ndarray], s: float) -> dict[str, np.ndarray]:
    frame = move_brows(frame, up=0.07 * s)
    frame = _scaled_eyes(frame, 1.0 + 0.25 * s)
    return set_mouth(frame, float(frame["mouth_open"]) + 0.3 * s)


def _angry(frame: dict[str, np.ndarray], s: float) -> dict[str, np.ndarray]:
    frame = move_brows(frame, up=-0.07 * s, together=0.08 * s)
    frame = _scaled_eyes(pull_corners(frame, -0.03 * s, -0.05 * s), 1.0 - 0.2 * s)
    return set_mouth(frame, (1.0 - s) * float(frame["mouth_open"]))


def _disgusted(frame: dict[str, np.ndarray], s: float) -> dict[str, np.ndarray]:
    frame = raise_upper_lip(frame, 0.05 * s)
    frame = move_brows(frame, up=-0.03 * s, together=0.02 * s)
    return _scaled_eyes(pull_corners(frame, -0.02 * s, -0.05 * s), 1.0 - 0.15 * s)


# The landmarks space's expressions (see thead.motion.expressions for names, ranges and what each moves).
PRESETS = {"neutral": _neutral, "happy": _happy, "sad": _sad, "surprised": _surprised, "angry": _angry,
           "disgusted": _disgusted, "smile": add_smile}


def apply_expression(frame: dict[str, np.ndarray], name: str, strength: float) -> dict[str, np.ndarray]:
    """A named expression preset at ``strength`` on a ``landmarks`` frame."""
    return PRESETS[name](frame, float(strength))


def apply_edit(frame: dict[str, np.ndarray], edit) -> dict[str, np.ndarray]:
    """Apply a :class:`thead.motion.frame_edit.FrameEdit` to a ``landmarks``-space frame."""
    for name, strength in edit.expressions:
        frame = apply_expression(frame, name, strength)
    if edit.smile is not None:
        frame = add_smile(frame, edit.smile)
    if edit.mouth is not None:
        frame = set_mouth(frame, edit.mouth)
    if edit.eyes is not None:
        frame = set_eyes(frame, edit.eyes)
    if edit.gaze is not None:
        frame = set_gaze(frame, *edit.gaze)
    angles = {k: float(frame[k]) + v for k in ("yaw", "pitch", "roll") if (v := getattr(edit, k)) is not None}
    return set_pose(frame, **angles) if angles else frame
