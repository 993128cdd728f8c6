"""The one way the shared channels are measured on a face, for every motion space."""

from __future__ import annotations

import numpy as np

from thead.face import geometry


def measure_face(points: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Shared channels of one face's 478 landmarks (pixels), and its pose-free expression [478, 3].

    Eyes, mouth and gaze are measured on the pose-free expression (the way the edits measure
    them), so a turned head does not read as a squint and measured and edited tracks agree.
    """
    pose = geometry.estimate_head_pose(points)
    expression = geometry.canonicalize(points, pose)
    channels = {
        "yaw": np.float32(pose.yaw),
        "pitch": np.float32(pose.pitch),
        "roll": np.float32(pose.roll),
        "translation": np.asarray(pose.translation, np.float32),
        "scale": np.float32(pose.scale),
        "eye_open": np.array(geometry.eye_openness(expression), np.float32),
        "gaze": np.array(geometry.gaze(expression), np.float32),
        "mouth_open": np.float32(geometry.mouth_openness(expression)),
        "valid": np.float32(1.0),
    }
    return channels, expression
