"""Is a fitted mesh a human face? MediaPipe's mesh fits a human face to anything face-like (a dog, an
alpaca), and a renderer would then paint a human mouth under its nose.

The check asks MediaPipe's two BlazeFace detectors (short range, full range), trained on human faces
only, to look at the fitted face the way they were trained to see one: upright (the mesh's eye line
levelled) and framed at three margins around the mesh box (1.5, 2.2 and 3 times its longer side). The
evidence is the short-range model's best score plus the full-range model's best score (each 0..1);
human faces, painted, sculpted or cartoon ones included, score well above ``MIN_EVIDENCE`` from
either model, animals well below (calibrated on the shared portraits, talking clips and driving
frames; see the tests). It is a check on the source portrait only: once per image, under 0.1 s on 2 cores.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from thead.errors import NoFaceError
from thead.face._mediapipe import quiet_native_logs, solutions
from thead.face.types import Face

MARGINS = (1.5, 2.2, 3.0)
CROP_SIDE = 256
#: short-range best + full-range best: human faces measured >= 1.66 (>= 1.6 blurred, darkened, JPEG q15,
#: 100 px), animals <= 1.45.
MIN_EVIDENCE = 1.5
SMALL_FACE = 40  # pixels: a face narrower than this that fails the check is called too small, not inhuman
RIGHT_EYE, LEFT_EYE = (33, 133), (263, 362)


@dataclass(frozen=True)
class Plausibility:
    """The detectors' best scores on the upright crops of a fitted face, and the verdict."""

    short_range: float
    full_range: float

    @property
    def evidence(self) -> float:
        return self.short_range + self.full_range

    @property
    def human(self) -> bool:
        return self.evidence >= MIN_EVIDENCE


def upright_crop(rgb: np.ndarray, points: np.ndarray, margin: float, side: int = CROP_SIDE) -> np.ndarray:
    """A ``side`` square around the mesh box, ``margin`` times its longer side, rotated so that the
    eye line is level (out-of-frame parts mirrored in)."""
    p = np.asarray(points, np.float64)[:, :2]
    right, left = p[list(RIGHT_EYE)].mean(axis=0), p[list(LEFT_EYE)].mean(axis=0)
    angle = float(np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0])))
    low, high = p.min(axis=0), p.max(axis=0)
    centre = (low + high) / 2
    span = max(float((high - low).max()) * margin, 1.0)
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, side / span)
    matrix[:, 2] += (side / 2 - centre[0], side / 2 - centre[1])
    return cv2.warpAffine(np.ascontiguousarray(rgb), matrix, (side, side), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REFLECT)


class _Scorers:
    """Both BlazeFace models at a low threshold, so that weak detections still report their score."""

    def __init__(self) -> None:
        module = solutions().face_detection
        with quiet_native_logs():
            self.models = [module.FaceDetection(model_selection=m, min_detection_confidence=0.1) for m in (0, 1)]
            for model in self.models:
                model.process(np.zeros((48, 64, 3), np.uint8))

    def best(self, rgb: np.ndarray) -> tuple[float, float]:
        """The best detection score of each model on ``rgb`` (0 when it finds nothing)."""
        scores = []
        for model in self.models:
            detections = model.process(rgb).detections or []
            scores.append(max((float(d.score[0]) for d in detections), default=0.0))
        return scores[0], scores[1]


@functools.lru_cache(maxsize=1)
def _scorers() -> _Scorers:
    return _Scorers()


def plausibility(rgb: np.ndarray, face: Face) -> Plausibility:
    """How strongly the human-face detectors confirm ``face`` (a mesh fitted on ``rgb``)."""
    scores = np.array([_scorers().best(upright_crop(rgb, face.points, margin)) for margin in MARGINS])
    short, full = scores.max(axis=0)
    return Plausibility(float(short), float(full))


def require_human_face(rgb: np.ndarray, face: Face, name: str = "image") -> None:
    """NoFaceError (exit 3) when the mesh fitted on ``rgb`` is not confirmed as a human face."""
    verdict = plausibility(rgb, face)
    if verdict.human:
        return
    width = float(np.ptp(face.points[:, 0]))
    if width < SMALL_FACE:  # too few pixels for the detectors to tell: say so rather than blame the face
        raise NoFaceError(
            f"the face found in {name} is only {width:.0f} px wide, too small to confirm as a human face "
            f"(face-detector evidence {verdict.evidence:.2f} < {MIN_EVIDENCE})",
            f"use a larger picture of the face: at least ~{SMALL_FACE} px wide")
    raise NoFaceError(
        f"the face found in {name} does not look human (face-detector evidence {verdict.evidence:.2f} "
        f"< {MIN_EVIDENCE}); thead animates human faces only",
        "use a portrait of a person (photo, painting or drawing), facing the camera and upright")
