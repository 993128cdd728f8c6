"""Face analysis: detection, mesh, pose signs, eyes/mouth/gaze measures, bundled models."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thead.errors import NoFaceError
from thead.face import FaceTracker, analyze_image, detect_faces, geometry


def test_bundled_mediapipe_models_load():
    """Fails if a mediapipe upgrade stops shipping the face models thead embeds."""
    import mediapipe

    from thead.face._mediapipe import solutions

    root = __import__("pathlib").Path(mediapipe.__file__).parent / "modules"
    for model in ("face_detection/face_detection_short_range.tflite", "face_landmark/face_landmark_with_attention.tflite"):
        assert (root / model).is_file(), model
    with solutions().face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        import skimage.data

        found = mesh.process(skimage.data.astronaut()).multi_face_landmarks
    assert found is not None and len(found[0].landmark) == 478  # the refined (iris) model ran


def test_astronaut_landmarks(astronaut):
    face = analyze_image(astronaut)
    assert face.points.shape == (478, 3)
    x0, y0, x1, y1 = face.box
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200
    left, right = geometry.eye_openness(face.points)
    assert 0.2 < left < 0.5 and 0.2 < right < 0.5
    assert 0.0 <= geometry.mouth_openness(face.points) < 0.4
    assert np.all(np.abs(geometry.gaze(face.points)) < 0.5)


def test_no_face_raises():
    noise = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    with pytest.raises(NoFaceError, match="no face found in noise.png"):
        analyze_image(noise, name="noise.png")


def test_face_index_and_small_face(astronaut):
    canvas = np.full((1000, 1400, 3), 90, np.uint8)
    canvas[:512, :512] = astronaut
    canvas[600:856, 900:1156] = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    faces = detect_faces(canvas)
    assert len(faces) == 2
    assert faces[0].box[2] < 512 and faces[1].box[0] > 900  # largest first
    with pytest.raises(NoFaceError, match="--face-index"):
        analyze_image(canvas, face_index=2)


def test_pose_signs(astronaut):
    base = geometry.estimate_head_pose(analyze_image(astronaut).points)
    flipped = geometry.estimate_head_pose(analyze_image(np.ascontiguousarray(astronaut[:, ::-1])).points)
    assert abs(base.yaw + flipped.yaw) < 4 and abs(base.roll + flipped.roll) < 4
    rotation = cv2.getRotationMatrix2D((256, 256), -15, 1.0)  # clockwise on screen
    tilted = geometry.estimate_head_pose(analyze_image(cv2.warpAffine(astronaut, rotation, (512, 512))).points)
    assert tilted.roll - base.roll == pytest.approx(15, abs=2.5)


@pytest.mark.parametrize("angles", [(10, -5, 3), (-25, 12, -7), (0, 0, 0)])
def test_rotation_roundtrip(angles):
    rotation = geometry.angles_to_rotation(*angles)
    assert geometry.rotation_to_angles(rotation) == pytest.approx(angles, abs=1e-9)
    assert (-rotation[:, 2])[0] * np.sign(angles[0] or 1) <= 1e-12  # positive yaw turns the nose to image left


def test_canonicalize_roundtrip(astronaut):
    points = analyze_image(astronaut).points
    pose = geometry.estimate_head_pose(points)
    back = geometry.compose(geometry.canonicalize(points, pose), pose.rotation, pose.translation, pose.scale)
    np.testing.assert_allclose(back, points, atol=1e-3)


def test_to_68_mouth_is_the_mouth(astronaut):
    points = analyze_image(astronaut).points
    p68 = geometry.to_68(points)
    assert p68.shape == (68, 3)
    mouth_y = p68[48:68, 1].mean()
    assert mouth_y > p68[30, 1] > p68[36:48, 1].mean()  # mouth below nose tip below eyes


def test_tracker_follows_a_moving_face(astronaut):
    with FaceTracker() as tracker:
        centres = []
        for shift in range(0, 40, 8):
            frame = np.roll(astronaut, shift, axis=1)
            face = tracker.track(frame)
            assert face is not None
            centres.append((face.box[0] + face.box[2]) / 2)
    assert np.allclose(np.diff(centres), 8, atol=2)


def test_mesher_refines_boxes_from_another_detector(astronaut):
    from thead.face.mesh import FaceMesher

    box = np.array([170, 60, 280, 185], np.float32)  # about the astronaut's face
    faces = FaceMesher(detector=lambda rgb: [(box, 0.9)]).faces(astronaut)
    assert len(faces) == 1 and faces[0].score == 0.9
    np.testing.assert_allclose(faces[0].points[:, :2], analyze_image(astronaut).points[:, :2], atol=4.0)
    assert FaceMesher(detector=lambda rgb: []).faces(astronaut) == []  # no whole-image fallback


def test_insightface_detector_needs_its_weights(astronaut, tmp_path, monkeypatch):
    from thead.errors import UsageError, WeightsError

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsError, match="liveportrait-insightface") as error:
        detect_faces(astronaut, detector="insightface")
    assert "thead fetch-weights liveportrait-insightface" in error.value.hint
    with pytest.raises(UsageError, match="unknown face detector"):
        detect_faces(astronaut, detector="dlib")
