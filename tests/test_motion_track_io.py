"""Reading and writing motion tracks: every bad file is a BadInputError (exit 3) naming the file and the field."""

from __future__ import annotations

import io
import json
import pathlib
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from thead.errors import BadInputError, TheadError
from thead.motion.spaces import HINT, SPACES, get_space
from thead.motion.track import FORMAT, VERSION, MotionTrack

FRAMES = 4


def valid_channels(space: str = "landmarks", frames: int = FRAMES) -> dict[str, np.ndarray]:
    """Channels of a valid track of ``space`` (values inside every bound)."""
    schema = get_space(space)
    rng = np.random.default_rng(1)
    channels = {}
    for channel in schema.channels:
        low, high = channel.bounds
        values = rng.uniform(max(low, -1.0), min(high, 1.0), (frames, *channel.shape))
        channels[channel.name] = values.astype(np.float32)
    return channels


def header(**changes: str | None) -> dict[str, str]:
    """A valid safetensors header with ``changes`` applied (None removes a key)."""
    fields = {"format": FORMAT, "version": str(VERSION), "fps": "25.0", "space": "landmarks", "metadata": "{}"}
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not None}


def write(path: Path, channels: dict[str, np.ndarray], fields: dict[str, str]) -> Path:
    if path.suffix == ".npz":
        with open(path, "wb") as handle:
            np.savez(handle, **channels, __header__=np.array(json.dumps(fields)))
    else:
        save_file(channels, str(path), metadata=fields)
    return path


def _valid_bytes(tmp_path: Path) -> bytes:
    path = write(tmp_path / "ok.motion.safetensors", valid_channels(), header())
    return path.read_bytes()


def _with(**replace: np.ndarray | None) -> dict[str, np.ndarray]:
    channels = valid_channels()
    for name, value in replace.items():
        if value is None:
            del channels[name]
        else:
            channels[name] = value
    return channels


def _huge_header(tmp_path: Path) -> bytes:
    return struct.pack("<Q", 2**60) + b"{}"


def _bad_offset(tmp_path: Path) -> bytes:
    yaw = {"dtype": "F32", "shape": [FRAMES], "data_offsets": [0, 1 << 20]}  # 1 MiB of data in a 16-byte file
    text = json.dumps({"__metadata__": header(), "yaw": yaw})
    return struct.pack("<Q", len(text)) + text.encode() + b"\0" * 16


# (name, file bytes or (channels, header), words the error must contain)
def _npy_header_cut_short(tmp_path: Path) -> bytes:
    """An npz whose member's array header ends inside a parenthesis (numpy's tokenizer fails: found by hypothesis)."""
    text = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4,"
    text += b" " * (53 - len(text)) + b"\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("__header__.npy", b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + bytes(16))
    return buffer.getvalue()


BYTE_CASES = {
    "empty": (lambda tmp: b"", "not a readable motion track"),
    "truncated": (lambda tmp: _valid_bytes(tmp)[:200], "not a readable motion track (SafetensorError: "),
    "random bytes": (lambda tmp: np.random.default_rng(0).bytes(4096), "not a readable motion track"),
    "huge header": (_huge_header, "not a readable motion track"),
    "bad offset": (_bad_offset, "not a readable motion track"),
    "npy header cut short": (_npy_header_cut_short, "not a readable motion track"),
}
HEADER_CASES = {
    "no format": (header(format=None), "not a thead motion track"),
    "foreign format": (header(format="other.tool"), "not a thead motion track"),
    "fps 0": (header(fps="0"), "fps"),
    "fps negative": (header(fps="-25"), "fps"),
    "fps abc": (header(fps="abc"), "fps 'abc' is not a number"),
    "fps missing": (header(fps=None), "fps"),
    "fps nan": (header(fps="nan"), "fps nan"),
    "fps inf": (header(fps="inf"), "fps inf"),
    "fps huge": (header(fps="1e9"), "outside 1..240"),
    "version one": (header(version="one"), "version 'one'"),
    "version missing": (header(version=None), "version None"),
    "version zero": (header(version="0"), "version 0"),
    "version newer": (header(version=str(VERSION + 1)), f"version {VERSION + 1}; this thead reads up to {VERSION}"),
    "metadata not json": (header(metadata="{not json"), "metadata is not a JSON object"),
    "metadata a list": (header(metadata="[1, 2]"), "metadata is not a JSON object"),
    "unknown space": (header(space="klingon"), "unknown motion space 'klingon'"),
}
CHANNEL_CASES = {
    "lengths differ": (_with(yaw=np.zeros(FRAMES + 1, np.float32)),
                       "differ in length: 'yaw' has 5 frames, 'pitch' has 4"),
    "missing yaw": (_with(yaw=None), "missing channel(s) yaw"),
    "missing expression": (_with(expression=None), "missing channel(s) expression"),
    "unknown channel": (_with(tail=np.zeros(FRAMES, np.float32)), "unknown channel(s) tail"),
    "wrong inner shape": (_with(expression=np.zeros((FRAMES, 68, 3), np.float32)),
                          "channel 'expression' has shape [4, 68, 3]"),
    "scalar per track": (_with(gaze=np.zeros(FRAMES, np.float32)), "channel 'gaze' has shape [4]"),
    "zero frames": ({name: value[:0] for name, value in valid_channels().items()}, "no frames"),
    "bool dtype": (_with(valid=np.ones(FRAMES, bool)), "channel 'valid' has dtype bool"),
    "int dtype": (_with(yaw=np.zeros(FRAMES, np.int32)), "channel 'yaw' has dtype int32"),
    "float64 dtype": (_with(yaw=np.zeros(FRAMES, np.float64)), "channel 'yaw' has dtype float64"),
    "nan values": (_with(yaw=np.full(FRAMES, np.nan, np.float32)), "channel 'yaw' holds NaN or infinite"),
    "inf values": (_with(expression=np.full((FRAMES, 478, 3), np.inf, np.float32)), "channel 'expression' holds NaN"),
    "3e38 values": (_with(pitch=np.full(FRAMES, 3e38, np.float32)), "channel 'pitch' has values in [3e+38"),
    "valid above 1": (_with(valid=np.full(FRAMES, 2.0, np.float32)), "outside [0, 1]"),
}


@pytest.mark.parametrize("name", BYTE_CASES)
@pytest.mark.parametrize("suffix", [".motion.safetensors", ".npz"])
def test_unreadable_bytes_are_bad_input(tmp_path, name, suffix):
    make, words = BYTE_CASES[name]
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(make(tmp_path))
    with pytest.raises(BadInputError, match=str(path)) as error:
        MotionTrack.load(path)
    assert error.value.exit_code == 3 and error.value.hint == HINT
    if suffix != ".npz":  # numpy words its own failures
        assert words in error.value.message


@pytest.mark.parametrize("name", HEADER_CASES)
@pytest.mark.parametrize("suffix", [".motion.safetensors", ".npz"])
def test_bad_headers_are_refused_naming_the_field(tmp_path, name, suffix):
    fields, words = HEADER_CASES[name]
    path = write(tmp_path / f"bad{suffix}", valid_channels(), fields)
    with pytest.raises(BadInputError) as error:
        MotionTrack.load(path)
    assert str(path) in error.value.message and words in error.value.message, error.value.message
    assert error.value.hint == ("upgrade thead" if name == "version newer" else HINT)


@pytest.mark.parametrize("name", CHANNEL_CASES)
@pytest.mark.parametrize("suffix", [".motion.safetensors", ".npz"])
def test_bad_channels_are_refused_naming_the_channel(tmp_path, name, suffix):
    channels, words = CHANNEL_CASES[name]
    path = write(tmp_path / f"bad{suffix}", channels, header())
    with pytest.raises(BadInputError) as error:
        MotionTrack.load(path)
    assert str(path) in error.value.message and words in error.value.message, error.value.message
    assert error.value.hint == HINT


def test_string_channel_in_npz_is_refused(tmp_path):
    path = write(tmp_path / "s.npz", _with(yaw=np.array(["a"] * FRAMES)), header())
    with pytest.raises(BadInputError, match="channel 'yaw' has dtype <U1"):
        MotionTrack.load(path)


class _Payload:
    """Unpickling this touches a marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


@pytest.mark.parametrize("member", ["__header__", "yaw"])
def test_pickled_npz_is_refused_without_unpickling(tmp_path, member):
    marker = tmp_path / "unpickled"
    channels = valid_channels()
    fields = np.array(json.dumps(header()))
    arrays = {**channels, "__header__": fields, member: np.array([_Payload(marker)] * FRAMES, dtype=object)}
    with open(tmp_path / "p.npz", "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(BadInputError, match="holds pickled \\(object\\) arrays, which thead never loads") as error:
        MotionTrack.load(tmp_path / "p.npz")
    assert not marker.exists()
    assert error.value.hint == "save motion channels as float32 arrays"


@pytest.mark.parametrize(("raw", "words"), [
    (np.array(7), "__header__ is not a JSON string"),
    (np.array([json.dumps(header())]), "__header__ is not a JSON string"),  # a list of strings, not one
    (np.array("[1, 2]"), "__header__ is not a JSON object of strings"),
    (np.array(json.dumps({**header(), "fps": 25})), "__header__ is not a JSON object of strings"),
])
def test_npz_header_must_be_one_json_object_of_strings(tmp_path, raw, words):
    with open(tmp_path / "h.npz", "wb") as handle:
        np.savez(handle, **valid_channels(), __header__=raw)
    with pytest.raises(BadInputError, match=f"^{tmp_path / 'h.npz'}: {words}$") as error:
        MotionTrack.load(tmp_path / "h.npz")
    assert error.value.hint == HINT


def test_metadata_is_optional_and_saved_in_a_stable_order(tmp_path):
    path = write(tmp_path / "m.motion.safetensors", valid_channels(), header(metadata=None))
    assert MotionTrack.load(path).metadata == {}
    MotionTrack(25.0, "landmarks", valid_channels(), {"a": "1", "b": "2"}).save(tmp_path / "ab.motion.safetensors")
    MotionTrack(25.0, "landmarks", valid_channels(), {"b": "2", "a": "1"}).save(tmp_path / "ba.motion.safetensors")
    from safetensors import safe_open

    stored = []
    for name in ("ab", "ba"):
        with safe_open(str(tmp_path / f"{name}.motion.safetensors"), framework="numpy") as handle:
            stored.append(handle.metadata()["metadata"])
    assert stored == ['{"a": "1", "b": "2"}'] * 2


def test_a_track_without_channels_has_no_frames():
    assert len(MotionTrack(25.0, "landmarks", {})) == 0
    with pytest.raises(BadInputError, match="^motion track: missing channel") as error:
        MotionTrack(25.0, "landmarks", {}).validate()
    assert error.value.hint == HINT


@pytest.mark.parametrize("suffix", [".motion.safetensors", ".npz"])
@pytest.mark.parametrize("space", sorted(SPACES))
def test_valid_tracks_roundtrip_exactly(tmp_path, suffix, space):
    track = MotionTrack(240.0, space, valid_channels(space), {"note": "ü ✓"})
    track.save(tmp_path / f"t{suffix}")
    loaded = MotionTrack.load(tmp_path / f"t{suffix}")
    assert (loaded.fps, loaded.space, loaded.metadata) == (240.0, space, {"note": "ü ✓"})
    assert loaded.channels.keys() == track.channels.keys()
    for name, value in track.channels.items():
        np.testing.assert_array_equal(loaded[name], value)


@pytest.mark.parametrize("fps", [0.0, -1.0, float("nan"), float("inf"), 241.0, "25"])
def test_construction_refuses_bad_fps(fps):
    with pytest.raises(BadInputError, match="^motion track: fps ") as error:
        MotionTrack(fps, "landmarks", valid_channels())
    assert error.value.hint == HINT


@pytest.mark.parametrize("suffix", [".motion.safetensors", ".npz"])
def test_save_refuses_an_incomplete_track_and_writes_nothing(tmp_path, suffix):
    track = MotionTrack(25.0, "liveportrait", {"lp_yaw": np.zeros(3, np.float32)})
    missing = f"^motion track for {tmp_path}/t{suffix}: missing channel\\(s\\) yaw, pitch"
    with pytest.raises(TheadError, match=missing) as error:
        track.save(tmp_path / f"t{suffix}")
    assert error.value.exit_code == 3 and not (tmp_path / f"t{suffix}").exists()
    edited = MotionTrack(25.0, "landmarks", valid_channels())
    edited.channels["yaw"] *= np.nan  # edited in NumPy after construction, as the README shows
    with pytest.raises(BadInputError, match="channel 'yaw' holds NaN"):
        edited.save(tmp_path / f"n{suffix}")
    assert not (tmp_path / f"n{suffix}").exists()


@pytest.mark.parametrize("suffix", [".motion.safetensors", ".npz"])
def test_save_replaces_a_file_whole_with_the_permissions_the_umask_gives(tmp_path, monkeypatch, suffix):
    import os
    import stat

    path = tmp_path / f"t{suffix}"
    previous = os.umask(0o022)
    try:
        MotionTrack(25.0, "landmarks", valid_channels()).save(path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    monkeypatch.setattr("safetensors.numpy.save_file", full_disk)
    with pytest.raises(TheadError, match=f"cannot write {path}"):
        MotionTrack(25.0, "landmarks", valid_channels()).save(path)
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]  # the old file whole, no leftovers


# --- property tests: whatever the bytes, a valid track or a TheadError with exit code 3 ---------------------------

def _load_or_bad_input(path: Path) -> MotionTrack | None:
    try:
        track = MotionTrack.load(path)
    except TheadError as error:
        assert error.exit_code == 3 and str(path) in error.message
        return None
    track.validate()
    return track


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".motion.safetensors", ".npz"]))
def test_any_bytes_load_or_fail_cleanly(tmp_path, data, suffix):
    path = tmp_path / f"any{suffix}"
    path.write_bytes(data)
    assert _load_or_bad_input(path) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=64), offset=st.integers(0, 4096),
       suffix=st.sampled_from([".motion.safetensors", ".npz"]))
def test_corrupted_valid_files_load_or_fail_cleanly(tmp_path, data, offset, suffix):
    path = write(tmp_path / f"c{suffix}", valid_channels(frames=2), header())
    raw = bytearray(path.read_bytes())
    offset %= len(raw)
    raw[offset:offset + len(data)] = data
    path.write_bytes(bytes(raw))
    _load_or_bad_input(path)


TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["1", "2", "25", "nan", "-inf", "1e309", "{}", "[]", "landmarks",
                                                         "liveportrait", FORMAT]))
DTYPES = st.sampled_from([np.float32, np.float32, np.float64, np.float16, np.int8, np.int64, np.bool_, np.uint8])
VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.sampled_from([0.0, 0.5, 3e38]))


@st.composite
def structured_tracks(draw):
    space = draw(st.sampled_from(sorted(SPACES)))
    schema = get_space(space)
    frames = draw(st.integers(0, 3))
    channels = {}
    for channel in schema.channels:
        if draw(st.integers(0, 20)) == 0:
            continue  # a missing channel, now and then
        shape = channel.shape if draw(st.integers(0, 10)) else (draw(st.integers(0, 3)),)
        length = frames if draw(st.integers(0, 10)) else frames + 1
        fill = draw(VALUES) if draw(st.booleans()) else None
        values = valid_channels(space, length)[channel.name] if shape == channel.shape else np.zeros((length, *shape))
        if fill is not None:
            values = np.full_like(values, fill)
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf/3e38 cast to integers: garbage on purpose
            channels[channel.name] = values.astype(draw(DTYPES))
    fields = {key: draw(TEXT) if draw(st.integers(0, 3)) == 0 else value
              for key, value in header(space=space).items() if draw(st.integers(0, 15))}
    return channels, fields


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(track=structured_tracks(), suffix=st.sampled_from([".motion.safetensors", ".npz"]))
def test_structurally_valid_files_load_or_fail_cleanly(tmp_path, track, suffix):
    channels, fields = track
    path = write(tmp_path / f"s{suffix}", channels, fields)
    loaded = _load_or_bad_input(path)
    if loaded is not None:
        assert all(value.dtype == np.float32 and np.isfinite(value).all() for value in loaded.channels.values())
        assert 1 <= loaded.fps <= 240 and len(loaded) >= 1


# --- the installed command: one error line naming the file, exit 3, no output ----------------------------------------

CLI_CASES = {
    "truncated": lambda tmp: (tmp / "bad.motion.safetensors").write_bytes(_valid_bytes(tmp)[:200]),
    "fps abc": lambda tmp: write(tmp / "bad.motion.safetensors", valid_channels(), header(fps="abc")),
    "nan values": lambda tmp: write(tmp / "bad.motion.safetensors", _with(yaw=np.full(FRAMES, np.nan, np.float32)),
                                    header()),
    "missing yaw": lambda tmp: write(tmp / "bad.motion.safetensors", _with(yaw=None), header()),
    "newer version": lambda tmp: write(tmp / "bad.motion.safetensors", valid_channels(), header(version="2")),
    "foreign safetensors": lambda tmp: save_file({"weight": np.zeros((2, 2), np.float32)},
                                                 str(tmp / "bad.motion.safetensors")),
}


@pytest.mark.parametrize("name", CLI_CASES)
def test_drive_video_refuses_bad_tracks_with_exit_3(tmp_path, shared, name):
    portrait = shared / "media" / "portraits" / "lp_s0.jpg"
    CLI_CASES[name](tmp_path)
    bad, out = tmp_path / "bad.motion.safetensors", tmp_path / "render" / "out.mp4"
    out.parent.mkdir()
    thead = Path(sys.executable).with_name("thead")
    done = subprocess.run([str(thead), "drive-video", str(portrait), str(bad), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 3, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0], done.stderr
    assert list(out.parent.iterdir()) == []  # no output, no temporary file left
