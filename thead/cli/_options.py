"""Options every command shares (the CLI contract of design/cli.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from thead.errors import UsageError

Device = Annotated[
    str,
    typer.Option("--device", envvar="THEAD_DEVICE", help="auto, cpu, cuda, cuda:N or mps."),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object with the results on stdout.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or logs on stderr.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")]


def _backend_help() -> str:
    from thead.backends import DEFAULT_BACKEND, REGISTRY

    names = ", ".join(f"{name} (default)" if name == DEFAULT_BACKEND else name for name in REGISTRY.names())
    return f"Renderer: {names}."


BackendName = Annotated[str, typer.Option("--backend", help=_backend_help(), show_default=False)]


def parse_expressions(items: list[str]) -> tuple[tuple[str, float], ...]:
    """``["happy:0.5", "surprised"]`` -> ``(("happy", 0.5), ("surprised", 1.0))``; names are checked by the pipeline."""
    parsed = []
    for item in items:
        name, _, strength = item.partition(":")
        try:
            parsed.append((name, float(strength or 1.0)))
        except ValueError as exc:
            raise UsageError(f"--expression expects NAME:STRENGTH, got '{item}'", "e.g. --expression happy:0.5") from exc
    return tuple(parsed)
