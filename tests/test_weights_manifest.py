"""weights.toml: every real entry is pinned and licensed; bad manifests fail at parse time, naming the line."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from thead.errors import WeightsError
from thead.weights import load_manifest, parse_manifest

REPO = Path(__file__).resolve().parents[1]
MANIFEST = load_manifest()
REQUIRED = ["liveportrait", "liveportrait-safetensors", "liveportrait-insightface", "fid-inception", "lpips-alex",
            "syncnet", "arcface-buffalo-l", "piper-voice", "piper-voice-de-thorsten", "piper-voice-fr-siwis",
            "piper-voice-es-davefx", "sd-turbo", "ldm-celebahq", "joyvasa"]

GOOD = '''\
[tiny]
description = "a test set"
repo = "acme/tiny"
revision = "0123456789abcdef0123456789abcdef01234567"
license = "MIT"
commercial_use = true
used_by = ["planned:test"]
files = [
  { path = "sub/a.bin", size = 10, sha256 = "%s" },
]
''' % ("ab" * 32)


def with_path(path: str) -> str:
    return GOOD.replace("sub/a.bin", path)


@functools.cache
def _code_uses() -> dict[str, set[str]]:
    """What thead's code loads, set by set, read from the registries and the loaders' constants."""
    from thead.backends import BACKENDS, get_backend_class
    from thead.face import scrfd
    from thead.metrics import METRICS, REGISTRY, VARIANTS, get_metric_class

    uses: dict[str, set[str]] = {}
    for backend in BACKENDS:
        for set_name in get_backend_class(backend).weights:
            uses.setdefault(set_name, set()).add(f"backend:{backend}")
    for metric in [*METRICS, *VARIANTS, *REGISTRY.aliases]:
        for set_name in get_metric_class(metric).weights:
            uses.setdefault(set_name, set()).add(f"metric:{metric}")
    from thead.generate import GENERATORS, REGISTRY as GENERATOR_REGISTRY

    for name in GENERATORS:
        uses.setdefault(GENERATOR_REGISTRY.get(name).weight_set, set()).add(f"generator:{name}")
    uses.setdefault(scrfd.WEIGHTS, set()).add("face:insightface")
    from thead.audio import piper

    for voice in piper.voices().values():  # the sets whose <voice>.onnx + .onnx.json pair piper can load
        uses.setdefault(voice.weight_set, set()).add(piper.USED_BY)
    uses.setdefault("liveportrait-safetensors", set()).add("backend:liveportrait")  # its fallback, checked below
    return uses


def test_every_set_the_code_loads_is_in_the_manifest_and_nothing_else():
    """resolve_files(name) succeeds for every name the code asks for; the manifest lists no unused set."""
    used = _code_uses()
    assert sorted(used) == sorted(s.name for s in MANIFEST.sets.values() if not s.used_by[0].startswith("planned:"))
    assert sorted(REQUIRED) == sorted(MANIFEST.sets)


@pytest.mark.parametrize("name", list(MANIFEST.sets))
def test_used_by_names_what_really_loads_the_set(name):
    from thead.backends import BACKENDS
    from thead.face.mesh import DETECTORS
    from thead.generate import GENERATORS

    declared = [entry.split(" (")[0] for entry in MANIFEST.get(name).used_by]
    if declared[0].startswith("planned:"):
        assert declared == [declared[0]] and name not in _code_uses()
        return
    for entry in declared:
        kind, target = entry.split(":")
        if kind in ("metric", "tts"):
            assert entry in _code_uses()[name]  # that metric's class lists this set / piper finds a voice in it
        else:
            assert target in (BACKENDS if kind == "backend" else GENERATORS if kind == "generator" else DETECTORS), entry


@pytest.mark.parametrize("set_name, checkpoints", [("liveportrait", "OFFICIAL_CHECKPOINTS"),
                                                   ("liveportrait-safetensors", "SAFETENSORS_CHECKPOINTS")])
def test_liveportrait_finds_every_network_file_in_its_set(set_name, checkpoints):
    from thead.backends.liveportrait import networks

    paths = {f.path for f in MANIFEST.get(set_name).files}
    assert set(getattr(networks, checkpoints).values()) == paths


def test_scrfd_finds_its_model_in_its_set():
    from thead.face import scrfd

    assert [f.path for f in MANIFEST.get(scrfd.WEIGHTS).files if f.path.endswith(scrfd.MODEL_FILE)]


def test_root_manifest_is_the_packaged_file():
    root = REPO / "weights.toml"
    assert root.resolve() == (REPO / "thead" / "weights" / "weights.toml").resolve()
    assert load_manifest(root).sets.keys() == MANIFEST.sets.keys()


@pytest.mark.parametrize("name", list(MANIFEST.sets))
def test_every_entry_is_pinned_and_licensed(name):
    weight_set = MANIFEST.sets[name]
    assert re.fullmatch(r"[0-9a-f]{40}", weight_set.revision) or (
        weight_set.revision == "main" and "unpinned revision" in weight_set.notes.lower())
    assert weight_set.license.strip() and weight_set.description.strip() and weight_set.used_by
    assert isinstance(weight_set.commercial_use, bool)
    documented = weight_set.notes.lower()
    for file in weight_set.files:
        assert re.fullmatch(r"[0-9a-f]{40}", file.revision) or file.revision == weight_set.revision == "main"
        assert re.fullmatch(r"[0-9a-f]{64}", file.sha256 or "") or "trust on first use" in documented, file.path
        assert (file.size or 0) > 0 or "recorded on first fetch" in documented, file.path
        assert not file.path.startswith("/") and ".." not in file.path.split("/")


def test_trust_on_first_use_entries_are_the_documented_ones():
    tofu = sorted(f"{s.name}:{f.path}" for s in MANIFEST.sets.values() for f in s.files if f.trust_on_first_use)
    # no page publishes hashes for the diffusers snapshots: every file is pinned on first fetch
    assert tofu == sorted(["piper-voice:en/en_US/lessac/medium/en_US-lessac-medium.onnx.json",
                           *(f"{n}:{f.path}" for n in ("sd-turbo", "ldm-celebahq", "joyvasa", "piper-voice-de-thorsten",
                                                       "piper-voice-fr-siwis", "piper-voice-es-davefx")
                             for f in MANIFEST.get(n).files)])


def _metric_weights() -> list[tuple[str, str, str]]:
    from thead.metrics import METRICS, VARIANTS, get_metric_class

    return [(metric, set_name, filename) for metric in [*METRICS, *VARIANTS]
            for set_name, roles in get_metric_class(metric).weights.items() for filename in roles.values()]


@pytest.mark.parametrize("metric, set_name, filename", _metric_weights())
def test_every_metric_weight_file_is_in_its_set(metric, set_name, filename):
    """Metrics look their files up by name in ``resolve_files(set)``, wherever the repo keeps them."""
    names = [Path(f.path).name for f in MANIFEST.get(set_name).files]
    assert filename in names, f"{metric} needs {filename} from [{set_name}], which lists {names}"


def test_lpips_backbone_is_torchvisions_file():
    alexnet = next(f for f in MANIFEST.get("lpips-alex").files if f.path.endswith("alexnet-owt-7be5be79.pth"))
    assert alexnet.sha256.startswith("7be5be79") and alexnet.size == 244408911
    assert alexnet.repo_id == "CSWRY/VOSR" and alexnet.revision != MANIFEST.get("lpips-alex").revision


def test_good_manifest_parses():
    weight_set = parse_manifest(GOOD).get("tiny")
    assert weight_set.files[0].path == "sub/a.bin" and weight_set.files[0].size == 10
    assert weight_set.files[0].repo_id == "acme/tiny" and weight_set.size == 10


@pytest.mark.parametrize("path", ["../escape.bin", "sub/../../escape.bin", "/etc/passwd", "~/x.bin", "C:/x.bin",
                                  "sub\\\\a.bin", "./a.bin", "sub//a.bin"])
def test_traversal_and_absolute_paths_are_refused_at_parse_time(path):
    with pytest.raises(WeightsError) as err:
        parse_manifest(with_path(path), "weights.toml")
    assert "weights.toml: line 9:" in err.value.message
    assert err.value.exit_code == 4


def test_malformed_toml_names_the_line():
    text = GOOD.replace('license = "MIT"', 'license = "MIT')
    with pytest.raises(WeightsError, match=r"weights\.toml: line 5: malformed TOML"):
        parse_manifest(text, "weights.toml")


def test_branch_revision_is_refused():
    with pytest.raises(WeightsError, match=r"line 4: revision 'v1.0' must be a 40-hex commit"):
        parse_manifest(GOOD.replace("0123456789abcdef0123456789abcdef01234567", "v1.0"))
    with pytest.raises(WeightsError, match=r"line 4: \[tiny\] revision \"main\" is allowed only when every file is trust"):
        parse_manifest(GOOD.replace("0123456789abcdef0123456789abcdef01234567", "main"))


@pytest.mark.parametrize("edit, message", [
    (('commercial_use = true', 'commercial_use = "yes"'), "line 6: .* commercial_use = true or false"),
    (('license = "MIT"\n', ''), "needs a non-empty license"),
    (('sha256 = "' + "ab" * 32, 'sha256 = "abc'), "line 9: sha256 of 'sub/a.bin' must be 64"),
    (('size = 10', 'size = -1'), "line 9: size of 'sub/a.bin' must be a positive integer"),
    (('used_by = ["planned:test"]', 'used_by = ["planned:test"]\nmirror = "x"'), "line 8: unknown key 'mirror'"),
    (('repo = "acme/tiny"', 'repo = "acme/../tiny"'), "repo 'acme/../tiny' must look like owner/name"),
])
def test_invalid_entries_name_the_problem(edit, message):
    with pytest.raises(WeightsError, match=message):
        parse_manifest(GOOD.replace(*edit))


def test_duplicate_file_is_refused():
    text = GOOD.replace("},\n]\n", '},\n  { path = "sub/a.bin", size = 10, sha256 = "' + "ab" * 32 + '" },\n]\n')
    with pytest.raises(WeightsError, match="lists 'sub/a.bin' twice"):
        parse_manifest(text)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(WeightsError) as err:
        MANIFEST.get("livepotrait")
    assert "livepotrait" in err.value.message
    assert all(name in err.value.hint for name in REQUIRED)


def test_all_selects_every_set():
    assert [s.name for s in MANIFEST.select(["all"])] == list(MANIFEST.sets)
    assert [s.name for s in MANIFEST.select(["syncnet", "syncnet"])] == ["syncnet"]


@pytest.mark.parametrize("edit, field", [
    (("[tiny]", '["tiny\\n"]'), "set name"),
    (('repo = "acme/tiny"', 'repo = "acme/tiny\\n"'), "repo"),
    (('revision = "0123456789abcdef0123456789abcdef01234567"',
      'revision = "0123456789abcdef0123456789abcdef01234567\\n"'), "revision"),
    (('sha256 = "' + "ab" * 32, 'sha256 = "' + "ab" * 32 + "\\n"), "sha256"),
    (('path = "sub/a.bin"', 'path = "sub/a.bin\\n"'), "file path"),
])
def test_a_trailing_newline_is_refused(edit, field):
    """Full-match validation: a value ending in a newline would name a cache folder with a newline in it."""
    with pytest.raises(WeightsError, match=field) as err:
        parse_manifest(GOOD.replace(*edit), "weights.toml")
    assert err.value.one_line().startswith("error: weights.toml: line ")


@pytest.mark.parametrize("repo", ["acme/ti--ny", "acme/tiny.git", "acme/caf\u00e9", "acme/-tiny", "acme/" + "a" * 97])
def test_a_repo_the_hub_client_refuses_is_refused_at_parse_time(repo):
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    with pytest.raises(HFValidationError):
        validate_repo_id(repo)
    with pytest.raises(WeightsError, match=r"weights\.toml: line 3: repo .* (must look like|is not a valid hub repo)"):
        parse_manifest(GOOD.replace("acme/tiny", repo), "weights.toml")


def test_a_manifest_that_is_not_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_bytes(GOOD.replace('"MIT"', '"Lizenz \u00e4"').encode("latin-1"))
    with pytest.raises(WeightsError, match=r"mine\.toml: line 5: not UTF-8 text") as err:
        load_manifest(path)
    assert err.value.exit_code == 4 and "save the weights manifest as UTF-8" in err.value.hint


def test_deep_nesting_is_a_manifest_error_not_a_crash():
    with pytest.raises(WeightsError, match="nested too deeply"):
        parse_manifest("a = " + "[" * 100_000)


@pytest.mark.parametrize("used_by", ['["drive-audio --text"]', '["metric:"]', '["planned:"]', '[1]'])
def test_used_by_must_say_what_loads_the_set(used_by):
    with pytest.raises(WeightsError, match="line 7: .*used_by must list backend:NAME"):
        parse_manifest(GOOD.replace('used_by = ["planned:test"]', f"used_by = {used_by}"), "weights.toml")


def test_notes_must_be_text():
    with pytest.raises(WeightsError, match="notes must be a string"):
        parse_manifest(GOOD.replace('license = "MIT"', 'license = "MIT"\nnotes = [1]'))
