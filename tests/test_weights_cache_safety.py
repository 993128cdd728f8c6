"""The weights cache never writes or deletes outside itself, and never trusts a spliced partial file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

import thead.weights.fetch as fetch_module
from test_weights_fetch import Notes, env, fetch, files  # noqa: F401  (fixtures)
from thead.errors import WeightsError
from thead.weights.cache import CacheLayout
from thead.weights.convert import converted_path
from thead.weights.fetch import Fetcher, copy_resumable


def layouts(manifest, cache):
    model, config = manifest.get("tiny").files
    return CacheLayout(cache, model), CacheLayout(cache, config)


def outside_file(tmp_path: Path, data: bytes) -> Path:
    target = tmp_path / "outside" / "precious.bin"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(data)
    return target


def test_verify_failure_on_a_snapshot_linked_outside_removes_only_the_link(env, files, tmp_path):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    model, _ = layouts(manifest, cache)
    own = outside_file(tmp_path, b"m" * len(files["sub/model.bin"]))  # the user's own copy, another content
    model.snapshot.unlink()
    model.snapshot.symlink_to(own)
    with pytest.raises(WeightsError, match="failed verification"):
        Fetcher(cache_dir=cache, notes=Notes()).verify([manifest.get("tiny")], require_all=True)
    assert own.read_bytes() == b"m" * len(files["sub/model.bin"])
    assert not os.path.lexists(model.snapshot)
    reports, _ = fetch(manifest, cache, mirror)  # and a re-fetch installs the pinned file again
    assert reports[0].status == "copied" and model.snapshot.read_bytes() == files["sub/model.bin"]
    assert own.read_bytes() == b"m" * len(files["sub/model.bin"])


def test_refetch_over_a_snapshot_linked_outside_keeps_the_outside_file(env, files, tmp_path):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    model, _ = layouts(manifest, cache)
    own = outside_file(tmp_path, b"short")
    model.snapshot.unlink()
    model.snapshot.symlink_to(own)
    reports, notes = fetch(manifest, cache, mirror, rehash=True)
    assert reports[0].status == "copied" and "deleted it" in notes.warnings[0]
    assert own.read_bytes() == b"short" and not model.snapshot.resolve().is_relative_to(own.parent)


def test_a_linked_blob_loses_its_link_not_its_target(env, files, tmp_path):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    model, _ = layouts(manifest, cache)
    blob = model.snapshot.resolve()
    own = outside_file(tmp_path, b"x" * 10)
    blob.unlink()
    blob.symlink_to(own)
    model.remove()
    assert own.read_bytes() == b"x" * 10 and not os.path.lexists(blob) and not os.path.lexists(model.snapshot)


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
@pytest.mark.parametrize("which", [0, 1], ids=["pinned", "trust-on-first-use"])
def test_a_linked_partial_file_is_replaced_never_written_through(env, files, tmp_path, kind, which):
    manifest, mirror, cache = env
    layout = layouts(manifest, cache)[which]
    own = outside_file(tmp_path, b"precious")
    layout.incomplete.parent.mkdir(parents=True)
    (layout.incomplete.symlink_to if kind == "symlink" else layout.incomplete.hardlink_to)(own)
    reports, _ = fetch(manifest, cache, mirror)
    assert own.read_bytes() == b"precious"
    assert [r.status for r in reports] == ["copied", "copied"]
    assert layout.snapshot.read_bytes() == files[layout.file.path]
    assert not os.path.lexists(layout.incomplete) and not layout.provenance.exists()


def test_copy_never_appends_through_a_link(tmp_path):
    source, own = tmp_path / "source.bin", outside_file(tmp_path, b"precious")
    source.write_bytes(b"new bytes")
    (tmp_path / "partial").symlink_to(own)
    with pytest.raises(WeightsError, match="not a plain file of the weights cache"):
        copy_resumable(source, tmp_path / "partial")
    os.link(own, tmp_path / "hard")
    with pytest.raises(WeightsError, match="not a plain file"):
        copy_resumable(source, tmp_path / "hard")
    assert own.read_bytes() == b"precious"


def test_a_linked_folder_inside_the_cache_is_refused(env, tmp_path):
    manifest, mirror, cache = env
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (cache / "models--acme--tiny").mkdir(parents=True)
    (cache / "models--acme--tiny" / "blobs").symlink_to(elsewhere)
    with pytest.raises(WeightsError, match="is a link to .*elsewhere; thead does not write or delete through links"):
        fetch(manifest, cache, mirror)
    assert list(elsewhere.iterdir()) == []


def interrupt_after(monkeypatch, limit: int) -> None:
    """Make the next mirror copy stop after ``limit`` bytes, as a killed process would."""
    def partial_copy(src, dst, length=0):
        dst.write(src.read(limit))
        dst.flush()
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch_module.shutil, "copyfileobj", partial_copy)


def count_copied(monkeypatch) -> list[int]:
    copied: list[int] = []

    def counting_copy(src, dst, length=0):
        data = src.read()
        copied.append(len(data))
        dst.write(data)

    monkeypatch.setattr(fetch_module.shutil, "copyfileobj", counting_copy)
    return copied


def test_an_interrupted_copy_of_a_pinned_file_resumes_from_the_same_source(env, files, monkeypatch):
    manifest, mirror, cache = env
    model, _ = layouts(manifest, cache)
    interrupt_after(monkeypatch, 100_000)
    with pytest.raises(KeyboardInterrupt):
        fetch(manifest, cache, mirror)
    assert model.incomplete.stat().st_size == 100_000
    assert json.loads(model.provenance.read_text())["revision"] == model.file.revision
    copied = count_copied(monkeypatch)
    reports, _ = fetch(manifest, cache, mirror)
    assert reports[0].status == "copied" and copied[0] == len(files["sub/model.bin"]) - 100_000
    assert model.snapshot.read_bytes() == files["sub/model.bin"]


def test_a_partial_file_from_another_source_restarts_from_zero(env, files, monkeypatch, tmp_path):
    manifest, mirror, cache = env
    model, _ = layouts(manifest, cache)
    interrupt_after(monkeypatch, 100_000)
    with pytest.raises(KeyboardInterrupt):
        fetch(manifest, cache, mirror)
    other = tmp_path / "other-mirror"
    shutil.copytree(mirror, other)
    copied = count_copied(monkeypatch)
    fetch(manifest, cache, other)
    assert copied[0] == len(files["sub/model.bin"])


def first_use_again(manifest, cache, mirror) -> CacheLayout:
    """Install the set, then forget the unpinned file and its recorded hash, as before its first fetch."""
    fetch(manifest, cache, mirror)
    _, config = layouts(manifest, cache)
    config.remove()
    config.pin_path.unlink()
    return config


def test_a_spliced_partial_file_is_never_trusted_on_first_use(env, files, monkeypatch):
    """An interrupted unpinned copy whose source then changed (same size and mtime) is copied again whole."""
    manifest, mirror, cache = env
    config = first_use_again(manifest, cache, mirror)
    interrupt_after(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        fetch(manifest, cache, mirror)
    monkeypatch.undo()
    assert config.incomplete.read_bytes() == files["config.json"][:5]
    source = mirror / "acme/tiny/config.json"
    stat = source.stat()
    source.write_bytes(b"X" * stat.st_size)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the recorded origin still matches
    _, notes = fetch(manifest, cache, mirror)
    recorded = hashlib.sha256(b"X" * stat.st_size).hexdigest()
    assert "TRUST ON FIRST USE" in notes.warnings[0] and recorded in notes.warnings[0]
    assert config.expected().sha256 == recorded == hashlib.sha256(config.snapshot.read_bytes()).hexdigest()


def test_a_trust_on_first_use_file_is_copied_whole(env, files, monkeypatch):
    manifest, mirror, cache = env
    config = first_use_again(manifest, cache, mirror)
    interrupt_after(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        fetch(manifest, cache, mirror)
    copied = count_copied(monkeypatch)
    fetch(manifest, cache, mirror)
    assert copied == [len(files["config.json"])]
    assert config.expected().sha256 == hashlib.sha256(files["config.json"]).hexdigest()


def test_a_mirror_file_linked_outside_the_mirror_is_refused(env, files, tmp_path):
    manifest, mirror, cache = env
    own = outside_file(tmp_path, files["sub/model.bin"])
    entry = mirror / "acme/tiny/sub/model.bin"
    entry.unlink()
    entry.symlink_to(own)
    plan = Fetcher(cache_dir=cache, notes=Notes(), mirror=mirror).plan([manifest.get("tiny")])
    assert [r.status for r in plan] == ["outside-mirror", "copy"]
    with pytest.raises(WeightsError, match=r"mirror file .*sub/model\.bin links to .*precious\.bin, outside the "
                                           r"mirror folder") as err:
        fetch(manifest, cache, mirror)
    assert err.value.exit_code == 4 and "copy the file into the mirror" in err.value.hint
    assert layouts(manifest, cache)[0].cached() is None


def test_a_mirror_link_that_stays_inside_the_mirror_is_followed(env, files):
    manifest, mirror, cache = env
    store = mirror / "store" / "model.bin"
    store.parent.mkdir()
    entry = mirror / "acme/tiny/sub/model.bin"
    entry.rename(store)
    entry.symlink_to(store)
    reports, _ = fetch(manifest, cache, mirror)
    assert reports[0].status == "copied" and store.read_bytes() == files["sub/model.bin"]


def test_a_hash_mismatch_prints_both_whole_hashes(env, files):
    manifest, mirror, cache = env
    data = bytearray(files["sub/model.bin"])
    data[-1] ^= 0xFF
    (mirror / "acme/tiny/sub/model.bin").write_bytes(bytes(data))
    with pytest.raises(WeightsError) as err:
        fetch(manifest, cache, mirror)
    expected, actual = hashlib.sha256(files["sub/model.bin"]).hexdigest(), hashlib.sha256(data).hexdigest()
    assert f"sha256 {actual}, expected {expected}" in err.value.message


def test_no_safetensors_copy_for_a_snapshot_linked_outside(env, tmp_path):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    model, _ = layouts(manifest, cache)
    assert converted_path(model.snapshot) == cache / ".thead" / "safetensors" / (
        f"models--acme--tiny--{model.snapshot.resolve().name}.safetensors")
    fake_repo = tmp_path / "elsewhere" / "models--acme--tiny" / "blobs" / "abc"
    fake_repo.parent.mkdir(parents=True)
    fake_repo.write_bytes(b"x")
    model.snapshot.unlink()
    model.snapshot.symlink_to(fake_repo)
    assert converted_path(model.snapshot) is None
