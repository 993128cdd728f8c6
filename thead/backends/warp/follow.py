"""Corners picked on the first driving frame with a face, followed through the clip by Lucas-Kanade flow.

The driver's torso (:mod:`thead.backends.warp.torso`) and hair (:mod:`thead.backends.warp.skull`)
are measured this way: always from the first frame, so that no drift builds up, and in the first
face's inter-ocular spans, so that the measure carries over to a source of any size.
"""

from __future__ import annotations

import cv2
import numpy as np

from thead.backends.warp.mesh import face_topology
from thead.backends.warp.person import person_probability

QUALITY = 0.01  # cv2.goodFeaturesToTrack: weakest corner kept, relative to the strongest
MIN_DISTANCE = 4  # pixels between corners


class CornerFollower:
    """Feed it every driving frame in order with its face landmarks (:meth:`observe`); subclasses say where corners
    are picked (:meth:`region`) and turn each frame's followed corners into a reading (:meth:`read`)."""

    corners = 60  # corners picked
    min_corners = 8  # fewer on the first face: nothing is measured
    window = (15, 15)  # LK window, pixels
    levels = 2  # LK pyramid levels above the full picture
    min_followed = 0.5  # share of the corners LK must follow for a frame to be read
    missing: np.ndarray  # the reading of a frame that cannot be read

    def __init__(self) -> None:
        self._first: np.ndarray | None = None  # grey first frame with a face
        self._corners: np.ndarray | None = None
        self._centre = np.zeros(2)  # face centre (oval) of the first face, pixels
        self._span = 1.0  # inter-ocular span of the first face, pixels
        self._readings: list[np.ndarray] = []
        self._before_face = 0  # frames observed before the first face

    def observe(self, frame: np.ndarray, points: np.ndarray | None) -> None:
        """Measure one frame (RGB uint8) with its face's landmarks [478, 3] in pixels, or None."""
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self._first is None and points is not None:
            self._first = grey
            self._corners = cv2.goodFeaturesToTrack(grey, self.corners, QUALITY, MIN_DISTANCE,
                                                    mask=self.region(frame, points))
            self._centre = points[face_topology().oval, :2].mean(axis=0).astype(np.float64)
            self._span = max(float(np.linalg.norm(points[263, :2] - points[33, :2])), 1.0)
        self._before_face += self._first is None
        followed = self._follow(grey)
        self._readings.append(np.array(self.missing, np.float64) if followed is None else self.read(*followed))

    def region(self, frame: np.ndarray, points: np.ndarray) -> np.ndarray:
        """uint8 mask [H, W] of where corners are picked on the first frame with a face (RGB, its landmarks)."""
        raise NotImplementedError

    def read(self, start: np.ndarray, moved: np.ndarray) -> np.ndarray:
        """One frame's reading from the followed corners: first-frame positions and where they are now, [K, 2]."""
        raise NotImplementedError

    def _follow(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        if self._first is None or self._corners is None or len(self._corners) < self.min_corners:
            return None
        moved, found, _ = cv2.calcOpticalFlowPyrLK(self._first, grey, self._corners, None, winSize=self.window,
                                                   maxLevel=self.levels)
        found = found[:, 0] == 1
        if found.mean() < self.min_followed:
            return None
        return self._corners[found, 0], moved[found, 0]


def person_outside_face(frame: np.ndarray, points: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(mask, centre, radius): uint8 mask of the person in ``frame`` (segmentation above 0.5) outside the face oval of
    ``points`` grown by ``margin``, and that oval's centre and largest radius, pixels."""
    oval = points[face_topology().oval, :2]
    centre = oval.mean(axis=0)
    radius = float(np.linalg.norm(oval - centre, axis=1).max())
    mask = (person_probability(frame) > 0.5).astype(np.uint8)
    cv2.fillPoly(mask, [np.round(centre + margin * (oval - centre)).astype(np.int32)], 0)
    return mask, centre, radius
