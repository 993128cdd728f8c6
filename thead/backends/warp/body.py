"""The torso and the hair as layers: they move with the driver's torso sway and skull, the background stays.

Ring anchors on the torso (:data:`thead.backends.warp.mesh.ON_TORSO`) carry the mesh there, but its triangles
reach from them to anchors on the background and on the crop border: a sway dragged the wall beside the
shoulders along and moved the clothes between the sparse anchors only part of the way. Below the neck (the
layer's zone: from the chin down over NECK spans, outside the face, both as the source has them and as this
frame moves them) the layer sets the warp's backward displacement itself: every field sample the person
segmentation puts on the torso takes the torso's move (fully from the probability the mesh calls torso,
:data:`~thead.backends.warp.mesh.ON_TORSO`, none at the one it calls background), and the background keeps its
place: clothes the segmentation is unsure of move with the rest instead of stretching against it. The torso's
weight is the larger of its weight where the torso was and where it moved to, so the clothes' leading edge
covers the background and the background beside the trailing edge closes the strip the clothes left. Near crop
edges inside the image the zone fades out (the crop is pasted back there); at the image's own edges the clothes
slide out of the frame.

The hair is the same kind of layer above the chin. The mesh's anchor rings carry the driver's skull move
(:mod:`thead.backends.warp.skull`) only at their sparse anchors, and its triangles reach from anchors on the hair to
anchors held on the wall, so hair between them moved only part of the way (0.8-0.9 of the real hair's optical flow
on GRID speakers) and long hair smeared into the wall. Outside the face (the source's and this frame's) and within
the mesh's moving rings, every field sample on the person takes the skull's similarity: fully from the eye line up,
fading to the mesh's own motion at the chin (hair beside the cheeks rests on the shoulders), with the same leading
and trailing edges as the torso. The fade into the face and the neck is soft (HAIR_SOFT); the silhouette against
the wall is as sharp as the segmentation, unless the move is large (SHEAR). Self-reenactment, full-frame SSIM: 9
shared clips 0.9287 -> 0.9297, 10 LivePortrait driving clips (100 frames, not used for tuning) 0.8472 -> 0.8499,
none worse by more than 0.0001.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from thead.backends.warp.mesh import FIXED_RING, MOVING_RINGS, ON_PERSON, ON_TORSO, face_topology
from thead.backends.warp.paste import polygon_mask
from thead.backends.warp.torso import FACE_MARGIN  # the face oval grown by this stays the mesh's, as for the tracker
from thead.easing import smoothstep

NECK = 0.2  # inter-ocular spans below the chin over which the layer takes over from the head-following neck
EDGE_FADE = 0.5  # inter-ocular spans from a crop edge inside the image over which the layer fades out
MIN_WEIGHT = 1.0 / 64  # torso weights below this are background
# The torso's weight is blurred over SHEAR times its move (field samples) beyond half a sample: a sway of a few
# pixels keeps a sharp silhouette, a whole body rising by a large fraction of a span (the torso follows up to
# 0.15 spans) no longer shears the clothes' edge against the wall into a staircase one field sample wide.
SHEAR = 0.5


@dataclass(frozen=True)
class TorsoLayer:
    """The source's torso at the warp field's resolution: where the layer may decide the motion (``zone``) and how
    much of the torso's move each sample takes there (``person``)."""

    zone: np.ndarray  # [h - top, w] float32, rows top.. of the field: 0 the mesh's motion, 1 the layer's
    person: np.ndarray  # [h, w] float32
    step: np.ndarray  # crop pixels per field sample (x, y)
    span: float  # the source's inter-ocular span, crop pixels
    top: int = 0  # first row of samples in the zone (the rows above it are the mesh's whatever the frame)

    @classmethod
    def build(cls, person: np.ndarray, points: np.ndarray, down: np.ndarray, span: float,
              open_edges: tuple[bool, bool, bool, bool], low_size: tuple[int, int]) -> TorsoLayer | None:
        """The layer of a crop whose person probability is ``person`` [H, W], with the face's landmarks ``points``
        (crop pixels) and forehead-to-chin direction ``down``; ``open_edges`` (left, top, right, bottom) are the
        crop edges that are the image's own. None when no torso shows below the neck."""
        height, width = person.shape
        low, step = _person_samples(person, low_size)
        everywhere = cls(np.ones_like(low), low, step, float(span))  # the zone before it is measured
        xs, ys = _sample_grid(low.shape, step)
        zone = _edge_fade(xs, ys, (width, height), open_edges, EDGE_FADE * span) * everywhere.below_neck(points, down)
        if float((zone * low).max(initial=0.0)) < 0.5:
            return None
        top = int(np.flatnonzero(zone.max(axis=1) > 0.0)[0])
        return cls(zone[top:].astype(np.float32), low, step, float(span), top)

    @functools.cached_property
    def _zone_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Crop-pixel coordinates (x, y) of the zone's field samples, which every frame uses."""
        return _sample_grid(self.person.shape, self.step, self.top)

    def below_neck(self, points: np.ndarray, down: np.ndarray) -> np.ndarray:
        """Per field sample from row ``top`` down, 0 on the face (the hull of ``points``, grown by FACE_MARGIN about
        its oval's centre) and down to its chin, rising to 1 NECK spans below the chin along ``down``."""
        xs, ys = self._zone_grid
        along = _unit(down)
        below = ((xs - points[152, 0]) * along[0] + (ys - points[152, 1]) * along[1]) / (NECK * self.span)
        return smoothstep(below) * (1.0 - _face_mask(points, self.step, xs.shape, self.top))

    def full_size(self, size: tuple[int, int]) -> np.ndarray:
        """Where the layer moves the torso, at crop resolution ``size`` (w, h)."""
        weight = self.person.copy()
        weight[: self.top] = 0.0
        weight[self.top :] *= self.zone
        return cv2.resize(weight, size, interpolation=cv2.INTER_LINEAR)

    def apply(self, displacement: np.ndarray, move: np.ndarray, points: np.ndarray, down: np.ndarray) -> np.ndarray:
        """The backward ``displacement`` field [h, w, 2] with the torso moved by ``move`` (crop pixels) and the
        background beside it still, below the neck of both the source and this frame's face (its landmarks
        ``points`` and ``down`` direction, crop pixels): a head that moves down over the source's neck keeps its own
        motion."""
        move = np.asarray(move, np.float32)
        shift = move / self.step
        moved = cv2.warpAffine(self.person, np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float32),
                               self.person.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        person = np.maximum(self.person, moved)
        spread = float(np.linalg.norm(shift)) * SHEAR  # a large move eases into the wall instead of shearing it
        if spread > 0.5:
            person = cv2.GaussianBlur(person, (0, 0), spread)
        person = person[self.top :]
        person[person < MIN_WEIGHT] = 0.0
        zone = np.minimum(self.zone, self.below_neck(points, down))[..., None]
        out = displacement.copy()
        out[self.top :] = (1.0 - zone) * displacement[self.top :] + zone * (person[..., None] * -move)
        return out


# Inter-ocular spans: blur of where the hair layer acts (its fade into the face and the neck). Self-reenactment
# (full-frame SSIM, 9 shared clips / 10 LivePortrait clips): 0.04 0.9292 / 0.8495, 0.08 0.9294 / 0.8497,
# 0.16 0.9297 / 0.8499.
HAIR_SOFT = 0.16


@dataclass(frozen=True)
class HairLayer:
    """The source's hair at the warp field's resolution: above the chin and outside the face, every field sample the
    person segmentation puts on the person follows the driver's skull (a similarity, see
    :mod:`thead.backends.warp.skull`) fully from the eye line up, fading to the mesh's own motion at the chin."""

    person: np.ndarray  # [h, w] float32: how much of the skull's move each sample takes (the person, 0..1)
    reach: np.ndarray  # [h, w] float32: 1 where the layer may act (away from the source's face and closed crop edges)
    step: np.ndarray  # crop pixels per field sample (x, y)
    span: float  # the source's inter-ocular span, crop pixels

    @classmethod
    def build(cls, person: np.ndarray, points: np.ndarray, span: float, open_edges: tuple[bool, bool, bool, bool],
              low_size: tuple[int, int]) -> HairLayer:
        """The layer of a crop whose person probability is ``person`` [H, W], with the face's landmarks ``points``
        (crop pixels); ``open_edges`` (left, top, right, bottom) are the crop edges that are the image's own."""
        height, width = person.shape
        low, step = _person_samples(person, low_size)
        xs, ys = _sample_grid(low.shape, step)
        reach = _edge_fade(xs, ys, (width, height), open_edges, EDGE_FADE * span)
        reach *= _within_rings(xs, ys, points) * (1.0 - _face_mask(points, step, low.shape))
        return cls(low, reach.astype(np.float32), step, float(span))

    @functools.cached_property
    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        return _sample_grid(self.person.shape, self.step)

    @functools.cached_property
    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean position (crop pixels) and covariance of the samples, weighted by the person: how far a similarity
        moves the hair on average follows from them, without a pass over every sample each frame."""
        xs, ys = self._grid
        points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
        weights = self.person.ravel().astype(np.float64) + 1e-6
        return np.average(points, axis=0, weights=weights), np.cov(points, rowvar=False, aweights=weights, bias=True)

    def _typical_move(self, inverse: np.ndarray) -> float:
        """Root-mean-square length (crop pixels), weighted by the person, of the backward displacement of the affine
        ``inverse`` (2x3): for d = (A - I) p + b, the mean of |d|^2 is |(A - I) mean + b|^2 plus
        trace((A - I) cov (A - I)^T)."""
        mean, cov = self._moments
        linear = inverse[:, :2] - np.eye(2)
        centre = linear @ mean + inverse[:, 2]
        return float(np.sqrt(centre @ centre + np.trace(linear @ cov @ linear.T)))

    def full_size(self, points: np.ndarray, down: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Where the layer may move the hair of a face at ``points`` (crop pixels, ``down`` its forehead-to-chin
        direction), at crop resolution ``size`` (w, h)."""
        weight = self.person * self.reach * self._above_chin(points, down)
        return cv2.resize(weight, size, interpolation=cv2.INTER_LINEAR)

    def _above_chin(self, points: np.ndarray, down: np.ndarray) -> np.ndarray:
        """Per sample, 1 from the eye line of ``points`` up, 0 from the chin down, along ``down``."""
        xs, ys = self._grid
        along = _unit(down)
        eyes, chin = points[[33, 263], :2].mean(axis=0), points[152, :2]
        height = max(float((chin - eyes) @ along), 1.0)
        return np.clip(((chin[0] - xs) * along[0] + (chin[1] - ys) * along[1]) / height, 0.0, 1.0)

    def apply(self, displacement: np.ndarray, matrix: np.ndarray, points: np.ndarray, down: np.ndarray) -> np.ndarray:
        """The backward ``displacement`` field [h, w, 2] with the hair moved by the skull's ``matrix`` (2x3, crop
        pixels, source to this frame), outside this frame's face (``points``, crop pixels; ``down`` its
        forehead-to-chin direction)."""
        xs, ys = self._grid
        inverse = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
        back = np.stack([inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2] - xs,
                         inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2] - ys], axis=-1).astype(np.float32)
        moved = cv2.warpAffine(self.person, _in_samples(matrix, self.step), self.person.shape[::-1],
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        person = np.maximum(self.person, moved)
        # A large move eases the silhouette into the wall, as the torso's does, instead of leaving a seam where it was.
        spread = SHEAR * self._typical_move(inverse) / float(self.step.mean())
        if spread > 0.5:
            person = cv2.GaussianBlur(person, (0, 0), spread)
        where = self.reach * self._above_chin(points, down) * (1.0 - _face_mask(points, self.step, self.person.shape))
        where = cv2.GaussianBlur(where, (0, 0), max(HAIR_SOFT * self.span / float(self.step.mean()), 0.5))
        weight = person * where
        weight[weight < MIN_WEIGHT] = 0.0
        return displacement + weight[..., None] * (back - displacement)


def _person_samples(person: np.ndarray, low_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The person probability [H, W] at the field's resolution ``low_size`` (w, h), ramped from the mesh's background
    threshold (none) to its torso threshold (fully), and the crop pixels per field sample (x, y)."""
    height, width = person.shape
    step = np.array([width / low_size[0], height / low_size[1]], np.float32)
    low = cv2.resize(np.asarray(person, np.float32), low_size, interpolation=cv2.INTER_AREA)
    return smoothstep((low - ON_PERSON) / (ON_TORSO - ON_PERSON)).astype(np.float32), step


def _unit(direction: np.ndarray) -> np.ndarray:
    """The image-plane part of ``direction`` scaled to length 1, float32."""
    return np.asarray(direction[:2], np.float32) / max(float(np.linalg.norm(direction[:2])), 1e-6)


def _in_samples(matrix: np.ndarray, step: np.ndarray) -> np.ndarray:
    """The 2x3 crop-pixel ``matrix`` acting on field samples of ``step`` crop pixels (cv2.resize's pixel centres)."""
    to_crop = np.array([[step[0], 0, 0.5 * step[0] - 0.5], [0, step[1], 0.5 * step[1] - 0.5], [0, 0, 1]], np.float64)
    return (np.linalg.inv(to_crop) @ np.vstack([matrix, [0, 0, 1]]) @ to_crop)[:2].astype(np.float32)


def _sample_grid(shape: tuple[int, int], step: np.ndarray, top: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Crop-pixel coordinates (x, y) of the samples of a field of ``shape`` (h, w), from row ``top`` down."""
    ys, xs = np.mgrid[top : shape[0], 0 : shape[1]].astype(np.float32)
    return (xs + 0.5) * step[0] - 0.5, (ys + 0.5) * step[1] - 0.5


def _edge_fade(xs: np.ndarray, ys: np.ndarray, size: tuple[int, int], open_edges: tuple[bool, bool, bool, bool],
               fade: float) -> np.ndarray:
    """1, falling to 0 over ``fade`` crop pixels towards each crop edge of ``size`` (w, h) that is not ``open``."""
    width, height = size
    out = np.ones_like(xs)
    for is_open, distance in zip(open_edges, (xs, ys, width - 1 - xs, height - 1 - ys)):
        if not is_open:
            out *= np.clip(distance / fade, 0.0, 1.0)
    return out


def _face_mask(points: np.ndarray, step: np.ndarray, shape: tuple[int, int], top: int = 0) -> np.ndarray:
    """Per sample of a field of ``shape`` (h, w) starting at row ``top``, 1 on the hull of ``points`` (crop pixels)
    grown by FACE_MARGIN about its oval's centre."""
    outline = cv2.convexHull(np.ascontiguousarray(points[:, :2], np.float32))[:, 0]  # a folded face too
    centre = points[face_topology().oval, :2].mean(axis=0)
    corner = np.array([0.0, top], np.float32)
    return polygon_mask((centre + FACE_MARGIN * (outline - centre) + 0.5) / step - 0.5 - corner, shape, 2)


def _within_rings(xs: np.ndarray, ys: np.ndarray, points: np.ndarray) -> np.ndarray:
    """1 within the mesh's last moving ring around the face oval of ``points``, falling to 0 at its fixed ring
    (:data:`~thead.backends.warp.mesh.MOVING_RINGS`, :data:`~thead.backends.warp.mesh.FIXED_RING`): the layer
    carries what the rings carry, not people or hands further away."""
    oval = points[face_topology().oval, :2]
    centre = oval.mean(axis=0)
    angles = np.arctan2(oval[:, 1] - centre[1], oval[:, 0] - centre[0])
    order = np.argsort(angles)
    radius = np.interp(np.arctan2(ys - centre[1], xs - centre[0]), angles[order],
                       np.linalg.norm(oval - centre, axis=1)[order], period=2 * np.pi)
    factor = np.hypot(xs - centre[0], ys - centre[1]) / np.maximum(radius, 1e-6)
    inner = MOVING_RINGS[-1][0]
    return np.clip((FIXED_RING - factor) / (FIXED_RING - inner), 0.0, 1.0).astype(np.float32)

