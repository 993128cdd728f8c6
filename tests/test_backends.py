"""Every registered backend honours the contract; options parse from the command line."""

from __future__ import annotations

import pytest

from thead.backends import BACKENDS, backend_options, get_backend_class, parse_options
from thead.backends.base import Backend
from thead.errors import UsageError


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_registered_backend_declares_its_contract(name):
    cls = get_backend_class(name)
    assert issubclass(cls, Backend) and cls.name == name
    assert cls.space and cls.tasks <= {"drive-video", "drive-audio", "edit"} and "drive-video" in cls.tasks
    assert isinstance(cls.weights, tuple) and cls.licence
    assert not cls.__abstractmethods__  # implements extract_motion, prepare_source, source_motion, render


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_backend_options_round_trip(name):
    for key, default in backend_options(name).items():
        text = str(default).lower() if isinstance(default, bool) else str(default)
        assert parse_options(name, [f"{key}={text}"]) == {key: default}
    with pytest.raises(UsageError, match="has no option"):
        parse_options(name, ["no_such_option=1"])


def test_liveportrait_options_are_typed():
    assert parse_options("liveportrait", ["stitching=false", "driving-option=pose-friendly"]) == {
        "stitching": False, "driving_option": "pose-friendly"}
    with pytest.raises(UsageError, match="true or false"):
        parse_options("liveportrait", ["stitching=maybe"])


def test_unknown_backend():
    with pytest.raises(UsageError, match="unknown backend"):
        get_backend_class("nope")


def test_motion_spaces_are_documented_in_the_track_format():
    import thead.motion.track as track_format

    for name in BACKENDS:
        assert f"``{get_backend_class(name).space}``" in track_format.__doc__
