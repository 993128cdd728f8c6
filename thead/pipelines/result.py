"""What a rendering command wrote: one result type for drive-video, edit and the commands to come."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
