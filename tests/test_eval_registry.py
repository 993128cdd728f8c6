"""thead.registry: lazy name -> class lookup shared by metrics and backends, with helpful usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from thead.errors import UsageError
from thead.metrics import parse_metric_list
from thead.registry import Registry

REGISTRY = Registry("codec", {"gzip": "gzip:GzipFile", "bz2": "bz2:BZ2File"}, extra={"lzma-raw": "lzma:LZMAFile"},
                    aliases={"gz": "gzip"})


def test_lookup_by_name_alias_and_any_case():
    import bz2
    import gzip
    import lzma

    assert REGISTRY.get("gzip") is gzip.GzipFile and REGISTRY.get(" GZ ") is gzip.GzipFile
    assert REGISTRY.get("BZ2") is bz2.BZ2File and REGISTRY.get("lzma-raw") is lzma.LZMAFile
    assert REGISTRY.names() == ["gzip", "bz2"] and REGISTRY.names(extra=True) == ["gzip", "bz2", "lzma-raw"]
    assert "GZ" in REGISTRY and "lzma-raw" in REGISTRY and "zip" not in REGISTRY and 3 not in REGISTRY
    assert REGISTRY.canonical("Gz") == "gzip"


def test_unknown_names_list_the_known_ones_and_suggest_the_nearest():
    with pytest.raises(UsageError) as info:
        REGISTRY.get("gzp")
    assert info.value.exit_code == 2 and info.value.message == "unknown codec 'gzp'"
    assert info.value.hint == "did you mean 'gzip'? choose from: gzip, bz2, lzma-raw"
    with pytest.raises(UsageError) as info:
        REGISTRY.get("zstd")
    assert info.value.hint == "choose from: gzip, bz2, lzma-raw"


def test_an_alias_must_point_at_an_entry():
    with pytest.raises(ValueError, match="alias 'x' points at unknown 'y'"):
        Registry("codec", {"gzip": "gzip:GzipFile"}, aliases={"x": "y"})


def test_metric_names_from_a_string_or_a_list():
    assert parse_metric_list(["SSIM", "lse-c", "ssim", " "]) == ["ssim", "sync"]
    with pytest.raises(UsageError) as info:
        parse_metric_list("ssim,lpisp")
    assert info.value.message == "unknown metric 'lpisp'" and info.value.hint.startswith("did you mean 'lpips'? ")
    assert info.value.hint.endswith("lmd-dlib, akd-dlib (or 'all')")
    with pytest.raises(UsageError, match="no metrics given"):
        parse_metric_list(" , ")


def test_metric_classes_are_imported_only_when_asked_for():
    code = ("import sys; from thead.metrics import REGISTRY; assert 'thead.metrics.lpips' not in sys.modules; "
            "REGISTRY.get('lpips'); assert 'thead.metrics.lpips' in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
