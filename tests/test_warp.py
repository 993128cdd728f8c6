"""The embedded warp backend: identity, pose, mouth, blink, gaze, still background, shapes, odd framings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from thead.backends import create_backend
from thead.backends.base import DriveOptions
from thead.backends.warp.mesh import FIXED_RING, face_topology
from thead.face import analyze_image, geometry


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def edited(motion: dict[str, np.ndarray], **changes) -> dict[str, np.ndarray]:
    """A copy of a motion frame with channels shifted by ``changes``."""
    frame = {name: np.copy(value) for name, value in motion.items()}
    for name, delta in changes.items():
        frame[name] = (frame[name] + np.asarray(delta, np.float32)).astype(np.float32)
    return frame


def scaled_eyes(motion: dict[str, np.ndarray], factor: float) -> dict[str, np.ndarray]:
    frame = {name: np.copy(value) for name, value in motion.items()}
    frame["eye_open"] = (frame["eye_open"] * factor).astype(np.float32)
    return frame


@pytest.fixture(scope="module")
def motion(warp_backend, warp_source):
    return warp_backend.source_motion(warp_source)


def far_from_face(warp_source, shape: tuple[int, int]) -> np.ndarray:
    """Pixels well outside the fixed anchor ring, where the background must not move."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    distance = np.hypot(xx - warp_source.oval_centre[0], yy - warp_source.oval_centre[1])
    return distance > 1.1 * FIXED_RING * warp_source.oval_radius


def test_the_registry_builds_a_backend_whose_motion_is_in_its_declared_space(astronaut):
    engine = create_backend("warp", torch.device("cpu"))
    track = engine.extract_motion([astronaut, astronaut], fps=25.0)
    own = engine.source_motion(engine.prepare_source(astronaut))
    assert track.space == engine.space == "landmarks"
    # driving tracks and the source's own frame share one schema, but for the video's own measure of its hair
    # (``skull``: a portrait has none, and its hair follows the landmark pose)
    assert set(track.channels) - {"skull"} == set(own)
    for name, value in own.items():
        assert np.allclose(track[name][0], value, atol=1e-3), name  # the same image reads the same motion


def test_mesh_topology_is_mediapipes_tessellation():
    topo = face_topology()
    faces = len(topo.triangles) - len(topo.hole_triangles)
    assert faces == 852
    assert 468 - len(topo.edges) + faces == -2  # a disc with three holes: both eyes and the mouth
    assert len(topo.oval) == 36
    for upper, lower in (topo.right_eye, topo.left_eye, topo.mouth):
        assert upper[0] == lower[0] and upper[-1] == lower[-1]  # chains share their corners


def test_source_motion_measures_the_source_face(motion, astronaut):
    from thead.motion.extract import track_faces

    points = track_faces([astronaut])[0]  # the source is read as driving frames are (tracking mode)
    pose = geometry.estimate_head_pose(points)
    assert motion["expression"].shape == (478, 3)
    assert np.allclose([motion["yaw"], motion["pitch"], motion["roll"]], [pose.yaw, pose.pitch, pose.roll], atol=1e-4)
    assert np.allclose(motion["translation"], pose.translation, atol=1e-3) and np.isclose(motion["scale"], pose.scale)
    # Eyes and mouth are measured pose-free: on this near-frontal portrait they match the image's own.
    assert np.allclose(motion["eye_open"], geometry.eye_openness(points), atol=0.02)
    assert abs(float(motion["mouth_open"]) - geometry.mouth_openness(points)) < 0.02
    assert np.allclose(geometry.compose(motion["expression"], pose.rotation, pose.translation, pose.scale), points,
                       atol=1e-2)


@pytest.mark.parametrize("relative", [True, False])
def test_identity_driving_reproduces_the_source(warp_backend, warp_source, motion, astronaut, relative):
    out = warp_backend.render(warp_source, motion, motion if relative else None, DriveOptions(relative=relative))
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    box = warp_source.box
    assert psnr(out[box.y0 : box.y1, box.x0 : box.x1], astronaut[box.y0 : box.y1, box.x0 : box.x1]) > 35


def test_yaw_moves_the_nose_the_right_way(warp_backend, warp_source, motion, astronaut):
    before = analyze_image(astronaut).points
    for sign in (1, -1):
        out = warp_backend.render(warp_source, edited(motion, yaw=15 * sign), motion, DriveOptions())
        after = analyze_image(out).points
        # Positive yaw turns the subject towards the image's left: the nose tip moves left.
        assert sign * (after[1, 0] - before[1, 0]) < -3
        turned = geometry.estimate_head_pose(after).yaw - geometry.estimate_head_pose(before).yaw
        assert sign * turned > 5


def test_mouth_opens_beyond_the_source(warp_backend, warp_source, motion, astronaut):
    out = warp_backend.render(warp_source, edited(motion, mouth_open=0.3), motion, DriveOptions())
    before = geometry.mouth_openness(analyze_image(astronaut).points)
    after = geometry.mouth_openness(analyze_image(out).points)
    assert after > before + 0.12
    # The opening is painted with a dark cavity, not stretched lip texture.
    lips = analyze_image(out).points[[13, 14]]
    middle = np.round(lips[:, :2].mean(axis=0)).astype(int)
    assert out[middle[1], middle[0]].mean() < astronaut[middle[1], middle[0]].mean() + 40


def test_blink_closes_the_eyes(warp_backend, warp_source, motion, astronaut):
    out = warp_backend.render(warp_source, scaled_eyes(motion, 0.05), motion, DriveOptions())
    before = np.mean(geometry.eye_openness(analyze_image(astronaut).points))
    after = np.mean(geometry.eye_openness(analyze_image(out).points))
    assert after < 0.5 * before


def test_gaze_moves_the_irises(warp_backend, warp_source, motion, astronaut):
    out = warp_backend.render(warp_source, edited(motion, gaze=[0.3, 0.0]), motion, DriveOptions())
    before, after = geometry.gaze(analyze_image(astronaut).points)[0], geometry.gaze(analyze_image(out).points)[0]
    assert after > before + 0.08


def test_background_far_from_the_face_stays_still(warp_backend, warp_source, motion, astronaut):
    driving = edited(motion, yaw=20, pitch=-10, roll=10, mouth_open=0.3, translation=[15, 10, 0])
    out = warp_backend.render(warp_source, driving, motion, DriveOptions())
    still = far_from_face(warp_source, astronaut.shape[:2])
    assert still.mean() > 0.2
    assert np.abs(out.astype(int) - astronaut)[still].max() <= 2


def test_regions_limit_what_moves(warp_backend, warp_source, motion, astronaut):
    driving = edited(motion, yaw=20, mouth_open=0.3)
    base_yaw = geometry.estimate_head_pose(analyze_image(astronaut).points).yaw
    base_mouth = geometry.mouth_openness(analyze_image(astronaut).points)
    pose_only = analyze_image(warp_backend.render(warp_source, driving, motion, DriveOptions(region="pose"))).points
    lips_only = analyze_image(warp_backend.render(warp_source, driving, motion, DriveOptions(region="lips"))).points
    assert geometry.estimate_head_pose(pose_only).yaw - base_yaw > 5
    assert abs(geometry.mouth_openness(pose_only) - base_mouth) < 0.05
    assert abs(geometry.estimate_head_pose(lips_only).yaw - base_yaw) < 3
    assert geometry.mouth_openness(lips_only) > base_mouth + 0.12


def test_crop_only_output(warp_backend, warp_source, motion):
    out = warp_backend.render(warp_source, edited(motion, yaw=10), motion, DriveOptions(paste_back=False))
    assert out.shape == (512, 512, 3) and out.dtype == np.uint8
    assert analyze_image(out).box[2] - analyze_image(out).box[0] > 100  # the face fills the crop


def test_non_square_image_with_the_face_near_the_border(warp_backend, astronaut):
    image = np.ascontiguousarray(astronaut[30:330, 150:512])  # 362 x 300, face close to the top and left
    warp_source = warp_backend.prepare_source(image)
    motion = warp_backend.source_motion(warp_source)
    out = warp_backend.render(warp_source, edited(motion, yaw=15, mouth_open=0.25), motion, DriveOptions())
    assert out.shape == image.shape
    before, after = analyze_image(image).points, analyze_image(out).points
    assert geometry.estimate_head_pose(after).yaw - geometry.estimate_head_pose(before).yaw > 6
    assert geometry.mouth_openness(after) > geometry.mouth_openness(before) + 0.08
    identity = warp_backend.render(warp_source, motion, motion, DriveOptions())
    assert psnr(identity, image) > 35


def test_small_face_in_a_large_frame(warp_backend, astronaut):
    canvas = np.full((720, 960, 3), 128, np.uint8)
    canvas[400:656, 600:856] = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    warp_source = warp_backend.prepare_source(canvas)
    motion = warp_backend.source_motion(warp_source)
    out = warp_backend.render(warp_source, edited(motion, mouth_open=0.3, yaw=10), motion, DriveOptions())
    assert out.shape == canvas.shape
    assert np.array_equal(out[:380], canvas[:380]) and np.array_equal(out[:, :560], canvas[:, :560])
    assert geometry.mouth_openness(analyze_image(out).points) > geometry.mouth_openness(analyze_image(canvas).points) + 0.1


def test_large_image_is_rendered_in_a_scaled_box_and_pasted_back(warp_backend, astronaut, monkeypatch):
    import thead.backends.warp.paste

    monkeypatch.setattr(thead.backends.warp.paste, "MAX_WORK_SIDE", 640)  # faces beyond the limit get a scaled box
    image = cv2.resize(astronaut, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    warp_source = warp_backend.prepare_source(image)
    assert warp_source.box.scale < 1.0
    motion = warp_backend.source_motion(warp_source)
    out = warp_backend.render(warp_source, edited(motion, yaw=12), motion, DriveOptions())
    assert out.shape == image.shape
    still = far_from_face(warp_source, image.shape[:2])
    assert np.abs(out.astype(int) - image)[still].max() <= 2


def test_extract_motion_delegates_to_the_landmark_extractor(warp_backend, astronaut):
    track = warp_backend.extract_motion([astronaut, astronaut[:, ::-1].copy(), astronaut], fps=25.0)
    assert track.space == "landmarks" and len(track) == 3 and track.fps == 25.0
    assert track["expression"].shape == (3, 478, 3)


@pytest.mark.media
def test_mouth_follows_a_real_driving_clip(warp_backend, shared):
    from thead.io.image import read_image
    from thead.io.video import read_frames

    portrait, clip = shared / "media/portraits/lp_s42.jpg", shared / "media/driving/lp_d12.mp4"
    if not (portrait.is_file() and clip.is_file()):
        pytest.skip("lp_s42.jpg / lp_d12.mp4 missing from ../shared/media")
    frames = read_frames(clip, max_frames=140)
    track = warp_backend.extract_motion(frames, fps=25.0)
    warp_source = warp_backend.prepare_source(read_image(portrait))
    picks = list(range(0, 140, 10))
    rendered = [warp_backend.render(warp_source, track.frame(i), track.frame(0), DriveOptions()) for i in picks]
    out_mouth = [geometry.mouth_openness(analyze_image(frame).points) for frame in rendered]
    out_yaw = [geometry.estimate_head_pose(analyze_image(frame).points).yaw for frame in rendered]
    assert np.corrcoef(out_mouth, track["mouth_open"][picks])[0, 1] > 0.8
    assert np.corrcoef(out_yaw, track["yaw"][picks])[0, 1] > 0.8
