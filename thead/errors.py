"""Typed errors: each carries the exit code of the CLI contract and a hint for the user."""

from __future__ import annotations


class TheadError(Exception):
    """Base class; ``str(err)`` is "<what>" and ``hint`` is "<what to do>"."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The single ``error: ...`` line the CLI prints on stderr."""
        text = f"error: {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text.replace("\n", " ")


class UsageError(TheadError):
    """Wrong combination of options or arguments (exit 2)."""

    exit_code = 2


class BadInputError(TheadError):
    """Unreadable or unsuitable input file: missing, corrupt, no face, empty audio (exit 3)."""

    exit_code = 3


class OutputError(BadInputError):
    """Output path unusable: missing/read-only directory, equals an input, exists without --force (exit 3)."""


class NoFaceError(BadInputError):
    """No face found where one is required (exit 3)."""


class WeightsError(TheadError):
    """Weights missing, unknown or failing verification (exit 4)."""

    exit_code = 4


class DeviceError(TheadError):
    """Requested device is not available (exit 5)."""

    exit_code = 5
