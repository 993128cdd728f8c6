"""Keyframed edits (``thead edit --keyframes keys.json``): the file schema, its validation, and curves.

A file is a JSON list of keyframes, or an object ``{"keyframes": [...]}``. Each keyframe has a
time ``t`` (seconds, >= 0) and any of these channels:

- ``yaw``, ``pitch``, ``roll``: degrees *added* to the input's pose (relative);
- ``smile``: strength -1..1 *added* to the input's expression (relative);
- ``expression``: ``{"NAME": strength}``, presets added at that strength (relative, 0..1);
- ``eyes``, ``mouth``: openness *targets* (absolute; lid gap / eye width, inner-lip gap / mouth width);
- ``gaze``: ``[x, y]`` iris position target in half eye widths (absolute);
- ``ease``: how the curve arrives at this key from the previous one: ``linear`` (default), ``in``
  (slow start), ``out`` (slow end), ``in-out`` (smooth both ends) or ``hold`` (keep the previous
  value, jump at this key).

Each channel is interpolated between the keys that set it. Before its first key a channel is left
as the input has it, then eases in over the interval from the previous keyframe of the file (or
over ``EASE_IN_SECONDS`` when it is the file's first keyframe); after its last key it holds.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from thead.errors import BadInputError
from thead.motion import expressions
from thead.motion.frame_edit import FrameEdit

EASE_IN_SECONDS = 0.2
RELATIVE = ("yaw", "pitch", "roll", "smile")
ABSOLUTE = ("eyes", "mouth")
EASES = {
    "linear": lambda u: u,
    "in": lambda u: u * u,
    "out": lambda u: 1.0 - (1.0 - u) ** 2,
    "in-out": lambda u: u * u * (3.0 - 2.0 * u),
    "hold": lambda u: 1.0 if u >= 1.0 else 0.0,
}
KEYS = ("t", "ease", "gaze", "expression") + RELATIVE + ABSOLUTE


@dataclass(frozen=True)
class Keyframe:
    """The channels ``edit`` sets at time ``t`` (seconds), reached with easing ``ease``."""

    t: float
    edit: FrameEdit
    ease: str = "linear"


def as_keyframe(item: Keyframe | tuple) -> Keyframe:
    """A :class:`Keyframe` from itself or a ``(t, FrameEdit[, ease])`` tuple."""
    return item if isinstance(item, Keyframe) else Keyframe(*item)


def _channels(edit: FrameEdit) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(edit, name) for name in RELATIVE + ABSOLUTE + ("gaze",)}
    values.update({f"expression:{name}": strength for name, strength in edit.expressions})
    return {name: value for name, value in values.items() if value is not None}


def _edit_of(channel: str, value: Any) -> FrameEdit:
    if channel.startswith("expression:"):
        return FrameEdit(expressions=((channel.partition(":")[2], float(value)),))
    return FrameEdit(**{channel: tuple(value) if channel == "gaze" else float(value)})


def _mix(a: Any, b: Any, u: float) -> Any:
    if isinstance(a, tuple):
        return tuple(x + u * (y - x) for x, y in zip(a, b))
    return a + u * (b - a)


def keyframe_steps(keys: tuple, t: float) -> list[tuple[FrameEdit, float]]:
    """The keyframed edits in force at time ``t``: one (edit, weight) per channel, weight 0..1."""
    frames = sorted((as_keyframe(k) for k in keys), key=lambda k: k.t)
    times = [k.t for k in frames]
    steps = []
    for channel in dict.fromkeys(c for k in frames for c in _channels(k.edit)):
        points = [(k.t, _channels(k.edit)[channel], k.ease) for k in frames if channel in _channels(k.edit)]
        first_t, first_value, first_ease = points[0]
        if t < first_t:
            earlier = [time for time in times if time < first_t]
            start = earlier[-1] if earlier else first_t - EASE_IN_SECONDS
            if t > start:
                steps.append((_edit_of(channel, first_value), EASES[first_ease]((t - start) / (first_t - start))))
            continue
        value = points[-1][1]
        for (t0, v0, _), (t1, v1, ease) in itertools.pairwise(points):
            if t0 <= t < t1:
                value = _mix(v0, v1, EASES[ease]((t - t0) / (t1 - t0)))
                break
        steps.append((_edit_of(channel, value), 1.0))
    return steps


class _Path:
    """Builds error messages that name the file and the key path of a bad value."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, where: str, problem: str) -> BadInputError:
        return BadInputError(f"{self.file.name}: {where}: {problem}",
                             "see the keyframe schema in `thead edit --help` or the README")


def _number(path: _Path, where: str, value: Any, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise path.fail(where, f"expected a number, got {json.dumps(value)}")
    if not low <= value <= high:
        raise path.fail(where, f"{value:g} is outside {low:g}..{high:g}")
    return float(value)


def _parse_key(path: _Path, where: str, key: Any, names: tuple[str, ...]) -> Keyframe:
    if not isinstance(key, dict):
        raise path.fail(where, f"expected an object like {{\"t\": 1.0, \"yaw\": 10}}, got {json.dumps(key)}")
    for name in key:
        if name not in KEYS:
            raise path.fail(f"{where}.{name}", f"unknown channel; allowed: {', '.join(KEYS)}")
    if "t" not in key:
        raise path.fail(where, "missing \"t\" (seconds)")
    t = _number(path, f"{where}.t", key["t"], 0.0)
    values: dict[str, Any] = {name: _number(path, f"{where}.{name}", key[name]) for name in RELATIVE if name in key}
    low, high = expressions.SMILE_RANGE
    if "smile" in values:
        _number(path, f"{where}.smile", values["smile"], low, high)
    values.update({name: _number(path, f"{where}.{name}", key[name], 0.0) for name in ABSOLUTE if name in key})
    if "gaze" in key:
        gaze = key["gaze"]
        if not (isinstance(gaze, list) and len(gaze) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                                   for v in gaze)):
            raise path.fail(f"{where}.gaze", "expected [x, y] numbers")
        values["gaze"] = (float(gaze[0]), float(gaze[1]))
    if "expression" in key:
        values["expressions"] = _parse_expressions(path, f"{where}.expression", key["expression"], names)
    ease = key.get("ease", "linear")
    if ease not in EASES:
        raise path.fail(f"{where}.ease", f"expected one of {', '.join(EASES)}, got {json.dumps(ease)}")
    if not (set(key) - {"t", "ease"}):
        raise path.fail(where, "sets no channel")
    return Keyframe(t, FrameEdit(**values), ease)


def _parse_expressions(path: _Path, where: str, value: Any, names: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, dict) or not value:
        raise path.fail(where, "expected {\"NAME\": strength, ...}")
    parsed = []
    for name, strength in value.items():
        if name not in names:
            raise path.fail(f"{where}.{name}", f"unknown expression; known: {', '.join(names)}")
        parsed.append((name, _number(path, f"{where}.{name}", strength, *expressions.strength_range(name))))
    return tuple(parsed)


def load_keyframes(file: str | os.PathLike, space: str = "landmarks") -> tuple[Keyframe, ...]:
    """Read and validate a keyframe file (schema in the module docstring); raises BadInputError (exit 3)."""
    file = Path(file)
    path = _Path(file)
    try:
        data = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read keyframes {file} ({exc})", "give a JSON list of {\"t\": seconds, ...}") from exc
    where = "keyframes"
    if isinstance(data, dict):
        if set(data) != {"keyframes"}:
            raise path.fail("top level", "expected a list of keyframes or {\"keyframes\": [...]}")
        data = data["keyframes"]
    if not isinstance(data, list) or not data:
        raise path.fail(where, "expected a non-empty list of keyframes")
    names = expressions.NAMES.get(space, expressions.PRESETS)
    keys = [_parse_key(path, f"{where}[{index}]", key, names) for index, key in enumerate(data)]
    return tuple(sorted(keys, key=lambda k: k.t))


def clamp_keyframes(keys: tuple, clamp) -> tuple[Keyframe, ...]:
    """``keys`` with each edit passed through ``clamp`` (FrameEdit -> FrameEdit)."""
    return tuple(replace(k, edit=clamp(k.edit)) for k in map(as_keyframe, keys))
