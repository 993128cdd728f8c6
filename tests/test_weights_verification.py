"""What verification reports, file by file: statuses, sizes, hashes, records and hints (the --json contract)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import thead.weights.fetch as fetch_module
from test_weights_cache_safety import count_copied, interrupt_after, layouts, outside_file
from test_weights_fetch import REVISION, Notes, env, fake_hub, fetch, files  # noqa: F401  (fixtures)
from thead.errors import WeightsError
from thead.weights.cache import CacheLayout, Pin
from thead.weights.fetch import Fetcher, copy_resumable


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_verify_reports_every_file_with_its_hash_and_size(env, files):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    notes = Notes()
    reports = Fetcher(cache_dir=cache, notes=notes).verify([manifest.get("tiny")], require_all=True)
    assert notes.bars == [("verifying weights", 2)]
    model, config = layouts(manifest, cache)
    assert [r.as_dict() for r in reports] == [
        {"set": "tiny", "repo": "acme/tiny", "revision": REVISION, "path": path, "status": "verified",
         "sha256": sha(files[path]), "size": len(files[path]), "local_path": str(layout.snapshot), "problem": None}
        for path, layout in (("sub/model.bin", model), ("config.json", config))]


def test_verify_without_names_lists_missing_files_and_with_names_fails(env, files):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    model, _ = layouts(manifest, cache)
    model.remove()
    reports = Fetcher(cache_dir=cache, notes=Notes()).verify([manifest.get("tiny")], require_all=False)
    assert [(r.set_name, r.file.path, r.status, r.size) for r in reports] == [
        ("tiny", "sub/model.bin", "missing", len(files["sub/model.bin"])),
        ("tiny", "config.json", "verified", len(files["config.json"]))]
    assert reports[0].as_dict()["local_path"] is None
    with pytest.raises(WeightsError, match=f"^tiny: sub/model.bin is not cached in {cache}$") as err:
        Fetcher(cache_dir=cache, notes=Notes()).verify([manifest.get("tiny")], require_all=True)
    assert err.value.hint == "run: thead fetch-weights tiny"


def test_dry_run_plan_says_what_each_file_needs(env, files):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    model, config = layouts(manifest, cache)
    blob = model.snapshot.resolve()
    os.utime(blob, ns=(blob.stat().st_atime_ns, blob.stat().st_mtime_ns + 1))  # changed since it was hashed
    config.remove()
    plan = Fetcher(cache_dir=cache, notes=Notes(), mirror=mirror).plan([manifest.get("tiny")])
    assert [(r.set_name, r.status, r.local_path, r.sha256, r.size) for r in plan] == [
        ("tiny", "verify", model.snapshot, sha(files["sub/model.bin"]), len(files["sub/model.bin"])),
        ("tiny", "copy", None, sha(files["config.json"]), len(files["config.json"]))]  # the recorded first use
    assert Fetcher(cache_dir=cache, notes=Notes()).plan([manifest.get("tiny")])[1].status == "download"


def test_the_first_use_record_names_the_file_it_pins(env, files):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    _, config = layouts(manifest, cache)
    assert json.loads(config.pin_path.read_text()) == {
        "repo": "acme/tiny", "revision": REVISION, "path": "config.json", "sha256": sha(files["config.json"]),
        "size": len(files["config.json"])}


def test_the_partial_file_records_where_its_bytes_come_from(env, files, monkeypatch):
    manifest, mirror, cache = env
    model, _ = layouts(manifest, cache)
    interrupt_after(monkeypatch, 1000)
    with pytest.raises(KeyboardInterrupt):
        fetch(manifest, cache, mirror)
    source = mirror / "acme/tiny/sub/model.bin"
    assert json.loads(model.provenance.read_text()) == {
        "repo": "acme/tiny", "revision": REVISION, "path": "sub/model.bin", "source": str(source.resolve()),
        "size": source.stat().st_size, "mtime_ns": source.stat().st_mtime_ns}


def test_a_record_without_its_partial_file_restarts_from_zero(env, files, monkeypatch):
    manifest, mirror, cache = env
    model, _ = layouts(manifest, cache)
    interrupt_after(monkeypatch, 1000)
    with pytest.raises(KeyboardInterrupt):
        fetch(manifest, cache, mirror)
    model.incomplete.unlink()
    copied = count_copied(monkeypatch)
    reports, _ = fetch(manifest, cache, mirror)
    assert reports[0].status == "copied" and copied[0] == len(files["sub/model.bin"])


def test_a_partial_file_hard_linked_elsewhere_after_an_interruption_is_not_resumed(env, files, monkeypatch,
                                                                                   tmp_path):
    manifest, mirror, cache = env
    model, _ = layouts(manifest, cache)
    interrupt_after(monkeypatch, 1000)
    with pytest.raises(KeyboardInterrupt):
        fetch(manifest, cache, mirror)
    monkeypatch.undo()
    own = tmp_path / "outside" / "kept.bin"
    own.parent.mkdir()
    os.link(model.incomplete, own)
    before = own.read_bytes()
    reports, _ = fetch(manifest, cache, mirror)
    assert reports[0].status == "copied" and own.read_bytes() == before


@pytest.mark.parametrize("problem, hint", [
    ("size", "replace the mirror file with the pinned revision"),
    ("hash", "replace the mirror file with the pinned revision"),
    ("link", "copy the file into the mirror (links are followed only inside it)"),
])
def test_mirror_refusals_say_what_to_do(env, files, tmp_path, problem, hint):
    manifest, mirror, cache = env
    entry = mirror / "acme/tiny/sub/model.bin"
    if problem == "size":
        entry.write_bytes(b"short")
    elif problem == "hash":
        entry.write_bytes(b"y" * len(files["sub/model.bin"]))
    else:
        entry.unlink()
        entry.symlink_to(outside_file(tmp_path, files["sub/model.bin"]))
    with pytest.raises(WeightsError) as err:
        fetch(manifest, cache, mirror)
    assert err.value.hint == hint


def test_hub_downloads_are_reported_and_first_use_recorded(env, files, monkeypatch):
    import huggingface_hub

    manifest, _, cache = env
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub(manifest, files))
    reports, notes = fetch(manifest, cache)
    model, config = layouts(manifest, cache)
    assert [(r.set_name, r.status, r.local_path, r.sha256) for r in reports] == [
        ("tiny", "downloaded", model.snapshot, sha(files["sub/model.bin"])),
        ("tiny", "downloaded", config.snapshot, sha(files["config.json"]))]
    assert config.expected() == Pin(sha256=sha(files["config.json"]), size=len(files["config.json"]))
    assert notes.warnings[0].startswith("TRUST ON FIRST USE: tiny: acme/tiny/config.json@")


def test_a_bad_download_says_to_check_the_pin(env, files, monkeypatch):
    import huggingface_hub

    manifest, _, cache = env
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub(manifest, {**files, "sub/model.bin": b"z" * 10}))
    with pytest.raises(WeightsError) as err:
        fetch(manifest, cache)
    assert err.value.message == "tiny: downloaded sub/model.bin failed verification (10 bytes, expected 300000); deleted it"
    assert err.value.hint == "check the manifest pin or report the changed upstream file"


def test_a_failed_download_names_the_file_and_revision(env, monkeypatch):
    import huggingface_hub

    def refuse(repo_id, filename, revision, cache_dir, tqdm_class=None):
        raise OSError("404 Client Error: entry not found\nmore detail")

    manifest, _, cache = env
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(WeightsError) as err:
        fetch(manifest, cache)
    assert err.value.message.startswith(f"2 weight files failed; first: tiny: download of acme/tiny/sub/model.bin@"
                                        f"{REVISION[:8]} failed (404 Client Error: entry not found)")


def test_after_one_unreachable_download_the_rest_say_the_hub_is_unreachable(env, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def unreachable(repo_id, filename, revision, cache_dir, tqdm_class=None):
        raise LocalEntryNotFoundError("connection error")

    manifest, _, cache = env
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    fetcher = Fetcher(cache_dir=cache, notes=Notes())
    with pytest.raises(WeightsError):
        fetcher.fetch([manifest.get("tiny")])
    with pytest.raises(WeightsError, match="is not cached in .* and the hub is unreachable"):
        fetcher.fetch([manifest.get("tiny")])


def test_hidden_hub_bars_are_never_drawn():
    bar = fetch_module.HiddenHubBar(total=3, disable=False)
    assert bar.disable and bar.total == 3


def test_a_second_fetch_reports_cached_files_without_rehashing(env, files):
    manifest, mirror, cache = env
    fetcher = Fetcher(cache_dir=cache, notes=Notes(), mirror=mirror)
    fetcher.fetch([manifest.get("tiny")])
    model, config = layouts(manifest, cache)
    assert [r.status for r in fetcher.plan([manifest.get("tiny")])] == ["cached", "cached"]
    reports = fetcher.fetch([manifest.get("tiny")])
    assert [r.as_dict() for r in reports] == [
        {"set": "tiny", "repo": "acme/tiny", "revision": REVISION, "path": path, "status": "cached",
         "sha256": sha(files[path]), "size": len(files[path]), "local_path": str(layout.snapshot), "problem": None}
        for path, layout in (("sub/model.bin", model), ("config.json", config))]


def test_copied_and_downloaded_reports_carry_hash_and_size(env, files, monkeypatch):
    import huggingface_hub

    manifest, mirror, cache = env
    expected = [("tiny", path, sha(data), len(data)) for path, data in files.items()]
    copied, notes = fetch(manifest, cache, mirror)
    assert [(r.set_name, r.file.path, r.sha256, r.size) for r in copied] == expected
    assert notes.infos == ["tiny: installed sub/model.bin from the mirror (300.0 kB)",
                           "tiny: installed config.json from the mirror (14 B)"]
    assert not layouts(manifest, cache)[0].pin_path.exists()  # fully pinned by the manifest: nothing to record
    for layout in layouts(manifest, cache):
        layout.remove()
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub(manifest, files))
    downloaded, _ = fetch(manifest, cache)
    assert [(r.set_name, r.file.path, r.sha256, r.size) for r in downloaded] == expected


def test_a_resumed_partial_that_is_not_a_prefix_is_copied_again(env, files, monkeypatch):
    """Same origin recorded, but the kept bytes are not the file's start: the hash check restarts the copy."""
    manifest, mirror, cache = env
    model, _ = layouts(manifest, cache)
    interrupt_after(monkeypatch, 1000)
    with pytest.raises(KeyboardInterrupt):
        fetch(manifest, cache, mirror)
    monkeypatch.undo()
    with open(model.incomplete, "r+b") as partial:
        partial.write(b"\0" * 1000)
    reports, _ = fetch(manifest, cache, mirror)
    assert reports[0].status == "copied" and model.snapshot.read_bytes() == files["sub/model.bin"]
    assert not model.incomplete.exists() and not model.provenance.exists()


def test_a_partial_longer_than_its_source_is_cut_back(tmp_path):
    source, partial = tmp_path / "source.bin", tmp_path / "x.incomplete"
    source.write_bytes(b"abc")
    partial.write_bytes(b"abcdef")
    assert copy_resumable(source, partial) == 3 and partial.read_bytes() == b"abc"


def test_installed_files_get_ordinary_permissions(env):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    umask = os.umask(0)
    os.umask(umask)
    blob = layouts(manifest, cache)[0].snapshot.resolve()
    assert blob.stat().st_mode & 0o777 == 0o644 & ~umask


def test_without_symlinks_the_snapshot_is_a_copy(env, files, monkeypatch):
    """As huggingface_hub does where links are not allowed (some Windows setups)."""
    manifest, mirror, cache = env

    def no_links(*args, **kwargs):
        raise OSError("symbolic links are not supported")

    monkeypatch.setattr(os, "symlink", no_links)
    fetch(manifest, cache, mirror)
    model, _ = layouts(manifest, cache)
    assert not model.snapshot.is_symlink() and model.snapshot.read_bytes() == files["sub/model.bin"]


def test_refusals_in_the_cache_say_what_to_do(env, tmp_path):
    manifest, mirror, cache = env
    (cache / "models--acme--tiny").mkdir(parents=True)
    (cache / "models--acme--tiny" / "blobs").symlink_to(tmp_path)
    with pytest.raises(WeightsError) as err:
        fetch(manifest, cache, mirror)
    assert err.value.hint == f"replace the link with a real folder, or use another --cache-dir than {cache}"
    source, partial = tmp_path / "s", tmp_path / "p"
    source.write_bytes(b"s")
    partial.symlink_to(source)
    with pytest.raises(WeightsError) as err:
        copy_resumable(source, partial)
    assert err.value.message == (f"{partial} is not a plain file of the weights cache (a link?); nothing was "
                                 "written through it")
    assert err.value.hint == f"delete {partial} and run again"


def test_a_failed_download_says_how_to_use_a_mirror(env, monkeypatch):
    import huggingface_hub

    def refuse(repo_id, filename, revision, cache_dir, tqdm_class=None):
        raise OSError("disk quota exceeded")

    manifest, _, cache = env
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(WeightsError) as err:
        fetch(manifest, cache)
    assert err.value.hint == ("copy the files to a mirror laid out as DIR/<repo>/<path> and run: "
                              "thead fetch-weights --from DIR tiny")


def test_trust_on_first_use_is_announced_once_with_the_whole_record(env, files):
    manifest, mirror, cache = env
    _, first = fetch(manifest, cache, mirror)
    _, config = layouts(manifest, cache)
    assert first.warnings == [
        f"TRUST ON FIRST USE: tiny: acme/tiny/config.json@{REVISION[:8]} has no published sha256; recorded "
        f"{sha(files['config.json'])} ({len(files['config.json'])} bytes) in {config.pin_path}. "
        "Compare it with a trusted copy."]
    _, again = fetch(manifest, cache, mirror, rehash=True)
    assert again.warnings == [] and [r.status for r in fetch(manifest, cache, mirror)[0]] == ["cached", "cached"]


def test_a_cached_file_without_a_record_is_recorded_on_verification(env, files):
    """A file already in the hub cache (put there by huggingface_hub) gets its first-use record when verified."""
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    _, config = layouts(manifest, cache)
    config.pin_path.unlink()
    reports, notes = fetch(manifest, cache, mirror, rehash=True)
    assert reports[1].status == "verified" and notes.warnings[0].startswith("TRUST ON FIRST USE: tiny: acme/tiny/")
    assert json.loads(config.pin_path.read_text())["size"] == len(files["config.json"])


def test_a_published_hash_without_a_size_records_the_size_quietly(tmp_path, files):
    from test_weights_fetch import manifest_text, write_mirror
    from thead.weights import parse_manifest, resolve_files

    data = files["sub/model.bin"]
    text = manifest_text({"sub/model.bin": data}).replace(f"size = {len(data)}, ", "")
    manifest = parse_manifest(text)
    write_mirror(tmp_path / "mirror", {"sub/model.bin": data})
    _, notes = fetch(manifest, tmp_path / "cache", tmp_path / "mirror")
    layout = CacheLayout(tmp_path / "cache", manifest.get("tiny").files[0])
    assert notes.warnings == [] and layout.expected() == Pin(sha256=sha(data), size=len(data))
    assert resolve_files("tiny", cache_dir=tmp_path / "cache", manifest=manifest)["sub/model.bin"] == layout.snapshot
    layout.pin_path.unlink()  # the hash alone still vouches for the stamped file
    assert resolve_files("tiny", cache_dir=tmp_path / "cache", manifest=manifest)["sub/model.bin"] == layout.snapshot


def test_verify_names_the_mismatch_of_a_deleted_file(env, files):
    manifest, mirror, cache = env
    fetch(manifest, cache, mirror)
    model, _ = layouts(manifest, cache)
    model.snapshot.resolve().write_bytes(b"w" * len(files["sub/model.bin"]))
    with pytest.raises(WeightsError) as err:
        Fetcher(cache_dir=cache, notes=Notes()).verify([manifest.get("tiny")], require_all=False)
    assert err.value.message == (f"tiny: cached sub/model.bin failed verification (sha256 "
                                 f"{sha(b'w' * len(files['sub/model.bin']))}, expected {sha(files['sub/model.bin'])}) "
                                 "and was deleted")


def test_a_vanished_file_is_not_stamped(tmp_path):
    from thead.weights.cache import is_stamped

    assert not is_stamped(tmp_path, tmp_path / "gone.bin", Pin(sha256="0" * 64, size=None))


def test_an_unpublished_hash_with_a_published_size_is_recorded_on_first_use(tmp_path, files):
    from test_weights_fetch import manifest_text, write_mirror
    from thead.weights import parse_manifest

    data = files["config.json"]
    text = manifest_text({"config.json": data}).replace(f'sha256 = "{sha(data)}"', 'sha256 = ""')
    manifest = parse_manifest(text)
    write_mirror(tmp_path / "mirror", {"config.json": data})
    _, notes = fetch(manifest, tmp_path / "cache", tmp_path / "mirror")
    layout = CacheLayout(tmp_path / "cache", manifest.get("tiny").files[0])
    assert layout.expected() == Pin(sha256=sha(data), size=len(data)) and "TRUST ON FIRST USE" in notes.warnings[0]


@pytest.mark.parametrize("variables, expected", [
    ({"THEAD_CACHE": "/a", "HF_HUB_CACHE": "/b", "HF_HOME": "/h"}, "/a"),
    ({"HF_HUB_CACHE": "/b", "HUGGINGFACE_HUB_CACHE": "/c", "HF_HOME": "/h"}, "/b"),
    ({"HUGGINGFACE_HUB_CACHE": "/c", "HF_HOME": "/h"}, "/c"),
    ({"HF_HOME": "/h"}, "/h/hub"),
])
def test_the_cache_folder_follows_the_documented_precedence(monkeypatch, variables, expected):
    from thead.weights.cache import hub_cache_dir

    for name in ("THEAD_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert hub_cache_dir() == Path(expected) and hub_cache_dir("~/mine") == Path.home() / "mine"


def test_without_any_setting_the_cache_is_huggingface_hubs(monkeypatch):
    from huggingface_hub import constants

    from thead.weights.cache import hub_cache_dir

    for name in ("THEAD_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert hub_cache_dir() == Path(constants.HF_HUB_CACHE)


@pytest.mark.parametrize("value, offline", [("1", True), (" on ", True), ("Yes", True), ("true", True),
                                            ("0", False), ("", False), ("no", False)])
@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_mode_is_read_from_the_environment_now(monkeypatch, variable, value, offline):
    from huggingface_hub import constants

    from thead.weights.cache import is_offline

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "is_offline_mode", lambda: False)
    monkeypatch.setenv(variable, value)
    assert is_offline() is offline


@pytest.mark.parametrize("size, shown", [(None, "size unknown"), (999, "999 B"), (1000, "1.0 kB"),
                                         (14_500, "14.5 kB"), (300_000_000, "300.0 MB"),
                                         (522_320_239, "522.3 MB"), (2_500_000_000_000, "2500.0 GB")])
def test_sizes_are_shown_as_the_hub_shows_them(size, shown):
    from thead.weights.fetch import human_size

    assert human_size(size) == shown
