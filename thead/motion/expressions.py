"""Named expressions (``--expression NAME:STRENGTH``): the vocabulary of each motion space.

Every space implements the six presets; the strength of a preset runs from 0 (no change) to 1
(the full expression). ``smile`` is a signed slider (-1 frown .. 1 smile); ``wink`` exists only
in the ``liveportrait`` space. The moves themselves live beside each space's other edits
(:mod:`thead.motion.edits` for ``landmarks``, :mod:`thead.backends.liveportrait.edits`).
"""

from __future__ import annotations

from collections.abc import Iterable

from thead.errors import UsageError

PRESETS = ("neutral", "happy", "sad", "surprised", "angry", "disgusted")
STRENGTH_RANGE = (0.0, 1.0)
SMILE_RANGE = (-1.0, 1.0)

# What each preset moves (documentation shared by the help text and the README).
DESCRIPTIONS = {
    "neutral": "relaxes the face: mouth corners levelled, mouth closed",
    "happy": "mouth corners out and up, eyes narrowed a little",
    "sad": "mouth corners down, inner brow ends raised and drawn together",
    "surprised": "brows raised, eyes widened, mouth opened",
    "angry": "brows lowered and drawn together, eyes narrowed, lips pressed, corners down",
    "disgusted": "upper lip and nose wings raised, brows lowered, corners down",
    "smile": "mouth corners out and up (negative: a frown)",
    "wink": "closes one eye (liveportrait only)",
}

NAMES = {
    "landmarks": PRESETS + ("smile",),
    "liveportrait": PRESETS + ("smile", "wink"),
}


def strength_range(name: str) -> tuple[float, float]:
    """The accepted strengths of expression ``name``."""
    return SMILE_RANGE if name == "smile" else STRENGTH_RANGE


def check_expressions(space: str, expressions: Iterable[tuple[str, float]]) -> None:
    """Raise :class:`UsageError` for a name the space does not know or a strength out of range."""
    known = NAMES.get(space, ())
    for name, strength in expressions:
        if name not in known:
            raise UsageError(f"unknown expression '{name}' for the {space} motion space",
                             f"choose one of: {', '.join(known)}")
        low, high = strength_range(name)
        if not low <= strength <= high:
            raise UsageError(f"expression strength {name}:{strength:g} is out of range",
                             f"give a strength from {low:g} to {high:g}")
