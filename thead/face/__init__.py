"""Face analysis on the embedded MediaPipe models: detection, 478-point mesh, pose, eyes, gaze, mouth."""

from thead.face.mesh import FaceTracker, analyze_image, detect_faces
from thead.face.types import Face, HeadPose

__all__ = ["Face", "FaceTracker", "HeadPose", "analyze_image", "detect_faces"]
