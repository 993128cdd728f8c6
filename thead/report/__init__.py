"""How thead talks to people: the ``Notes`` protocol library code reports through, and the
self-contained HTML report of ``thead eval --report`` (one page, inline PNG frames and SVG curves).

The HTML writer is imported lazily: pipelines that only need :class:`Notes` do not load OpenCV or
the metric runner.
"""

from __future__ import annotations

import importlib
from typing import Any

from thead.report.notes import Notes, Silent

_LAZY = {"render_report": "thead.report.page", "write_report": "thead.report.page"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'thead.report' has no attribute {name!r}")


__all__ = ["Notes", "Silent", *_LAZY]
