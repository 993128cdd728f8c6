"""Backend registry: a backend is one module plus one line here."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from thead.errors import UsageError
from thead.registry import Registry

if TYPE_CHECKING:
    import torch

    from thead.backends.base import Backend, DriveOptions

# name -> "module:Class"; imported lazily so that `thead --help` stays fast.
BACKENDS: dict[str, str] = {
    "warp": "thead.backends.warp:WarpBackend",
    "liveportrait": "thead.backends.liveportrait:LivePortraitBackend",
    "joyvasa": "thead.backends.joyvasa:JoyVASABackend",
}
DEFAULT_BACKEND = "warp"
REGISTRY: Registry[Backend] = Registry("backend", BACKENDS)


def get_backend_class(name: str) -> type[Backend]:
    """The class registered as ``name`` (UsageError listing the known ones, with a "did you mean")."""
    return REGISTRY.get(name)


def backend_options(name: str) -> dict[str, Any]:
    """The keyword options backend ``name`` accepts (``--option KEY=VALUE``), with their defaults."""
    parameters = inspect.signature(get_backend_class(name).__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY and p.default is not None}


def parse_options(name: str, items: list[str]) -> dict[str, Any]:
    """``["stitching=false", "driving_option=pose-friendly"]`` -> typed keyword options for backend ``name``."""
    accepted = backend_options(name)
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in accepted:
            choices = ", ".join(f"{k}={v}" for k, v in accepted.items()) or "none"
            raise UsageError(f"backend '{name}' has no option '{item}'", f"options (with defaults): {choices}")
        default = accepted[key]
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise UsageError(f"option {key} takes true or false, got '{text}'", f"e.g. --option {key}=true")
            options[key] = text.lower() in ("true", "1", "yes")
        else:
            try:
                options[key] = type(default)(text)
            except ValueError as exc:
                raise UsageError(f"option {key} takes a {type(default).__name__}, got '{text}'", f"e.g. --option {key}={default}") from exc
    return options


def create_backend(name: str, device: torch.device, **options: Any) -> Backend:
    """Instantiate backend ``name`` on ``device`` with its keyword ``options``."""
    return get_backend_class(name)(device, **options)


# Built backends by (name, device, options) while a ``warm_backends()`` block runs; None outside one.
_WARM: dict[tuple[str, str, tuple[tuple[str, Any], ...]], Backend] | None = None


@contextlib.contextmanager
def warm_backends() -> Iterator[None]:
    """Within the block, :func:`resolve_backend` by name returns the backend it built before for the same
    name, device and options, so that models stay loaded across jobs (``thead batch`` workers run their
    jobs inside one). Outside any block each call builds a new backend. Blocks nest; the outermost owns
    the cache and drops it on exit."""
    global _WARM
    if _WARM is not None:
        yield
        return
    _WARM = {}
    try:
        yield
    finally:
        _WARM = None


def resolve_backend(backend: str | Backend, device: str = "auto", options: dict[str, Any] | None = None) -> Backend:
    """``backend`` itself when already built (its models stay loaded across jobs), else one by name:
    a new one, or inside :func:`warm_backends` the one already built for the same name, device and options."""
    from thead.backends.base import Backend

    if isinstance(backend, Backend):
        if options:
            raise UsageError("backend options apply when a backend is built by name",
                             "pass the options to create_backend() instead")
        return backend
    from thead.device import resolve_device

    resolved = resolve_device(device)
    if _WARM is None:
        return create_backend(backend, resolved, **(options or {}))
    key = (backend.strip().lower(), str(resolved), tuple(sorted((options or {}).items())))
    if key not in _WARM:
        _WARM[key] = create_backend(backend, resolved, **(options or {}))
    return _WARM[key]


def __getattr__(name: str) -> Any:
    """``Backend`` and ``DriveOptions`` load torch: import them only when asked for."""
    if name in ("Backend", "DriveOptions"):
        from thead.backends import base

        return getattr(base, name)
    raise AttributeError(f"module 'thead.backends' has no attribute {name!r}")


__all__ = ["BACKENDS", "DEFAULT_BACKEND", "REGISTRY", "Backend", "DriveOptions", "backend_options", "create_backend",
           "get_backend_class", "parse_options", "resolve_backend", "warm_backends"]
