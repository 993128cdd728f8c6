"""Name -> class registries with lazy imports, shared by backends and metrics.

An entry is ``"module:Class"``; the module is imported only when the class is asked for, so
``thead --help`` stays fast and an entry whose optional dependency is missing does not break the
others. Unknown names are usage errors that list the known ones and suggest the nearest.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Generic, TypeVar

from thead.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes of one ``kind`` ("backend", "metric") by name.

    ``entries`` are listed by ``names()`` (and by "all"); ``extra`` entries resolve by name but are not
    listed (e.g. protocol variants run only when asked for); ``aliases`` map other spellings to a name.
    Lookups are case-insensitive.
    """

    def __init__(self, kind: str, entries: Mapping[str, str], *, extra: Mapping[str, str] | None = None,
                 aliases: Mapping[str, str] | None = None, hint: str = "") -> None:
        self.kind = kind
        self.entries = dict(entries)
        self.extra = dict(extra or {})
        self.aliases = dict(aliases or {})
        self.hint = hint
        for alias, target in self.aliases.items():
            if target not in self.entries and target not in self.extra:
                raise ValueError(f"{kind} alias '{alias}' points at unknown '{target}'")

    def names(self, *, extra: bool = False) -> list[str]:
        """The listed names in registration order (with the unlisted ``extra`` ones when asked)."""
        return [*self.entries, *self.extra] if extra else list(self.entries)

    def canonical(self, name: str) -> str:
        """The registered name that ``name`` (any case, or an alias) stands for; UsageError if none."""
        key = name.strip().lower()
        key = self.aliases.get(key, key)
        if key in self.entries or key in self.extra:
            return key
        raise UsageError(f"unknown {self.kind} '{name}'", self._choices(key))

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``, imported on first use."""
        key = self.canonical(name)
        module_name, _, class_name = (self.entries.get(key) or self.extra[key]).partition(":")
        return getattr(importlib.import_module(module_name), class_name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.strip().lower()
        key = self.aliases.get(key, key)
        return key in self.entries or key in self.extra

    def _choices(self, key: str) -> str:
        known = [*self.entries, *self.extra]
        close = difflib.get_close_matches(key, [*known, *self.aliases], n=1, cutoff=0.6)
        suggestion = f"did you mean '{self.aliases.get(close[0], close[0])}'? " if close else ""
        return f"{suggestion}choose from: {', '.join(known)}{self.hint}"
