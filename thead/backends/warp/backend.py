"""The embedded ``warp`` backend: landmark-driven dense warping of the source portrait."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from thead.backends.base import Backend, DriveOptions
from thead.backends.warp.body import HairLayer, TorsoLayer
from thead.backends.warp.eyes import EyeTextures
from thead.backends.warp.interior import MouthPicture
from thead.backends.warp.lips import ShutLips
from thead.backends.warp.mesh import MESH_POINTS, Anchors, build_anchors, face_topology, graph_distance
from thead.backends.warp.mouth import MouthFiller
from thead.backends.warp.paste import CropBox, PasteMask, face_crop
from thead.backends.warp.person import person_probability
from thead.backends.warp.retarget import (
    DRIVEN_SHUT_PRESS,
    FREE_SHIFT,
    MAX_SHIFT,
    MAX_TURN_DEG,
    MOVES,
    SCALE_RANGE,
    SHUT_PRESS,
    Retargeter,
    Target,
    soft_limit,
)
from thead.backends.warp.skull import SkullTracker, relative_move, similarity_matrix
from thead.backends.warp.torso import TorsoTracker
from thead.backends.warp.warp import MeshWarp
from thead.face import analyze_image, geometry
from thead.face.types import Face
from thead.motion import edits
from thead.motion.frame_edit import FrameEdit
from thead.motion.track import MotionTrack

EXPRESSIVE_SMOOTHING = 0.3  # share of the smoothing strength applied to lips and brows
EXPRESSIVE_HOPS = 2  # mesh edges around the lip contours and brow lines that count as lips and brows
FIELD_STEPS_PER_FACE = 110  # resolution of the warp field: samples across the face oval's diameter
# The head's size is read from the inter-ocular span, which changes by 2-5 % with expression (squints,
# smiles) and landmark noise while a seated speaker's head keeps its distance (measured on the GRID
# clips: 0.954-1.005 over 3 s without moving). Hair and neck scaled by that noise shift by a pixel or
# two at the outer anchor ring, so they follow only the part of a size change beyond this (log ratio):
# a driver leaning in by 10 % still carries them 5 %. Self-reenactment of 9 real clips, 75 frames:
# full-frame SSIM +0.0025 on average (+0.013 on the clip whose span drifts most), none worse by 0.001.
SCALE_DEADBAND = 0.05
# The torso follows the driver's sway (a few pixels; 0.06 inter-ocular spans at most on the GRID speakers) exactly up
# to TORSO_FREE spans, then eased onto TORSO_MAX: a driver whose whole body leaves its place (standing up, the camera
# tilting) would otherwise drag the torso anchors towards the crop border, which holds still, and tear the clothes
# between them. No torso anchor moves more than TORSO_ROOM of its distance to the crop edge it moves towards.
TORSO_FREE = 0.08
TORSO_MAX = 0.15
TORSO_ROOM = 0.5


@dataclass
class WarpSource:
    """Everything about one source portrait that per-frame rendering reuses."""

    image: np.ndarray  # RGB uint8, full resolution
    box: CropBox
    crop: np.ndarray  # working crop of the image
    points: np.ndarray  # [478, 3] landmarks in crop pixels
    retargeter: Retargeter
    anchors: Anchors
    warp: MeshWarp
    eyes: EyeTextures
    mouth: MouthFiller
    lips: ShutLips
    paste_mask: PasteMask | None
    torso: TorsoLayer | None  # below the neck, slides with the driver's torso (None: no trusted torso)
    hair: HairLayer | None  # above the chin, moves with the driver's hair (None: the segmentation is not trusted)
    layer_paste_mask: PasteMask | None  # the paste mask of frames whose torso or hair layer moves (they reach further)
    oval_centre: np.ndarray  # image pixels
    oval_radius: float  # image pixels


def _moving_mask(anchors: Anchors, points: np.ndarray, size: tuple[int, int], torso: TorsoLayer | None = None,
                 hair: HairLayer | None = None, down: np.ndarray | None = None) -> np.ndarray:
    """Where the warp may move pixels: inside the hull of the face and its moving anchors, and on the torso and hair
    layers (the hair's above the chin, along ``down``)."""
    import cv2

    moving = np.concatenate([points[:MESH_POINTS, :2], anchors.points[(anchors.weight > 0) | anchors.torso, :2]])
    mask = np.zeros((size[1], size[0]), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(moving).astype(np.int32)), 1)
    if torso is not None:
        mask[torso.full_size(size) > 0] = 1
    if hair is not None:
        mask[hair.full_size(points, down, size) > 0] = 1
    return cv2.dilate(mask, np.ones((15, 15), np.uint8))


class WarpBackend(Backend):
    """Embedded renderer: MediaPipe landmarks + piecewise-affine warping, CPU real time, no weights."""

    name = "warp"
    space = "landmarks"
    uses_driving_image = True
    tasks = frozenset({"drive-video", "edit", "drive-audio"})
    weights = ()
    licence = "Apache-2.0"
    # Edit requests beyond these are clamped (with a warning) by ``thead edit``: angles are the
    # change in degrees (larger turns fold the cheeks of a 2D warp; see retarget.MAX_TURN_DEG),
    # eyes and mouth the openness targets the eye and jaw rigs render without tearing.
    edit_limits: ClassVar[dict[str, tuple[float, float]]] = {
        "yaw": (-25.0, 25.0), "pitch": (-20.0, 20.0), "roll": (-30.0, 30.0), "eyes": (0.0, 0.4), "mouth": (0.0, 0.7),
    }

    def extract_motion(self, frames: Iterable[np.ndarray], fps: float, face_index: int = 0, smooth: float = 0.5,
                       on_missing: Callable[[int, int], None] | None = None) -> MotionTrack:
        """Landmark motion of the driving frames (see :func:`thead.motion.extract.extract_motion`).

        Lips and brows are smoothed at EXPRESSIVE_SMOOTHING times ``smooth``: they move fast
        (syllables, brow flashes) and full-strength smoothing would mute them to about 0.6-0.8 of
        the driver's amplitude; the rest of the face, which carries the pose, is smoothed fully.
        The driver's torso shift (:mod:`thead.backends.warp.torso`) is the optional ``body`` channel, the move of
        its hair (:mod:`thead.backends.warp.skull`) the optional ``skull`` channel, present when the hair can be
        followed.
        """
        from thead.motion.extract import fill_gaps, motion_from_points, track_faces
        from thead.motion.smooth import smooth_track

        torso, skull = TorsoTracker(), SkullTracker()

        def observe(frame: np.ndarray, points: np.ndarray | None) -> None:
            torso.observe(frame, points)
            skull.observe(frame, points)

        points, valid = fill_gaps(track_faces(frames, face_index, observe=observe))
        tracked = points  # eye openness is read before smoothing, which would flatten 2-4 frame blinks
        if on_missing and not valid.all():
            on_missing(int((~valid).sum()), len(valid))
        if smooth > 0:
            size = float(np.median(np.linalg.norm(points[:, 263, :2] - points[:, 33, :2], axis=1)))
            rows = _expressive_rows()
            light = smooth_track(points[:, rows] / size, fps, smooth * EXPRESSIVE_SMOOTHING) * size
            points = smooth_track(points / size, fps, smooth) * size
            points[:, rows] = light
        track = motion_from_points(points, fps, valid, smooth=0.0, unsmoothed=tracked)
        track.channels["body"] = smooth_track(torso.shifts(), fps, smooth)
        moves = skull.moves()
        if moves is not None:
            radians = np.array([1.0, 1.0, np.pi / 180.0, 1.0], np.float32)  # roll smoothed as a displacement
            track.channels["skull"] = smooth_track(moves * radians, fps, smooth) / radians
        return track

    def prepare_source(self, image: np.ndarray, face_index: int = 0, face: Face | None = None) -> WarpSource:
        """Analyse the portrait and precompute the crop, mesh, anchors, rigs and textures."""
        image = np.ascontiguousarray(image)
        if face is None:
            from thead.motion.extract import track_faces

            face = analyze_image(image, face_index, name="the source image")  # checks it is a human face
            tracked = track_faces([image], face_index)[0]  # read as driving frames are, so the two compare
            if tracked is not None:
                face = replace(face, points=tracked)
        oval = face.points[face_topology().oval, :2]
        centre = oval.mean(axis=0)
        radius = float(np.linalg.norm(oval - centre, axis=1).max())
        box = CropBox.around(centre, radius, (image.shape[1], image.shape[0]))
        crop = box.cut(image)
        points = box.to_crop(face.points)
        retargeter = Retargeter(face.points)
        down = retargeter.pose.rotation[:, 1]
        person = box.cut(person_probability(image))
        anchors = build_anchors(points, down, box.size, person)
        mouth = MouthFiller(points)
        vertices = np.concatenate([points[:MESH_POINTS], mouth.teeth_edge(points, points), anchors.points])
        warp = MeshWarp(box.size, vertices, anchors.triangles, face_topology().triangles,
                        step=2 * radius * box.scale / FIELD_STEPS_PER_FACE)
        torso = hair = None
        open_edges = (box.x0 == 0, box.y0 == 0, box.x1 == image.shape[1], box.y1 == image.shape[0])
        span = retargeter.pose.scale * box.scale
        if anchors.segmented:  # the segmentation is trusted: it tells hair and clothes from the background
            hair = HairLayer.build(person, points, span, open_edges, warp.low_size)
        if anchors.torso.any():  # ... and it shows a torso below the chin
            torso = TorsoLayer.build(person, points, down, span, open_edges, warp.low_size)
        paste_mask = box.paste_mask(_moving_mask(anchors, points, box.size))
        layer_paste_mask = paste_mask
        if torso is not None or hair is not None:
            layer_paste_mask = box.paste_mask(_moving_mask(anchors, points, box.size, torso, hair, down))
        upper, lower = face_topology().mouth
        lips = ShutLips(crop, points[upper], points[lower], mouth.source_gap)
        return WarpSource(image, box, crop, points, retargeter, anchors, warp, EyeTextures(crop, points),
                          mouth, lips, paste_mask, torso, hair, layer_paste_mask, centre, radius)

    def source_motion(self, source: WarpSource) -> dict[str, np.ndarray]:
        """The source's own motion frame (space ``landmarks``); its torso is where it is (``body`` 0)."""
        return {**{name: np.copy(value) for name, value in source.retargeter.motion.items()},
                "body": np.zeros(2, np.float32)}

    def apply_edit(self, frame: dict[str, np.ndarray], edit: FrameEdit) -> dict[str, np.ndarray]:
        """Pose, eyes, mouth, gaze, smile and expression presets on a ``landmarks`` frame (:mod:`thead.motion.edits`)."""
        return edits.apply_edit(frame, edit)

    def render(self, source: WarpSource, driving: dict[str, np.ndarray], reference: dict[str, np.ndarray] | None,
               options: DriveOptions, driving_image: np.ndarray | None = None) -> np.ndarray:
        """The source moved by ``driving`` (relative to ``reference`` if given), RGB uint8.

        With ``driving_image`` (the frame ``driving`` was measured on) the mouth interior is the
        driver's own; without it, interiors from the shipped bank fill the opening.
        """
        measured = float(driving.get("valid", 1.0)) >= 0.5  # no interior from a frame whose face was interpolated
        picture = _driving_mouth(driving, driving_image) if driving_image is not None and measured else None
        press = SHUT_PRESS if picture is None else DRIVEN_SHUT_PRESS
        moves_head = MOVES[options.region][0]
        body = _torso_shift(driving, reference) if moves_head else np.zeros(2)
        head = _without_drift(driving, reference, body)
        target = source.retargeter.target(head, reference, options.region, press)
        points = source.box.to_crop(target.points)
        rigid = source.box.to_crop(target.rigid_points)
        teeth = source.mouth.teeth_edge(points, rigid)
        skull = _skull_move(head, reference) if moves_head else None
        vertices = np.concatenate([points[:MESH_POINTS], teeth, _anchor_targets(source, target, body, skull)])
        texture = source.eyes.texture(target.gaze_shift, target.eye_closure)
        texture = source.lips.texture(texture, source.mouth.gap(points))
        adjust = _layer_moves(source, body, skull, points, target)
        frame = source.warp.apply(texture, vertices, vertices[:, 2], adjust)
        frame = source.mouth.fill(frame, points, rigid, teeth, picture)
        full = source.box.paste(source.image, frame, source.paste_mask if adjust is None else source.layer_paste_mask)
        if options.paste_back:
            return full
        return face_crop(full, source.oval_centre, source.oval_radius)


@functools.cache
def _expressive_rows() -> np.ndarray:
    """Landmark rows of the lips and brows (and their neighbours within EXPRESSIVE_HOPS mesh edges)."""
    topo = face_topology()
    lines = np.concatenate([*topo.mouth, [0, 17, 61, 291], geometry.INDICES_68[17:27]])
    return np.flatnonzero(graph_distance(lines) <= EXPRESSIVE_HOPS)


def _driving_mouth(driving: dict[str, np.ndarray], image: np.ndarray) -> MouthPicture:
    """The driving frame's mouth: its inner lips placed by the motion frame's pose and expression."""
    rotation = geometry.angles_to_rotation(float(driving["yaw"]), float(driving["pitch"]), float(driving["roll"]))
    points = geometry.compose(driving["expression"], rotation, np.asarray(driving["translation"]), float(driving["scale"]))
    upper, lower = face_topology().mouth
    return MouthPicture(image, points[upper, :2], points[lower, :2])


def _anchor_scale(ratio: float) -> float:
    """The head's size change as hair and neck follow it: changes within SCALE_DEADBAND are not followed."""
    change = float(np.log(ratio))
    return float(np.exp(np.sign(change) * max(abs(change) - SCALE_DEADBAND, 0.0)))


def _torso_shift(driving: dict[str, np.ndarray], reference: dict[str, np.ndarray] | None) -> np.ndarray:
    """The driver's torso shift since the reference frame (inter-ocular spans); none in absolute mode or without
    the optional ``body`` channel."""
    if reference is None or "body" not in driving or "body" not in reference:
        return np.zeros(2)
    return np.asarray(driving["body"], np.float64) - np.asarray(reference["body"], np.float64)


def _body_drift(shift: np.ndarray) -> np.ndarray:
    """The part of the driver's torso ``shift`` (inter-ocular spans) that the source's torso does not follow: what
    lies beyond TORSO_FREE, eased onto TORSO_MAX (see :func:`_torso_moves`). It is the whole body, or the camera,
    moving (a driver standing up, a camera tilting), not the head moving on its shoulders."""
    return shift - soft_limit(shift, TORSO_FREE, TORSO_MAX)


def _without_drift(driving: dict[str, np.ndarray], reference: dict[str, np.ndarray] | None,
                   body: np.ndarray) -> dict[str, np.ndarray]:
    """``driving`` with the body's drift (:func:`_body_drift`) taken out of the head's and the hair's shift: the head
    follows its motion on the shoulders and the torso's followed sway, so the neck between them is not stretched.
    A driver that sways less than TORSO_FREE is returned unchanged."""
    drift = _body_drift(body)
    if reference is None or not drift.any():
        return driving
    moved = dict(driving)
    translation = np.array(driving["translation"], np.float64)
    translation[:2] -= drift * float(reference["scale"])  # spans to the driver's pixels
    moved["translation"] = translation.astype(np.asarray(driving["translation"]).dtype)
    if "skull" in driving and "skull" in reference:
        skull = np.array(driving["skull"], np.float64)
        skull[:2] -= drift * np.exp(float(reference["skull"][3]))  # spans at the reference's size (relative_move)
        moved["skull"] = skull.astype(np.asarray(driving["skull"]).dtype)
    return moved


def _skull_move(driving: dict[str, np.ndarray], reference: dict[str, np.ndarray] | None) -> np.ndarray | None:
    """The driver's skull move since the reference frame (:mod:`thead.backends.warp.skull`), within the limits the
    head's own pose keeps (shift, size, roll: see :mod:`thead.backends.warp.retarget`); none in absolute mode or
    without the optional ``skull`` channel."""
    if reference is None or "skull" not in driving or "skull" not in reference:
        return None
    move = relative_move(np.asarray(driving["skull"], np.float64), np.asarray(reference["skull"], np.float64))
    move[:2] = soft_limit(move[:2], FREE_SHIFT, MAX_SHIFT)
    move[2] = np.clip(move[2], -MAX_TURN_DEG, MAX_TURN_DEG)
    move[3] = np.clip(move[3], *np.log(SCALE_RANGE))
    return move


def _torso_move(shift: np.ndarray, span: float) -> np.ndarray:
    """The torso's move (crop pixels) for a torso ``shift`` in inter-ocular spans of ``span`` pixels: eased beyond
    TORSO_FREE onto TORSO_MAX."""
    return soft_limit(np.asarray(shift, np.float64) * span, TORSO_FREE * span, TORSO_MAX * span)


def _torso_slide(source: WarpSource, shift: np.ndarray, points: np.ndarray,
                 target: Target) -> Callable[[np.ndarray], np.ndarray] | None:
    """The warp-field adjustment that slides the source's torso layer by the driver's torso ``shift`` (spans) under
    this frame's face (``points``, crop pixels, posed as ``target``), or None when there is no layer or no sway
    (edits, audio driving, tracks without the ``body`` channel, absolute mode): the mesh alone moves the picture
    then, as it always has."""
    if source.torso is None or not np.any(shift):
        return None
    move = _torso_move(shift, source.torso.span)
    down = target.rotation[:, 1]
    return lambda displacement: source.torso.apply(displacement, move, points, down)


def _layer_moves(source: WarpSource, shift: np.ndarray, skull: np.ndarray | None, points: np.ndarray,
                 target: Target) -> Callable[[np.ndarray], np.ndarray] | None:
    """The warp-field adjustment of this frame's layers: the hair moved by the driver's ``skull`` move, then the torso
    slid by its ``shift`` (see :func:`_torso_slide`); None when neither moves (edits, audio driving, tracks without
    those channels, absolute mode), so that the mesh alone moves the picture, as it always has."""
    slide = _torso_slide(source, shift, points, target)
    if skull is None or source.hair is None:
        return slide
    matrix, down = _skull_matrix(source, skull), target.rotation[:, 1]

    def move(displacement: np.ndarray) -> np.ndarray:
        displacement = source.hair.apply(displacement, matrix, points, down)
        return displacement if slide is None else slide(displacement)

    return move


def _torso_moves(points: np.ndarray, shift: np.ndarray, span: float, size: tuple[int, int]) -> np.ndarray:
    """Moves [N, 2] (crop pixels) of torso anchors at ``points`` for a torso ``shift`` in inter-ocular spans of ``span``
    pixels: eased beyond TORSO_FREE onto TORSO_MAX, and each kept within TORSO_ROOM of its room to the crop edge."""
    move = _torso_move(shift, span)
    far = np.array(size, np.float64) - 1.0
    room = np.where(move > 0, far - points, points)  # distance to the edge each axis moves towards
    share = np.min(np.clip(TORSO_ROOM * room / np.maximum(np.abs(move), 1e-9), 0.0, 1.0), axis=1, initial=1.0)
    return share[:, None] * move


def _skull_matrix(source: WarpSource, skull: np.ndarray) -> np.ndarray:
    """2x3 crop-pixel similarity of the driver's skull ``move`` on the source: about the centre of the source's face
    oval (where :class:`~thead.backends.warp.skull.SkullTracker` measures it), shifts in the source's inter-ocular
    spans."""
    centre = source.points[face_topology().oval, :2].mean(axis=0)
    return similarity_matrix(skull, centre, source.retargeter.pose.scale * source.box.scale)


def _anchor_targets(source: WarpSource, target: Target, torso_shift: np.ndarray,
                    skull: np.ndarray | None = None) -> np.ndarray:
    """Anchor positions for this frame: the head's rigid motion, weighted, and the driver's torso shift.

    Anchors move as points in the image plane through the head's centre, so roll, scale and shift carry
    hair and neck along by their ring's weight; that share fades as the head turns out of the image
    plane (:meth:`Anchors.turn_share`), since a turn slides the face across a skull whose outline stays.
    With ``skull`` (the driver's hair move since the reference, :mod:`thead.backends.warp.skull`) the anchors follow
    that similarity instead, by their ring's weight: it is what the driver's hair did, turns included.
    Anchors on the torso (:attr:`Anchors.torso`) move by ``torso_shift`` (inter-ocular spans) instead.
    """
    anchors, src_pose, box = source.anchors, source.retargeter.pose, source.box
    centre_src = box.to_crop(src_pose.translation[None])[0]
    span = src_pose.scale * box.scale  # the source's inter-ocular span, crop pixels
    if skull is None:
        change = target.rotation @ src_pose.rotation.T
        share = anchors.turn_share(change)
        local = anchors.points - centre_src
        local[:, 2] = 0.0
        centre_dst = box.to_crop(target.translation[None])[0]
        carried = (local @ (change * _anchor_scale(target.scale / src_pose.scale)).T + centre_dst)[:, :2]
    else:
        share = 1.0
        matrix = _skull_matrix(source, skull)
        carried = anchors.points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    out = np.array(anchors.points, np.float64)
    out[:, :2] += (share * anchors.weight)[:, None] * (carried - anchors.points[:, :2])
    torso = anchors.points[anchors.torso, :2]
    out[anchors.torso, :2] = torso + _torso_moves(torso, torso_shift, span, box.size)
    return out
