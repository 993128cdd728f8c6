"""Where the person is: MediaPipe's bundled selfie segmentation, so that only hair, neck and clothes follow the head.

Real footage keeps the background still while the head moves in front of it. The anchors around the
face follow the head by their ring's weight only where they lie on the person (see mesh.ON_PERSON), so
the rings carry the hair and shoulders but leave the wall, flag or sky beside them in place.
"""

from __future__ import annotations

import numpy as np

from thead.face._mediapipe import quiet_native_logs, solutions


def person_probability(image: np.ndarray) -> np.ndarray:
    """Per-pixel probability [H, W] float32 in [0, 1] that ``image`` (RGB uint8) shows the person there."""
    with quiet_native_logs():  # the graph's start and its first inference (TFLite's feedback-manager warning)
        segmenter = solutions().selfie_segmentation.SelfieSegmentation(model_selection=0)
        try:
            mask = segmenter.process(np.ascontiguousarray(image)).segmentation_mask
        finally:
            segmenter.close()
    return np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
