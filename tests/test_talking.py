"""Talking motion from articulation: mouth shapes rendered by the warp backend, blinks, head, brows, gaze."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from thead.backends import get_backend_class
from thead.backends.base import DriveOptions
from thead.errors import BadInputError, UsageError
from thead.face import analyze_image
from thead.motion import edits
from thead.motion.procedural import blink_schedule
from thead.motion.spaces import get_space, measure_face
from thead.motion.talking import mouth_edit, speech_motion

FPS = 25.0


@pytest.fixture(scope="module")
def warp(astronaut):
    backend = get_backend_class("warp").tiny(torch.device("cpu"))
    source = backend.prepare_source(astronaut)
    return backend, source, backend.source_motion(source)


def _rendered_mouth(warp, frame) -> tuple[float, float]:
    """(openness, inner mouth width in inter-ocular units) measured by face analysis on the rendered frame."""
    backend, source, _ = warp
    channels, expression = measure_face(analyze_image(backend.render(source, frame, None, DriveOptions())).points)
    return float(channels["mouth_open"]), float(np.linalg.norm(expression[78, :2] - expression[308, :2]))


def _speech(seconds: float = 20.0, talking=((1.0, 6.0), (9.0, 15.0))) -> SimpleNamespace:
    """Articulation-like curves: syllables at 4 Hz while talking, a stressed syllable per phrase, silence between."""
    t = np.arange(int(seconds * FPS)) / FPS
    speech = np.zeros(len(t), np.float32)
    emphasis = np.zeros(len(t), np.float32)
    for start, end in talking:
        speech[(t >= start) & (t < end)] = 1.0
        emphasis[(t >= start + 1.0) & (t < start + 1.2)] = 1.0
    jaw = (speech * np.sin(2 * np.pi * 2.0 * t) ** 2).astype(np.float32)
    return SimpleNamespace(fps=FPS, jaw=jaw, spread=(0.5 * speech * np.sin(t)).astype(np.float32),
                           closure=((jaw < 0.05) * speech).astype(np.float32), teeth=np.zeros(len(t), np.float32),
                           speech=speech, energy=jaw, emphasis=emphasis)


def test_rendered_mouth_opens_with_the_jaw_and_shuts_on_closure(warp):
    base = warp[2]
    shut, half, wide = (_rendered_mouth(warp, mouth_edit(base, "landmarks", jaw, 0, 0, 0))[0] for jaw in (0, 0.5, 1))
    pressed = _rendered_mouth(warp, mouth_edit(base, "landmarks", 1.0, 0, 1.0, 0))[0]
    assert base["mouth_open"] > 0.1  # the astronaut smiles with her teeth showing: closing is a real change
    assert shut < 0.07 and pressed < 0.03
    assert half > shut + 0.07 and wide > half + 0.04 and wide > 0.22  # jaw 1 asks for SPEECH_OPEN = 0.45


def test_spread_widens_and_rounding_narrows_the_rendered_mouth(warp):
    base = warp[2]
    neutral, spread, rounded = (_rendered_mouth(warp, mouth_edit(base, "landmarks", 0.5, s, 0, 0))[1] for s in (0, 1, -1))
    assert spread > 1.07 * neutral
    assert rounded < 0.93 * neutral


def test_teeth_raise_the_lower_lip(warp):
    base = warp[2]
    plain = mouth_edit(base, "landmarks", 0.4, 0, 0, 0)
    tucked = mouth_edit(base, "landmarks", 0.4, 0, 0, 1.0)
    assert float(tucked["mouth_open"]) < 0.6 * float(plain["mouth_open"])
    assert _rendered_mouth(warp, tucked)[0] < _rendered_mouth(warp, plain)[0]


def test_mouth_edit_is_absolute_so_it_replaces_a_frames_own_lips(warp):
    base = warp[2]
    talking = mouth_edit(base, "landmarks", 1.0, -1.0, 0, 0)  # a video frame caught mid-"oo"
    dubbed = mouth_edit(talking, "landmarks", 0.3, 0.5, 0, 0, rest=base)
    direct = mouth_edit(base, "landmarks", 0.3, 0.5, 0, 0)
    assert float(dubbed["mouth_open"]) == pytest.approx(float(direct["mouth_open"]), abs=1e-3)
    lower_face = np.concatenate([edits.LIPS, [152, 148, 377, 176, 400]])  # lips and chin
    assert np.abs(dubbed["expression"][lower_face] - direct["expression"][lower_face]).max() < 0.01
    assert np.abs(talking["expression"][edits.LIPS] - direct["expression"][edits.LIPS]).max() > 0.05
    assert float(mouth_edit(talking, "landmarks", 0.0, 0, 0, 0)["mouth_open"]) < 0.01  # openness alone needs no rest


def test_the_portraits_own_mouth_is_kept_until_the_speech_begins(warp):
    from thead.face.geometry import corner_lift
    from thead.motion.talking.mouth import rest_openness

    base = warp[2]
    own, lift = float(base["mouth_open"]), corner_lift(base["expression"])
    assert rest_openness(own, lift) == 0.0  # the astronaut's smile shows teeth: she rests closed once she has spoken
    opening = speech_motion(_speech(), base, "landmarks", pose="still", blink_rate=0).channels["mouth_open"]
    t = np.arange(len(opening)) / FPS
    assert np.allclose(opening[t < 0.75], own, atol=1e-3)  # the video starts on the portrait as given
    assert np.allclose(opening[(t > 6.2) & (t < 8.8)], 0.0, atol=0.01)  # a pause after speaking: lips closed
    silent = _speech(talking=())
    kept = speech_motion(silent, base, "landmarks", pose="still", blink_rate=0).channels["mouth_open"]
    assert np.allclose(kept, own, atol=1e-3)  # no speech at all: the mouth never moves


def test_liveportrait_mouth_moves_lip_ratio_and_keypoints_in_the_right_direction():
    rest = get_space("liveportrait").rest_frame()
    shut, wide = (mouth_edit(rest, "liveportrait", jaw, 0, 0, 0) for jaw in (0.0, 1.0))
    pressed = mouth_edit(rest, "liveportrait", 1.0, 0, 1.0, 0)
    assert float(wide["lp_lip_ratio"]) > float(shut["lp_lip_ratio"]) + 0.3
    assert float(pressed["lp_lip_ratio"]) == 0.0 and wide["lp_retarget"][1] == 1.0
    assert pressed["lp_exp"][19, 1] < wide["lp_exp"][19, 1]  # LivePortrait's lip-open direction, reversed
    spread, rounded = (mouth_edit(rest, "liveportrait", 0.5, s, 0, 0) for s in (1.0, -1.0))
    assert spread["lp_exp"][14, 1] < 0 < rounded["lp_exp"][14, 1]  # the smile direction moves keypoint 14 up
    assert np.array_equal(rest["lp_exp"], get_space("liveportrait").rest_frame()["lp_exp"])  # input untouched


@pytest.mark.parametrize("space", ["landmarks", "liveportrait"])
def test_speech_motion_is_valid_and_reproducible_by_seed(warp, space):
    base = warp[2] if space == "landmarks" else get_space(space).rest_frame()
    speech = _speech(8.0, ((1.0, 6.0),))
    first, again, other = (speech_motion(speech, base, space, seed=s) for s in (4, 4, 5))
    get_space(space).validate(first)
    assert len(first) == 200 and first.fps == FPS
    assert all(np.array_equal(first[name], again[name]) for name in first.channels)
    assert not np.array_equal(first["yaw"], other["yaw"])


def test_blinks_come_at_the_requested_rate_and_never_overlap(warp):
    base = warp[2]
    silent = SimpleNamespace(**{name: np.zeros(int(120 * FPS), np.float32) for name in
                                ("jaw", "spread", "closure", "teeth", "speech", "energy", "emphasis")}, fps=FPS)
    for rate in (10.0, 25.0):
        track = speech_motion(silent, base, "landmarks", pose="still", blink_rate=rate, seed=2)
        shut = track["eye_open"].mean(axis=1) < 0.5 * base["eye_open"].mean()
        starts = np.flatnonzero(np.diff(shut.astype(int)) == 1)
        ends = np.flatnonzero(np.diff(shut.astype(int)) == -1)
        assert 0.75 * 2 * rate <= len(starts) <= 1.25 * 2 * rate
        assert (ends - starts <= 0.4 * FPS).all()  # no blink is longer than 400 ms (no two merged)
    closing = track["eye_open"] / base["eye_open"]
    assert np.allclose(closing[:, 0], closing[:, 1], atol=0.02)  # both eyes together
    assert speech_motion(silent, base, "landmarks", pose="still", blink_rate=0)["eye_open"].std(axis=0).max() < 1e-4


def test_a_blink_renders_shut_eyes(warp):
    backend, source, base = warp
    track = speech_motion(_speech(10.0, ((1.0, 4.0), (6.0, 9.0))), base, "landmarks", pose="still", blink_rate=30.0, seed=1)
    frame = track.frame(int(np.argmin(track["eye_open"].mean(axis=1))))
    channels, _ = measure_face(analyze_image(backend.render(source, frame, None, DriveOptions())).points)
    assert channels["eye_open"].max() < 0.4 * base["eye_open"].min()


def test_head_moves_a_few_degrees_more_while_speaking_and_rests_in_silence(warp):
    base = warp[2]
    speech = _speech(26.0, ((1.0, 8.0), (11.0, 18.0)))
    for seed in (0, 1):
        track = speech_motion(speech, base, "landmarks", seed=seed)
        angles = np.stack([track[name] - base[name] for name in ("yaw", "pitch", "roll")], axis=1)
        talking = speech.speech > 0
        late_silence = np.arange(len(talking)) / FPS > 20.0  # well after the last phrase
        assert np.abs(angles).max() < 8.0
        assert angles[talking].std(axis=0).sum() > 0.5
        assert angles[talking].std(axis=0).sum() > 3 * angles[late_silence].std(axis=0).sum()


def test_still_pose_keeps_head_gaze_and_brows_at_rest(warp):
    base = warp[2]
    track = speech_motion(_speech(10.0, ((1.0, 4.0), (6.0, 9.0))), base, "landmarks", pose="still", seed=3)
    for name in ("yaw", "pitch", "roll", "translation", "scale"):
        assert np.array_equal(track[name], np.broadcast_to(base[name], track[name].shape)), name
    assert np.abs(track["gaze"] - base["gaze"]).max() < 1e-3  # no saccades (the mouth edits leave it as measured)
    brows = track["expression"][:, edits.BROWS["left"][0], 1]
    assert np.abs(brows - base["expression"][edits.BROWS["left"][0], 1]).max() < 1e-3
    assert track["mouth_open"].max() > 0.4 and track["mouth_open"].min() < 0.02


def test_head_and_blinks_given_from_a_video_replace_the_synthesised_ones(warp):
    base = warp[2]
    speech = _speech(4.0, ((0.5, 3.5),))
    count = len(speech.jaw)
    head = np.stack([10 * np.sin(np.arange(count) / 10), np.linspace(-3, 3, count), np.zeros(count)], axis=1)
    blinks = np.zeros(count)
    blinks[40:45] = 1.0
    body = np.stack([np.linspace(0, 0.05, count), np.zeros(count)], axis=1)
    track = speech_motion(speech, base, "landmarks", blink_rate=60.0, head=head, blinks=blinks, body=body)
    np.testing.assert_allclose(track["body"], body, atol=1e-6)  # the video speaker's torso sway
    np.testing.assert_allclose(track["yaw"] - base["yaw"], head[:, 0], atol=1e-3)
    np.testing.assert_allclose(track["pitch"] - base["pitch"], head[:, 1], atol=1e-3)
    shut = track["eye_open"].mean(axis=1) < 0.2 * float(np.mean(base["eye_open"]))
    assert np.array_equal(np.flatnonzero(shut), np.arange(40, 45))  # only the video's blink, not 60 a minute
    with pytest.raises(UsageError):
        speech_motion(speech, base, "landmarks", head=head[:-1])
    with pytest.raises(UsageError):
        speech_motion(speech, base, "landmarks", body=body[:, :1])


def test_brows_lift_on_emphasis_and_eyes_jump(warp):
    base = warp[2]
    speech = _speech(12.0, ((1.0, 10.0),))
    track = speech_motion(speech, base, "landmarks", seed=0)
    brow = track["expression"][:, [105, 334], 1].mean(axis=1)  # y grows down: a lift lowers it
    stressed = int(2.0 * FPS)
    assert brow[stressed + 2] < brow[0] - 0.02
    jumps = np.abs(np.diff(track["gaze"], axis=0)).sum(axis=1) > 0.02
    assert 3 <= np.count_nonzero(np.diff(jumps.astype(int)) == 1) <= 12  # one every 1-3 s over 12 s


def test_expression_presets_bias_every_frame(warp):
    base = warp[2]
    speech = _speech(4.0, ((1.0, 3.0),))
    plain = speech_motion(speech, base, "landmarks", pose="still")
    happy = speech_motion(speech, base, "landmarks", pose="still", expressions=(("happy", 1.0),))

    def width(track):
        return np.linalg.norm(track["expression"][:, 61, :2] - track["expression"][:, 291, :2], axis=1)

    assert (width(happy) > width(plain) + 0.02).all()


def test_bad_requests_are_usage_or_input_errors(warp):
    base = warp[2]
    speech = _speech(2.0, ((0.5, 1.5),))
    with pytest.raises(UsageError):
        speech_motion(speech, base, "landmarks", pose="wild")
    with pytest.raises(UsageError):
        speech_motion(speech, base, "landmarks", expressions=(("wink", 1.0),))  # liveportrait only
    with pytest.raises(UsageError):
        speech_motion(speech, base, "landmarks", blink_rate=-1)
    with pytest.raises(BadInputError):
        speech_motion(_speech(0.0, ()), base, "landmarks")


def test_blink_schedule_lengths_gaps_and_seed():
    blinks = blink_schedule(600.0, 17.0, seed=9)
    assert blinks == blink_schedule(600.0, 17.0, seed=9) and blinks != blink_schedule(600.0, 17.0, seed=10)
    onsets, lengths = np.array(blinks).T
    assert 0.85 * 170 <= len(blinks) <= 1.15 * 170
    assert lengths.min() >= 0.1 and lengths.max() <= 0.4
    assert (onsets[1:] >= onsets[:-1] + lengths[:-1] + 0.1).all()  # one blink at a time
    assert blink_schedule(10.0, 0.0) == []
