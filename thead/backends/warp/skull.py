"""The driver's skull motion as the picture shows it: where hair and the head's outline go, frame by frame.

The head pose read from face landmarks places the face, but hair carried by the skull is where a
reenactment is judged at a glance, and the landmark pose is the wrong thing to move it by: the mesh
jitters by a few tenths of a pixel, and its fitted pose shifts as the mouth opens (the mesh's depth
couples jaw and pitch), so hair moved by it trembles with every syllable while the real speaker's
holds still. Corners on the hair above and beside the first frame's face (the person segmentation,
outside the face oval) are followed by pyramidal Lucas-Kanade flow, always from the first frame so
that no drift builds up, and each frame's similarity (shift, roll, size) is fitted to them robustly.
Frames where too few corners are followed are filled from their neighbours; a clip with too few
followed frames (a bald head, a hat, a face filling the frame) has no skull motion, and the renderer
moves hair with the landmark pose as before.
"""

from __future__ import annotations

import cv2
import numpy as np

from thead.backends.warp.follow import CornerFollower, person_outside_face

CORNERS = 80  # hair corners followed
MIN_CORNERS = 12  # fewer good corners on the first frame: no skull motion
MIN_KEPT = 0.5  # share of the corners a frame's fit must keep (followed and within the RANSAC tolerance)
TOLERANCE = 0.04  # inter-ocular spans (at least a pixel): RANSAC reprojection tolerance of the similarity fit
MIN_FRAMES = 0.8  # share of frames from the first face on that must have a fit for the clip to have skull motion
FACE_MARGIN = 1.05  # the face oval grown by this is not hair
REACH = 1.8  # corners lie within this many face radii of the face centre
ABOVE_EYES = 0.0  # and above this many face radii below the eye line (hair beside the temples, not the neck)


class SkullTracker(CornerFollower):
    """Feed it every driving frame in order with its face landmarks (:meth:`observe`); read :meth:`moves`."""

    corners = CORNERS
    min_corners = MIN_CORNERS
    levels = 3  # a head moves further than a torso
    missing = np.full(4, np.nan)

    def moves(self) -> np.ndarray | None:
        """[T, 4] per observed frame: the skull's shift (x, y) since the first face in its inter-ocular spans, its
        roll in degrees and its log size ratio, about that face's centre; None when the hair cannot be followed."""
        if not self._readings:
            return None
        moves = np.array(self._readings, np.float64)
        found = np.isfinite(moves[:, 0])
        if not found.any() or found[self._before_face :].mean() < MIN_FRAMES:  # frames before the face do not count
            return None
        index = np.arange(len(moves))
        for column in range(4):
            moves[:, column] = np.interp(index, index[found], moves[found, column])
        moves[:, :2] /= self._span
        return moves.astype(np.float32)

    def region(self, frame: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The person around the top of the head, outside the (grown) face oval."""
        mask, centre, radius = person_outside_face(frame, points, FACE_MARGIN)
        eyes = float(points[[33, 263], 1].mean())
        mask[int(np.clip(eyes + ABOVE_EYES * radius, 0, frame.shape[0])):] = 0
        reach = np.zeros_like(mask)
        cv2.circle(reach, tuple(int(v) for v in np.round(centre)), int(REACH * radius), 1, -1)
        return mask & reach

    def read(self, start: np.ndarray, moved: np.ndarray) -> np.ndarray:
        matrix, inliers = cv2.estimateAffinePartial2D(start, moved, method=cv2.RANSAC,
                                                      ransacReprojThreshold=max(TOLERANCE * self._span, 1.0))
        if matrix is None or inliers.sum() < MIN_KEPT * len(self._corners):
            return np.array(self.missing)
        return similarity_about(matrix, self._centre)


def similarity_about(matrix: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(shift x, shift y, roll degrees, log scale) of a 2x3 similarity ``matrix``, the shift taken at ``centre``."""
    a, b = float(matrix[0, 0]), float(matrix[1, 0])
    shift = matrix[:, :2] @ centre + matrix[:, 2] - centre
    return np.array([shift[0], shift[1], np.degrees(np.arctan2(b, a)), np.log(max(np.hypot(a, b), 1e-6))])


def similarity_matrix(move: np.ndarray, centre: np.ndarray, span: float) -> np.ndarray:
    """2x3 matrix of a skull ``move`` (see :meth:`SkullTracker.moves`) about ``centre``, shifts in spans of ``span``."""
    angle, scale = np.radians(float(move[2])), float(np.exp(move[3]))
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.concatenate([linear, (centre - linear @ centre + np.asarray(move[:2], np.float64) * span)[:, None]], 1)


def relative_move(driving: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The skull move from the ``reference`` frame to the ``driving`` one (both since the first face), about the
    head's centre at the reference: the centres' shift (in spans at the reference's size), roll and size change."""
    shift = (np.asarray(driving[:2], np.float64) - np.asarray(reference[:2], np.float64)) / np.exp(float(reference[3]))
    return np.array([shift[0], shift[1], driving[2] - reference[2], driving[3] - reference[3]])
