"""--lips-closed on a talking clip, and clamping of requests beyond what the warp backend renders well."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _cli import run_cli

from thead.face import FaceTracker, geometry
from thead.io.image import read_image, write_image
from thead.io.video import open_video
from thead.motion.frame_edit import FrameEdit
from thead.pipelines.edit import EditSchedule, edit


def _track(path) -> tuple[np.ndarray, np.ndarray]:
    """Per frame (mouth openness, yaw) measured on a video."""
    with FaceTracker() as tracker:
        points = [tracker.track(frame).points for frame in open_video(path)]
    return (np.array([geometry.mouth_openness(p) for p in points]),
            np.array([geometry.estimate_head_pose(p).yaw for p in points]))


@pytest.mark.media
def test_lips_closed_silences_a_talking_clip_and_keeps_the_head(capsys, monkeypatch, tmp_path, shared):
    clip = shared / "media/talking/grid_swwp2s.mpg"
    if not clip.is_file():
        pytest.skip("grid_swwp2s.mpg missing from ../shared/media/talking")
    out = tmp_path / "silent.mp4"
    code, stdout, err = run_cli(capsys, monkeypatch, "edit", clip, "--lips-closed", "-o", out, "--json")
    assert code == 0, err
    assert json.loads(stdout)["frames"] == 75
    talking_mouth, talking_yaw = _track(clip)
    silent_mouth, silent_yaw = _track(out)
    assert np.percentile(talking_mouth, 90) > 0.25
    assert np.percentile(silent_mouth, 90) < 0.6 * np.percentile(talking_mouth, 90)
    assert silent_mouth.mean() < 0.6 * talking_mouth.mean()
    assert np.abs(silent_yaw - talking_yaw).max() < 2.5  # the head moves as in the clip


def test_lips_closed_with_mouth_is_a_usage_error(capsys, monkeypatch, tmp_path, astronaut):
    portrait = tmp_path / "p.png"
    write_image(portrait, astronaut)
    code, _, err = run_cli(capsys, monkeypatch, "edit", portrait, "--lips-closed", "--mouth", "0.3", "-o", tmp_path / "o.png")
    assert code == 2 and "--lips-closed" in err


def test_requests_beyond_the_warp_limits_are_clamped_with_a_warning(capsys, monkeypatch, tmp_path, astronaut):
    portrait = tmp_path / "p.png"
    write_image(portrait, astronaut)
    clamped, limit = tmp_path / "clamped.png", tmp_path / "limit.png"
    code, stdout, err = run_cli(capsys, monkeypatch, "edit", portrait, "--yaw", "40", "--mouth", "0.95", "-o", clamped,
                                "--json")
    assert code == 0, err
    warnings = json.loads(stdout)["warnings"]
    assert len(warnings) == 2
    assert "yaw 40°" in warnings[0] and "-25° to 25°" in warnings[0] and "clamped to 25°" in warnings[0]
    assert "mouth 0.95" in warnings[1] and "clamped to 0.7" in warnings[1]
    assert "clamped to 25°" in err  # also on stderr
    result = edit(portrait, limit, EditSchedule(FrameEdit(yaw=25, mouth=0.7)))
    assert result.warnings == []
    assert np.array_equal(read_image(clamped), read_image(limit))


def test_clamped_keyframes_warn_once(tmp_path, astronaut):
    portrait = tmp_path / "p.png"
    write_image(portrait, astronaut)
    schedule = EditSchedule(keyframes=((0.0, FrameEdit(pitch=-30)), (0.2, FrameEdit(pitch=-30)), (0.4, FrameEdit(pitch=5))))
    seen = []

    class Notes:
        def info(self, message):
            pass

        def warn(self, message):
            seen.append(message)

        def progress(self, items, total, description):
            return iter(items)

    result = edit(portrait, tmp_path / "o.mp4", schedule, fps=10, duration=0.5, reporter=Notes())
    assert seen == result.warnings and len(seen) == 1 and "pitch -30°" in seen[0] and "clamped to -20°" in seen[0]
