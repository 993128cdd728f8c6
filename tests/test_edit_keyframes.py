"""Keyframe files: schema validation naming the key path, per-channel curves, easing, rendered timing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _cli import run_cli

from thead.errors import BadInputError
from thead.face import FaceTracker, analyze_image, geometry
from thead.io.image import write_image
from thead.io.video import open_video
from thead.motion.frame_edit import FrameEdit
from thead.motion.keyframes import EASE_IN_SECONDS, Keyframe, keyframe_steps, load_keyframes


def _values(keys, t: float) -> dict[str, tuple[float, float]]:
    """channel -> (value, weight) of the keyframed steps at ``t``."""
    out = {}
    for edit, weight in keyframe_steps(keys, t):
        for name in ("yaw", "eyes", "mouth", "gaze", "smile"):
            if getattr(edit, name) is not None:
                out[name] = (getattr(edit, name), weight)
        for name, strength in edit.expressions:
            out[name] = (strength, weight)
    return out


def test_a_channel_first_keyed_later_leaves_the_input_alone_until_then():
    keys = (Keyframe(0.0, FrameEdit(yaw=0.0)), Keyframe(1.0, FrameEdit(yaw=10.0)), Keyframe(2.0, FrameEdit(eyes=0.0)))
    assert "eyes" not in _values(keys, 0.0) and "eyes" not in _values(keys, 1.0)  # eyes as the input has them
    assert _values(keys, 1.5)["eyes"] == (0.0, 0.5)  # easing in from the previous keyframe ...
    assert _values(keys, 2.0)["eyes"] == (0.0, 1.0)  # ... reaching the key on time
    assert _values(keys, 5.0)["eyes"] == (0.0, 1.0) and _values(keys, 5.0)["yaw"] == (10.0, 1.0)  # held after
    assert _values(keys, 0.5)["yaw"] == (5.0, 1.0)


def test_the_first_keyframe_of_a_file_eases_in_over_a_short_ramp():
    keys = (Keyframe(2.0, FrameEdit(eyes=0.0)),)
    assert _values(keys, 2.0 - 1.5 * EASE_IN_SECONDS) == {}
    assert _values(keys, 2.0 - 0.5 * EASE_IN_SECONDS)["eyes"] == (0.0, pytest.approx(0.5))


@pytest.mark.parametrize("ease, expected", [("linear", 5.0), ("in", 2.5), ("out", 7.5), ("in-out", 5.0), ("hold", 0.0)])
def test_easing_shapes_the_segment_arriving_at_a_key(ease, expected):
    keys = (Keyframe(0.0, FrameEdit(yaw=0.0)), Keyframe(2.0, FrameEdit(yaw=10.0), ease))
    assert _values(keys, 1.0)["yaw"][0] == pytest.approx(expected)
    assert _values(keys, 2.0)["yaw"][0] == pytest.approx(10.0)
    if ease == "in-out":
        assert _values(keys, 0.5)["yaw"][0] == pytest.approx(10.0 * (0.25**2 * (3 - 0.5)))


def test_a_valid_file_parses_every_channel(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keyframes": [
        {"t": 1.0, "yaw": -5, "pitch": 3, "roll": 2, "smile": 0.5, "ease": "in-out"},
        {"t": 0.0, "eyes": 0.2, "mouth": 0.3, "gaze": [0.1, -0.2], "expression": {"happy": 0.8}},
    ]}))
    first, second = load_keyframes(path)
    assert first == Keyframe(0.0, FrameEdit(eyes=0.2, mouth=0.3, gaze=(0.1, -0.2), expressions=(("happy", 0.8),)))
    assert second == Keyframe(1.0, FrameEdit(yaw=-5.0, pitch=3.0, roll=2.0, smile=0.5), "in-out")
    assert _values((first, second), 3.0)["happy"] == (0.8, 1.0)


@pytest.mark.parametrize("content, message", [
    ([{"t": 0, "yaw": 1}, {"t": 1, "yaw": 2}, {"t": 2, "gaze": [0.1]}], "keys.json: keyframes[2].gaze: expected [x, y] numbers"),
    ([{"t": 0, "nod": 3}], "keys.json: keyframes[0].nod: unknown channel"),
    ([{"yaw": 3}], "keys.json: keyframes[0]: missing \"t\""),
    ([{"t": -1, "yaw": 3}], "keys.json: keyframes[0].t: -1 is outside 0..inf"),
    ([{"t": 0, "yaw": "left"}], "keys.json: keyframes[0].yaw: expected a number, got \"left\""),
    ([{"t": 0, "eyes": -0.1}], "keys.json: keyframes[0].eyes: -0.1 is outside 0..inf"),
    ([{"t": 0, "yaw": 1, "ease": "bounce"}], "keys.json: keyframes[0].ease: expected one of linear, in, out, in-out, hold"),
    ([{"t": 0, "expression": {"smug": 1}}], "keys.json: keyframes[0].expression.smug: unknown expression"),
    ([{"t": 0, "expression": {"happy": 2}}], "keys.json: keyframes[0].expression.happy: 2 is outside 0..1"),
    ([{"t": 0}], "keys.json: keyframes[0]: sets no channel"),
    ([], "keys.json: keyframes: expected a non-empty list"),
    ({"frames": []}, "keys.json: top level: expected a list of keyframes"),
])
def test_invalid_files_name_the_key_path(tmp_path, content, message):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(content))
    with pytest.raises(BadInputError) as caught:
        load_keyframes(path)
    assert caught.value.message.startswith(message)


def test_a_bad_file_exits_3_and_a_still_output_for_timed_edits_exits_2(capsys, monkeypatch, tmp_path, astronaut):
    portrait = tmp_path / "p.png"
    write_image(portrait, astronaut)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{"t": 0, "gaze": "up"}]))
    code, _, err = run_cli(capsys, monkeypatch, "edit", portrait, "--keyframes", keys, "-o", tmp_path / "o.mp4")
    assert code == 3 and "keys.json: keyframes[0].gaze: expected [x, y] numbers" in err
    keys.write_text(json.dumps([{"t": 0, "yaw": 5}]))
    for extra in (["--keyframes", keys], ["--blink", "0.5"], ["--yaw", "5", "--from", "1"]):
        out = tmp_path / "o.png"
        code, _, err = run_cli(capsys, monkeypatch, "edit", portrait, *extra, "-o", out)
        assert code == 2 and "--duration" in err and ".mp4" in err and not out.exists()


def test_eyes_keyed_late_stay_open_until_then_in_the_rendered_video(capsys, monkeypatch, tmp_path, astronaut):
    portrait = tmp_path / "p.png"
    write_image(portrait, astronaut)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{"t": 0, "yaw": 0}, {"t": 0.6, "yaw": 0}, {"t": 1.0, "eyes": 0.0, "ease": "in"}]))
    out = tmp_path / "eyes.mp4"
    code, _, err = run_cli(capsys, monkeypatch, "edit", portrait, "--keyframes", keys, "--fps", "10", "--duration", "1.3",
                           "-o", out)
    assert code == 0, err
    with FaceTracker() as tracker:
        eyes = np.array([np.mean(geometry.eye_openness(tracker.track(f).points)) for f in open_video(out)])
    source = np.mean(geometry.eye_openness(analyze_image(astronaut).points))
    assert len(eyes) == 13
    assert eyes[:7].min() > 0.85 * source  # as open as the input up to 0.6 s
    assert eyes[10:].max() < 0.5 * source  # shut from 1.0 s
