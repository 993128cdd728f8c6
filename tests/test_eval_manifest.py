"""The eval manifest reader: malformed manifests are exit-3 errors naming the file and the fault; a row
naming a missing file is kept as that row's error; any bytes give a manifest or a TheadError, nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thead.errors import BadInputError, TheadError
from thead.metrics.inputs import Item, read_manifest


@pytest.fixture()
def media(tmp_path: Path) -> Path:
    for name in ("a.mp4", "b.mp4", "ref.mp4"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


@pytest.mark.parametrize("suffix,content,message", [
    (".json", b'[{"generated": "a.mp4"}]', "line 1: a JSON array, not an object"),
    (".jsonl", b"42\n", "line 1: a JSON number, not an object"),
    (".jsonl", b'{"generated": "a.mp4"}\n"b.mp4"\n', "line 2: a JSON string, not an object"),
    (".jsonl", b'{"generated": "a.mp4"\n', "line 1: not JSON"),
    (".jsonl", b'{"generated": ["a.mp4"]}\n', "line 1: 'generated' must be a path (text), not list"),
    (".jsonl", b'{"generated": "a.mp4", "ref": 3}\n', "line 1: 'ref' must be a path (text), not int"),
    (".csv", b"generated,ref\n\xff\xfe.mp4,x\n", "is not UTF-8 text (byte 14)"),
    (".csv", b"generated\na\x00.mp4\n", "row 2: 'generated' contains a NUL character"),
    (".csv", b'generated\n"a.mp4\n', "is not valid CSV: unexpected end of data"),
    (".csv", b"generated,ref\n,x.mp4\n", "row 2 has no 'generated' path"),
    (".csv", b"video,ref\na.mp4,b.mp4\n", "row 2 has no 'generated' path"),
    (".csv", b"generated,ref\n", "has no rows"),
    (".jsonl", b"", "has no rows"),
])
def test_malformed_manifests_are_bad_input_naming_file_and_fault(media, suffix, content, message):
    path = media / f"runs{suffix}"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=re.escape(message)) as info:
        read_manifest(path)
    assert info.value.exit_code == 3 and str(path) in info.value.message


def test_rows_resolve_relative_to_the_manifest_and_missing_files_stay_on_their_row(media):
    path = media / "runs.csv"
    path.write_bytes(b"\xef\xbb\xbfgenerated,ref,source\na.mp4,ref.mp4,\nmissing.mp4,ref.mp4,\nb.mp4,gone.mp4,\n")
    good, missing, no_ref = read_manifest(path)
    assert good == Item(media / "a.mp4", media / "ref.mp4")
    assert missing.generated == media / "missing.mp4" and missing.reference is None
    assert "generated input" in missing.error.message and "missing.mp4 does not exist" in missing.error.message
    assert "reference" in no_ref.error.message and "gone.mp4 does not exist" in no_ref.error.message


def test_json_lines_accept_reference_as_a_synonym(media):
    path = media / "runs.jsonl"
    path.write_text('{"generated": "a.mp4", "reference": "ref.mp4"}\n\n{"generated": "b.mp4", "ref": null}\n')
    assert read_manifest(path) == [Item(media / "a.mp4", media / "ref.mp4"), Item(media / "b.mp4")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(
    st.binary(max_size=300),
    st.lists(st.dictionaries(st.sampled_from(["generated", "ref", "reference", "source", "audio", "x"]),
                             st.one_of(st.text(max_size=300), st.integers(), st.none(), st.lists(st.text(max_size=3))),
                             max_size=4), max_size=4).map(lambda rows: "\n".join(json.dumps(r) for r in rows).encode()),
    st.text(alphabet=st.sampled_from("generated,ref\n\"\x00é/.a\r"), max_size=120).map(str.encode),
), suffix=st.sampled_from([".csv", ".jsonl", ".json", ".txt"]))
def test_any_bytes_give_a_manifest_or_exit_3(tmp_path, content, suffix):
    path = tmp_path / f"m{suffix}"
    path.write_bytes(content)
    try:
        items = read_manifest(path)
    except TheadError as exc:
        assert exc.exit_code == 3 and str(path) in exc.message
    else:
        assert items and all(isinstance(i, Item) and (i.error is None or i.error.exit_code == 3) for i in items)
