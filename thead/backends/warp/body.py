"""The torso as a layer: below the neck the person slides with the driver's torso sway, the background stays.

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
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from thead.backends.warp.mesh import ON_PERSON, ON_TORSO, face_topology
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
        step = np.array([width / low_size[0], height / low_size[1]], np.float32)
        low = cv2.resize(np.asarray(person, np.float32), low_size, interpolation=cv2.INTER_AREA)
        low = smoothstep((low - ON_PERSON) / (ON_TORSO - ON_PERSON)).astype(np.float32)  # the mesh's own thresholds
        everywhere = cls(np.ones_like(low), low, step, float(span))  # the zone before it is measured
        xs, ys = everywhere._grid()
        fade = EDGE_FADE * span
        edges = np.ones_like(xs)
        for is_open, distance in zip(open_edges, (xs, ys, width - 1 - xs, height - 1 - ys)):
            if not is_open:
                edges *= np.clip(distance / fade, 0.0, 1.0)
        zone = edges * everywhere.below_neck(points, down)
        if float((zone * low).max(initial=0.0)) < 0.5:
            return None
        top = int(np.flatnonzero(zone.max(axis=1) > 0.0)[0])
        return cls(zone[top:].astype(np.float32), low, step, float(span), top)

    def _grid(self, top: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Crop-pixel coordinates (x, y) of the field samples from row ``top`` down."""
        height, width = self.person.shape
        ys, xs = np.mgrid[top:height, 0:width].astype(np.float32)
        return (xs + 0.5) * self.step[0] - 0.5, (ys + 0.5) * self.step[1] - 0.5

    @functools.cached_property
    def _zone_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_grid` of the zone's rows, which every frame uses."""
        return self._grid(self.top)

    def below_neck(self, points: np.ndarray, down: np.ndarray) -> np.ndarray:
        """Per field sample from row ``top`` down, 0 on the face (the hull of ``points``, grown by FACE_MARGIN about
        its oval's centre) and down to its chin, rising to 1 NECK spans below the chin along ``down``."""
        xs, ys = self._zone_grid
        along = np.asarray(down[:2], np.float32) / max(float(np.linalg.norm(down[:2])), 1e-6)
        below = ((xs - points[152, 0]) * along[0] + (ys - points[152, 1]) * along[1]) / (NECK * self.span)
        outline = cv2.convexHull(np.ascontiguousarray(points[:, :2], np.float32))[:, 0]  # a folded face too
        centre = points[face_topology().oval, :2].mean(axis=0)
        corner = np.array([0.0, self.top], np.float32)
        face = polygon_mask((centre + FACE_MARGIN * (outline - centre) + 0.5) / self.step - 0.5 - corner, xs.shape, 2)
        return smoothstep(below) * (1.0 - face)

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
