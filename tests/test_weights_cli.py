"""``thead fetch-weights`` from the command line: list, dry run, mirror install, verify, exit codes."""

from __future__ import annotations

import hashlib
import json

import pytest

from thead.weights import load_manifest
from _cli import run_cli

REVISION = "0123456789abcdef0123456789abcdef01234567"
DATA = {"net.safetensors": b"\x00" * 4096, "notes/readme.txt": b"hello\n"}


@pytest.fixture
def mirror_env(tmp_path, monkeypatch):
    """A two-file set in a private manifest, its mirror, and an empty cache (via env, as a user would)."""
    mirror = tmp_path / "mirror"
    for path, data in DATA.items():
        target = mirror / "acme" / "tiny" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    rows = "\n".join(f'  {{ path = "{p}", size = {len(d)}, sha256 = "{hashlib.sha256(d).hexdigest()}" }},'
                     for p, d in DATA.items())
    manifest = tmp_path / "weights.toml"
    manifest.write_text(f'[tiny]\ndescription = "test"\nrepo = "acme/tiny"\nrevision = "{REVISION}"\n'
                        f'license = "CC-BY-NC-4.0"\ncommercial_use = false\nused_by = ["planned:test"]\nfiles = [\n{rows}\n]\n')
    monkeypatch.setenv("THEAD_WEIGHTS_MANIFEST", str(manifest))
    monkeypatch.setenv("THEAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return mirror, tmp_path / "cache"


def test_list_shows_every_real_set_with_licence_flags(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("THEAD_WEIGHTS_MANIFEST", raising=False)
    code, out, err = run_cli(capsys, monkeypatch, "fetch-weights", "--list", "--cache-dir", tmp_path)
    assert code == 0, err
    for name in load_manifest().sets:
        assert name in out
    assert "not for commercial use" in out and "522.3 MB" in out
    assert "drive-audio" not in out  # a planned use names no command that does not exist
    code, out, _ = run_cli(capsys, monkeypatch, "fetch-weights", "--list", "--json", "--cache-dir", tmp_path)
    rows = {row["name"]: row for row in json.loads(out)["sets"]}
    assert rows["liveportrait"]["size"] == 522320239 and rows["liveportrait"]["cached"] == "no"
    assert rows["arcface-buffalo-l"]["commercial_use"] is False
    assert rows["piper-voice"]["trust_on_first_use"] == ["en/en_US/lessac/medium/en_US-lessac-medium.onnx.json"]


def test_piped_list_is_a_plain_table_fitted_to_its_content(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("THEAD_WEIGHTS_MANIFEST", raising=False)
    code, out, _ = run_cli(capsys, monkeypatch, "fetch-weights", "--list", "--cache-dir", tmp_path)
    sets = list(load_manifest().sets.values())
    table, notes = out.split("\n\n")
    title, header, *rows = table.splitlines()
    assert code == 0 and title == f"weight sets (cache: {tmp_path})" and len(rows) == len(sets)
    assert all(line == line.rstrip() and "[" not in line for line in [header, *rows])
    licence, commercial, cached = (header.index(c) for c in ("license", "commercial use", "cached"))
    assert commercial - licence == max(len(s.license) for s in sets) + 2  # as wide as the widest licence
    size_end = header.index("size") + len("size")
    for row, weight_set in zip(rows, sets):
        assert row.startswith(weight_set.name + " ") and row[licence:].startswith(weight_set.license)
        assert row[:size_end].endswith((" MB", " kB", " GB", "unknown"))  # sizes right-aligned
        assert row[commercial:cached].rstrip() == ("yes" if weight_set.commercial_use else "no *")
    flagged = [s.name for s in sets if not s.commercial_use]
    assert notes.splitlines()[0] == "* not for commercial use:"
    assert [line.split(":")[0].strip() for line in notes.splitlines()[1:]] == flagged


def test_list_says_why_a_set_is_flagged(capsys, monkeypatch, tmp_path):
    """lpips-alex has BSD licences: the reason it is flagged is its hosting card, which the manifest notes give."""
    monkeypatch.delenv("THEAD_WEIGHTS_MANIFEST", raising=False)
    _, out, _ = run_cli(capsys, monkeypatch, "fetch-weights", "--list", "--cache-dir", tmp_path)
    reason = next(line for line in out.splitlines() if line.startswith("  lpips-alex: "))
    assert "BSD-2-Clause" in reason and "card says CC-BY-NC-SA-4.0" in reason
    piper = next(line for line in out.splitlines() if line.startswith("  piper-voice: "))
    assert piper == "  piper-voice: MIT; lessac dataset licence restricts use."  # no unrelated notes


def list_on_a_terminal(tmp_path, columns: int) -> list[str]:
    """``thead fetch-weights --list`` on a pseudo-terminal ``columns`` wide; its lines without colour codes."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    leader, follower = os.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm"}
    env.pop("THEAD_WEIGHTS_MANIFEST", None)
    proc = subprocess.Popen([str(Path(sys.executable).with_name("thead")), "fetch-weights", "--list",
                             "--cache-dir", str(tmp_path)], stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode())
    return text.replace("\r\n", "\n").splitlines()


@pytest.mark.parametrize("columns", [60, 80, 140])
def test_list_fits_the_terminal_width(tmp_path, columns):
    lines = list_on_a_terminal(tmp_path, columns)
    assert max(map(len, lines)) <= columns
    assert "lpips-alex" in "\n".join(lines) and "card says" in " ".join(line.strip() for line in lines)
    header = next(line for line in lines if line.startswith("name"))
    assert ("used by" in header) == (columns >= 100)


def test_dry_run_then_install_then_cached(capsys, monkeypatch, mirror_env):
    mirror, cache = mirror_env
    code, out, _ = run_cli(capsys, monkeypatch, "fetch-weights", "--dry-run", "--json", "--from", mirror, "tiny")
    plan = json.loads(out)
    assert code == 0 and plan["dry_run"] and plan["bytes_to_fetch"] == sum(map(len, DATA.values()))
    assert not cache.exists()
    code, out, err = run_cli(capsys, monkeypatch, "fetch-weights", "--from", mirror, "tiny")
    assert code == 0, err
    assert "copied  tiny: net.safetensors" in out and "installed net.safetensors" in err
    code, out, _ = run_cli(capsys, monkeypatch, "fetch-weights", "--json", "all")
    assert code == 0 and {f["status"] for f in json.loads(out)["files"]} == {"cached"}
    code, out, _ = run_cli(capsys, monkeypatch, "fetch-weights", "--list")
    assert "tiny  4.1 kB  CC-BY-NC-4.0  no *            yes" in out and "  tiny: CC-BY-NC-4.0." in out


def test_verify_deletes_a_tampered_file_and_exits_4(capsys, monkeypatch, mirror_env):
    mirror, cache = mirror_env
    assert run_cli(capsys, monkeypatch, "fetch-weights", "--from", mirror, "tiny")[0] == 0
    blob = cache / "models--acme--tiny" / "blobs" / hashlib.sha256(DATA["notes/readme.txt"]).hexdigest()
    blob.write_bytes(b"hellO\n")
    code, out, err = run_cli(capsys, monkeypatch, "fetch-weights", "--verify", "tiny")
    assert code == 4 and not blob.exists()
    assert "failed verification" in err and "run: thead fetch-weights tiny" in err
    code, out, err = run_cli(capsys, monkeypatch, "fetch-weights", "--verify", "--from", mirror, "tiny")
    assert code == 0 and blob.read_bytes() == DATA["notes/readme.txt"]


def test_unknown_name_exits_4_and_lists_known(capsys, monkeypatch, mirror_env):
    code, _, err = run_cli(capsys, monkeypatch, "fetch-weights", "tinny")
    assert code == 4 and "unknown weight set 'tinny'" in err and "known sets: tiny" in err
    assert len(err.strip().splitlines()) == 1


def test_no_name_is_a_usage_error(capsys, monkeypatch, mirror_env):
    code, _, err = run_cli(capsys, monkeypatch, "fetch-weights")
    assert code == 2 and "thead fetch-weights --list" in err


def test_offline_and_not_cached_exits_4_with_mirror_hint(capsys, monkeypatch, mirror_env):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run_cli(capsys, monkeypatch, "fetch-weights", "tiny")
    assert code == 4 and "HF_HUB_OFFLINE" in err and "--from DIR tiny" in err


def test_missing_mirror_folder_is_a_usage_error(capsys, monkeypatch, mirror_env, tmp_path):
    code, _, err = run_cli(capsys, monkeypatch, "fetch-weights", "--from", tmp_path / "nope", "tiny")
    assert code == 2 and "does not exist" in err


def test_convert_needs_a_fetch(capsys, monkeypatch, mirror_env):
    code, _, err = run_cli(capsys, monkeypatch, "fetch-weights", "--convert", "--dry-run", "tiny")
    assert code == 2 and "--convert applies to fetched files" in err
    mirror, _ = mirror_env
    code, out, err = run_cli(capsys, monkeypatch, "fetch-weights", "--convert", "--from", mirror, "tiny")
    assert code == 0 and "also stored as safetensors" not in err  # nothing pickled in this set
