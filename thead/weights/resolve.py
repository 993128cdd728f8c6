"""Resolve a weight-set name to verified local files: what backends and metrics call before loading."""

from __future__ import annotations

import os
from pathlib import Path

from thead.errors import WeightsError
from thead.weights.cache import CacheLayout, hub_cache_dir, is_offline, is_stamped
from thead.weights.manifest import Manifest, load_manifest


def resolve_files(name: str, cache_dir: str | os.PathLike | None = None,
                  manifest: Manifest | None = None) -> dict[str, Path]:
    """Local paths of every file of weight set ``name``, keyed by their path inside the hub repo.

    Only files that ``thead fetch-weights`` has verified (size and sha256, recorded with the file's
    size and mtime) are returned; anything missing, changed since, or never verified raises
    :class:`~thead.errors.WeightsError` (exit code 4) with the command that fixes it.
    """
    weight_set = (manifest or load_manifest()).get(name)
    root = hub_cache_dir(cache_dir)
    fix = f"run: thead fetch-weights {name}"
    if is_offline():
        fix += " --from DIR (offline: a mirror laid out as DIR/<repo>/<path>)"
    resolved: dict[str, Path] = {}
    for file in weight_set.files:
        layout = CacheLayout(root, file)
        local = layout.cached()
        if local is None:
            raise WeightsError(f"weights {name!r} are not installed ({file.path} missing from {root})", fix)
        if not is_stamped(root, local, layout.expected()):
            raise WeightsError(f"weights {name!r}: {file.path} in {root} is not verified or changed since", fix)
        resolved[file.path] = local
    return resolved
