"""Temporal smoothing (zero-phase One Euro): more strength, less jitter; no lag; slow motion kept."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from thead.motion.smooth import one_euro, smooth_track

FPS = 25.0


def reference_one_euro(xs, rate, min_cutoff, beta, d_cutoff=1.0):
    """The One Euro filter as published (Casiez, Roussel, Vogel, CHI 2012), one scalar signal, plain Python."""

    def alpha(cutoff):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * rate)  # 1 / (1 + tau / Te), Te = 1 / rate

    estimate, speed, out = float(xs[0]), 0.0, [float(xs[0])]
    for x in xs[1:]:
        speed = alpha(d_cutoff) * (x - estimate) * rate + (1 - alpha(d_cutoff)) * speed
        a = alpha(min_cutoff + beta * abs(speed))
        estimate = a * x + (1 - a) * estimate
        out.append(estimate)
    return np.array(out)


def test_one_euro_matches_the_published_filter():
    rng = np.random.default_rng(3)
    signal = np.cumsum(rng.normal(0, 0.02, (60, 2)), axis=0).astype(np.float32)  # a wandering 2D landmark
    for min_cutoff, beta, d_cutoff in ((1.5, 5.0, 1.0), (0.25, 0.5, 3.0)):
        kwargs = {} if d_cutoff == 1.0 else {"d_cutoff": d_cutoff}  # 1 Hz: the paper's default
        got = one_euro(signal, FPS, min_cutoff, beta, **kwargs)
        assert got.dtype == np.float64 and got.shape == signal.shape
        for column in range(2):
            expected = reference_one_euro(signal[:, column].astype(np.float64), FPS, min_cutoff, beta, d_cutoff)
            np.testing.assert_allclose(got[:, column], expected, rtol=1e-12, atol=1e-15)
    assert one_euro(np.zeros((0, 3)), FPS, 1.0, 1.0).shape == (0, 3)
    np.testing.assert_array_equal(one_euro(np.array([[0.7]]), FPS, 1.0, 1.0), [[0.7]])


@pytest.mark.parametrize(("strength", "min_cutoff"), [(0.2, 2.25), (0.5, 1.5), (1.0, 0.25), (3.0, 0.25)])
def test_strength_sets_the_still_cutoff_and_the_filter_runs_both_ways(strength, min_cutoff):
    # Documented mapping: cutoff for still landmarks 0.25 + 2.5 (1 - strength) Hz, speed coefficient 5; the track
    # is first extended at each end by ceil(fps / cutoff) frames (at most T - 1) reflected through the end frame.
    signal = _jitter(40)[:, 0] + np.linspace(0, 0.1, 40)
    pad = min(39, math.ceil(FPS / min_cutoff))
    extended = [2 * signal[0] - v for v in signal[pad:0:-1]] + list(signal) + [2 * signal[-1] - v for v in
                                                                             signal[-2 : -pad - 2 : -1]]
    assert len(extended) == 40 + 2 * pad
    forward = reference_one_euro(np.array(extended), FPS, min_cutoff, 5.0)
    expected = reference_one_euro(forward[::-1], FPS, min_cutoff, 5.0)[::-1][pad : pad + 40]
    got = smooth_track(signal[:, None], FPS, strength)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-6, atol=1e-7)


def test_tracks_of_three_frames_are_smoothed_shorter_ones_kept():
    three = np.array([[0.0], [0.05], [0.0]])
    assert smooth_track(three, FPS, 0.5)[1, 0] < 0.045
    np.testing.assert_array_equal(smooth_track(three[:2], FPS, 0.5), three[:2].astype(np.float32))


def _jitter(frames: int = 400, seed: int = 0) -> np.ndarray:
    """Landmark jitter of a still face, in face-size units (about 1.5 % of the face, as MediaPipe gives)."""
    return np.random.default_rng(seed).normal(0.0, 0.015, (frames, 1))


def _half_crossing(values: np.ndarray) -> float:
    """Time (frames, linearly interpolated) at which a rising curve first reaches half its final level."""
    level = 0.5 * values[-1]
    after = int(np.flatnonzero(values >= level)[0])
    before = after - 1
    return before + (level - values[before]) / (values[after] - values[before])


def test_more_strength_means_less_jitter():
    still = _jitter()
    strengths = [0.1, 0.3, 0.5, 0.7, 0.9, 1.0]
    spread = [float(np.std(smooth_track(still, FPS, s))) for s in strengths]
    assert all(a > b for a, b in itertools.pairwise(spread)), spread
    assert spread[0] > 1.3 * spread[-1]  # the sweep spans a real range, not rounding


def test_jitter_of_a_still_face_is_cut_by_more_than_60_percent_at_default_strength():
    # A One Euro filter whose speed estimate is not low-passed lets jitter raise the cutoff: ~42 % remains.
    for seed in range(3):
        still = _jitter(seed=seed)
        assert np.std(smooth_track(still, FPS, 0.5)) < 0.38 * np.std(still)


def test_strength_zero_is_the_identity():
    still = _jitter()
    np.testing.assert_array_equal(smooth_track(still, FPS, 0.0), still.astype(np.float32))


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_a_step_is_not_delayed(strength):
    step = np.zeros(100)
    step[50:] = 0.05  # a small, sudden move (5 % of the face)
    smoothed = smooth_track(step[:, None], FPS, strength)[:, 0]
    assert abs(_half_crossing(smoothed) - 49.5) < 0.5  # zero-phase: symmetric about the true edge
    assert smoothed[-1] == pytest.approx(0.05, abs=1e-4) and smoothed[0] == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_slow_motion_keeps_its_timing_and_amplitude(strength):
    t = np.arange(250) / FPS
    sway = 0.03 * np.sin(2 * np.pi * 0.5 * t)  # a calm 0.5 Hz nod, 3 % of the face
    smoothed = smooth_track(sway[:, None], FPS, strength)[:, 0]
    inner = slice(25, -25)
    lags = np.arange(-5, 6)
    correlation = [np.dot(sway[inner], np.roll(smoothed, -lag)[inner]) for lag in lags]
    assert lags[int(np.argmax(correlation))] == 0
    assert np.std(smoothed[inner]) > 0.9 * np.std(sway[inner])
