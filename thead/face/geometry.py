"""Geometry on the 478 MediaPipe landmarks: head pose, canonical expression, eyes, gaze, mouth.

Axes: x right, y down (image), z away from the camera (MediaPipe's z, in pixels). The canonical
frame is the head's own: x from the subject's right eye to the left eye, y from forehead to
chin, z = x × y (into the head). Pose comes from rigid upper-face points only, so mouth and
eye movements do not leak into it.
"""

from __future__ import annotations

import numpy as np

from thead.face.types import HeadPose

# Symmetric pairs (subject's right, subject's left) spanning the x axis, and vertical pairs
# (upper, lower) spanning the y axis; all on rigid parts of the face.
_X_PAIRS = np.array([(33, 263), (133, 362), (234, 454), (127, 356), (70, 300), (98, 327)])
_Y_PAIRS = np.array([(10, 2), (151, 4), (9, 195), (109, 49), (338, 279)])
_CENTRE = np.array([33, 133, 362, 263, 168, 6, 197, 195])

RIGHT_EYE = {"outer": 33, "inner": 133, "upper": (160, 159, 158), "lower": (144, 145, 153), "iris": 468}
LEFT_EYE = {"outer": 263, "inner": 362, "upper": (387, 386, 385), "lower": (373, 374, 380), "iris": 473}
MOUTH = {"left": 78, "right": 308, "upper": (82, 13, 312), "lower": (87, 14, 317)}
MOUTH_CORNERS = (61, 291)  # outer lip corners

# MediaPipe indices of the iBUG 68-point scheme (jaw, brows, nose, eyes, outer and inner lips).
INDICES_68 = np.array([
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
    71, 63, 105, 66, 107, 336, 296, 334, 293, 301,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    78, 82, 13, 312, 308, 317, 14, 87,
])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def head_rotation(points: np.ndarray) -> np.ndarray:
    """3x3 rotation whose columns are the head's canonical axes in image coordinates."""
    p = np.asarray(points, dtype=np.float64)
    x_axis = _unit((p[_X_PAIRS[:, 1]] - p[_X_PAIRS[:, 0]]).sum(axis=0))
    y_dir = (p[_Y_PAIRS[:, 1]] - p[_Y_PAIRS[:, 0]]).sum(axis=0)
    y_axis = _unit(y_dir - x_axis * float(y_dir @ x_axis))
    z_axis = np.cross(x_axis, y_axis)
    return np.stack([x_axis, y_axis, z_axis], axis=1)


def rotation_to_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees for R = Rz(roll) · Ry(yaw) · Rx(-pitch).

    Signs: yaw > 0 when the subject turns towards the image's left, pitch > 0 when they look
    up, roll > 0 when the head tilts clockwise on screen.
    """
    r = rotation
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = -np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return float(yaw), float(pitch), float(roll)


def angles_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Inverse of :func:`rotation_to_angles`."""
    y, p, r = np.radians([yaw, -pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def estimate_head_pose(points: np.ndarray) -> HeadPose:
    """Head pose from the 3D landmarks: angles, rotation, centre and size (inter-ocular span, px)."""
    p = np.asarray(points, dtype=np.float64)
    rotation = head_rotation(p)
    yaw, pitch, roll = rotation_to_angles(rotation)
    scale = float(np.linalg.norm(p[263] - p[33]))
    translation = p[_CENTRE].mean(axis=0)
    return HeadPose(yaw, pitch, roll, rotation, translation, scale)


def canonicalize(points: np.ndarray, pose: HeadPose) -> np.ndarray:
    """Pose-free, size-free landmarks: R^T (points - centre) / scale, [478, 3] float32."""
    local = (np.asarray(points, np.float64) - pose.translation) @ pose.rotation / pose.scale
    return local.astype(np.float32)


def compose(expression: np.ndarray, rotation: np.ndarray, translation: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of :func:`canonicalize`: image-space landmarks, [478, 3] float32."""
    return (scale * np.asarray(expression, np.float64) @ rotation.T + translation).astype(np.float32)


def _eye_openness(p: np.ndarray, eye: dict) -> float:
    gaps = np.linalg.norm(p[list(eye["upper"]), :2] - p[list(eye["lower"]), :2], axis=1).mean()
    width = np.linalg.norm(p[eye["outer"], :2] - p[eye["inner"], :2])
    return float(gaps / max(width, 1e-6))


def eye_openness(points: np.ndarray) -> tuple[float, float]:
    """(left, right) eye openness: mean lid gap over eye width (about 0.25-0.35 open, < 0.1 closed).

    Left and right are the subject's: left is the eye on the image's right side.
    """
    p = np.asarray(points, np.float64)
    return _eye_openness(p, LEFT_EYE), _eye_openness(p, RIGHT_EYE)


def mouth_openness(points: np.ndarray) -> float:
    """Inner-lip gap over mouth width (0 closed, about 0.5-0.8 wide open)."""
    p = np.asarray(points, np.float64)
    gap = np.linalg.norm(p[list(MOUTH["upper"]), :2] - p[list(MOUTH["lower"]), :2], axis=1).mean()
    width = np.linalg.norm(p[MOUTH["left"], :2] - p[MOUTH["right"], :2])
    return float(gap / max(width, 1e-6))


def corner_lift(points: np.ndarray) -> float:
    """How far the mouth corners sit above the lips' centre line, over mouth width (pose-free points; a relaxed
    mouth about 0.02-0.10, a broad smile 0.15 and more)."""
    p = np.asarray(points, np.float64)
    width = np.linalg.norm(p[MOUTH_CORNERS[0], :2] - p[MOUTH_CORNERS[1], :2])
    centre = (p[MOUTH["upper"][1], 1] + p[MOUTH["lower"][1], 1]) / 2.0  # inner lips' midpoints (y grows down)
    corners = (p[MOUTH_CORNERS[0], 1] + p[MOUTH_CORNERS[1], 1]) / 2.0
    return float((centre - corners) / max(width, 1e-6))


def _iris_offset(p: np.ndarray, eye: dict, left_corner: str, right_corner: str) -> np.ndarray:
    """Iris offset from the eye centre in the eye's own frame (x along the eye), in half widths."""
    a, b = p[eye[left_corner], :2], p[eye[right_corner], :2]
    half = max(float(np.linalg.norm(b - a)) / 2, 1e-6)
    axis = (b - a) / (2 * half)
    normal = np.array([-axis[1], axis[0]])
    offset = p[eye["iris"], :2] - (a + b) / 2
    return np.array([offset @ axis, offset @ normal]) / half


def gaze(points: np.ndarray) -> tuple[float, float]:
    """Iris offset from the eye centres, (x, y) in half eye widths, both eyes averaged.

    x > 0 towards the image's right, y > 0 downwards, measured along each eye's own axis so
    that head roll does not read as gaze (about -0.4..0.4 in use).
    """
    p = np.asarray(points, np.float64)
    right = _iris_offset(p, RIGHT_EYE, "outer", "inner")  # the subject's right eye: outer corner on image left
    left = _iris_offset(p, LEFT_EYE, "inner", "outer")
    x, y = (right + left) / 2
    return float(x), float(y)


def to_68(points: np.ndarray) -> np.ndarray:
    """The iBUG 68-point landmarks (mouth = 48..67) picked from the 478 MediaPipe points."""
    return np.asarray(points)[INDICES_68]
