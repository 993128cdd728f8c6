"""Shared CLI plumbing: stderr console, progress bars, JSON results on stdout, error mapping."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from rich.console import Console
from rich.text import Text
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")

stderr = Console(stderr=True, highlight=False)


@dataclass
class Reporter:
    """What a command tells the user: logs and progress on stderr, results on stdout."""

    quiet: bool = False
    json_mode: bool = False

    @property
    def chatty(self) -> bool:
        return not (self.quiet or self.json_mode)

    def info(self, message: str) -> None:
        """Plain text: paths and other user data are never read as rich markup."""
        if self.chatty:
            stderr.print(Text(message), soft_wrap=True)

    def warn(self, message: str) -> None:
        """Warnings survive --json (they go to stderr) but not --quiet."""
        if not self.quiet:
            stderr.print(Text.assemble(("warning:", "yellow"), " ", message), soft_wrap=True)

    def progress(self, items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
        """Iterate ``items`` with a rich progress bar on stderr when it is a terminal."""
        if not (self.chatty and stderr.is_terminal):
            yield from items
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=stderr, transient=True) as bar:
            task = bar.add_task(description, total=total)
            for item in items:
                yield item
                bar.advance(task)

    def result(self, payload: dict[str, Any], human: str | None = None) -> None:
        """Print the command's result: one JSON object with --json, else a short human line."""
        if self.json_mode:
            sys.stdout.write(json.dumps(payload, default=_jsonable) + "\n")
        elif human and not self.quiet:
            sys.stdout.write(human + "\n")
        sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def render_summary(result: Any) -> str:
    """``out.mp4  (150 frames, 25 fps, 6.00 s of video; rendered in 1.7 s)`` for a RenderResult."""
    frames = f"{result.frames} frame" + ("s" if result.frames != 1 else "")
    compute = sum(result.timings.values())
    if result.frames > 1 and result.fps:
        return f"{result.output}  ({frames}, {result.fps:g} fps, {result.frames / result.fps:.2f} s of video; " \
               f"rendered in {compute:.1f} s)"
    return f"{result.output}  ({frames}; rendered in {compute:.1f} s)"
