"""Motion track format, gap filling, smoothing and edits."""

from __future__ import annotations

import numpy as np
import pytest

from thead.errors import BadInputError, NoFaceError
from thead.face import analyze_image, geometry
from thead.motion import edits
from thead.motion.extract import face_motion, fill_gaps, motion_from_points
from thead.motion.procedural import blink_curve, head_sway
from thead.motion.smooth import smooth_track
from thead.motion.spaces import HINT, get_space
from thead.motion.track import MotionTrack, is_motion_path


def _track(frames: int = 5) -> MotionTrack:
    rng = np.random.default_rng(0)
    channels = {name: np.tile(value, (frames,) + (1,) * np.ndim(value))
                for name, value in get_space("liveportrait").rest_frame().items() if not name.startswith("lp_")}
    channels["yaw"] = rng.normal(size=frames).astype(np.float32)
    channels["expression"] = rng.normal(size=(frames, 478, 3)).astype(np.float32)
    return MotionTrack(fps=29.97, space="landmarks", channels=channels, metadata={"backend": "warp"})


@pytest.mark.parametrize("name", ["m.motion.safetensors", "m.npz"])
def test_track_roundtrip(tmp_path, name):
    track = _track()
    track.save(tmp_path / name)
    loaded = MotionTrack.load(tmp_path / name)
    assert loaded.fps == pytest.approx(29.97) and loaded.space == "landmarks" and len(loaded) == 5
    assert loaded.metadata == {"backend": "warp"}
    np.testing.assert_array_equal(loaded["expression"], track["expression"])
    assert is_motion_path(tmp_path / name)


def test_track_refuses_foreign_files(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(BadInputError, match="x.npz"):
        MotionTrack.load(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", a=np.zeros(3))
    with pytest.raises(BadInputError, match="y.npz is not a thead motion track \\(no __header__ entry\\)") as error:
        MotionTrack.load(tmp_path / "y.npz")
    assert error.value.hint == HINT


def test_channels_must_agree_in_length():
    with pytest.raises(BadInputError, match="differ in length: {'a': 3, 'b': 4}") as error:
        MotionTrack(25.0, "landmarks", {"a": np.zeros(3), "b": np.zeros(4)})
    assert error.value.hint == "give every channel one value per frame"


def test_fill_gaps_interpolates_and_holds():
    points = [None, np.full((2, 3), 1.0), None, np.full((2, 3), 3.0), None]
    filled, valid = fill_gaps(points)
    assert filled[:, 0, 0].tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert valid.tolist() == [False, True, False, True, False]
    with pytest.raises(NoFaceError):
        fill_gaps([None, None])


def test_smoothing_reduces_jitter_but_keeps_blinks():
    rng = np.random.default_rng(0)
    still = rng.normal(0, 0.015, (200, 1))
    assert np.std(smooth_track(still, 25.0, 0.5)) < 0.5 * np.std(still)
    pulse = np.zeros((200, 1))
    pulse[100:104] = 0.3  # a 160 ms eyelid movement
    assert smooth_track(pulse, 25.0, 0.5).max() > 0.25
    assert np.array_equal(smooth_track(still, 25.0, 0.0), still.astype(np.float32))


def test_motion_from_points_matches_geometry(astronaut):
    points = analyze_image(astronaut).points
    track = motion_from_points(np.stack([points] * 4), 25.0, smooth=0.5)
    assert track.space == "landmarks" and len(track) == 4
    pose = geometry.estimate_head_pose(points)
    expected = geometry.mouth_openness(geometry.canonicalize(points, pose))
    np.testing.assert_allclose(track["mouth_open"], expected, rtol=1e-4)
    assert abs(expected - geometry.mouth_openness(points)) < 0.02  # a frontal face: pose-free ≈ image measure
    assert track["expression"].shape == (4, 478, 3)


def test_edits_hit_their_targets(astronaut):
    frame = face_motion(analyze_image(astronaut).points)
    assert edits.set_eyes(frame, 0.05)["eye_open"] == pytest.approx([0.05, 0.05], abs=0.01)
    assert float(edits.set_mouth(frame, 0.6)["mouth_open"]) == pytest.approx(0.6, abs=0.03)
    assert edits.set_gaze(frame, 0.3, -0.1)["gaze"] == pytest.approx([0.3, -0.1], abs=0.02)
    smiled = edits.add_smile(frame, 1.0)["expression"]
    assert smiled[61, 0] < frame["expression"][61, 0] and smiled[291, 0] > frame["expression"][291, 0]
    assert smiled[61, 1] < frame["expression"][61, 1]  # corners go up (y down)


def test_procedural_curves():
    blinks = blink_curve(25 * 60, 25.0, rate_per_minute=15, seed=0)
    onsets = np.flatnonzero((blinks[1:] > 0.5) & (blinks[:-1] <= 0.5))
    assert 8 <= len(onsets) <= 24
    sway = head_sway(250, 25.0, amplitude_deg=6.0)
    assert np.allclose(sway[0], 0.0, atol=1e-6) and np.abs(sway).max() < 12
    amplitude = sway.max(axis=0) - sway.min(axis=0)  # peak-to-peak over 10 s, per yaw, pitch, roll
    assert amplitude[0] > 3.0 and amplitude[0] > amplitude[1] > amplitude[2] > 0.5
    assert np.abs(np.diff(sway, axis=0)).max() < 1.0  # smooth: under 1 degree per frame
    doubled = head_sway(250, 25.0, amplitude_deg=12.0)
    np.testing.assert_allclose(doubled, 2 * sway, rtol=1e-5, atol=1e-5)
