"""Resolve ``--device auto|cpu|cuda[:N]|mps`` (env ``THEAD_DEVICE``) to a ``torch.device``."""

from __future__ import annotations

import os

import torch

from thead.errors import DeviceError, UsageError


def resolve_device(spec: str | None = None) -> torch.device:
    """Return the device for ``spec``; ``auto`` picks CUDA, then MPS, then CPU."""
    spec = (spec or os.environ.get("THEAD_DEVICE") or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise DeviceError("device 'mps' is not available on this machine", "use --device cpu or --device auto")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        index = spec.partition(":")[2]
        if index and not index.isdigit():
            raise UsageError(f"invalid device '{spec}'", "use cuda or cuda:N with N an integer")
        if not torch.cuda.is_available():
            raise DeviceError(f"device '{spec}' requested but CUDA is not available", "use --device cpu or --device auto")
        if index and int(index) >= torch.cuda.device_count():
            raise DeviceError(
                f"device '{spec}' does not exist ({torch.cuda.device_count()} CUDA devices)",
                "pick an index below the device count",
            )
        return torch.device(spec)
    raise UsageError(f"invalid device '{spec}'", "use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())

