"""The driver's torso shift: how far shoulders and chest move in the picture since the first frame.

Real speakers sway: the whole upper body drifts a few pixels while they talk (up to 3.5 px on a
GRID clip whose head moves about as much). The head pose says where the head went, not the body.
Corners on the torso of the first frame (the person segmentation below the chin, away from the
face) are followed by pyramidal Lucas-Kanade flow, always from the first frame so that no drift
builds up; each frame's shift is the median of the corners followed, in inter-ocular spans of
the first face. A frame where fewer than half are followed, or before the first face, reads 0.
"""

from __future__ import annotations

import numpy as np

from thead.backends.warp.follow import CornerFollower, person_outside_face

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

    def region(self, frame: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The person below the chin, outside the (grown) face oval."""
        mask, _, radius = person_outside_face(frame, points, FACE_MARGIN)
        mask[: int(min(frame.shape[0], max(0.0, points[152, 1] + BELOW_CHIN * radius)))] = 0
        return mask

    def read(self, start: np.ndarray, moved: np.ndarray) -> np.ndarray:
        return np.median(moved - start, axis=0)
