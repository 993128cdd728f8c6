"""Face detection with MediaPipe's bundled short- and full-range BlazeFace models.

BlazeFace sees the image at 128-192 px, so faces under ~1/15 of the image side vanish; large
images are therefore also scanned in overlapping tiles and the boxes merged.
"""

from __future__ import annotations

import numpy as np

from thead.face._mediapipe import quiet_native_logs, solutions

TILE = 512
TILE_STRIDE = 384


class FaceDetector:
    """Boxes of all faces in an RGB image, largest first."""

    def __init__(self, min_confidence: float = 0.5) -> None:
        module = solutions().face_detection
        with quiet_native_logs():
            self._models = [
                module.FaceDetection(model_selection=m, min_detection_confidence=min_confidence) for m in (0, 1)
            ]
            self._run(np.zeros((48, 64, 3), np.uint8), 0, 0)

    def __call__(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """List of ``(box [x0, y0, x1, y1] in pixels, score)``, sorted by box area, largest first."""
        height, width = rgb.shape[:2]
        found = self._run(rgb, 0, 0)
        if max(height, width) > TILE * 1.25:
            for y in _starts(height):
                for x in _starts(width):
                    found += self._run(rgb[y : y + TILE, x : x + TILE], x, y)
        kept = _non_max_suppression(found)
        return sorted(kept, key=lambda item: -float((item[0][2] - item[0][0]) * (item[0][3] - item[0][1])))

    def _run(self, rgb: np.ndarray, offset_x: int, offset_y: int) -> list[tuple[np.ndarray, float]]:
        height, width = rgb.shape[:2]
        found = []
        for model in self._models:
            result = model.process(np.ascontiguousarray(rgb))
            for detection in result.detections or []:
                rel = detection.location_data.relative_bounding_box
                box = np.array(
                    [rel.xmin * width, rel.ymin * height, (rel.xmin + rel.width) * width, (rel.ymin + rel.height) * height],
                    dtype=np.float32,
                ) + np.array([offset_x, offset_y, offset_x, offset_y], np.float32)
                found.append((box, float(detection.score[0])))
        return found

    def close(self) -> None:
        for model in self._models:
            model.close()


def _starts(length: int) -> list[int]:
    if length <= TILE:
        return [0]
    starts = list(range(0, length - TILE, TILE_STRIDE))
    return starts + [length - TILE]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _non_max_suppression(found: list[tuple[np.ndarray, float]], threshold: float = 0.3) -> list[tuple[np.ndarray, float]]:
    kept: list[tuple[np.ndarray, float]] = []
    for box, score in sorted(found, key=lambda item: -item[1]):
        if all(_iou(box, other) < threshold for other, _ in kept):
            kept.append((box, score))
    return kept
