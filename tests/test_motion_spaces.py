"""Motion spaces: one schema per space, the shared channels in each, measured one way, rest tracks."""

from __future__ import annotations

import numpy as np
import pytest

from thead.backends.liveportrait.motion import face_channels, smooth_channels, stack_frames
from thead.errors import BadInputError, UsageError
from thead.face import analyze_image
from thead.motion.extract import face_motion, motion_from_points
from thead.motion.spaces import COMMON_CHANNELS, check_fps, FPS_RANGE, HINT, SPACES, get_space, validate_track
from thead.motion.spaces.liveportrait import LIVEPORTRAIT, LP_MOTION
from thead.motion.track import MotionTrack


@pytest.mark.parametrize("name", sorted(SPACES))
def test_every_space_carries_the_shared_channels(name):
    space = get_space(name)
    assert space.common == COMMON_CHANNELS
    assert set(COMMON_CHANNELS) <= set(space.names) and len(set(space.names)) == len(space.names)
    track = MotionTrack(25.0, name, {c.name: np.zeros((2, *c.shape), np.float32) for c in space.channels})
    del track.channels["mouth_open"]
    with pytest.raises(BadInputError, match="missing channel\\(s\\) mouth_open"):
        track.validate()


def test_unknown_space_is_bad_input():
    known = "known: landmarks, liveportrait"
    with pytest.raises(BadInputError, match=f"^motion track: unknown motion space 'audio' \\({known}\\)$") as error:
        get_space("audio")
    assert error.value.hint == HINT
    with pytest.raises(BadInputError, match="^motion track: unknown motion space 'audio'"):
        validate_track("audio", 25.0, {})


def test_rest_frame_is_a_still_frontal_face_with_open_eyes():
    frame = get_space("liveportrait").rest_frame()
    expected = {"yaw": 0, "pitch": 0, "roll": 0, "translation": [0, 0, 0], "scale": 1, "eye_open": [0.3, 0.3],
                "gaze": [0, 0], "mouth_open": 0, "valid": 1, "lp_pitch": 0, "lp_yaw": 0, "lp_roll": 0,
                "lp_t": [0, 0, 0], "lp_exp": np.zeros((21, 3)), "lp_scale": 1, "lp_eye_ratio": [0.3, 0.3],
                "lp_lip_ratio": 0, "lp_retarget": [0, 0]}
    assert frame.keys() == expected.keys()
    for name, value in expected.items():
        assert frame[name].dtype == np.float32, name
        np.testing.assert_allclose(frame[name], value, rtol=1e-7, err_msg=name)
    frame["lp_exp"][0, 0] = 1.0  # a copy: the next rest frame is untouched
    assert get_space("liveportrait").rest_frame()["lp_exp"][0, 0] == 0


def test_liveportrait_rest_track_is_valid_and_still(tmp_path):
    track = get_space("liveportrait").rest_track(frames=10, fps=30.0)
    track.save(tmp_path / "rest.motion.safetensors")
    loaded = MotionTrack.load(tmp_path / "rest.motion.safetensors")
    assert len(loaded) == 10 and loaded.space == "liveportrait"
    assert np.all(loaded["lp_exp"] == 0) and np.all(loaded["yaw"] == 0) and np.all(loaded["eye_open"] > 0.2)
    assert np.all(loaded["valid"] == 1) and np.all(loaded["lp_retarget"] == 0)


def test_a_space_validates_only_its_own_tracks():
    track = get_space("liveportrait").rest_track(2, 25.0)
    get_space("liveportrait").validate(track, "lp.npz")
    with pytest.raises(BadInputError, match="^lp.npz: a 'liveportrait' track, not 'landmarks'") as error:
        get_space("landmarks").validate(track, "lp.npz")
    assert error.value.hint == HINT
    track.fps = 0.5
    with pytest.raises(BadInputError, match="^lp.npz: fps 0.5 is outside 1..240"):
        get_space("liveportrait").validate(track, "lp.npz")


def test_landmarks_space_has_no_face_independent_rest_frame():
    with pytest.raises(UsageError, match="^motion space 'landmarks' has no rest frame of its own$") as error:
        get_space("landmarks").rest_frame()
    assert error.value.hint == "start from the portrait's own motion (the backend's source_motion)"


def test_channel_errors_name_the_track_the_channel_and_what_is_expected():
    space = get_space("landmarks")
    channels = get_space("liveportrait").rest_track(2, 25.0).channels
    expression = {"expression": np.zeros((2, 478, 3), np.float32)}
    landmark = {name: value for name, value in channels.items() if not name.startswith("lp_")} | expression
    cases = [
        ({**landmark, "lp_yaw": channels["lp_yaw"], "lp_roll": channels["lp_roll"]},
         f"a.npz: unknown channel(s) lp_roll, lp_yaw for space 'landmarks' (it has: {', '.join(space.names)})"),
        ({**landmark, "yaw": [0.0, 0.0]}, "a.npz: channel 'yaw' is a list, not a numpy array"),
        ({**landmark, "yaw": np.zeros((2, 1), np.float32)}, "a.npz: channel 'yaw' has shape [2, 1]; expected [T]"),
        ({**landmark, "expression": np.zeros((2, 478), np.float32)},
         "a.npz: channel 'expression' has shape [2, 478]; expected [T, 478, 3]"),
        ({**landmark, "yaw": np.array(1.0, np.float32)}, "a.npz: channel 'yaw' has shape []; expected [T]"),
    ]
    for channels_, message in cases:
        with pytest.raises(BadInputError) as error:
            space.validate_channels(channels_, "a.npz")
        assert error.value.message == message and error.value.hint == HINT
    track = MotionTrack(25.0, "landmarks", {**landmark, "mouth_open": np.full(2, np.nan, np.float32)})
    with pytest.raises(BadInputError, match="^b.npz: channel 'mouth_open' holds NaN or infinite values$"):
        space.validate(track, "b.npz")
    with pytest.raises(BadInputError, match="^motion track: channel 'mouth_open' holds NaN"):
        space.validate(track)


def test_fps_range_is_inclusive():
    low, high = FPS_RANGE
    for fps in (low, high):
        get_space("liveportrait").rest_track(2, fps).validate()
    for fps in (np.nextafter(low, 0), np.nextafter(high, np.inf)):
        with pytest.raises(BadInputError, match="^motion track: fps .* is outside 1..240$") as error:
            get_space("liveportrait").rest_track(2, fps)
        assert error.value.hint == HINT
    for fps in ("25", True, None):
        with pytest.raises(BadInputError, match=f"^x: fps {fps!r} is not a number$") as error:
            check_fps(fps, "x")
        assert error.value.hint == HINT
    assert check_fps(np.int64(30)) == 30.0 and type(check_fps(np.int64(30))) is float


def test_bounds_are_inclusive_and_checked_on_each_side():
    track = get_space("liveportrait").rest_track(3, 25.0)
    track.channels["yaw"][:] = [-360.0, 0.0, 360.0]
    track.validate()
    for value in (-360.5, 360.5):
        track.channels["yaw"][1] = value
        with pytest.raises(BadInputError, match=f"^motion track: channel 'yaw' has values in \\[{min(value, -360):g}, "
                                                f"{max(value, 360):g}\\], outside \\[-360, 360\\] degrees$") as error:
            track.validate()
        assert error.value.hint == HINT


def test_shared_channels_are_measured_one_way_in_both_spaces(astronaut):
    points = analyze_image(astronaut).points
    landmarks, liveportrait = face_motion(points), face_channels(points)
    for name in COMMON_CHANNELS:
        np.testing.assert_array_equal(landmarks[name], liveportrait[name], err_msg=name)
    assert 0.2 < landmarks["eye_open"].min() and landmarks["mouth_open"] < 0.2  # open eyes, closed mouth


def test_extracted_landmark_tracks_fit_their_schema(astronaut):
    points = analyze_image(astronaut).points
    track = motion_from_points(np.stack([points] * 3), 25.0, smooth=0.5)
    get_space("landmarks").validate(track)
    with pytest.raises(BadInputError, match="a 'landmarks' track, not 'liveportrait'"):
        get_space("liveportrait").validate(track)


def test_liveportrait_frames_with_gaps_stack_into_a_valid_track(astronaut):
    rest = LIVEPORTRAIT.rest_frame()
    row = {**face_channels(analyze_image(astronaut).points), **{name: rest[name] for name in LP_MOTION}}
    moved = {**row, "lp_yaw": np.float32(10.0)}
    channels, missing = stack_frames([None, row, None, moved, None])
    assert missing == 3
    np.testing.assert_array_equal(channels["lp_yaw"], [0.0, 0.0, 5.0, 10.0, 10.0])  # held, interpolated, held
    np.testing.assert_array_equal(channels["valid"], [0, 1, 0, 1, 0])
    LIVEPORTRAIT.validate_channels(smooth_channels(channels, 25.0, 0.5), "stacked")
