"""What a rendering command wrote: one result type for drive-video, edit and the commands to come."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from thead.report import Notes


@dataclass
class RenderResult:
    """The output written, its frame count and rate, where it ran, and how long each stage took."""

    output: str
    frames: int
    fps: float | None
    backend: str
    device: str
    audio: bool = False
    motion: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    weights: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def warn(self, reporter: Notes, message: str) -> None:
        """Record a warning in the result and tell the user now."""
        self.warnings.append(message)
        reporter.warn(message)


@contextlib.contextmanager
def timed(sink: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to ``sink[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        sink[name] = sink.get(name, 0.0) + time.perf_counter() - start
