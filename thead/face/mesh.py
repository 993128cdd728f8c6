"""478-point face mesh (with iris) on images and videos, with detection-guided crop-and-retry."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from thead.errors import NoFaceError, UsageError
from thead.face._mediapipe import quiet_native_logs, solutions
from thead.face.detector import FaceDetector
from thead.face.types import Face

CROP_SIDE = 384  # the mesh sees faces at this crop size when it needs a crop-and-retry
CROP_MARGIN = 2.2  # crop side relative to the detector box's longer side


def _points_from_result(landmarks, width: int, height: int) -> np.ndarray:
    raw = np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)
    raw[:, 0] *= width
    raw[:, 1] *= height
    raw[:, 2] *= width
    return raw


def _box_of(points: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _area(box: tuple[float, float, float, float]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


DETECTORS = ("mediapipe", "insightface")


class FaceMesher:
    """Static-image face mesh; each call analyses one image independently.

    With the default MediaPipe detector the mesh also runs on the whole image; with another
    ``detector`` (a callable returning ``[(box, score), ...]``) every face comes from a detection
    refined by the mesh on a crop around it.
    """

    def __init__(self, max_faces: int = 8, detector=None) -> None:
        module = solutions().face_mesh
        with quiet_native_logs():
            self._mesh = module.FaceMesh(static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True,
                                         min_detection_confidence=0.5)
            self._single = module.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                           min_detection_confidence=0.3)
            blank = np.zeros((48, 64, 3), np.uint8)
            self._mesh.process(blank)
            self._single.process(blank)
        self._whole_image = detector is None
        self._detector = detector or FaceDetector()

    def faces(self, rgb: np.ndarray) -> list[Face]:
        """Every face found, largest first: mesh on the whole image, else per detection on a crop."""
        rgb = np.ascontiguousarray(rgb)
        height, width = rgb.shape[:2]
        faces = []
        if self._whole_image:
            with quiet_native_logs():
                result = self._mesh.process(rgb)
            landmarks = result.multi_face_landmarks or []
            faces = [Face(p, _box_of(p), 1.0, (width, height)) for p in (_points_from_result(lm, width, height)
                                                                        for lm in landmarks)]
        detections = self._detector(rgb)
        if len(detections) > len(faces):  # small faces the whole-image mesh missed: crop and retry
            for box, score in detections:
                if any(_overlaps(box, face.box) for face in faces):
                    continue
                points = self._mesh_on_crop(rgb, box)
                if points is not None:
                    faces.append(Face(points, _box_of(points), score, (width, height)))
        return sorted(faces, key=lambda face: -_area(face.box))

    def _mesh_on_crop(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Run the mesh on a square crop around ``box`` scaled to CROP_SIDE; points in full-image pixels."""
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = max(box[2] - box[0], box[3] - box[1]) * CROP_MARGIN
        scale = CROP_SIDE / side
        affine = np.array([[scale, 0, CROP_SIDE / 2 - scale * cx], [0, scale, CROP_SIDE / 2 - scale * cy]], np.float32)
        crop = cv2.warpAffine(rgb, affine, (CROP_SIDE, CROP_SIDE), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        with quiet_native_logs():
            result = self._single.process(crop)
        if not result.multi_face_landmarks:
            return None
        points = _points_from_result(result.multi_face_landmarks[0], CROP_SIDE, CROP_SIDE)
        points[:, 0] = (points[:, 0] - affine[0, 2]) / scale
        points[:, 1] = (points[:, 1] - affine[1, 2]) / scale
        points[:, 2] /= scale
        return points

    def close(self) -> None:
        self._mesh.close()
        self._single.close()
        self._detector.close()


def _overlaps(a, b) -> bool:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter > 0.3 * min(_area(tuple(a)), _area(tuple(b)))


@functools.lru_cache(maxsize=2)
def _shared_mesher(detector: str = "mediapipe") -> FaceMesher:
    if detector not in DETECTORS:
        raise UsageError(f"unknown face detector '{detector}'", f"choose one of: {', '.join(DETECTORS)}")
    if detector == "insightface":
        from thead.face.scrfd import SCRFDDetector

        return FaceMesher(detector=SCRFDDetector())
    return FaceMesher()


def detect_faces(rgb: np.ndarray, detector: str = "mediapipe") -> list[Face]:
    """All faces in an RGB uint8 image with their 478 landmarks, largest first.

    ``detector`` is ``mediapipe`` (embedded, Apache-2.0) or ``insightface`` (SCRFD, fetched with
    ``thead fetch-weights liveportrait-insightface``; non-commercial licence).
    """
    return _shared_mesher(detector).faces(rgb)


def analyze_image(rgb: np.ndarray, face_index: int = 0, name: str = "image", detector: str = "mediapipe") -> Face:
    """The ``face_index``-th largest face of an image; raises NoFaceError naming ``name`` when there is
    none, or when the fitted mesh is not confirmed as a human face (an animal: see ``plausibility``)."""
    faces = detect_faces(rgb, detector)
    if not faces:
        raise NoFaceError(f"no face found in {name}", "use a portrait where the face is visible and at least ~40 px wide")
    if face_index >= len(faces):
        raise NoFaceError(
            f"{name} has {len(faces)} face(s); --face-index {face_index} is out of range",
            f"use --face-index between 0 and {len(faces) - 1}",
        )
    from thead.face.plausibility import require_human_face

    require_human_face(rgb, faces[face_index], name)
    return faces[face_index]


class FaceTracker:
    """Face mesh over consecutive video frames (MediaPipe tracking mode, ~5 ms per frame).

    The tracked face is the ``face_index``-th largest on the first frame, then the face closest
    to the previous one. When tracking loses the face, a detection-guided crop-and-retry runs.
    """

    def __init__(self, face_index: int = 0) -> None:
        self.face_index = face_index
        with quiet_native_logs():
            self._mesh = solutions().face_mesh.FaceMesh(
                static_image_mode=False, max_num_faces=face_index + 1 if face_index == 0 else face_index + 2,
                refine_landmarks=True, min_detection_confidence=0.5, min_tracking_confidence=0.5,
            )
            self._mesh.process(np.zeros((48, 64, 3), np.uint8))
        self._previous: Face | None = None
        self._calls = 0

    def track(self, rgb: np.ndarray) -> Face | None:
        """Landmarks of the tracked face in this frame, or None when it is not found."""
        rgb = np.ascontiguousarray(rgb)
        height, width = rgb.shape[:2]
        if self._calls < 2:  # MediaPipe warns once about the first real ROI
            with quiet_native_logs():
                result = self._mesh.process(rgb)
        else:
            result = self._mesh.process(rgb)
        self._calls += 1
        faces = [
            Face(points, _box_of(points), 1.0, (width, height))
            for points in (_points_from_result(lm, width, height) for lm in (result.multi_face_landmarks or []))
        ]
        if len(faces) <= self.face_index and self._previous is None:
            faces = detect_faces(rgb)
        face = self._choose(faces)
        if face is None and self._previous is not None:
            candidates = [f for f in detect_faces(rgb) if _overlaps(f.box, self._previous.box)]
            face = candidates[0] if candidates else None
        if face is not None:
            self._previous = face
        return face

    def _choose(self, faces: list[Face]) -> Face | None:
        if not faces:
            return None
        if self._previous is None:
            ranked = sorted(faces, key=lambda f: -_area(f.box))
            return ranked[self.face_index] if self.face_index < len(ranked) else None
        prev = np.asarray(self._previous.box)
        centre = (prev[:2] + prev[2:]) / 2
        best = min(faces, key=lambda f: float(np.linalg.norm((np.asarray(f.box[:2]) + np.asarray(f.box[2:])) / 2 - centre)))
        size = prev[2] - prev[0]
        best_centre = (np.asarray(best.box[:2]) + np.asarray(best.box[2:])) / 2
        return best if np.linalg.norm(best_centre - centre) < 1.5 * size else None

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
