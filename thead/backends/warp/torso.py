"""The driver's torso shift: how far shoulders and chest move in the picture since the first frame.

Real speakers sway: the whole upper body drifts a few pixels while they talk (up to 3.5 px on a
GRID clip whose head moves about as much). The head pose says where the head went, not the body.
Corners on the torso of the first frame (the person segmentation below the chin, away from the
face) are followed by pyramidal Lucas-Kanade flow, always from the first frame so that no drift
builds up; each frame's shift is the median of the corners followed, in inter-ocular spans of
the first face. A frame where fewer than half are followed, or before the first face, reads 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from thead.backends.warp.mesh import face_topology
from thead.backends.warp.person import person_probability

CORNERS = 60  # torso corners followed
WINDOW = (15, 15)  # LK window, pixels
LEVELS = 2  # LK pyramid levels above the full picture (sways are a few pixels)
MIN_FOLLOWED = 0.5  # share of the corners LK must follow for a frame's shift to count
BELOW_CHIN = 0.1  # face radii below the chin where the torso begins
FACE_MARGIN = 1.1  # the face oval grown by this, kept out of the torso


class TorsoTracker:
    """Feed it every driving frame in order with its face landmarks (:meth:`observe`); read :meth:`shifts`."""

    def __init__(self) -> None:
        self._first: np.ndarray | None = None  # grey first frame with a face
        self._corners: np.ndarray | None = None
        self._span = 1.0  # inter-ocular span of the first face, pixels
        self._shifts: list[np.ndarray] = []

    def observe(self, frame: np.ndarray, points: np.ndarray | None) -> None:
        """Measure one frame (RGB uint8) with its face's landmarks [478, 3] in pixels, or None."""
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self._first is None and points is not None:
            self._first, self._corners = grey, _torso_corners(frame, grey, points)
            self._span = max(float(np.linalg.norm(points[263, :2] - points[33, :2])), 1.0)
        self._shifts.append(self._shift(grey))

    def shifts(self) -> np.ndarray:
        """[T, 2] torso shift (x, y) of each observed frame since the first face, in its inter-ocular spans."""
        return np.array(self._shifts, np.float32).reshape(-1, 2) / self._span

    def _shift(self, grey: np.ndarray) -> np.ndarray:
        if self._corners is None or len(self._corners) < 8:
            return np.zeros(2)
        moved, followed, _ = cv2.calcOpticalFlowPyrLK(self._first, grey, self._corners, None, winSize=WINDOW,
                                                      maxLevel=LEVELS)
        followed = followed[:, 0] == 1
        if followed.mean() < MIN_FOLLOWED:
            return np.zeros(2)
        return np.median((moved - self._corners)[followed, 0], axis=0)


def _torso_corners(frame: np.ndarray, grey: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """Good corners to follow on the person below the chin, outside the (grown) face oval."""
    oval = points[face_topology().oval, :2]
    centre = oval.mean(axis=0)
    radius = float(np.linalg.norm(oval - centre, axis=1).max())
    mask = (person_probability(frame) > 0.5).astype(np.uint8)
    mask[: int(min(grey.shape[0], max(0.0, points[152, 1] + BELOW_CHIN * radius)))] = 0
    cv2.fillPoly(mask, [np.round(centre + FACE_MARGIN * (oval - centre)).astype(np.int32)], 0)
    return cv2.goodFeaturesToTrack(grey, CORNERS, 0.01, 4, mask=mask)
