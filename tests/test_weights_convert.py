"""Pickled checkpoints converted once to safetensors in the cache, and loaded from there."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
import torch

from thead.errors import WeightsError
from thead.weights import load_checkpoint, parse_manifest, resolve_files
from thead.weights.convert import convert_to_safetensors, find_converted
from thead.weights.fetch import Fetcher

REVISION = "89abcdef0123456789abcdef0123456789abcdef"


class Quiet:
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...

    def progress(self, items, total, description):
        yield from items


def pickled(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A set with one pickled state dict, installed from a mirror; returns (manifest, cache, state)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    torch.manual_seed(0)
    state = {"layer.weight": torch.randn(4, 3), "layer.bias": torch.randn(4), "steps": torch.tensor(7)}
    data = pickled(state)
    source = tmp_path / "mirror" / "acme" / "net" / "net.pth"
    source.parent.mkdir(parents=True)
    source.write_bytes(data)
    manifest = parse_manifest(
        f'[net]\ndescription = "d"\nrepo = "acme/net"\nrevision = "{REVISION}"\nlicense = "MIT"\n'
        f'commercial_use = true\nused_by = ["planned:test"]\nfiles = [\n'
        f'  {{ path = "net.pth", size = {len(data)}, sha256 = "{hashlib.sha256(data).hexdigest()}" }},\n]\n')
    fetcher = Fetcher(cache_dir=tmp_path / "cache", notes=Quiet(), mirror=tmp_path / "mirror")
    fetcher.convert(fetcher.fetch([manifest.get("net")]))
    return manifest, tmp_path / "cache", state


def forbid_pickle(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the pickle was parsed")

    monkeypatch.setattr(torch, "load", refuse)


def test_converted_copy_is_loaded_instead_of_the_pickle(installed, monkeypatch):
    manifest, cache, state = installed
    path = resolve_files("net", cache_dir=cache, manifest=manifest)["net.pth"]
    converted = find_converted(path)
    assert converted is not None and converted.suffix == ".safetensors" and cache in converted.parents
    forbid_pickle(monkeypatch)
    loaded = load_checkpoint(path)
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], v) for k, v in state.items())


def test_conversion_happens_once(installed):
    manifest, cache, _ = installed
    path = resolve_files("net", cache_dir=cache, manifest=manifest)["net.pth"]
    first = find_converted(path)
    mtime = first.stat().st_mtime_ns
    assert convert_to_safetensors(path) == first and first.stat().st_mtime_ns == mtime


def test_changed_copy_is_ignored_and_a_tampered_one_deleted_by_verify(installed, monkeypatch):
    manifest, cache, state = installed
    path = resolve_files("net", cache_dir=cache, manifest=manifest)["net.pth"]
    converted = find_converted(path)
    stat = converted.stat()
    data = bytearray(converted.read_bytes())
    data[-1] ^= 0x01
    converted.write_bytes(bytes(data))
    assert find_converted(path) is None  # size or mtime changed: the pickle is used again
    assert torch.equal(load_checkpoint(path)["layer.bias"], state["layer.bias"])
    os.utime(converted, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert find_converted(path) == converted
    warnings = []
    notes = Quiet()
    notes.warn = warnings.append
    Fetcher(cache_dir=cache, notes=notes).verify([manifest.get("net")], require_all=True)
    assert not converted.exists()
    assert warnings == ["net: the safetensors copy of net.pth had changed; deleted it"]


def test_non_tensor_entries_are_not_converted(tmp_path):
    blob = tmp_path / "models--acme--net" / "blobs" / ("ab" * 32)
    blob.parent.mkdir(parents=True)
    torch.save({"weight": torch.zeros(2), "epoch": 3}, blob)
    with pytest.raises(WeightsError, match="non-tensor entries \\(epoch\\)"):
        convert_to_safetensors(blob)


def test_files_outside_a_hub_cache_are_refused(tmp_path):
    path = tmp_path / "loose.pth"
    torch.save({"weight": torch.zeros(2)}, path)
    assert find_converted(path) is None
    with pytest.raises(WeightsError, match="not in a hub cache"):
        convert_to_safetensors(path)
    assert Path(path).is_file()
