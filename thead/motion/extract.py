"""Driving frames -> motion track in the embedded ``landmarks`` space."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from thead.errors import NoFaceError
from thead.face import geometry
from thead.face.mesh import FaceTracker
from thead.motion.smooth import smooth_track
from thead.motion.track import MotionTrack

SPACE = "landmarks"


def face_motion(points: np.ndarray) -> dict[str, np.ndarray]:
    """One motion frame (space ``landmarks``) from 478 landmarks in pixels.

    Eyes, mouth and gaze are measured on the pose-free expression, the same way
    :mod:`thead.motion.edits` measures them, so measured and edited tracks agree and a turned
    head does not read as a squint.
    """
    pose = geometry.estimate_head_pose(points)
    expression = geometry.canonicalize(points, pose)
    return {
        "yaw": np.float32(pose.yaw),
        "pitch": np.float32(pose.pitch),
        "roll": np.float32(pose.roll),
        "translation": pose.translation.astype(np.float32),
        "scale": np.float32(pose.scale),
        "eye_open": np.array(geometry.eye_openness(expression), np.float32),
        "gaze": np.array(geometry.gaze(expression), np.float32),
        "mouth_open": np.float32(geometry.mouth_openness(expression)),
        "expression": expression,
        "valid": np.float32(1.0),
    }


def fill_gaps(points: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate missing frames linearly between found ones (held at the ends); returns (points, valid)."""
    valid = np.array([p is not None for p in points])
    if not valid.any():
        raise NoFaceError("no face found in any driving frame", "use a driving video that shows a face")
    found = np.flatnonzero(valid)
    stacked = np.stack([p for p in points if p is not None]).astype(np.float32)
    if valid.all():
        return stacked, valid
    flat = stacked.reshape(len(found), -1)
    frames = np.arange(len(points))
    filled = np.empty((len(points), flat.shape[1]), np.float32)
    for column in range(flat.shape[1]):  # vectorised below would need scipy; 1434 columns is cheap
        filled[:, column] = np.interp(frames, found, flat[:, column])
    return filled.reshape((len(points), *stacked.shape[1:])), valid


def extract_motion(
    frames: Iterable[np.ndarray],
    fps: float,
    face_index: int = 0,
    smooth: float = 0.5,
    on_missing: Callable[[int, int], None] | None = None,
) -> MotionTrack:
    """Track the face through ``frames`` and turn its landmarks into a motion track.

    Frames without a face are filled by interpolation and marked ``valid = 0``; ``on_missing``
    is called with (missing, total) when that happens, so the caller can warn.
    """
    with FaceTracker(face_index) as tracker:
        raw = [None if (face := tracker.track(frame)) is None else face.points for frame in frames]
    points, valid = fill_gaps(raw)
    if on_missing and not valid.all():
        on_missing(int((~valid).sum()), len(valid))
    return motion_from_points(points, fps, valid, smooth)


def motion_from_points(points: np.ndarray, fps: float, valid: np.ndarray | None = None, smooth: float = 0.5) -> MotionTrack:
    """Motion track from a [T, 478, 3] landmark sequence (pixels), smoothed zero-phase."""
    if smooth > 0:
        size = float(np.median(np.linalg.norm(points[:, 263, :2] - points[:, 33, :2], axis=1)))
        points = smooth_track(points / size, fps, smooth) * size
    per_frame = [face_motion(p) for p in points]
    channels = {name: np.stack([frame[name] for frame in per_frame]).astype(np.float32) for name in per_frame[0]}
    if valid is not None:
        channels["valid"] = valid.astype(np.float32)
    return MotionTrack(fps=float(fps), space=SPACE, channels=channels)
