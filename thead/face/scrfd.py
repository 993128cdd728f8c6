"""insightface's SCRFD face detector (``det_10g.onnx``), the detector LivePortrait's own code uses.

Optional and fetched: its weights are licensed for non-commercial research only, so thead uses
MediaPipe's Apache-2.0 detector unless this one is asked for (``-O detector=insightface`` on the
LivePortrait backend). Boxes from it are refined by the same 478-point mesh.
"""

from __future__ import annotations

import warnings

import numpy as np

WEIGHTS = "liveportrait-insightface"
MODEL_FILE = "det_10g.onnx"
LICENCE = "insightface models: non-commercial research only"
INPUT_SIZE = (640, 640)


class SCRFDDetector:
    """Face boxes from SCRFD via onnxruntime, largest first (same interface as ``FaceDetector``)."""

    def __init__(self, min_confidence: float = 0.5) -> None:
        from thead.weights import resolve_files

        files = resolve_files(WEIGHTS)
        path = next(p for key, p in files.items() if key.endswith(MODEL_FILE))
        warnings.warn(f"using insightface's SCRFD detector ({LICENCE}); the default MediaPipe detector has no such limit",
                      stacklevel=2)
        from insightface.model_zoo import model_zoo

        self._model = model_zoo.get_model(str(path), providers=["CPUExecutionProvider"])
        self._model.prepare(ctx_id=-1, input_size=INPUT_SIZE, det_thresh=min_confidence)

    def __call__(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """List of ``(box [x0, y0, x1, y1] in pixels, score)``, sorted by box area, largest first."""
        boxes, _ = self._model.detect(np.ascontiguousarray(rgb[:, :, ::-1]), input_size=INPUT_SIZE)
        found = [(box[:4].astype(np.float32), float(box[4])) for box in boxes]
        return sorted(found, key=lambda item: -float((item[0][2] - item[0][0]) * (item[0][3] - item[0][1])))

    def close(self) -> None:
        """Nothing to release (onnxruntime frees the session with the object)."""
