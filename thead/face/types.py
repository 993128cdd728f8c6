"""Value types produced by face analysis and consumed by motion extraction and renderers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HeadPose:
    """Head pose from 3D landmarks.

    Angles in degrees (yaw positive = subject turns towards image left, pitch positive = looks up,
    roll positive = clockwise on screen); ``rotation`` is the 3x3 matrix taking canonical
    (frontal) landmark coordinates to image-aligned ones; ``translation`` is the head centre
    (x, y pixels, z relative); ``scale`` is head size in pixels.
    """

    yaw: float
    pitch: float
    roll: float
    rotation: np.ndarray
    translation: np.ndarray
    scale: float


@dataclass(frozen=True)
class Face:
    """One analysed face in one image.

    ``points`` is [478, 3] float32: x, y in pixels of the analysed image and z in the same
    pixel units (MediaPipe's relative depth times image width), iris points 468-477 included.
    ``box`` is (x0, y0, x1, y1) in pixels; ``score`` the detector confidence.
    """

    points: np.ndarray
    box: tuple[float, float, float, float]
    score: float
    image_size: tuple[int, int]  # (width, height)
