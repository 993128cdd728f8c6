"""Weights: the weights.toml manifest, verified fetching into the hub cache, and safe loading.

``resolve_files(name)`` is what backends and metrics call: it returns the verified local files of a
weight set or raises :class:`~thead.errors.WeightsError` telling the user to run
``thead fetch-weights NAME``. Load them with :func:`load_checkpoint` (safetensors, or pickles through
``torch.load(weights_only=True)``) and :func:`load_strict`.
"""

from thead.weights.cache import hub_cache_dir
from thead.weights.manifest import Manifest, WeightFile, WeightSet, load_manifest, parse_manifest
from thead.weights.resolve import resolve_files

__all__ = [
    "Manifest",
    "WeightFile",
    "WeightSet",
    "hub_cache_dir",
    "load_checkpoint",
    "load_manifest",
    "load_strict",
    "parse_manifest",
    "resolve_files",
]


def __getattr__(name: str):
    """Import the torch-based loaders on first use, so manifest and fetch code stay light."""
    if name in ("load_checkpoint", "load_strict"):
        from thead.weights import load

        return getattr(load, name)
    raise AttributeError(f"module 'thead.weights' has no attribute {name!r}")
