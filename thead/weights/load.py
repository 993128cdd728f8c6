"""Safe checkpoint loading: safetensors, or torch.load(weights_only=True); strict state dicts."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import torch

from thead.errors import WeightsError


def load_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.safetensors`` or a pickled ``.pth``/``.pt`` without executing code.

    A pickled file that ``thead fetch-weights --convert`` turned into safetensors is read from that copy.
    """
    from thead.weights.convert import find_converted

    path = Path(path)
    try:
        converted = None if path.suffix == ".safetensors" else find_converted(path)
        if path.suffix == ".safetensors" or converted is not None:
            from safetensors.torch import load_file

            return load_file(str(converted or path))
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        holds = f"a reference to {found.group(1)}" if found else "objects other than tensors"
        raise WeightsError(
            f"cannot load {path} safely: it holds {holds}, which only running code from the file would read",
            "use a safetensors weight set instead (thead fetch-weights --list shows them)",
        ) from None
    except (RuntimeError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in reason:  # PyTorch's advice to turn the safety off is never passed on
            reason = "not a plain tensor checkpoint"
        raise WeightsError(f"cannot load {path} safely ({reason})",
                           "re-fetch it with `thead fetch-weights --verify`, or use a safetensors weight set") from exc
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state dict", "re-fetch it with `thead fetch-weights`")
    return state


def load_strict(module: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with shape checks and an error naming missing/unexpected keys."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if keys:
                shown = ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
                parts.append(f"{label}: {shown}")
        raise WeightsError(f"{source} does not match {type(module).__name__} ({'; '.join(parts)})",
                           "re-fetch the weights or check the backend configuration")
    module.load_state_dict(state_dict, strict=True)
