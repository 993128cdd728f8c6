"""Face analysis on the embedded MediaPipe models: detection, 478-point mesh, pose, eyes, gaze, mouth."""
