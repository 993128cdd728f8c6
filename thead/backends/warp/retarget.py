"""Put driving motion onto the source: target head pose and target landmarks on the source face.

Relative mode (the FOMM / LivePortrait convention) moves the source by the driving's change
since the reference frame: R_t = R_d R_ref^T R_s, scale by s_d / s_ref, translation by the
driving's shift scaled by the face-size ratio, expression = source + (driving - reference).
Absolute mode takes the driving's rotation and expression as they are and keeps the source's
position and size. Eye openness, mouth openness and gaze come from their own channels (so that
edits of those channels take effect) through the lid and jaw rigs: eye openness as a ratio of the
reference's, mouth openness and gaze as differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from thead.backends.warp.eyes import EyeRig
from thead.backends.warp.mesh import MESH_POINTS, face_topology, graph_distance
from thead.backends.warp.mouth import JawRig
from thead.face import geometry
from thead.motion.extract import face_motion

MAX_TURN_DEG = 35.0  # relative head rotation beyond this is scaled back onto it
# Relative head translation, in inter-ocular spans of the source: followed exactly up to FREE_SHIFT
# (a 20° turn alone moves the eyes about 0.4 sideways), then eased onto MAX_SHIFT, so a driver
# walking across its frame cannot push the face out of the working crop.
FREE_SHIFT = 0.6
MAX_SHIFT = 1.0
SCALE_RANGE = (0.8, 1.25)  # relative head size (a driver leaning in or back)
# Driving mouth openness at or below which the mouth is shut firmly. Openness is the 2D distance of paired inner-lip
# points over the mouth width, so lips that touch but whose pairs are a pixel apart sideways measure about 0.02: a
# closed mouth edited into the landmarks (drive-audio's silences) reads 0.023, and was left a slit showing the
# source's teeth when the source's own mouth was open.
SHUT_MOUTH = 0.03  # ...
SHUT_PRESS = 0.1  # ... by pressing the lips this much (negative openness; see JawRig.set_openness), which hides
# the source's own opening where its landmarks sit inside it; with the driver's picture, whose shut lips are laid
# over the seam (see mouth.MouthFiller.fill), a light press keeps the lips' fullness
DRIVEN_SHUT_PRESS = 0.03
MIN_EYE_OPEN = 0.08  # reference openness floor, so a reference caught mid-blink does not blow up the ratio
OUTLINE_FLATTEN = 0.3  # share of the depth removed at the face outline, fading to none inwards
OUTLINE_FLATTEN_HOPS = 4
# MediaPipe's depth is shallower than a real head's: turning its mesh by an angle moves the face
# less than a real turn of that angle does, and the result reads as a smaller turn (15° of yaw
# measured 9°). Turns are rendered about a head this much deeper; pitch, which the deeper head
# then overshoots, is scaled back. Both were fitted so that a rigid 3D fit of the output mesh
# to the source mesh delivers the requested angle (see tests/test_edit_pose.py).
DEPTH_GAIN = 1.65
PITCH_GAIN = 0.85
MOVES = {  # region -> (pose, eyes, mouth, rest of the expression)
    "all": (True, True, True, True),
    "pose": (True, False, False, False),
    "exp": (False, True, True, True),
    "eyes": (False, True, False, False),
    "lips": (False, False, True, False),
}


@dataclass(frozen=True)
class Target:
    """Where the source face should be in this frame (image pixels of the source)."""

    points: np.ndarray  # [478, 3]
    rotation: np.ndarray
    translation: np.ndarray
    scale: float
    gaze_shift: np.ndarray  # gaze change (x, y) in half eye widths
    eye_closure: np.ndarray  # per eye (right, left of the subject): 0 as open as the source, 1 shut
    rigid_points: np.ndarray  # [478, 3] the source landmarks moved by the target head pose only


def _rotation(frame: dict[str, np.ndarray], pitch_from: float | None = None) -> np.ndarray:
    """The frame's head rotation; with ``pitch_from``, its pitch change from that angle scaled by PITCH_GAIN."""
    pitch = float(frame["pitch"])
    if pitch_from is not None:
        pitch = pitch_from + PITCH_GAIN * (pitch - pitch_from)
    return geometry.angles_to_rotation(float(frame["yaw"]), pitch, float(frame["roll"]))


def _limit_turn(rotation: np.ndarray, limit_deg: float) -> np.ndarray:
    vector, _ = cv2.Rodrigues(rotation)
    angle = float(np.linalg.norm(vector))
    if np.degrees(angle) <= limit_deg:
        return rotation
    return cv2.Rodrigues(vector * (np.radians(limit_deg) / angle))[0]


def soft_limit(shift: np.ndarray, free: float, limit: float) -> np.ndarray:
    """``shift`` as it is up to length ``free``, beyond it eased (tanh) so that it never exceeds ``limit``."""
    length = float(np.linalg.norm(shift))
    if length <= free:
        return shift
    room = limit - free
    return shift * ((free + room * np.tanh((length - free) / room)) / length)


def _region_weights(hops: np.ndarray, full: int, fade: tuple[float, ...]) -> np.ndarray:
    weights = np.zeros(len(hops), np.float32)
    weights[hops <= full] = 1.0
    for step, value in enumerate(fade, start=1):
        weights[hops == full + step] = value
    return weights


class Retargeter:
    """One source face's pose, canonical expression and rigs; maps driving frames to target landmarks."""

    def __init__(self, points: np.ndarray) -> None:
        self.motion = face_motion(points)
        self.pose = geometry.estimate_head_pose(points)
        self.canonical = self.motion["expression"]
        self.eyes = EyeRig(self.canonical)
        self.jaw = JawRig(self.canonical)
        topo = face_topology()
        eye_region = np.ones(len(points), np.float32)  # the irises (468..477) move with the eyes
        eye_region[:MESH_POINTS] = _region_weights(graph_distance(np.concatenate([*topo.right_eye, *topo.left_eye])), 3,
                                                   (0.5, 0.2))
        lip_region = np.zeros(len(points), np.float32)
        lip_region[:MESH_POINTS] = _region_weights(graph_distance(np.concatenate(topo.mouth)), 4, (0.5, 0.2))
        # Lids and the skin rings around them follow the eye-openness channel through the rig instead.
        self._masks = {"eyes": eye_region * self.eyes.expression_mask, "lips": np.maximum(lip_region, self.jaw.weight),
                       "all": self.eyes.expression_mask}
        # Flatten the depth towards the face outline for the 2D motion: MediaPipe's outline points
        # lie far behind the cheeks, and turning them rigidly folds the cheek over the outline.
        hops = np.full(len(points), OUTLINE_FLATTEN_HOPS, np.float32)
        hops[:MESH_POINTS] = np.minimum(graph_distance(topo.oval), OUTLINE_FLATTEN_HOPS)
        self.depth_scale = (1.0 - OUTLINE_FLATTEN * (1.0 - hops / OUTLINE_FLATTEN_HOPS)).astype(np.float32)
        self._points = np.asarray(points, np.float32)

    def _compose(self, expression: np.ndarray, rotation: np.ndarray, translation: np.ndarray, scale: float) -> np.ndarray:
        """Image landmarks of a canonical expression, with the outline's depth flattened."""
        flat = expression.copy()
        flat[:, 2] *= self.depth_scale * DEPTH_GAIN
        return geometry.compose(flat, rotation, translation, scale)

    def _place(self, expression: np.ndarray, rotation: np.ndarray, translation: np.ndarray, scale: float) -> np.ndarray:
        """Image landmarks of ``expression`` in the target pose.

        The head turns about the deeper head (DEPTH_GAIN), but the expression's own change is seen at the
        source pose with the landmarks' true depth: lips that meet in depth meet in the image at any pitch.
        """
        src = self.pose
        turn = self._compose(expression, rotation, translation, scale) - self._compose(
            expression, src.rotation, src.translation, src.scale)
        change = geometry.compose(expression - self.canonical, src.rotation, np.zeros(3), src.scale)
        return self._points + change + turn

    def _pose(self, driving: dict, reference: dict | None) -> tuple[np.ndarray, np.ndarray, float]:
        """Target rotation, head centre and size."""
        src = self.pose
        if reference is None:  # absolute: the driving's rotation, the source's place and size
            turn = _limit_turn(_rotation(driving, src.pitch) @ src.rotation.T, MAX_TURN_DEG)
            return turn @ src.rotation, src.translation, src.scale
        turn = _limit_turn(_rotation(driving, float(reference["pitch"])) @ _rotation(reference).T, MAX_TURN_DEG)
        size = max(float(reference["scale"]), 1e-6)
        shift = np.zeros(3)
        shift[:2] = (np.asarray(driving["translation"][:2]) - reference["translation"][:2]) * (src.scale / size)
        shift[:2] = soft_limit(shift[:2], FREE_SHIFT * src.scale, MAX_SHIFT * src.scale)
        ratio = float(np.clip(float(driving["scale"]) / size, *SCALE_RANGE))
        return turn @ src.rotation, src.translation + shift, src.scale * ratio

    def _expression(self, driving: dict, base: dict, region: str) -> np.ndarray:
        """Source canonical expression plus the driving's change, limited to ``region``."""
        _, move_eyes, move_mouth, move_rest = MOVES[region]
        delta = np.asarray(driving["expression"], np.float32) - np.asarray(base["expression"], np.float32)
        mask = np.zeros(len(delta), np.float32)
        for name, moves in (("all", move_rest), ("eyes", move_eyes), ("lips", move_mouth)):
            if moves:
                mask = np.maximum(mask, self._masks[name])
        return self.canonical + mask[:, None] * delta

    def target(self, driving: dict[str, np.ndarray], reference: dict[str, np.ndarray] | None, region: str,
               shut_press: float = SHUT_PRESS) -> Target:
        """Target landmarks of the source for one driving frame (``reference`` None: absolute mode).

        ``shut_press`` is how far a mouth the driving shuts is pressed (negative openness).
        """
        move_pose, move_eyes, move_mouth, _ = MOVES[region]
        base = self.motion if reference is None else reference
        expression = self._expression(driving, base, region)
        # Eyes open by ratio (a squint shuts small eyes as much as big ones); left, right of the subject.
        ratio = np.ones(2)
        if move_eyes:
            ratio = np.asarray(driving["eye_open"], np.float64) / np.maximum(np.asarray(base["eye_open"], np.float64),
                                                                              MIN_EYE_OPEN)
        expression = self.eyes.set_openness(expression, self.eyes.source_openness[::-1] * ratio)
        openness = np.array([eye.openness(expression) for eye in self.eyes.eyes])
        closure = np.clip(1.0 - openness / np.maximum(self.eyes.source_openness, 1e-6), 0.0, 1.0)
        mouth_change = float(driving["mouth_open"]) - float(base["mouth_open"]) if move_mouth else 0.0
        mouth_target = self.jaw.source_openness + mouth_change
        if move_mouth and float(driving["mouth_open"]) <= SHUT_MOUTH < float(base["mouth_open"]):
            mouth_target = -shut_press  # a mouth asked to shut closes fully, whatever the landmarks' lag
        expression = self.jaw.set_openness(expression, mouth_target)
        gaze = np.asarray(driving["gaze"], np.float32) - np.asarray(base["gaze"], np.float32)
        gaze_shift = gaze if move_eyes else np.zeros(2, np.float32)

        if move_pose:
            rotation, translation, scale = self._pose(driving, reference)
        else:
            rotation, translation, scale = self.pose.rotation, self.pose.translation, self.pose.scale
        points = self._place(expression, rotation, translation, scale)
        rigid = self._place(self.canonical, rotation, translation, scale)
        return Target(points, rotation, translation, scale, gaze_shift, closure, rigid)
