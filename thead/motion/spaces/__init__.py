"""Motion spaces: one schema per space (its channels, units and bounds) and the validator.

>>> from thead.motion.spaces import get_space
>>> track = get_space("liveportrait").rest_track(frames=50, fps=25.0)   # a still, valid track
>>> get_space(track.space).validate(track)                               # raises BadInputError if not

Audio-to-motion drivers write tracks in any space through this package, never through a
backend's internals.
"""

from __future__ import annotations

from collections.abc import Mapping

from thead.errors import BadInputError
from thead.motion.spaces.landmarks import LANDMARKS
from thead.motion.spaces.liveportrait import LIVEPORTRAIT
from thead.motion.spaces.schema import FPS_RANGE, HINT, TRACK, Channel, MotionSpace, check_fps
from thead.motion.spaces.measure import measure_face
from thead.motion.spaces.shared import COMMON_CHANNELS

SPACES: dict[str, MotionSpace] = {space.name: space for space in (LANDMARKS, LIVEPORTRAIT)}

__all__ = ["COMMON_CHANNELS", "FPS_RANGE", "SPACES", "Channel", "MotionSpace", "check_fps", "get_space",
           "measure_face", "validate_track"]


def get_space(name: str, where: str = TRACK) -> MotionSpace:
    """The schema of space ``name``; :class:`BadInputError` for an unknown one."""
    if not isinstance(name, str) or name not in SPACES:
        raise BadInputError(f"{where}: unknown motion space {name!r} (known: {', '.join(SPACES)})", HINT)
    return SPACES[name]


def validate_track(space: str, fps: float, channels: Mapping[str, object], where: str = TRACK) -> None:
    """The one rule for reading and writing tracks: a known space, fps in range, channels fitting the schema."""
    schema = get_space(space, where)
    check_fps(fps, where)
    schema.validate_channels(channels, where)
