"""The speaking mouth's rest (a face's own slightly parted lips) and the lip-sync benchmark's scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thead.face import analyze_image
from thead.motion import edits
from thead.motion.spaces import measure_face
from thead.motion.talking import SPEECH_OPEN, mouth_edit


@pytest.fixture(scope="module")
def face(astronaut) -> dict[str, np.ndarray]:
    """A landmarks motion frame of a real face (the astronaut smiles with her lips apart, openness ~0.16)."""
    channels, expression = measure_face(analyze_image(astronaut).points)
    return {**{name: np.asarray(value, np.float32) for name, value in channels.items()},
            "expression": expression.astype(np.float32)}


def _relaxed(face, opening: float) -> dict[str, np.ndarray]:
    """The astronaut without her smile (corners level with the lips), lips ``opening`` apart."""
    return edits.set_mouth(edits.level_corners(face, 0.8), opening)


def _opening(frame, jaw, closure=0.0, rest=None) -> float:
    return float(mouth_edit(frame, "landmarks", jaw, 0.0, closure, 0.0, rest=rest)["mouth_open"])


def test_slightly_parted_lips_stay_parted_in_silence_and_speech_opens_from_there(face):
    relaxed = _relaxed(face, 0.08)  # lips a little apart, as many people rest
    assert _opening(relaxed, 0.0) == pytest.approx(0.08, abs=0.005)
    assert SPEECH_OPEN <= _opening(relaxed, 1.0) < SPEECH_OPEN + 0.1
    assert 0.08 + 0.01 < _opening(relaxed, 0.5) < SPEECH_OPEN - 0.05
    assert _opening(relaxed, 1.0, closure=1.0) < 0.01  # m, b, p still press the lips shut


def test_the_upper_lip_rises_as_the_mouth_opens(face):
    shut = edits.set_mouth(face, 0.0)
    wide = mouth_edit(shut, "landmarks", 1.0, 0.0, 0.0, 0.0)
    width = np.linalg.norm(shut["expression"][61, :2] - shut["expression"][291, :2])
    rise = (shut["expression"][13, 1] - wide["expression"][13, 1]) / width  # inner upper lip; y grows down
    drop = (wide["expression"][14, 1] - shut["expression"][14, 1]) / width  # inner lower lip
    assert rise > 0.03 and drop > 2 * rise  # mostly the jaw, a little the upper lip
    jaw_only = edits.set_mouth(shut, float(wide["mouth_open"]))
    outer_higher = (jaw_only["expression"][[0, 37, 267], 1] - wide["expression"][[0, 37, 267], 1]) / width
    assert np.all(outer_higher > 0.03)


def test_opening_the_jaw_leaves_the_upper_lip_and_the_skin_above_it_in_place(face):
    """Real speakers' outer upper lip stays or rises as the jaw drops; the jaw rig must not drag it down."""
    shut = edits.set_mouth(face, 0.0)
    wide = edits.set_mouth(shut, 0.45)
    before, after = np.asarray(shut["expression"], np.float64), np.asarray(wide["expression"], np.float64)
    width = np.linalg.norm(before[61, :2] - before[291, :2])
    drop = (after[:, 1] - before[:, 1]) / width  # y grows down
    assert float(wide["mouth_open"]) == pytest.approx(0.45, abs=0.01)
    assert np.all(np.abs(drop[[0, 37, 39, 267, 269, 11, 12, 164]]) < 0.005)  # outer upper lip, its body, philtrum
    assert np.all(drop[[17, 84, 314]] > 0.15) and drop[152] > 0.15  # lower lip and chin go down with the jaw
    assert 0.03 < drop[61] < drop[17] and 0.03 < drop[291] < drop[17]  # the corners follow part of the way


@pytest.mark.parametrize("open_to", [0.25, 0.45])
def test_a_face_caught_mid_word_rests_with_its_lips_closed(face, open_to):
    talking = edits.set_mouth(face, open_to)
    assert _opening(talking, 0.0) < 0.01
    assert float(face["mouth_open"]) > 0.15 and _opening(face, 0.0) < 0.01  # a smile showing teeth closes too


@pytest.mark.parametrize("apart", [0.08, 0.15])
def test_a_smile_with_parted_lips_rests_closed_a_relaxed_face_keeps_them(face, apart):
    from thead.face.geometry import corner_lift

    smiling, relaxed = edits.set_mouth(face, apart), _relaxed(face, apart)
    assert corner_lift(smiling["expression"]) > 0.16 and corner_lift(relaxed["expression"]) < 0.1
    assert _opening(smiling, 0.0) < 0.01
    assert _opening(relaxed, 0.0) == pytest.approx(apart, abs=0.005)


def test_dubbing_takes_the_rest_from_the_rest_frame_not_the_video_frame(face):
    relaxed, talking = _relaxed(face, 0.08), edits.set_mouth(face, 0.3)
    assert _opening(talking, 0.0, rest=relaxed) == pytest.approx(0.08, abs=0.005)
    assert _opening(relaxed, 0.0, rest=edits.set_mouth(face, 0.0)) < 0.01


def test_benchmark_finds_the_lag_and_scores_landmark_distance_against_the_still_frame(lipsync_benchmark):
    rng = np.random.default_rng(0)
    real = np.convolve(rng.normal(size=200), np.ones(5) / 5, mode="same")
    late = np.concatenate([real[:1], real[:-1]])  # ours one frame late
    r, lag = lipsync_benchmark.best_correlation(late, real)
    assert lag == 1 and r > 0.99
    assert lipsync_benchmark.best_correlation(rng.normal(size=200), real)[0] < 0.3
    mouths = rng.normal(size=(50, 20, 2))
    assert lipsync_benchmark.pose_free_gain(mouths, mouths) == 1.0
    assert lipsync_benchmark.pose_free_gain(np.repeat(mouths[:1], 50, axis=0), mouths) == pytest.approx(0.0)
    halfway = mouths[:1] + 0.5 * (mouths - mouths[:1])
    assert lipsync_benchmark.pose_free_gain(halfway, mouths) == pytest.approx(0.5)
    assert lipsync_benchmark.pose_free_gain(mouths + 3.0, mouths) < 0.0  # a mouth in the wrong place counts


def test_benchmark_landmark_distance_is_thead_evals_lmd(lipsync_benchmark):
    """LMD (Chen et al. 2018) on iBUG-68 points: mouth sets centred, so a moved mouth of the right shape scores 1."""
    rng = np.random.default_rng(1)
    faces = rng.normal(size=(40, 68, 2)) * 10
    assert lipsync_benchmark.lmd_gain(faces + np.array([3.0, -2.0]), faces) == pytest.approx(1.0)
    assert lipsync_benchmark.lmd_gain(np.repeat(faces[:1], 40, axis=0), faces) == pytest.approx(0.0)
    mouth = slice(48, 68)
    halfway = faces.copy()
    halfway[:, mouth] = faces[:1, mouth] + 0.5 * (faces[:, mouth] - faces[:1, mouth])
    assert lipsync_benchmark.lmd_gain(halfway, faces) == pytest.approx(0.5, abs=0.02)
    other = faces.copy()
    other[:, :48] += 5.0  # the rest of the face does not count
    assert lipsync_benchmark.lmd_gain(other, faces) == pytest.approx(1.0)


def test_benchmark_test_set_gain_weighs_every_frame_alike(lipsync_benchmark):
    """The test-set LMD gain pools frames: a clip whose speaker barely moves (small still-frame LMD) weighs less than
    in the mean of the clips' gains, and every frame of a longer clip counts."""
    rng = np.random.default_rng(2)
    lively = rng.normal(size=(60, 68, 2)) * 10  # a mouth that moves a lot, followed exactly
    quiet = np.repeat(lively[:1], 20, axis=0) + rng.normal(size=(20, 68, 2)) * 0.5  # barely moves
    pairs = [lipsync_benchmark.landmark_distances(lively, lively),
             lipsync_benchmark.landmark_distances(quiet * 0, quiet)]
    ours, still = (np.concatenate(parts) for parts in zip(*pairs))
    assert lipsync_benchmark.test_set_gain(pairs) == pytest.approx(1.0 - ours.mean() / still.mean())
    assert lipsync_benchmark.test_set_gain(pairs[:1]) == pytest.approx(1.0)
    assert lipsync_benchmark.test_set_gain(pairs) > 0.5 * (1.0 + lipsync_benchmark.lmd_gain(quiet * 0, quiet))
    assert np.allclose(pairs[0][1], lipsync_benchmark.landmark_distances(np.repeat(lively[:1], 60, axis=0), lively)[0])


def test_benchmark_clip_names_pick_the_video_not_its_transcript(lipsync_benchmark, tmp_path):
    """``--clips grid_swwp2s`` names the .mpg beside its .align transcript (the transcript sorts first)."""
    (tmp_path / "grid_swwp2s.align").write_text("0 500 sil\n")
    (tmp_path / "grid_swwp2s.mpg").write_bytes(b"")
    assert lipsync_benchmark.video_named(tmp_path, "grid_swwp2s") == tmp_path / "grid_swwp2s.mpg"
    with pytest.raises(SystemExit, match="no video named grid_nothing"):
        lipsync_benchmark.video_named(tmp_path, "grid_nothing")


def _speaker(seed: int, seconds: float = 6.0):
    """A synthetic recording whose loudness and mel bands carry a lip opening: (features, times, opening, voice)."""
    from scipy.ndimage import gaussian_filter1d

    from thead.audio.features import MEL_BANDS, STEP, Features

    rng = np.random.default_rng(seed)
    steps = round(seconds / STEP)
    opening = np.clip(gaussian_filter1d(rng.normal(size=steps), 6.0) * 4 + 0.5, 0.0, None)
    noise = rng.normal(scale=0.3, size=(steps, MEL_BANDS))
    flat = np.zeros(steps, np.float32)
    features = Features(loudness=(20 * np.log10(0.01 + opening)).astype(np.float32), pitch=flat + 120, centroid=flat,
                        rolloff=flat, flatness=flat, high_ratio=flat,
                        mel=(np.log(0.01 + opening)[:, None] + noise).astype(np.float32))
    times = np.arange(0.0, seconds - 0.2, 0.04)
    return features, times, np.interp(times, np.arange(steps) * STEP, opening), np.ones(times.size)


def test_model_only_scores_the_fitted_mouth_model_against_the_real_opening(lipsync_benchmark):
    """``--model-only``: a model fitted on other speakers follows an unseen one whose sound carries its opening, and
    does not follow an opening unrelated to the sound."""
    from thead.audio import mouth_model

    model = mouth_model.fit([_speaker(seed) for seed in range(4)])
    features, times, opening, voice = _speaker(9)
    r, lag = lipsync_benchmark.model_correlation(model, (features, times, opening, voice))
    assert r > 0.7 and abs(lag) <= 1
    unrelated = _speaker(10)[2][: times.size]
    assert lipsync_benchmark.model_correlation(model, (features, times, unrelated, voice))[0] < 0.4


def test_curve_scores_models_fitted_on_more_speakers_on_held_out_and_unseen_speech(lipsync_benchmark):
    """``--curve``: one row per training size, 1 .. all clips but the held-out one, each with the held-out r and each
    unseen clip's; speakers whose sound carries their opening are followed better from more of them."""
    examples = {Path(f"grid_{seed}.mpg"): _speaker(seed, seconds=3.0) for seed in range(4)}
    curve = lipsync_benchmark.learning_curve(examples, {Path("hdtf_x.mp4"): _speaker(9)}, draws=2)
    assert list(curve) == [1, 2, 3]
    assert all(set(row) == {"GRID", "hdtf_x"} for row in curve.values())
    assert curve[3]["GRID"] > 0.7 and curve[3]["hdtf_x"] > 0.7
    assert curve[3]["GRID"] >= curve[1]["GRID"] - 0.02
