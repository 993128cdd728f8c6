"""One frame's worth of edits, in the terms ``thead edit`` takes them (independent of any space)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FrameEdit:
    """Changes to one motion frame, as ``thead edit`` takes them; None leaves a channel alone.

    Angles are degrees added to the frame's pose; ``eyes`` and ``mouth`` are target openness
    ratios (lid gap / eye width, inner-lip gap / mouth width); ``gaze`` is (x, y) in half eye
    widths; ``smile`` is a strength -1..1; ``expressions`` lists named presets with their
    strengths (names and ranges in :mod:`thead.motion.expressions`).
    """

    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    eyes: float | None = None
    mouth: float | None = None
    gaze: tuple[float, float] | None = None
    smile: float | None = None
    expressions: tuple[tuple[str, float], ...] = ()
