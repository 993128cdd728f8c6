"""Backend registry: a backend is one module plus one line here."""

from __future__ import annotations

import importlib

import torch

from thead.backends.base import Backend, DriveOptions
from thead.errors import UsageError

# name -> "module:Class"; imported lazily so that `thead --help` stays fast.
BACKENDS: dict[str, str] = {
    "warp": "thead.backends.warp:WarpBackend",
    "liveportrait": "thead.backends.liveportrait:LivePortraitBackend",
}
DEFAULT_BACKEND = "warp"


def get_backend_class(name: str) -> type[Backend]:
    """The class registered as ``name``."""
    if name not in BACKENDS:
        raise UsageError(f"unknown backend '{name}'", f"choose one of: {', '.join(BACKENDS)}")
    module_name, _, class_name = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_backend(name: str, device: torch.device) -> Backend:
    """Instantiate backend ``name`` on ``device``."""
    return get_backend_class(name)(device)


__all__ = ["BACKENDS", "DEFAULT_BACKEND", "Backend", "DriveOptions", "create_backend", "get_backend_class"]
