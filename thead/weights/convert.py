"""Pickled checkpoints converted once to safetensors, kept beside the hub cache and loaded in their place.

The copy of ``models--owner--name/blobs/<hash>`` lives at
``.thead/safetensors/models--owner--name--<hash>.safetensors`` with a record of its size, mtime
and sha256. :func:`thead.weights.load.load_checkpoint` uses it when the record still matches, so
the pickle is parsed (with ``weights_only=True``) only once, at conversion.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from thead.errors import WeightsError
from thead.io.hashing import sha256_file

PICKLE_SUFFIXES = {".pth", ".pt", ".ckpt", ".bin", ".model", ".tar"}


def converted_path(source: str | os.PathLike) -> Path | None:
    """Where the safetensors copy of a cached blob goes; None for files outside a hub cache.

    A snapshot link is read, not resolved: only a link to its own repo's ``blobs/`` counts, so a link
    to a file elsewhere never places (or deletes) a copy outside the cache.
    """
    path = Path(os.path.abspath(source))
    blob = Path(os.path.normpath(path.parent / os.readlink(path))) if path.is_symlink() else path
    repo_dir = blob.parent.parent
    if blob.parent.name != "blobs" or not repo_dir.name.startswith("models--"):
        return None
    if blob != path and repo_dir not in path.parents:
        return None
    return repo_dir.parent / ".thead" / "safetensors" / f"{repo_dir.name}--{blob.name}.safetensors"


def find_converted(source: str | os.PathLike) -> Path | None:
    """The safetensors copy of ``source`` if it exists and is unchanged since conversion."""
    target = converted_path(source)
    if target is None or not target.is_file():
        return None
    record = _read_record(target)
    stat = target.stat()
    if record.get("size") != stat.st_size or record.get("mtime_ns") != stat.st_mtime_ns:
        return None
    return target


def convert_to_safetensors(source: str | os.PathLike) -> Path:
    """Convert a cached pickled state dict to safetensors (once); returns the copy's path."""
    from safetensors.torch import save_file

    from thead.weights.load import load_checkpoint

    target = converted_path(source)
    if target is None:
        raise WeightsError(f"{source} is not in a hub cache", "convert files installed by thead fetch-weights")
    existing = find_converted(source)
    if existing is not None:
        return existing
    state = load_checkpoint(source)
    loose = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    if loose:
        raise WeightsError(f"{source} holds non-tensor entries ({', '.join(map(str, loose[:3]))}); "
                           "not converted", "load it as a pickle (weights_only) instead")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tensors = {k: v.detach().contiguous().clone() for k, v in state.items()}  # clone: no shared storage
    save_file(tensors, str(tmp), metadata={"converted_from": Path(source).resolve().name})
    os.replace(tmp, target)
    stat = target.stat()
    _write_record(target, {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256_file(target)})
    return target


def drop_if_tampered(source: str | os.PathLike) -> bool:
    """Re-hash the safetensors copy of ``source``; delete it (and say so) if it no longer matches."""
    target = converted_path(source)
    if target is None or not target.is_file():
        return False
    if sha256_file(target) == _read_record(target).get("sha256"):
        return False
    target.unlink()
    _record_path(target).unlink(missing_ok=True)
    return True


def _record_path(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _read_record(target: Path) -> dict:
    try:
        return json.loads(_record_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_record(target: Path, record: dict) -> None:
    path = _record_path(target)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    os.replace(tmp, path)
