"""Edits on ``landmarks``-space motion frames: eyes, mouth, gaze, smile, pose.

They change the canonical expression (R^T (p - c) / s, x towards the subject's left eye, y down)
and the matching scalar channels together, so that a renderer and a reader of the track agree.
"""

from __future__ import annotations

import numpy as np

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
    """Set mouth openness (inner-lip gap / mouth width) by lowering the jaw and lower lip."""
    expr = np.array(frame["expression"], np.float64)
    width = np.linalg.norm(expr[geometry.MOUTH["left"]] - expr[geometry.MOUTH["right"]])
    delta = (max(float(openness), 0.0) - geometry.mouth_openness(expr)) * width
    corner_y = expr[_MOUTH_CORNERS, 1].mean()
    centre_x = expr[_MOUTH_CORNERS, 0].mean()
    chin_y = expr[152, 1]
    below = np.clip((expr[:, 1] - corner_y) / max(chin_y - corner_y, 1e-6) + 0.35, 0.0, 1.0)
    falloff = np.exp(-(((expr[:, 0] - centre_x) / (1.2 * width)) ** 2))
    weight = below * falloff
    weight[_INNER_UPPER] = 0.0
    weight[_INNER_LOWER] = 1.0
    expr[:, 1] += 0.85 * delta * weight
    expr[_INNER_UPPER, 1] -= 0.15 * delta
    return _refresh(frame, expr)


def set_gaze(frame: dict[str, np.ndarray], x: float, y: float) -> dict[str, np.ndarray]:
    """Move both irises to (x, y) in half eye widths from the eye centres."""
    expr = np.array(frame["expression"], np.float64)
    now = np.array(geometry.gaze(expr))
    half_width = np.linalg.norm(expr[133] - expr[33]) / 2
    expr[_IRISES, :2] += (np.array([x, y]) - now) * half_width
    return _refresh(frame, expr)


def add_smile(frame: dict[str, np.ndarray], strength: float) -> dict[str, np.ndarray]:
    """Pull the mouth corners out and up (strength about -1..1; negative is a frown)."""
    expr = np.array(frame["expression"], np.float64)
    width = np.linalg.norm(expr[61] - expr[291])
    for corner, side in ((61, -1.0), (291, 1.0)):
        distance = np.linalg.norm(expr[:, :2] - expr[corner, :2], axis=1)
        weight = np.exp(-((distance / (0.35 * width)) ** 2))
        expr[:, 0] += side * 0.12 * width * strength * weight
        expr[:, 1] -= 0.14 * width * strength * weight
    return _refresh(frame, expr)


def set_pose(frame: dict[str, np.ndarray], yaw: float | None = None, pitch: float | None = None,
             roll: float | None = None) -> dict[str, np.ndarray]:
    """Set head angles in degrees (None keeps a channel)."""
    changes = {name: np.float32(value) for name, value in (("yaw", yaw), ("pitch", pitch), ("roll", roll)) if value is not None}
    return _with(frame, **changes)


def apply_edit(frame: dict[str, np.ndarray], edit) -> dict[str, np.ndarray]:
    """Apply a :class:`thead.backends.base.FrameEdit` to a ``landmarks``-space frame."""
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
