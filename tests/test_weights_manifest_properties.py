"""Property-based: any manifest, however broken, gives a Manifest or a one-line TheadError (exit 3 or 4)."""

from __future__ import annotations

import json
import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thead.errors import TheadError
from thead.weights.manifest import Manifest, decode_manifest

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID_REPO = "acme/tiny"
VALID_REVISION = "0123456789abcdef0123456789abcdef01234567"


def toml_value(value) -> str:
    """``value`` written as a TOML inline value (strings, numbers, booleans, arrays, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return "{ " + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"


def toml_document(sets: dict[str, dict]) -> str:
    lines = []
    for name, table in sets.items():
        lines.append(f"[{toml_value(name)}]")
        lines += [f"{toml_value(key)} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def check(parse) -> Manifest | None:
    """Run ``parse``: a Manifest, or a TheadError with exit 3/4 and a one-line message; nothing else."""
    try:
        return parse()
    except TheadError as err:
        assert err.exit_code in (3, 4), err
        assert "\n" not in err.one_line()
        return None


scalars = st.one_of(st.text(max_size=12), st.integers(-2, 2**64), st.booleans(),
                    st.floats(allow_nan=True, allow_infinity=True))
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                        max_leaves=6)
hex_ish = st.text(alphabet="0123456789abcdefABX\n ", min_size=38, max_size=66)


def plausible(good: str, noise=anything):
    """Mostly values close to valid ones (so later checks are reached), sometimes anything at all."""
    near = st.text(alphabet=str(good) + "-_./\n\x00", max_size=len(str(good)) + 3)
    return st.integers(0, 9).flatmap(lambda pick: st.one_of(near, noise) if pick == 0 else st.just(good))


file_entry = st.fixed_dictionaries(
    {"path": plausible("sub/a.bin")},
    optional={"size": st.one_of(st.integers(-1, 2**70), anything), "sha256": st.one_of(hex_ish, plausible("")),
              "repo": plausible(VALID_REPO), "revision": st.one_of(hex_ish, plausible(VALID_REVISION))})
weight_set = st.fixed_dictionaries(
    {"description": plausible("a set"), "repo": plausible(VALID_REPO),
     "revision": plausible(VALID_REVISION, st.one_of(hex_ish, anything)), "license": plausible("MIT"),
     "commercial_use": plausible(True, st.one_of(st.booleans(), anything)),
     "used_by": st.one_of(st.just(["metric:fid"]), st.lists(plausible("planned:x"), max_size=2), anything),
     "files": st.one_of(st.lists(file_entry, min_size=1, max_size=3), anything)},
    optional={"notes": plausible("why")})
manifests = st.dictionaries(plausible("tiny", st.text(max_size=8)), weight_set, min_size=1, max_size=2)


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_give_a_manifest_or_a_clean_error(data):
    check(lambda: decode_manifest(data, "fuzz.toml"))


@SETTINGS
@given(manifests)
def test_any_structurally_valid_manifest_gives_a_manifest_or_a_clean_error(sets):
    text = toml_document(sets)
    manifest = check(lambda: decode_manifest(text.encode(), "fuzz.toml"))
    if manifest is None:
        return
    for parsed in manifest.sets.values():  # accepted: every value that names a cache path is exactly valid
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", parsed.name)
        for file in parsed.files:
            assert re.fullmatch(r"[0-9a-f]{40}", file.revision) and "\n" not in file.repo_id + file.path
            assert file.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", file.sha256)
            assert file.size is None or (isinstance(file.size, int) and file.size > 0)


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_gives_a_manifest_or_a_clean_error(text):
    check(lambda: decode_manifest(text.encode("utf-8", "surrogatepass"), "fuzz.toml"))
