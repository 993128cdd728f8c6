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

from thead.backends.warp.follow import CornerFollower
from thead.backends.warp.mesh import face_topology
from thead.backends.warp.person import person_probability

CORNERS = 60  # torso corners followed
BELOW_CHIN = 0.1  # face radii below the chin where the torso begins
FACE_MARGIN = 1.1  # the face oval grown by this, kept out of the torso


class TorsoTracker(CornerFollower):
    """Feed it every driving frame in order with its face landmarks (:meth:`observe`); read :meth:`shifts`."""

    corners = CORNERS
    levels = 2  # sways are a few pixels
    missing = np.zeros(2)

    def shifts(self) -> np.ndarray:
        """[T, 2] torso shift (x, y) of each observed frame since the first face, in its inter-ocular spans."""
        return np.array(self._readings, np.float32).reshape(-1, 2) / self._span

    def pick(self, frame: np.ndarray, grey: np.ndarray, points: np.ndarray) -> np.ndarray | None:
        return _torso_corners(frame, grey, points)

    def read(self, start: np.ndarray, moved: np.ndarray) -> np.ndarray:
        return np.median(moved - start, axis=0)


def _torso_corners(frame: np.ndarray, grey: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """Good corners to follow on the person below the chin, outside the (grown) face oval."""
    oval = points[face_topology().oval, :2]
    centre = oval.mean(axis=0)
    radius = float(np.linalg.norm(oval - centre, axis=1).max())
    mask = (person_probability(frame) > 0.5).astype(np.uint8)
    mask[: int(min(grey.shape[0], max(0.0, points[152, 1] + BELOW_CHIN * radius)))] = 0
    cv2.fillPoly(mask, [np.round(centre + FACE_MARGIN * (oval - centre)).astype(np.int32)], 0)
    return cv2.goodFeaturesToTrack(grey, CORNERS, 0.01, 4, mask=mask)
