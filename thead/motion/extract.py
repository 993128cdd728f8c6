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


def track_faces(frames: Iterable[np.ndarray], face_index: int = 0,
                observe: Callable[[np.ndarray, np.ndarray | None], None] | None = None) -> list[np.ndarray | None]:
    """Landmarks [478, 3] (pixels) of the tracked face in each frame, None where none is found.

    ``observe(frame, landmarks)`` is called on each frame as it is tracked (the frames are read once).

    A tracker measures its first face from a fresh detection and every later one from the previous
    frame's landmarks, and the two modes place the mesh differently: on a still head about 1 % of the
    face's size and 1 degree of pose apart. That first face is the reference of relative motion, so a
    difference there offsets every output frame. It is therefore measured a second time, tracked from
    its own detection, like all the others.
    """
    points: list[np.ndarray | None] = []
    found = False
    with FaceTracker(face_index) as tracker:
        for frame in frames:
            face = tracker.track(frame)
            if face is not None and not found:
                face, found = tracker.track(frame) or face, True
            points.append(None if face is None else face.points)
            if observe is not None:
                observe(frame, points[-1])
    return points


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
    points, valid = fill_gaps(track_faces(frames, face_index))
    if on_missing and not valid.all():
        on_missing(int((~valid).sum()), len(valid))
    return motion_from_points(points, fps, valid, smooth)


def motion_from_points(points: np.ndarray, fps: float, valid: np.ndarray | None = None, smooth: float = 0.5,
                       unsmoothed: np.ndarray | None = None) -> MotionTrack:
    """Motion track from a [T, 478, 3] landmark sequence (pixels), smoothed zero-phase.

    ``eye_open`` is measured on the landmarks as tracked: on ``unsmoothed`` when the caller smoothed
    ``points`` itself, else on ``points`` before smoothing. A blink shuts the lids for 2-4 frames and
    closes them within one; the landmark filter raises its cutoff only after its low-passed speed
    estimate does, so a blink that tracks at 0.1-0.27 of the open eye reads 0.23-0.47 smoothed: a squint.
    Unsmoothed, the openness jitters by about 2 % of the open eye per frame (0.2 px on a 10 px eye).
    """
    tracked = points if unsmoothed is None else unsmoothed
    if smooth > 0:
        size = float(np.median(np.linalg.norm(points[:, 263, :2] - points[:, 33, :2], axis=1)))
        points = smooth_track(points / size, fps, smooth) * size
    per_frame = [face_motion(p) for p in points]
    channels = {name: np.stack([frame[name] for frame in per_frame]).astype(np.float32) for name in per_frame[0]}
    if tracked is not points:
        channels["eye_open"] = np.stack([measure_face(p)[0]["eye_open"] for p in tracked]).astype(np.float32)
    if valid is not None:
        channels["valid"] = valid.astype(np.float32)
    return MotionTrack(fps=float(fps), space=LANDMARKS.name, channels=channels)
