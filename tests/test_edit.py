"""thead edit: constant, ranged and keyframed edits, measured on the rendered result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _cli import run_cli

from thead.face import FaceTracker, analyze_image, geometry
from thead.io.image import read_image, write_image
from thead.io.video import open_video
from thead.motion.extract import face_motion
from thead.motion.track import MotionTrack


@pytest.fixture(scope="module")
def portrait(tmp_path_factory, astronaut) -> Path:
    path = tmp_path_factory.mktemp("edit") / "astronaut.png"
    write_image(path, astronaut)
    return path


def _measure(image: np.ndarray) -> dict[str, float]:
    points = analyze_image(image).points
    pose = geometry.estimate_head_pose(points)
    return {"yaw": pose.yaw, "eyes": float(np.mean(geometry.eye_openness(points))),
            "mouth": geometry.mouth_openness(points)}


def test_image_edits_move_what_they_say(capsys, monkeypatch, tmp_path, portrait, astronaut):
    before = _measure(astronaut)
    out = tmp_path / "turned.png"
    assert run_cli(capsys, monkeypatch, "edit", portrait, "--yaw", "15", "-o", out)[0] == 0
    assert _measure(read_image(out))["yaw"] - before["yaw"] > 6  # yaw > 0 turns to the image's left
    out = tmp_path / "closed.png"
    assert run_cli(capsys, monkeypatch, "edit", portrait, "--eyes", "0.05", "--mouth", "0.45", "-o", out)[0] == 0
    after = _measure(read_image(out))
    assert after["eyes"] < 0.5 * before["eyes"]
    assert after["mouth"] > before["mouth"] + 0.06  # re-measured on the painted mouth: below the 0.45 asked


def test_blink_and_time_range_on_a_video_from_an_image(capsys, monkeypatch, tmp_path, portrait, astronaut):
    out = tmp_path / "blink.mp4"
    code, stdout, err = run_cli(capsys, monkeypatch, "edit", portrait, "--blink", "0.6", "--yaw", "12", "--from", "1.2",
                                "--to", "1.6", "--duration", "2", "-o", out, "--json")
    assert code == 0, err
    assert json.loads(stdout)["frames"] == 50
    eyes, yaw = [], []
    with FaceTracker() as tracker:
        for frame in open_video(out):
            points = tracker.track(frame).points
            eyes.append(np.mean(geometry.eye_openness(points)))
            yaw.append(geometry.estimate_head_pose(points).yaw)
    eyes, yaw = np.array(eyes), np.array(yaw)
    assert eyes[15:22].min() < 0.5 * eyes[0]  # blink at 0.6 s (frames 15-21)
    assert eyes[40:].min() > 0.8 * eyes[0]  # open again
    assert abs(yaw[5] - yaw[0]) < 1.5 and yaw[35] - yaw[0] > 5  # turned only inside [1.2, 1.6] s


def test_keyframes(capsys, monkeypatch, tmp_path, portrait):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{"t": 0, "yaw": 0}, {"t": 1.0, "yaw": 14}]))
    out = tmp_path / "keys.mp4"
    assert run_cli(capsys, monkeypatch, "edit", portrait, "--keyframes", keys, "-o", out)[0] == 0
    reader = open_video(out)
    assert reader.frame_count == 75  # at least 3 s
    with FaceTracker() as tracker:
        yaw = [geometry.estimate_head_pose(tracker.track(f).points).yaw for f in reader]
    assert yaw[12] - yaw[0] > 2 and yaw[30] - yaw[0] > 6 and abs(yaw[60] - yaw[30]) < 2


def test_motion_track_edit(capsys, monkeypatch, tmp_path, astronaut):
    base = face_motion(analyze_image(astronaut).points)
    track = MotionTrack(25.0, "landmarks", {k: np.stack([np.asarray(v, np.float32)] * 10) for k, v in base.items()})
    src = tmp_path / "in.motion.safetensors"
    track.save(src)
    out = tmp_path / "out.motion.safetensors"
    assert run_cli(capsys, monkeypatch, "edit", src, "--mouth", "0.5", "-o", out)[0] == 0
    edited = MotionTrack.load(out)
    assert len(edited) == 10 and np.allclose(edited["mouth_open"], 0.5, atol=0.03)


def test_edit_usage_and_input_errors(capsys, monkeypatch, tmp_path, portrait):
    code, _, err = run_cli(capsys, monkeypatch, "edit", portrait, "-o", tmp_path / "x.png")
    assert code == 2 and err.startswith("error: nothing to edit")
    bad = tmp_path / "keys.json"
    bad.write_text("[{\"yaw\": 3}]")
    code, _, err = run_cli(capsys, monkeypatch, "edit", portrait, "--keyframes", bad, "-o", tmp_path / "x.mp4")
    assert code == 3 and "keys.json" in err and not (tmp_path / "x.mp4").exists()
    code, _, err = run_cli(capsys, monkeypatch, "edit", portrait, "--gaze", "left", "-o", tmp_path / "x.png")
    assert code == 2 and "--gaze" in err
