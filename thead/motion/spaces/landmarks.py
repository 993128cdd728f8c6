"""The embedded ``landmarks`` space: shared channels plus the pose-free MediaPipe mesh."""

from __future__ import annotations

from thead.motion.spaces.schema import Channel, MotionSpace
from thead.motion.spaces.shared import COMMON

LANDMARKS = MotionSpace(
    name="landmarks",
    doc="MediaPipe's 478 face landmarks: pose in the shared channels, the rest as a pose-free mesh",
    channels=COMMON + (
        Channel("expression", (478, 3), (-100.0, 100.0), "inter-ocular distances",
                "pose-free, size-free landmarks: R^T (points - centre) / scale"),
        Channel("body", (2,), (-100.0, 100.0), "inter-ocular distances",
                "shift (x, y) of the torso in the picture since the first frame, in that face's inter-ocular spans",
                optional=True),
        Channel("skull", (4,), (-100.0, 100.0), "inter-ocular distances, degrees, log ratio",
                "the hair's move since the first frame as the picture shows it: shift (x, y) of the face centre in "
                "that face's inter-ocular spans, roll in degrees, log size ratio", optional=True),
    ),
    rest=None,  # a neutral mesh is a face's own: start from face_motion() of the portrait
)
