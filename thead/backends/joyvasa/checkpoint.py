"""Reading JoyVASA's released files without running code from them, and strict state-dict loading.

``motion_generator_hubert_chinese.pt`` is a torch pickle ``{"args": argparse.Namespace, "model":
state_dict}``: it is read with ``torch.load(weights_only=True)``, allowing ``argparse.Namespace`` and
nothing else. ``motion_template.pkl`` is a plain pickle of numpy arrays: it is read by an
unpickler that builds numpy arrays and dtypes and refuses every other global. Loading consumes
every key: anything missing, unexpected or misshapen raises :class:`WeightsError` naming it.
"""

from __future__ import annotations

import importlib
import os
import pickle
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from thead.errors import WeightsError

FIX = "re-fetch it with `thead fetch-weights joyvasa`"
# Keys the official loader rebuilds: sinusoid tables, checked against ours where stored.
TABLES = ("denoising_net.TE.pe", "denoising_net.PE.pe")
OPTIONAL_TABLES = ("denoising_net.TE.pe",)  # the official loader deletes it before loading
WEIGHT_NORM = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}
TABLE_TOLERANCE = 1e-4


def read_generator_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The ``model`` state dict of the released checkpoint (or a bare state dict, or a safetensors file)."""
    import argparse

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        with torch.serialization.safe_globals([argparse.Namespace]):
            data = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, ValueError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in reason:
            reason = "it holds objects other than tensors and run arguments"
        raise WeightsError(f"cannot load {path} safely ({reason})", FIX) from None
    state = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a JoyVASA state dict", FIX)
    return state


class _ArrayUnpickler(pickle.Unpickler):
    """Builds numpy arrays, dtypes and scalars (and bytes, as protocol 2 writes them); any other global is refused."""

    ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # protocol 2 spells bytes as _codecs.encode(text, "latin1")
    })

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        if module in ("numpy", "_codecs"):
            return getattr(importlib.import_module(module), name)
        try:  # numpy 2 moved numpy.core to numpy._core; pickles name either
            multiarray = importlib.import_module("numpy._core.multiarray")
        except ImportError:
            multiarray = importlib.import_module("numpy.core.multiarray")
        return getattr(multiarray, name)


def read_template(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The motion template's arrays (``.pkl`` of numpy arrays, or ``.safetensors``/``.npz``)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            return load_file(str(path))
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        with open(path, "rb") as handle:
            data = _ArrayUnpickler(handle).load()
    except (pickle.UnpicklingError, OSError, ValueError, EOFError, AttributeError, TypeError) as exc:
        raise WeightsError(f"cannot read the motion template {path} safely ({exc})", FIX) from None
    if not isinstance(data, dict):
        raise WeightsError(f"{path} is not a motion template (no mapping of arrays)", FIX)
    return {str(name): np.asarray(value) for name, value in data.items()}


def _rename_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Older HuBERT weight-norm names (``weight_g``/``weight_v``) -> the parametrization names."""
    out = {}
    for key, value in state.items():
        head, _, last = key.rpartition(".")
        out[f"{head}.{WEIGHT_NORM[last]}" if last in WEIGHT_NORM and "pos_conv_embed" in head else key] = value
    return out


def load_generator(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into a :class:`~.denoiser.MotionGenerator`, every key consumed (WeightsError otherwise)."""
    from thead.weights import load_strict

    state = _rename_weight_norm(dict(state))
    own_tables = dict(model.named_buffers())
    for key in TABLES:
        if key not in state:
            if key in OPTIONAL_TABLES:
                continue
            raise WeightsError(f"{source} does not match MotionGenerator (missing: {key})", FIX)
        stored, ours = state.pop(key).float(), own_tables[key]
        rows = min(stored.shape[1], ours.shape[1])
        if stored.shape[2] != ours.shape[2] or not torch.allclose(stored[:, :rows], ours[:, :rows], atol=TABLE_TOLERANCE):
            raise WeightsError(f"{source}: {key} is not the sinusoid table JoyVASA uses", FIX)
    mask = state.get("denoising_net.alignment_mask")
    if mask is not None and mask.shape == model.denoising_net.alignment_mask.shape and \
            not torch.equal(mask.bool(), model.denoising_net.alignment_mask):
        raise WeightsError(f"{source}: denoising_net.alignment_mask is not one memory frame per query",
                           "only JoyVASA's released alignment (width 1) is supported")
    load_strict(model, state, source)
