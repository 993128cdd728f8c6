"""Provenance written into every produced media file: AI-generated content is labelled."""

from __future__ import annotations

import shlex
import sys

from thead import __version__


def provenance(command: str, backend: str, seed: int | None = None, weights: dict[str, str] | None = None) -> dict[str, str]:
    """Metadata tags: thead version, command and its arguments, backend, weights, seed, ``synthetic=true``."""
    tags = {
        "synthetic": "true",
        "software": f"thead {__version__}",
        "thead_command": command,
        "thead_backend": backend,
        "thead_cmdline": command_line(),
    }
    if seed is not None:
        tags["thead_seed"] = str(seed)
    if weights:
        tags["thead_weights"] = ",".join(f"{name}={digest}" for name, digest in sorted(weights.items()))
    return {key: value for key, value in tags.items() if value}


def command_line() -> str:
    """The ``thead ...`` command line being run, shell-quoted ("" when not run as the CLI)."""
    return shlex.join(["thead", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("thead") else ""


def weight_revisions(names: tuple[str, ...]) -> dict[str, str]:
    """``{set name: "repo@commit"}`` for the weight sets a backend loads, from weights.toml."""
    if not names:
        return {}
    from thead.weights import load_manifest

    manifest = load_manifest()
    return {name: f"{manifest.get(name).repo_id}@{manifest.get(name).revision}" for name in names}
