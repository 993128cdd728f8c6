"""Motion-space schemas and the one validator every motion track goes through.

A space lists its channels: per-frame (inner) shape, unit, bounds and whether the channel is one
of the shared ones every space carries. All channels are float32 with time as their first axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from thead.errors import BadInputError, UsageError

if TYPE_CHECKING:
    from thead.motion.track import MotionTrack

FPS_RANGE = (1.0, 240.0)  # frames per second a track may declare, inclusive
DTYPE = np.dtype(np.float32)
TRACK = "motion track"  # how errors name a track that has no file
HINT = "write motion tracks with thead (--motion-out, MotionTrack.save); the README documents the format"


@dataclass(frozen=True)
class Channel:
    """One per-frame channel: name, inner shape, allowed value range, unit and meaning."""

    name: str
    shape: tuple[int, ...]
    bounds: tuple[float, float]
    unit: str
    doc: str
    common: bool = False
    optional: bool = False  # a track may leave it out (older files, drivers that cannot measure it)


@dataclass(frozen=True)
class MotionSpace:
    """A representation of motion: the channels its tracks hold and how to make a rest frame."""

    name: str
    doc: str
    channels: tuple[Channel, ...]
    rest: Callable[[], dict[str, object]] | None  # None: the space has no face-independent rest frame

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(channel.name for channel in self.channels)

    @property
    def common(self) -> tuple[str, ...]:
        return tuple(channel.name for channel in self.channels if channel.common)

    def rest_frame(self) -> dict[str, np.ndarray]:
        """A neutral frame of this space: head straight, eyes open, mouth closed."""
        if self.rest is None:
            raise UsageError(f"motion space '{self.name}' has no rest frame of its own",
                             "start from the portrait's own motion (the backend's source_motion)")
        return {name: np.asarray(value, DTYPE).copy() for name, value in self.rest().items()}

    def rest_track(self, frames: int, fps: float) -> MotionTrack:
        """``frames`` copies of :meth:`rest_frame` as a valid track (a start for audio drivers)."""
        from thead.motion.track import MotionTrack

        frame = self.rest_frame()
        channels = {name: np.repeat(value[None], frames, axis=0) for name, value in frame.items()}
        return MotionTrack(fps, self.name, channels)

    def validate(self, track: MotionTrack, where: str = TRACK) -> None:
        """Raise :class:`BadInputError` naming ``where`` and the field unless ``track`` is valid in this space."""
        if track.space != self.name:
            raise BadInputError(f"{where}: a '{track.space}' track, not '{self.name}'", HINT)
        check_fps(track.fps, where)
        self.validate_channels(track.channels, where)

    def validate_channels(self, channels: Mapping[str, object], where: str = TRACK) -> None:
        """Every required channel present (optional ones may be absent), float32, [T, *shape] with the same T >= 1,
        finite and within bounds."""
        missing = [channel.name for channel in self.channels if channel.name not in channels and not channel.optional]
        if missing:
            raise BadInputError(f"{where}: missing channel(s) {', '.join(missing)} of space '{self.name}'", HINT)
        unknown = sorted(set(channels) - set(self.names))
        if unknown:
            raise BadInputError(f"{where}: unknown channel(s) {', '.join(unknown)} for space '{self.name}' "
                                f"(it has: {', '.join(self.names)})", HINT)
        frames = None
        present = [channel for channel in self.channels if channel.name in channels]
        for channel in present:
            value = channels[channel.name]
            _check_channel(channel, value, where)
            if frames is None:
                frames = len(value)
            elif len(value) != frames:
                raise BadInputError(f"{where}: channels differ in length: '{present[0].name}' has "
                                    f"{frames} frames, '{channel.name}' has {len(value)}", HINT)
        if not frames:
            raise BadInputError(f"{where}: the track has no frames", HINT)


def _check_channel(channel: Channel, value: object, where: str) -> None:
    field = f"{where}: channel '{channel.name}'"
    if not isinstance(value, np.ndarray):
        raise BadInputError(f"{field} is a {type(value).__name__}, not a numpy array", HINT)
    if value.dtype != DTYPE:
        raise BadInputError(f"{field} has dtype {value.dtype}; motion channels are float32", HINT)
    if value.ndim == 0 or value.shape[1:] != channel.shape:
        inner = ", ".join(map(str, channel.shape))
        raise BadInputError(f"{field} has shape {list(value.shape)}; expected [T{', ' + inner if inner else ''}]", HINT)
    if not np.isfinite(value).all():
        raise BadInputError(f"{field} holds NaN or infinite values", HINT)
    low, high = channel.bounds
    if value.size and (value.min() < low or value.max() > high):
        raise BadInputError(f"{field} has values in [{value.min():g}, {value.max():g}], outside "
                            f"[{low:g}, {high:g}] {channel.unit}", HINT)


def check_fps(fps: object, where: str = TRACK) -> float:
    """``fps`` as a float when it is a number within :data:`FPS_RANGE`, else :class:`BadInputError`."""
    low, high = FPS_RANGE
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)):
        raise BadInputError(f"{where}: fps {fps!r} is not a number", HINT)
    if not (math.isfinite(fps) and low <= fps <= high):
        raise BadInputError(f"{where}: fps {fps!r} is outside {low:g}..{high:g}", HINT)
    return float(fps)
