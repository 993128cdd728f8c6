"""The liveportrait backend on tiny random networks: crops, motion tracks, rendering, paste-back, weights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from thead.backends import create_backend, get_backend_class
from thead.backends.base import DriveOptions
from thead.backends.liveportrait import LivePortraitBackend, LivePortraitNetworks
from thead.backends.liveportrait.config import tiny_config
from thead.backends.liveportrait.crop import SOURCE_CROP, closure_ratios, crop_from_landmarks
from thead.backends.liveportrait.motion import LP_CHANNELS
from thead.errors import NoFaceError, WeightsError
from thead.face import analyze_image

CPU = torch.device("cpu")
TINY = tiny_config()


@pytest.fixture(scope="module")
def tiny_networks() -> LivePortraitNetworks:
    torch.manual_seed(0)
    networks = LivePortraitNetworks.build(TINY)
    with torch.no_grad():  # small stitching/retargeting outputs, as trained ones are
        for mlp in networks.stitching_retargeting_module.children():
            mlp.mlp[-1].weight.mul_(0.01)
    return networks


def _backend(networks: LivePortraitNetworks, **kwargs) -> LivePortraitBackend:
    return LivePortraitBackend(CPU, networks=networks, **kwargs)


def _rotated(image: np.ndarray, degrees: float, shift: float = 0.0) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    matrix[0, 2] += shift
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)


def test_registered_under_its_name() -> None:
    assert get_backend_class("liveportrait") is LivePortraitBackend
    assert LivePortraitBackend.weights == ("liveportrait",) and LivePortraitBackend.space == "liveportrait"


def test_crop_is_centred_and_cancels_roll(astronaut: np.ndarray) -> None:
    for degrees in (0.0, 20.0):
        image = _rotated(astronaut, degrees)
        points = analyze_image(image).points
        crop = crop_from_landmarks(points, SOURCE_CROP)
        local = crop.points(points)
        left_eye, right_eye = local[[33, 133]].mean(axis=0), local[[362, 263]].mean(axis=0)
        assert abs(left_eye[1] - right_eye[1]) < 0.03 * crop.size  # eyes level in the crop
        nose = local[4]
        assert 0.35 * crop.size < nose[0] < 0.65 * crop.size and 0.35 * crop.size < nose[1] < 0.7 * crop.size
        assert crop.cut(image, 256).shape == (256, 256, 3)


def test_closure_ratios_are_in_liveportrait_ranges(astronaut: np.ndarray) -> None:
    eyes, lip = closure_ratios(analyze_image(astronaut).points)
    assert eyes.shape == (2,) and np.all((eyes > 0.1) & (eyes < 0.6))
    assert 0.0 <= lip < 0.4  # lips apart over the teeth, far from open (about 0.6-1)


def test_extract_motion_channels_gaps_and_smoothing(tiny_networks: LivePortraitNetworks, astronaut: np.ndarray) -> None:
    frames = [_rotated(astronaut, d, s) for d, s in ((0, 0), (3, 4), (6, 8), (0, 0), (-3, -4))]
    frames[3] = np.zeros_like(astronaut)  # no face: held/interpolated and reported
    reported = []
    track = _backend(tiny_networks).extract_motion(frames, fps=25.0, smooth=0.5, on_missing=lambda m, t: reported.append((m, t)))
    assert track.space == "liveportrait" and len(track) == 5 and reported == [(1, 5)]
    shapes = {"lp_exp": (5, 21, 3), "lp_t": (5, 3), "lp_eye_ratio": (5, 2), "translation": (5, 3), "lp_scale": (5,)}
    for name in LP_CHANNELS + ("yaw", "pitch", "roll", "scale", "eye_open", "gaze", "mouth_open"):
        assert track[name].dtype == np.float32 and np.all(np.isfinite(track[name])), name
    for name, shape in shapes.items():
        assert track[name].shape == shape
    np.testing.assert_array_equal(track["valid"], [1, 1, 1, 0, 1])
    assert track["roll"][2] < track["roll"][0] - 2  # cv2 rotates counter-clockwise: negative roll


def test_extract_motion_without_any_face_raises(tiny_networks: LivePortraitNetworks) -> None:
    with pytest.raises(NoFaceError):
        _backend(tiny_networks).extract_motion([np.zeros((128, 128, 3), np.uint8)] * 2, fps=25.0)


def test_relative_render_with_own_motion_keeps_the_source_keypoints(tiny_networks, astronaut) -> None:
    backend = _backend(tiny_networks, stitching=False)
    source = backend.prepare_source(astronaut)
    motion = backend.source_motion(source)
    assert set(LP_CHANNELS) <= set(motion) and motion["lp_exp"].shape == (21, 3)
    from thead.backends.liveportrait.motion import keypoint_info
    from thead.backends.liveportrait.pipeline import AnimationOptions

    info = keypoint_info(motion, source.state.info.kp)
    options = AnimationOptions(stitching=False)
    reference = backend.pipeline.reference(source.state, info, options)
    assert reference.multiplier == pytest.approx(1.0, abs=1e-5)
    final = backend.pipeline.animate_keypoints(source.state, info, reference, options)["final"]
    torch.testing.assert_close(final, source.state.x_s, atol=1e-5, rtol=0)


def test_render_pastes_back_into_the_full_frame(tiny_networks, astronaut) -> None:
    backend = _backend(tiny_networks)
    source = backend.prepare_source(astronaut)
    motion = backend.source_motion(source)
    driving = dict(motion, lp_yaw=motion["lp_yaw"] + 10, lp_exp=motion["lp_exp"] + 0.01)
    pasted = backend.render(source, driving, motion, DriveOptions())
    crop = backend.render(source, driving, motion, DriveOptions(paste_back=False))
    assert pasted.shape == astronaut.shape and pasted.dtype == np.uint8
    assert crop.shape == (512, 512, 3)
    untouched = source.mask == 0
    assert untouched.mean() > 0.05
    np.testing.assert_array_equal(pasted[untouched], astronaut[untouched])
    absolute = backend.render(source, driving, None, DriveOptions(relative=False, paste_back=False))
    assert absolute.shape == crop.shape


def test_eye_and_lip_retargeting_change_the_render(tiny_networks, astronaut) -> None:
    plain = _backend(tiny_networks)
    retargeting = _backend(tiny_networks, eye_retargeting=True, lip_retargeting=True)
    outputs = []
    for backend in (plain, retargeting):
        source = backend.prepare_source(astronaut)
        motion = backend.source_motion(source)
        driving = dict(motion, lp_eye_ratio=np.array([0.0, 0.0], np.float32), lp_lip_ratio=np.float32(0.5))
        outputs.append(backend.render(source, driving, motion, DriveOptions(paste_back=False)))
    assert np.abs(outputs[0].astype(int) - outputs[1].astype(int)).max() > 0


def test_missing_weights_exit_4_naming_the_fetch_command(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("THEAD_CACHE", str(tmp_path))
    backend = create_backend("liveportrait", CPU)
    with pytest.raises(WeightsError) as error:
        backend.prepare_source(np.zeros((64, 64, 3), np.uint8))
    assert error.value.exit_code == 4 and "thead fetch-weights liveportrait" in error.value.one_line()


def test_apply_edit_maps_pose_smile_gaze_eyes_and_mouth(tiny_networks, astronaut) -> None:
    from thead.motion.frame_edit import FrameEdit
    from thead.errors import UsageError

    backend = _backend(tiny_networks)
    source = backend.prepare_source(astronaut)
    base = backend.source_motion(source)
    edited = backend.apply_edit(base, FrameEdit(yaw=10, pitch=5, roll=-3, smile=0.5, gaze=(0.2, 0.0), eyes=0.05, mouth=0.4))
    assert edited["lp_yaw"] == pytest.approx(base["lp_yaw"] + 10) and edited["yaw"] == pytest.approx(base["yaw"] + 10)
    assert edited["lp_pitch"] == pytest.approx(base["lp_pitch"] - 5)  # LivePortrait's pitch grows downwards
    assert edited["lp_roll"] == pytest.approx(base["lp_roll"] - 3)
    changed = np.unique(np.nonzero(edited["lp_exp"] != base["lp_exp"])[0])
    assert set(changed) <= {3, 7, 11, 13, 14, 15, 16, 17, 20} and {14, 20} <= set(changed)
    np.testing.assert_allclose(edited["gaze"], [0.2, 0.0])
    np.testing.assert_array_equal(edited["lp_retarget"], [1.0, 1.0])
    assert np.all(edited["lp_eye_ratio"] < base["lp_eye_ratio"]) and edited["eye_open"][0] == pytest.approx(0.05)
    assert base["lp_retarget"].tolist() == [0.0, 0.0]  # the input frame is untouched
    closed = backend.render(source, backend.apply_edit(base, FrameEdit(eyes=0.0)), base, DriveOptions(paste_back=False))
    plain = backend.render(source, base, base, DriveOptions(paste_back=False))
    assert np.abs(closed.astype(int) - plain.astype(int)).max() > 0
    with pytest.raises(UsageError, match="frown"):
        backend.apply_edit(base, FrameEdit(expressions=(("frown", 1.0),)))


@pytest.mark.media
def test_real_portrait_and_driving_clip(tiny_networks, shared) -> None:
    from thead.io.image import read_image
    from thead.io.video import read_frames

    backend = _backend(tiny_networks)
    portrait = read_image(shared / "media" / "portraits" / "lp_s6.jpg")
    source = backend.prepare_source(portrait)
    local = source.crop.points(analyze_image(portrait).points)
    assert np.all((local > 0) & (local < source.crop.size))  # the whole face lies inside the crop
    frames = read_frames(shared / "media" / "driving" / "lp_d0.mp4", max_frames=12)
    track = backend.extract_motion(frames, fps=25.0)
    assert len(track) == 12 and track["valid"].min() == 1.0
    assert np.all(np.abs(np.diff(track["lp_yaw"])) < 5)  # smoothed, no jumps between frames
    frame = backend.render(source, track.frame(6), track.frame(0), DriveOptions())
    assert frame.shape == portrait.shape


@pytest.mark.media
def test_drive_video_and_edit_pipelines_run_with_the_backend(tiny_networks, shared, tmp_path, monkeypatch) -> None:
    import thead.backends.liveportrait.backend as backend_module
    from thead.motion.frame_edit import FrameEdit
    from thead.io.video import open_video
    from thead.pipelines.drive_video import drive_video
    from thead.pipelines.edit import EditSchedule, edit
    from thead.motion.track import MotionTrack

    monkeypatch.setattr(backend_module, "load_official_networks", lambda: (tiny_networks, "liveportrait-safetensors"))
    portrait = shared / "media" / "portraits" / "lp_s6.jpg"
    result = drive_video(portrait, shared / "media" / "driving" / "lp_d0.mp4", tmp_path / "out.mp4",
                         backend="liveportrait", device="cpu", max_frames=4, motion_out=tmp_path / "m.motion.safetensors")
    assert result.frames == 4 and open_video(tmp_path / "out.mp4").frame_count == 4
    from thead.io.probe import probe
    from thead.weights import load_manifest

    mirror = load_manifest().get("liveportrait-safetensors")  # provenance names the set actually loaded
    assert result.weights == {"liveportrait-safetensors": f"{mirror.repo_id}@{mirror.revision}"}
    assert probe(tmp_path / "out.mp4").tags["thead_weights"] == f"liveportrait-safetensors={mirror.repo_id}@{mirror.revision}"
    assert MotionTrack.load(tmp_path / "m.motion.safetensors").space == "liveportrait"
    schedule = EditSchedule(edit=FrameEdit(yaw=15, eyes=0.1, smile=0.5))
    edited = edit(portrait, tmp_path / "edited.png", schedule, backend="liveportrait", device="cpu")
    assert edited.frames == 1 and (tmp_path / "edited.png").stat().st_size > 0
