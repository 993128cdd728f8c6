"""How library code talks to the user: a small protocol the CLI implements with rich.

Pipelines, the weights manager and the metric runner report through :class:`Notes`; they never
import the CLI. :class:`Silent` is the default for the Python API.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


class Notes(Protocol):
    """Logs, warnings and progress for a long-running job."""

    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def progress(self, items: Iterable[T], total: int | None, description: str) -> Iterator[T]: ...


class Silent:
    """Notes that say nothing: the Python API's default."""

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def progress(self, items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
        return iter(items)
