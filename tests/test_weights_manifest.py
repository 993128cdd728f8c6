"""weights.toml: every real entry is pinned and licensed; bad manifests fail at parse time, naming the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thead.errors import WeightsError
from thead.weights import load_manifest, parse_manifest

REPO = Path(__file__).resolve().parents[1]
MANIFEST = load_manifest()
REQUIRED = ["liveportrait", "liveportrait-safetensors", "liveportrait-insightface", "fid-inception", "lpips-alex",
            "syncnet", "arcface-buffalo-l", "piper-voice"]

GOOD = '''\
[tiny]
description = "a test set"
repo = "acme/tiny"
revision = "0123456789abcdef0123456789abcdef01234567"
license = "MIT"
commercial_use = true
used_by = ["test"]
files = [
  { path = "sub/a.bin", size = 10, sha256 = "%s" },
]
''' % ("ab" * 32)


def with_path(path: str) -> str:
    return GOOD.replace("sub/a.bin", path)


def test_required_sets_exist():
    assert set(REQUIRED) <= set(MANIFEST.sets)


def test_root_manifest_is_the_packaged_file():
    root = REPO / "weights.toml"
    assert root.resolve() == (REPO / "thead" / "weights" / "weights.toml").resolve()
    assert load_manifest(root).sets.keys() == MANIFEST.sets.keys()


@pytest.mark.parametrize("name", list(MANIFEST.sets))
def test_every_entry_is_pinned_and_licensed(name):
    weight_set = MANIFEST.sets[name]
    assert re.fullmatch(r"[0-9a-f]{40}", weight_set.revision)
    assert weight_set.license.strip() and weight_set.description.strip() and weight_set.used_by
    assert isinstance(weight_set.commercial_use, bool)
    for file in weight_set.files:
        assert re.fullmatch(r"[0-9a-f]{40}", file.revision)
        assert file.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", file.sha256)
        assert file.size is None or file.size > 0
        assert not file.path.startswith("/") and ".." not in file.path.split("/")


def test_trust_on_first_use_entries_are_the_documented_ones():
    tofu = sorted(f"{s.name}:{f.path}" for s in MANIFEST.sets.values() for f in s.files if f.trust_on_first_use)
    assert tofu == ["piper-voice:en/en_US/lessac/medium/en_US-lessac-medium.onnx.json"]


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
    with pytest.raises(WeightsError, match=r"line 4: revision 'main' must be a 40-hex commit"):
        parse_manifest(GOOD.replace("0123456789abcdef0123456789abcdef01234567", "main"))


@pytest.mark.parametrize("edit, message", [
    (('commercial_use = true', 'commercial_use = "yes"'), "line 6: .* commercial_use = true or false"),
    (('license = "MIT"\n', ''), "needs a non-empty license"),
    (('sha256 = "' + "ab" * 32, 'sha256 = "abc'), "line 9: sha256 of 'sub/a.bin' must be 64"),
    (('size = 10', 'size = -1'), "line 9: size of 'sub/a.bin' must be a positive integer"),
    (('used_by = ["test"]', 'used_by = ["test"]\nmirror = "x"'), "line 8: unknown key 'mirror'"),
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
