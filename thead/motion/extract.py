"""Driving frames -> motion track in the embedded ``landmarks`` space."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from thead.errors import NoFaceError
from thead.face.mesh import FaceTracker
from thead.motion.smooth import smooth_track
from thead.motion.spaces import measure_face
from thead.motion.spaces.landmarks import LANDMARKS
from thead.motion.track import MotionTrack


def face_motion(points: np.ndarray) -> dict[str, np.ndarray]:
    """One motion frame (space ``landmarks``) from 478 landmarks in pixels: the shared channels
    (:func:`thead.motion.spaces.measure_face`) and the pose-free ``expression``."""
    channels, expression = measure_face(points)
    return {**channels, "expression": expression}


def fill_gaps(points: Sequence[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate missing frames (None) linearly between found ones, held at the ends; returns (values, valid).

    The one gap filler of every motion space: values of any shape [...], stacked to [T, ...] float32.
    """
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
    return MotionTrack(fps=float(fps), space=LANDMARKS.name, channels=channels)
