"""thead — talking-head synthesis: animate a portrait, edit its motion, measure the result.

The Python API mirrors the commands::

    import thead
    thead.drive_video("portrait.jpg", "driving.mp4", "out.mp4")
    thead.edit("portrait.jpg", "out.png", thead.EditSchedule(thead.FrameEdit(yaw=15)))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0.dev0"

_LAZY = {
    "drive_video": "thead.pipelines.drive_video",
    "drive_audio": "thead.pipelines.drive_audio",
    "edit": "thead.pipelines.edit",
    "eval": "thead.pipelines.eval",
    "EditSchedule": "thead.pipelines.edit",
    "FrameEdit": "thead.motion.frame_edit",
    "MotionTrack": "thead.motion.track",
}


def __getattr__(name: str) -> Any:
    """Import the API lazily so that ``import thead`` and ``thead --help`` stay fast."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'thead' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
