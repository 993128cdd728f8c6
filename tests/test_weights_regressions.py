"""Regression corpus through the installed ``thead`` entry point, as a script would run it: exit codes,
one error line, and no file outside the cache touched."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import torch

from test_weights_cli import DATA, REVISION, mirror_env  # noqa: F401  (fixture)

THEAD = Path(sys.executable).with_name("thead")
BLOB = hashlib.sha256(DATA["net.safetensors"]).hexdigest()


def thead(*args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "THEAD_DEBUG"}
    return subprocess.run([str(THEAD), *map(str, args)], capture_output=True, text=True, env=env, timeout=120)


def one_error_line(run: subprocess.CompletedProcess, code: int) -> str:
    """The run's one ``error:`` line, last on stderr (progress lines for other files may precede it)."""
    assert run.returncode == code, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and run.stderr.strip().endswith(errors[0]), run.stderr
    return errors[0]


def outside(tmp_path: Path, data: bytes) -> Path:
    target = tmp_path / "home" / "my-model.bin"
    target.parent.mkdir()
    target.write_bytes(data)
    return target


def test_mismatch_on_a_snapshot_linked_outside_keeps_the_outside_file(mirror_env, tmp_path):
    mirror, cache = mirror_env
    assert thead("fetch-weights", "--from", mirror, "tiny").returncode == 0
    snapshot = cache / "models--acme--tiny" / "snapshots" / REVISION / "net.safetensors"
    own = outside(tmp_path, b"\x01" * len(DATA["net.safetensors"]))
    snapshot.unlink()
    snapshot.symlink_to(own)
    line = one_error_line(thead("fetch-weights", "--verify", "tiny"), 4)
    assert "failed verification" in line and "and was deleted" in line
    assert own.read_bytes() == b"\x01" * len(DATA["net.safetensors"]) and not os.path.lexists(snapshot)


def test_a_linked_partial_file_leaves_the_outside_file_unchanged(mirror_env, tmp_path):
    mirror, cache = mirror_env
    own = outside(tmp_path, b"my notes\n")
    partial = cache / "models--acme--tiny" / "blobs" / f"{BLOB}.thead.incomplete"
    partial.parent.mkdir(parents=True)
    partial.symlink_to(own)
    run = thead("fetch-weights", "--from", mirror, "tiny")
    assert run.returncode == 0, run.stderr
    assert own.read_bytes() == b"my notes\n"
    assert (cache / "models--acme--tiny" / "blobs" / BLOB).read_bytes() == DATA["net.safetensors"]


def test_a_mirror_file_linked_outside_the_mirror_is_refused(mirror_env, tmp_path):
    mirror, cache = mirror_env
    entry = mirror / "acme" / "tiny" / "net.safetensors"
    entry.unlink()
    entry.symlink_to(outside(tmp_path, DATA["net.safetensors"]))
    line = one_error_line(thead("fetch-weights", "--from", mirror, "tiny"), 4)
    assert f"mirror file {entry} links to" in line and "outside the mirror folder" in line


def manifest_with(tmp_path: Path, monkeypatch, old: str, new: str | bytes) -> Path:
    manifest = Path(os.environ["THEAD_WEIGHTS_MANIFEST"])
    text = manifest.read_text().replace(old, new) if isinstance(new, str) else manifest.read_bytes().replace(
        old.encode(), new)
    edited = tmp_path / "edited.toml"
    (edited.write_text if isinstance(text, str) else edited.write_bytes)(text)
    monkeypatch.setenv("THEAD_WEIGHTS_MANIFEST", str(edited))
    return edited


def test_a_revision_with_a_trailing_newline_is_refused(mirror_env, tmp_path, monkeypatch):
    mirror, cache = mirror_env
    manifest_with(tmp_path, monkeypatch, f'revision = "{REVISION}"', f'revision = "{REVISION}\\n"')
    line = one_error_line(thead("fetch-weights", "--from", mirror, "tiny"), 4)
    assert "edited.toml: line 4: revision" in line and "40-hex commit" in line
    assert not cache.exists()  # so no folder named with a newline either


def test_a_manifest_that_is_not_utf8_is_a_clean_error(mirror_env, tmp_path, monkeypatch):
    manifest_with(tmp_path, monkeypatch, 'description = "test"', 'description = "caf\xe9"'.encode("latin-1"))
    line = one_error_line(thead("fetch-weights", "--list"), 4)
    assert "edited.toml: line 2: not UTF-8 text" in line


def test_a_repo_the_hub_refuses_is_refused_before_any_fetch(mirror_env, tmp_path, monkeypatch):
    mirror, _ = mirror_env
    manifest_with(tmp_path, monkeypatch, 'repo = "acme/tiny"', 'repo = "acme/ti--ny"')
    line = one_error_line(thead("fetch-weights", "--from", mirror, "tiny"), 4)
    assert "edited.toml: line 3: repo 'acme/ti--ny' is not a valid hub repo id" in line


def test_convert_of_an_unsafe_checkpoint_never_advises_an_unsafe_load(tmp_path, monkeypatch):
    """A .pth holding a non-tensor object: exit 4, "cannot load … safely", a safetensors hint, no weights_only."""
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2), "step": Path("x")}, buffer)
    data = buffer.getvalue()
    source = tmp_path / "mirror" / "acme" / "net" / "net.pth"
    source.parent.mkdir(parents=True)
    source.write_bytes(data)
    manifest = tmp_path / "weights.toml"
    manifest.write_text(f'[net]\ndescription = "d"\nrepo = "acme/net"\nrevision = "{REVISION}"\nlicense = "MIT"\n'
                        f'commercial_use = true\nused_by = ["planned:test"]\nfiles = [\n  {{ path = "net.pth", '
                        f'size = {len(data)}, sha256 = "{hashlib.sha256(data).hexdigest()}" }},\n]\n')
    monkeypatch.setenv("THEAD_WEIGHTS_MANIFEST", str(manifest))
    monkeypatch.setenv("THEAD_CACHE", str(tmp_path / "cache"))
    line = one_error_line(thead("fetch-weights", "--convert", "--from", tmp_path / "mirror", "net"), 4)
    assert "cannot load" in line and "safely" in line and "use a safetensors weight set instead" in line
    assert "weights_only" not in line


def test_manifest_values_are_printed_as_plain_text(mirror_env, tmp_path, monkeypatch):
    """A bracketed value in a manifest reaches the terminal verbatim (no rich markup applied)."""
    manifest_with(tmp_path, monkeypatch, 'license = "CC-BY-NC-4.0"', 'license = "[bold]CC[/b]"')
    run = thead("fetch-weights", "--list")
    assert run.returncode == 0 and "[bold]CC[/b]" in run.stdout
