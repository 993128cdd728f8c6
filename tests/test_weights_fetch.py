"""Fetching without network: a local mirror, the hub cache layout, tampering, truncation, resume, two processes."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download, try_to_load_from_cache

from thead.errors import WeightsError
from thead.weights import parse_manifest, resolve_files
from thead.weights.cache import CacheLayout
from thead.weights.fetch import Fetcher, copy_resumable

REPO = Path(__file__).resolve().parents[1]
REVISION = "0123456789abcdef0123456789abcdef01234567"


class Notes:
    """Collects what the fetcher tells the user."""

    def __init__(self) -> None:
        self.infos: list[str] = []
        self.warnings: list[str] = []
        self.bars: list[tuple[str, int | None]] = []

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def progress(self, items, total, description):
        self.bars.append((description, total))
        yield from items


def write_mirror(root: Path, files: dict[str, bytes], repo: str = "acme/tiny") -> None:
    for path, data in files.items():
        target = root / repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def manifest_text(files: dict[str, bytes], tofu: tuple[str, ...] = ()) -> str:
    rows = []
    for path, data in files.items():
        if path in tofu:
            rows.append(f'  {{ path = "{path}", sha256 = "" }},')
        else:
            rows.append(f'  {{ path = "{path}", size = {len(data)}, sha256 = "{hashlib.sha256(data).hexdigest()}" }},')
    return "\n".join([
        "[tiny]", 'description = "test set"', 'repo = "acme/tiny"', f'revision = "{REVISION}"', 'license = "MIT"',
        "commercial_use = true", 'used_by = ["planned:test"]', "files = [", *rows, "]", ""])


def fake_hub(manifest, served: dict[str, bytes], on_call=None):
    """An ``hf_hub_download`` stand-in that writes ``served`` into the cache layout, as the real one does."""
    def download(repo_id, filename, revision, cache_dir, tqdm_class=None):
        if on_call is not None:
            on_call(tqdm_class)
        file = next(f for f in manifest.get("tiny").files if f.path == filename)
        assert (repo_id, revision) == (file.repo_id, file.revision) and Path(cache_dir).name == "cache"
        layout = CacheLayout(Path(cache_dir), file)
        tmp = layout.incomplete
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(served[filename])
        return str(layout.place(tmp, hashlib.sha256(served[filename]).hexdigest()))

    return download


@pytest.fixture
def files() -> dict[str, bytes]:
    rng = __import__("random").Random(0)
    return {"sub/model.bin": rng.randbytes(300_000), "config.json": b'{"layers": 2}\n'}


@pytest.fixture
def env(tmp_path, files, monkeypatch):
    """A mirror, a manifest describing it, and an empty hub cache."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    write_mirror(mirror, files)
    manifest = parse_manifest(manifest_text(files, tofu=("config.json",)), "test.toml")
    return manifest, mirror, cache


def fetch(manifest, cache, mirror=None, rehash=False):
    notes = Notes()
    reports = Fetcher(cache_dir=cache, notes=notes, mirror=mirror).fetch([manifest.get("tiny")], rehash=rehash)
    return reports, notes


def test_mirror_install_lands_in_the_hub_cache_layout(env, files):
    manifest, mirror, cache = env
    reports, notes = fetch(manifest, cache, mirror)
    assert [r.status for r in reports] == ["copied", "copied"]
    found = hf_hub_download("acme/tiny", "sub/model.bin", revision=REVISION, cache_dir=cache, local_files_only=True)
    assert Path(found).read_bytes() == files["sub/model.bin"]
    cached = try_to_load_from_cache("acme/tiny", "config.json", cache_dir=cache, revision=REVISION)
    assert Path(cached).read_bytes() == files["config.json"]
    blob = cache / "models--acme--tiny" / "blobs" / hashlib.sha256(files["sub/model.bin"]).hexdigest()
    assert blob.is_file() and Path(found).resolve() == blob
    resolved = resolve_files("tiny", cache_dir=cache, manifest=manifest)
    assert set(resolved) == {"sub/model.bin", "config.json"}
    assert not list(cache.rglob("*.incomplete"))


def test_second_run_is_a_no_op(env):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    reports, notes = fetch(manifest, cache, mirror)
    assert [r.status for r in reports] == ["cached", "cached"] and not notes.infos


def test_trust_on_first_use_records_the_hash_loudly_and_enforces_it(env, files):
    manifest, mirror, cache = env
    _, notes = fetch(manifest, cache, mirror)
    assert len(notes.warnings) == 1 and "TRUST ON FIRST USE" in notes.warnings[0]
    assert hashlib.sha256(files["config.json"]).hexdigest() in notes.warnings[0]
    CacheLayout(cache, manifest.get("tiny").files[1]).remove()
    (mirror / "acme/tiny/config.json").write_bytes(b'{"layers": 3}\n')  # same size, other content
    with pytest.raises(WeightsError, match="config.json failed verification"):
        fetch(manifest, cache, mirror)


def test_tampered_mirror_file_is_refused_and_nothing_is_left(env, files):
    manifest, mirror, cache = env
    data = bytearray(files["sub/model.bin"])
    data[1000] ^= 0xFF
    (mirror / "acme/tiny/sub/model.bin").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"model\.bin failed verification \(sha256 .*; the copy was deleted"):
        fetch(manifest, cache, mirror)
    assert not list((cache / "models--acme--tiny").rglob("model.bin*"))
    assert not list(cache.rglob("*.incomplete"))


def test_truncated_mirror_file_is_refused_before_copying(env, files):
    manifest, mirror, cache = env
    (mirror / "acme/tiny/sub/model.bin").write_bytes(files["sub/model.bin"][:1000])
    with pytest.raises(WeightsError, match=r"has 1000 bytes, expected 300000 \(truncated"):
        fetch(manifest, cache, mirror)
    assert CacheLayout(cache, manifest.get("tiny").files[0]).cached() is None


def test_tampered_cache_file_is_refused_then_deleted_by_verify(env, files):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    local = resolve_files("tiny", cache_dir=cache, manifest=manifest)["sub/model.bin"]
    stat = local.stat()
    data = bytearray(local.read_bytes())
    data[5] ^= 0x01
    local.resolve().write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="not verified or changed since") as err:
        resolve_files("tiny", cache_dir=cache, manifest=manifest)
    assert err.value.hint == "run: thead fetch-weights tiny"
    os.utime(local.resolve(), ns=(stat.st_atime_ns, stat.st_mtime_ns))  # a tamperer restoring the mtime
    notes = Notes()
    with pytest.raises(WeightsError, match="model.bin failed verification .* and was deleted") as err:
        Fetcher(cache_dir=cache, notes=notes).verify([manifest.get("tiny")], require_all=True)
    assert err.value.exit_code == 4 and "deleted it" in notes.warnings[0]
    assert not local.exists() and CacheLayout(cache, manifest.get("tiny").files[0]).cached() is None


def test_refetch_replaces_a_truncated_cache_file(env, files):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    local = resolve_files("tiny", cache_dir=cache, manifest=manifest)["sub/model.bin"]
    local.resolve().write_bytes(files["sub/model.bin"][:5000])
    reports, notes = fetch(manifest, cache, mirror)
    assert reports[0].status == "copied" and "deleted it" in notes.warnings[0]
    assert local.read_bytes() == files["sub/model.bin"]


def test_copy_resumes_from_a_partial_file(tmp_path, files):
    source, partial = tmp_path / "source.bin", tmp_path / "x.incomplete"
    source.write_bytes(files["sub/model.bin"])
    partial.write_bytes(files["sub/model.bin"][:120_000])
    assert copy_resumable(source, partial) == 180_000
    assert partial.read_bytes() == files["sub/model.bin"]


def test_interrupted_install_resumes_and_a_bad_partial_restarts(env, files):
    manifest, mirror, cache = env
    layout = CacheLayout(cache, manifest.get("tiny").files[0])
    layout.incomplete.parent.mkdir(parents=True)
    layout.incomplete.write_bytes(files["sub/model.bin"][:100_000])
    assert fetch(manifest, cache, mirror)[0][0].status == "copied"
    installed = resolve_files("tiny", cache_dir=cache, manifest=manifest)["sub/model.bin"]
    assert installed.read_bytes() == files["sub/model.bin"]
    layout.remove()
    layout.incomplete.write_bytes(b"garbage" * 1000)
    assert fetch(manifest, cache, mirror)[0][0].status == "copied"
    assert not layout.incomplete.exists()


def test_two_processes_install_the_same_set_safely(tmp_path):
    big = {"sub/model.bin": os.urandom(24_000_000), "config.json": b"{}\n"}
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    write_mirror(mirror, big)
    (tmp_path / "m.toml").write_text(manifest_text(big))
    go = tmp_path / "go"
    script = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from thead.cli._output import Reporter
        from thead.weights import load_manifest
        from thead.weights.fetch import Fetcher

        manifest, cache, mirror, go = sys.argv[1:]
        weight_set = load_manifest(manifest).get("tiny")
        while not Path(go).exists():
            time.sleep(0.005)
        reports = Fetcher(Path(cache), Reporter(quiet=True), Path(mirror)).fetch([weight_set])
        print(" ".join(r.status for r in reports))
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-c", script, str(tmp_path / "m.toml"), str(cache), str(mirror), str(go)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    go.touch()  # both processes are waiting: release them together
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sorted(out.split()[0] for out, _ in outputs) == ["cached", "copied"]  # the lock serialised them
    manifest = parse_manifest(manifest_text(big))
    local = resolve_files("tiny", cache_dir=cache, manifest=manifest)["sub/model.bin"]
    assert hashlib.sha256(local.read_bytes()).hexdigest() == hashlib.sha256(big["sub/model.bin"]).hexdigest()
    assert not list(cache.rglob("*.incomplete")) and not list(cache.rglob("*.tmp"))


def test_not_cached_and_offline_says_how_to_use_a_mirror(env, monkeypatch):
    manifest, _, cache = env
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="not cached .* HF_HUB_OFFLINE is set") as err:
        fetch(manifest, cache)
    assert "thead fetch-weights --from DIR tiny" in err.value.hint and "DIR/<repo>/<path>" in err.value.hint
    with pytest.raises(WeightsError, match="not installed") as err:
        resolve_files("tiny", cache_dir=cache, manifest=manifest)
    assert err.value.hint.startswith("run: thead fetch-weights tiny") and "--from DIR" in err.value.hint


def test_missing_mirror_file_names_the_layout(env):
    manifest, mirror, cache = env
    (mirror / "acme/tiny/config.json").unlink()
    with pytest.raises(WeightsError, match="config.json is not in the mirror") as err:
        fetch(manifest, cache, mirror)
    assert "DIR/<repo>/<path>" in err.value.hint


def test_hub_download_is_verified_and_a_bad_file_deleted(env, files, monkeypatch):
    """The network path, with hf_hub_download replaced by a fake that writes into the cache."""
    import huggingface_hub

    manifest, _, cache = env
    served = dict(files)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub(manifest, served))
    reports, _ = fetch(manifest, cache)
    assert [r.status for r in reports] == ["downloaded", "downloaded"]
    CacheLayout(cache, manifest.get("tiny").files[0]).remove()
    served["sub/model.bin"] = b"x" * len(files["sub/model.bin"])
    with pytest.raises(WeightsError, match="downloaded sub/model.bin failed verification"):
        fetch(manifest, cache)
    assert CacheLayout(cache, manifest.get("tiny").files[0]).cached() is None


def test_hub_log_lines_are_held_back_but_progress_is_shown(env, files, monkeypatch):
    """huggingface_hub's retry warnings reach no handler; its byte bars stay on, under thead's own lines."""
    import huggingface_hub
    from huggingface_hub.utils import logging as hub_logging
    from huggingface_hub.utils.tqdm import is_tqdm_disabled

    manifest, _, cache = env
    http_logger = hub_logging.get_logger("huggingface_hub.utils._http")
    bars = []

    def retry_then_serve(tqdm_class):
        http_logger.warning("Retrying in 1s [Retry 1/5].")
        bars.append((tqdm_class, is_tqdm_disabled(http_logger.getEffectiveLevel())))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub(manifest, files, retry_then_serve))
    monkeypatch.delenv("THEAD_DEBUG", raising=False)
    hub_root = logging.getLogger("huggingface_hub")
    level = hub_root.level
    records: list[str] = []
    collect = logging.Handler()
    collect.emit = lambda record: records.append(record.getMessage())
    hub_root.addHandler(collect)
    try:
        reports, notes = fetch(manifest, cache)
        assert [r.status for r in reports] == ["downloaded", "downloaded"] and records == []
        assert bars == [(None, None)] * 2  # huggingface_hub's own bars, on when stderr is a terminal
        assert not notes.bars  # no live bar of thead's around them
        assert notes.infos[:2] == ["tiny: downloading sub/model.bin (300.0 kB, file 1 of 2)",
                                   "tiny: downloaded sub/model.bin (300.0 kB)"]
        assert notes.infos[2] == "tiny: downloading config.json (size unknown, file 2 of 2)"
        assert hub_root.level == level
        for file in manifest.get("tiny").files:
            CacheLayout(cache, file).remove()
        monkeypatch.setenv("THEAD_DEBUG", "1")
        quiet = Notes()
        Fetcher(cache_dir=cache, notes=quiet, show_downloads=False).fetch([manifest.get("tiny")])
        assert records == ["Retrying in 1s [Retry 1/5]."] * 2
        assert not [line for line in quiet.infos if "downloading" in line]
        hidden = bars[-1][0](total=10, disable=False)  # not a terminal, --quiet, --json: no bars
        assert hidden.disable
    finally:
        hub_root.removeHandler(collect)


def test_mirror_install_counts_files_on_one_bar(env):
    manifest, mirror, cache = env
    _, notes = fetch(manifest, cache, mirror)
    assert notes.bars == [("fetching weights", 2)]


def test_unreachable_hub_prints_one_error_line(tmp_path):
    """What a user sees: huggingface_hub logging its retries through its own stderr handler, then thead's line."""
    data = {"model.bin": b"weights"}
    (tmp_path / "m.toml").write_text(manifest_text(data))
    script = textwrap.dedent("""
        import sys
        import huggingface_hub
        from huggingface_hub.errors import LocalEntryNotFoundError
        from huggingface_hub.utils import logging as hub_logging

        def unreachable(repo_id, filename, revision, cache_dir, tqdm_class=None):
            for attempt in range(1, 6):
                hub_logging.get_logger("huggingface_hub.utils._http").warning(f"Retrying in 1s [Retry {attempt}/5].")
            raise LocalEntryNotFoundError("Name or service not known")

        huggingface_hub.hf_hub_download = unreachable
        from thead.cli import main
        sys.argv = ["thead", "fetch-weights", "tiny"]
        main()
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO), "THEAD_WEIGHTS_MANIFEST": str(tmp_path / "m.toml"),
           "THEAD_CACHE": str(tmp_path / "cache")}
    for variable in ("THEAD_DEBUG", "HF_HUB_OFFLINE", "HF_HUB_VERBOSITY"):
        env.pop(variable, None)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 4 and run.stdout == ""
    assert run.stderr.splitlines() == [run.stderr.strip()] and run.stderr.startswith("error: tiny: cannot reach")
    debug = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           env={**env, "THEAD_DEBUG": "1"}, timeout=60)
    assert "Retrying in 1s [Retry 5/5]." in debug.stderr


def test_dry_run_plans_without_touching_the_cache(env):
    manifest, mirror, cache = env
    plan = Fetcher(cache_dir=cache, notes=Notes(), mirror=mirror).plan([manifest.get("tiny")])
    assert [r.status for r in plan] == ["copy", "copy"] and not cache.exists()
    assert Fetcher(cache_dir=cache, notes=Notes()).plan([manifest.get("tiny")])[0].status == "download"


def test_unreachable_hub_fails_fast_for_the_remaining_files(env, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    manifest, _, cache = env
    calls = []

    def no_network(repo_id, filename, revision, cache_dir, tqdm_class=None):
        calls.append(filename)
        raise LocalEntryNotFoundError("connection error")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    with pytest.raises(WeightsError, match="2 weight files failed; first: .*cannot reach the hub") as err:
        fetch(manifest, cache)
    assert calls == ["sub/model.bin"] and "--from DIR tiny" in err.value.hint


def test_lpips_finds_both_files_of_its_set_by_name(tmp_path, monkeypatch):
    """lpips-alex's layout (a file from another repo, in a subfolder) resolves for the LPIPS metric."""
    from thead.metrics.base import resolve_weight_files
    from thead.metrics.lpips import WEIGHTS

    linear = {"LPIPS_v0.1_alex-df73285e.pth": b"linear"}
    alexnet = {"torch_cache/checkpoints/alexnet-owt-7be5be79.pth": b"alex"}
    write_mirror(tmp_path / "mirror", linear)
    write_mirror(tmp_path / "mirror", alexnet, "CSWRY/VOSR")
    text = manifest_text({**linear, **alexnet}).replace("[tiny]", "[lpips-alex]").replace(
        '{ path = "torch_cache', '{ repo = "CSWRY/VOSR", revision = "' + "b" * 40 + '", path = "torch_cache')
    (tmp_path / "weights.toml").write_text(text)
    monkeypatch.setenv("THEAD_WEIGHTS_MANIFEST", str(tmp_path / "weights.toml"))
    monkeypatch.setenv("THEAD_CACHE", str(tmp_path / "cache"))
    weight_set = parse_manifest(text).get("lpips-alex")
    Fetcher(cache_dir=tmp_path / "cache", notes=Notes(), mirror=tmp_path / "mirror").fetch([weight_set])
    found = resolve_weight_files("lpips-alex", WEIGHTS["lpips-alex"])
    assert found["linear"].read_bytes() == b"linear" and found["alexnet"].read_bytes() == b"alex"
    assert "models--CSWRY--VOSR" in str(found["alexnet"])


def test_an_unpinned_main_revision_installs_records_and_then_refuses_changed_bytes(tmp_path, files, monkeypatch):
    """revision = "main" (for repos whose commit could not be read): every file is trust on first use,
    the first fetch records its hash, and changed upstream bytes later fail verification (exit 4)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    write_mirror(mirror, files)
    text = manifest_text(files, tofu=tuple(files)).replace(f'revision = "{REVISION}"', 'revision = "main"')
    manifest = parse_manifest(text, "test.toml")
    reports, notes = fetch(manifest, cache, mirror)
    assert [r.status for r in reports] == ["copied", "copied"] and len(notes.warnings) == 2
    assert set(resolve_files("tiny", cache_dir=cache, manifest=manifest)) == set(files)
    model = CacheLayout(cache, manifest.get("tiny").files[0])
    model.remove()
    (mirror / "acme/tiny/sub/model.bin").write_bytes(files["sub/model.bin"][::-1])  # upstream changed
    with pytest.raises(WeightsError, match="model.bin failed verification") as caught:
        fetch(manifest, cache, mirror)
    assert caught.value.exit_code == 4


@pytest.mark.parametrize("revision, tofu", [("main", ("config.json",)), ("dev", ("sub/model.bin", "config.json"))],
                         ids=["main-with-a-pinned-hash", "another-branch"])
def test_a_branch_revision_is_refused_unless_main_and_all_trust_on_first_use(files, revision, tofu):
    text = manifest_text(files, tofu=tofu).replace(f'revision = "{REVISION}"', f'revision = "{revision}"')
    with pytest.raises(WeightsError, match="revision"):
        parse_manifest(text, "test.toml")
