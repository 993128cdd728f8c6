"""The reference frame of relative motion (frame 0) is measured and smoothed like every other frame.

Relative driving moves the source by the driver's change since frame 0, so any error in frame 0
offsets the whole output: a zero-phase filter that pulls frame 0 towards later frames, or a frame 0
measured in the tracker's detection mode while the others come from its tracking mode.
"""

from __future__ import annotations

import numpy as np
import pytest

from thead.face.mesh import FaceTracker
from thead.motion.extract import track_faces
from thead.motion.smooth import one_euro, reflect_ends, smooth_track

FPS = 25.0


def _nod(frames: int = 60) -> np.ndarray:
    """A head that moves 0.03 face sizes per frame for 8 frames from frame 0, then holds (an HDTF-like start)."""
    return np.minimum(np.arange(frames), 8)[:, None] * 0.03


def test_frame_zero_of_a_moving_head_stays_where_it_was_measured():
    nod = _nod()
    for strength in (0.5, 1.0):
        smoothed = smooth_track(nod, FPS, strength)
        assert abs(smoothed[0, 0] - nod[0, 0]) < 0.002, strength  # the head does not sit 0.01+ face sizes off
        assert abs(smoothed[-1, 0] - nod[-1, 0]) < 0.002, strength
    # Without the end reflection the plain forward-backward filter is pulled along: the bug this guards.
    plain = one_euro(one_euro(nod, FPS, 1.5, 5.0)[::-1], FPS, 1.5, 5.0)[::-1]
    assert plain[0, 0] > 0.01


def test_a_straight_line_passes_unchanged_up_to_the_ends():
    line = np.linspace(0.0, 0.6, 50)[:, None] * np.array([1.0, -0.5])
    np.testing.assert_allclose(smooth_track(line, FPS, 0.5), line, atol=2e-3)


def test_ends_are_reflected_through_the_end_frames():
    values = np.array([[1.0], [2.0], [4.0], [7.0]])
    np.testing.assert_array_equal(reflect_ends(values, 2)[:, 0], [-2, 0, 1, 2, 4, 7, 10, 12])


def test_jitter_away_from_the_ends_is_still_cut():
    still = np.random.default_rng(1).normal(0.0, 0.015, (200, 3))
    smoothed = smooth_track(still, FPS, 0.5)
    assert np.std(smoothed[20:-20]) < 0.4 * np.std(still[20:-20])


@pytest.fixture(scope="module")
def first_frames(shared):
    from thead.io.video import read_frames

    return [read_frames(shared / "media/talking" / name, 1)[0] for name in ("grid_pwij3p.mpg", "hdtf_aoc.mp4")]


def _mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm((a - b)[:, :2], axis=1).mean())


def test_a_still_driver_reads_still_from_frame_zero(first_frames):
    # The same picture three times: frame 0 must read like frames 1 and 2 (the tracker's detection mode
    # alone places the mesh 1.1 and 2.8 px away on these frames; tracking mode wanders by about 0.5 px).
    for image in first_frames:
        points = track_faces([image] * 3)
        assert _mean_distance(points[0], points[1]) < 0.75
    with FaceTracker() as tracker:  # the tracker itself still measures its first frame by detection
        detected, tracked = (tracker.track(first_frames[1]).points for _ in range(2))
    assert _mean_distance(detected, tracked) > 1.5


def test_frames_without_a_face_before_the_first_face_stay_missing(first_frames):
    blank = np.zeros_like(first_frames[0])
    points = track_faces([blank, first_frames[0], first_frames[0]])
    assert points[0] is None and points[1] is not None
    assert _mean_distance(points[1], points[2]) < 0.75
