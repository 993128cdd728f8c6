"""Triangulation of the 478 MediaPipe points, closed eyes and mouth, and background anchor points.

The face triangles are MediaPipe's own tessellation (recovered from its edge list). Its four
boundary loops are the face oval, both eye openings and the inner lips; the openings are closed
with strips between the upper and lower contours so that lids and lips can open and close. The
mouth gets one more chain of vertices between its lips, the edge of the upper teeth: it stays
with the skull when the jaw drops, so a mouth that was open in the source keeps its own teeth.
Around the face, rings of anchor points let hair and neck follow the head with a falloff, and an
outer ring plus the crop border keep the background still (the outer ring's anchors on long hair
follow the head, see FIXED_RING_HAIR); where the image edge cuts through the rings (a face filling
the frame), the border anchors there follow the head like the rings at their distance, so hair and
shoulders are not pinned to the frame edge. The rings follow roll and shift of the head, its size
only beyond the landmarks' own wobble (see the backend's SCALE_DEADBAND), and less as it turns out of
the image plane (the face slides across the skull); they never follow the face's non-rigid motion
(see MOVING_RINGS). When the driver's hair can be followed in the picture (the ``skull`` channel, see
thead.backends.warp.skull), the rings follow that measured move instead of the landmark pose, and the hair
between them moves as a layer (thead.backends.warp.body.HairLayer). Ring anchors on the torso below the chin
follow the driver's torso sway instead (see ON_TORSO; the torso between them moves as a layer too).
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.spatial import Delaunay

from thead.face import geometry

MESH_POINTS = 468  # the tessellated points; 468..477 are the irises
TEETH_POINTS = 9  # warp vertices 468..476: the upper-teeth edge, one per interior inner-lip point
FACE_VERTICES = MESH_POINTS + TEETH_POINTS  # anchors follow these in the warp's vertex list

# Rings of anchors around the face oval: distance factor from the oval centre, and how much they follow
# the head's rigid motion on top (hair) and at the bottom (neck). The fixed ring holds the background.
# The rings follow the rigid head pose only, never the non-rigid motion of the oval points next to them:
# that motion is the jaw (the chin slides over the neck and collar, which stay), cheeks and brows, and the
# landmarks' own jitter, none of which hair, neck or background share. Following it (0.85 and 0.4 of it
# on the two rings, in the previous release) dragged the collar down by about a pixel whenever the mouth
# opened and shook the hair with the oval's jitter; self-reenactment of 9 real clips, 75 frames: full-frame
# SSIM +0.007 on average, up to +0.02, none worse by more than 0.001.
# Hair above and beside the head is carried by the skull: every ring follows its rigid motion fully at
# the top (the neck, at the bottom, much less). Anchors on the background stay fixed whatever their
# ring (see ON_PERSON), so a full share moves hair, not the wall. With the scale deadband (backend),
# 9 real clips, 75 frames: full-frame SSIM +0.003 on average over 0.9/0.5, +0.019 on long curly hair,
# two clips worse by at most 0.002.
# Four rings rather than two (1.3 and 1.7): with the hair's own move measured (the skull channel), hair between
# the face oval and the fixed ring follows it more closely when fewer pixels are interpolated between anchors that
# move and anchors that hold. Self-reenactment, same session: 9 shared clips 0.9266 -> 0.9273 full-frame SSIM, 10
# LivePortrait driving clips (100 frames, not used for tuning) 0.854 -> 0.855, none worse by more than 0.001.
MOVING_RINGS = ((1.3, 1.0, 0.6), (1.5, 1.0, 0.4), (1.7, 1.0, 0.2), (1.95, 1.0, 0.1))
FIXED_RING = 2.25
# Long hair reaches past the moving rings: anchors of the fixed ring that land on the person (see ON_PERSON)
# above and beside the head follow its rigid motion by this share, fading to none half way down the sides
# (shoulders and clothes stay). Self-reenactment, 75 frames: the one shared clip whose hair reaches that
# far (long curly hair) +0.005 full-frame SSIM, the 8 others unchanged.
FIXED_RING_HAIR = 1.0
# A head turning out of the image plane slides the face across the skull while the outline of the hair
# and the neck stay nearly in place (a 20° turn moves the eyes about a third of the inter-ocular span
# sideways): the rings' share of the head's rigid motion fades linearly with the out-of-plane angle,
# down to TURN_FADE_FLOOR of it at TURN_FADE_DEG. Measured on a real interview clip with turns up to
# 20° (self-reenactment, full-frame SSIM over 100 frames): 0.74 with the fade, 0.58 without.
TURN_FADE_DEG = 10.0
TURN_FADE_FLOOR = 0.1
BORDER_STEPS = 8  # anchors per crop edge
# Real footage keeps the background still while the head moves in front of it: anchors where the person
# segmentation (see thead.backends.warp.person) is at most this sure of a person stay fixed whatever their
# ring, so the rings carry hair, neck and clothes but not the wall or flag beside them. The segmenter's
# soft edge (hair wisps, the silhouette) counts as person. Self-reenactment of 9 real clips, 75 frames: full-
# frame SSIM +0.021 on the interview clip whose head moves most (50 px), +0.004 on the GRID clip with the most
# head motion, none worse by more than 0.0005.
ON_PERSON = 0.05
# Real speakers sway: the torso drifts a few pixels while the head moves on it, and a torso kept still did barely
# better than the still frame (self-reenactment, per-pixel SSIM loss below the chin: 0.0084, the still frame's
# 0.0095, consecutive real frames' 0.0012). Ring anchors below the chin that the segmentation is this sure lie on
# the person follow the driver's measured torso shift (thead.backends.warp.torso) instead of the head. Crop-border
# anchors stay (a moving crop edge would tear where the crop is pasted back). 9 real clips, 75 frames: full-frame
# SSIM +0.0017 on average, +0.009 on the clip whose speaker sways most, none worse by more than 0.0002.
ON_TORSO = 0.5


@dataclass(frozen=True)
class FaceTopology:
    """Triangles of the face and the ordered contours used by lids, lips and the anchors."""

    triangles: np.ndarray  # [F, 3] warp triangles: mesh faces plus the strips closing eyes and mouth
    hole_triangles: np.ndarray  # [H, 3] the strips alone (eyes first, then mouth)
    oval: np.ndarray  # outer boundary loop, ordered
    right_eye: tuple[np.ndarray, np.ndarray]  # (upper, lower) lid chains, outer corner to inner corner
    left_eye: tuple[np.ndarray, np.ndarray]
    mouth: tuple[np.ndarray, np.ndarray]  # (upper, lower) inner-lip chains, corner to corner
    edges: np.ndarray  # [E, 2] unique mesh edges


def _mesh_faces() -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's 852 faces, as the 3-cliques of its edge list that are real faces."""
    from thead.face._mediapipe import solutions

    edges = {frozenset(pair) for pair in solutions().face_mesh.FACEMESH_TESSELATION}
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in map(tuple, edges):
        neighbours[a].add(b)
        neighbours[b].add(a)
    cliques = {frozenset((a, b, c)) for a, b in map(tuple, edges) for c in neighbours[a] & neighbours[b]}
    uses = Counter(frozenset(pair) for tri in cliques for pair in itertools.combinations(tri, 2))
    # A clique that is not a face lies over three edges that already bound two faces each.
    faces = [tri for tri in cliques if any(uses[frozenset(p)] < 3 for p in itertools.combinations(tri, 2))]
    return np.array(sorted(sorted(t) for t in faces), np.int32), np.array(sorted(sorted(e) for e in edges), np.int32)


def _boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Ordered boundary loops of a triangle mesh (edges used by one face only)."""
    uses = Counter(frozenset(pair) for tri in faces.tolist() for pair in itertools.combinations(tri, 2))
    links: dict[int, list[int]] = defaultdict(list)
    for edge, count in uses.items():
        if count == 1:
            a, b = tuple(edge)
            links[a].append(b)
            links[b].append(a)
    loops, seen = [], set()
    for start in sorted(links):
        if start in seen:
            continue
        loop, previous, current = [start], None, start
        while True:
            seen.add(current)
            nxt = next(n for n in links[current] if n != previous)
            if nxt == start:
                break
            loop.append(nxt)
            previous, current = current, nxt
        loops.append(np.array(loop, np.int32))
    return loops


def _split_loop(loop: np.ndarray, corner_a: int, corner_b: int, upper_member: int) -> tuple[np.ndarray, np.ndarray]:
    """Two chains from ``corner_a`` to ``corner_b``; the one holding ``upper_member`` first."""
    rolled = np.roll(loop, -int(np.flatnonzero(loop == corner_a)[0]))
    cut = int(np.flatnonzero(rolled == corner_b)[0])
    one = rolled[: cut + 1]
    other = np.concatenate([rolled[cut:], rolled[:1]])[::-1]
    return (one, other) if upper_member in one else (other, one)


def _zip_chains(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Triangle strip between two chains sharing their end points."""
    tris, i, j = [], 0, 0
    nu, nl = len(upper) - 1, len(lower) - 1
    while i < nu or j < nl:
        advance_upper = j >= nl or (i < nu and (i + 1) / nu <= (j + 1) / nl)
        if advance_upper:
            tris.append((upper[i], lower[j], upper[i + 1]))
            i += 1
        else:
            tris.append((upper[i], lower[j], lower[j + 1]))
            j += 1
    return np.array([t for t in tris if len(set(t)) == 3], np.int32)


@functools.lru_cache(maxsize=1)
def face_topology() -> FaceTopology:
    """The face mesh topology (computed once from MediaPipe's connection lists)."""
    faces, edges = _mesh_faces()
    loops = _boundary_loops(faces)
    right, left, mouth = geometry.RIGHT_EYE, geometry.LEFT_EYE, geometry.MOUTH

    def loop_with(index: int) -> np.ndarray:
        return next(loop for loop in loops if index in loop)

    right_eye = _split_loop(loop_with(right["outer"]), right["outer"], right["inner"], right["upper"][1])
    left_eye = _split_loop(loop_with(left["outer"]), left["outer"], left["inner"], left["upper"][1])
    lips = _split_loop(loop_with(mouth["left"]), mouth["left"], mouth["right"], mouth["upper"][1])
    oval = max(loops, key=len)
    teeth = np.concatenate([lips[0][:1], MESH_POINTS + np.arange(TEETH_POINTS), lips[0][-1:]]).astype(np.int32)
    holes = np.concatenate([_zip_chains(*right_eye), _zip_chains(*left_eye),
                            _zip_chains(lips[0], teeth), _zip_chains(teeth, lips[1])])
    return FaceTopology(np.concatenate([faces, holes]), holes, oval, right_eye, left_eye, lips, edges)


@functools.lru_cache(maxsize=1)
def _mesh_graph():
    from scipy.sparse import coo_matrix

    edges = face_topology().edges
    ones = np.ones(len(edges))
    return coo_matrix((ones, (edges[:, 0], edges[:, 1])), shape=(MESH_POINTS, MESH_POINTS)).tocsr()


@functools.lru_cache(maxsize=64)
def _graph_distance(seeds: tuple[int, ...]) -> np.ndarray:
    from scipy.sparse.csgraph import dijkstra

    hops = dijkstra(_mesh_graph(), directed=False, unweighted=True, indices=list(seeds), min_only=True)
    hops = np.where(np.isfinite(hops), hops, np.iinfo(np.int32).max).astype(np.int32)
    hops.flags.writeable = False
    return hops


def graph_distance(seeds: np.ndarray) -> np.ndarray:
    """Edge hops from the nearest of ``seeds`` to every mesh point (read-only, cached per seed set)."""
    return _graph_distance(tuple(sorted({int(s) for s in seeds})))


@dataclass(frozen=True)
class Anchors:
    """Points around the face in crop pixels; each follows the head's rigid motion by ``weight``."""

    points: np.ndarray  # [A, 3] x, y, z (z of the nearest oval point)
    weight: np.ndarray  # [A] share of the head's rigid motion: 0 = fixed, 1 = moves with the head
    torso: np.ndarray  # [A] bool: on the torso (see ON_TORSO), moves with the driver's torso instead
    triangles: np.ndarray  # [K, 3] over the warp vertices (468 mesh points, 9 teeth points, anchors)
    segmented: bool = False  # the person segmentation covers the face, so it decides what moves (see ON_PERSON)

    @staticmethod
    def turn_share(change: np.ndarray) -> float:
        """Share of ``weight`` that applies under the head rotation ``change`` (fading with the out-of-plane angle)."""
        out_of_plane = float(np.degrees(np.arccos(np.clip(change[2, 2], -1.0, 1.0))))
        return float(np.clip(1.0 - out_of_plane / TURN_FADE_DEG, TURN_FADE_FLOOR, 1.0))


def build_anchors(points: np.ndarray, down: np.ndarray, size: tuple[int, int],
                  person: np.ndarray | None = None) -> Anchors:
    """Anchors for a face with landmarks ``points`` (crop pixels) in a crop of ``size`` (w, h).

    ``down`` is the head's forehead-to-chin direction in the image; anchors below the face (the
    neck) follow less than those above and beside it (the hair). ``person`` (crop-sized probability
    that a pixel shows the person) keeps the anchors it puts on the background (ON_PERSON) in place,
    unless it misses the face itself.
    """
    topo = face_topology()
    oval = points[topo.oval]
    centre = oval[:, :2].mean(axis=0)
    radial = oval[:, :2] - centre
    bottomness = np.clip((radial / np.linalg.norm(radial, axis=1, keepdims=True)) @ down[:2], 0.0, 1.0)
    width, height = size
    margin = 0.02 * max(width, height)

    def inside_crop(xy: np.ndarray, pad: float) -> np.ndarray:
        return (xy[:, 0] >= pad) & (xy[:, 0] <= width - 1 - pad) & (xy[:, 1] >= pad) & (xy[:, 1] <= height - 1 - pad)

    chunks = []
    for factor, top_weight, bottom_weight in MOVING_RINGS:
        xy = centre + factor * radial
        weight = top_weight + (bottom_weight - top_weight) * bottomness
        keep = inside_crop(xy, margin)
        chunks.append((xy[keep], oval[keep, 2], weight[keep]))

    fixed_ring = centre + FIXED_RING * radial[::2]
    steps = np.linspace(0.0, 1.0, BORDER_STEPS + 1)[:-1]
    w1, h1 = width - 1, height - 1
    border = np.concatenate([
        np.stack([steps * w1, np.zeros_like(steps)], 1), np.stack([np.full_like(steps, w1), steps * h1], 1),
        np.stack([w1 - steps * w1, np.full_like(steps, h1)], 1), np.stack([np.zeros_like(steps), h1 - steps * h1], 1),
    ])
    seen = person is not None and _sees_the_face(person, centre + 0.7 * radial)
    keep = inside_crop(fixed_ring, margin)
    fixed, fixed_bottom = fixed_ring[keep], bottomness[::2][keep]
    # Fixed anchors the face covers (a face at the image border) would pin the face: drop them.
    reach = np.linalg.norm(radial, axis=1).max() * 1.15
    far = np.linalg.norm(fixed - centre, axis=1) > reach
    fixed, fixed_bottom = fixed[far], fixed_bottom[far]
    hair = FIXED_RING_HAIR * np.clip(1.0 - 2.0 * fixed_bottom, 0.0, 1.0) if seen else np.zeros(len(fixed))
    chunks.append((fixed, np.zeros(len(fixed)), hair))
    chunks.append(_border_chunk(border, centre, radial, oval[:, 2], bottomness))

    xy = np.concatenate([c[0] for c in chunks])
    anchor_points = np.concatenate([xy, np.concatenate([c[1] for c in chunks])[:, None]], axis=1)
    weight = np.concatenate([c[2] for c in chunks]).astype(np.float32)
    torso = np.zeros(len(xy), bool)
    if seen:
        at = np.clip(np.round(xy).astype(np.int32), 0, [width - 1, height - 1])
        on_person = person[at[:, 1], at[:, 0]]
        weight[on_person <= ON_PERSON] = 0.0
        along = down[:2] / max(float(np.linalg.norm(down[:2])), 1e-6)
        below = (xy - points[152, :2]) @ along > 0.0  # past the chin, head-down
        torso = (on_person > ON_TORSO) & below
        torso[len(xy) - len(chunks[-1][0]):] = False  # the border chunk (last) holds still
    triangles = _outer_triangles(oval[:, :2], topo.oval, xy, FACE_VERTICES)
    return Anchors(anchor_points.astype(np.float32), weight, torso, triangles, seen)


def _sees_the_face(person: np.ndarray, inside: np.ndarray) -> bool:
    """Whether a person segmentation covers the face: the mean probability at points ``inside`` the oval is
    over a half (a segmenter that misses the face, on a painting or a cartoon, is not trusted elsewhere)."""
    height, width = person.shape
    at = np.clip(np.round(inside).astype(np.int32), 0, [width - 1, height - 1])
    return float(person[at[:, 1], at[:, 0]].mean()) > 0.5


def _border_chunk(border: np.ndarray, centre: np.ndarray, radial: np.ndarray, oval_depth: np.ndarray,
                  bottomness: np.ndarray) -> tuple[np.ndarray, ...]:
    """Anchors on the crop border with their weights: fixed beyond the fixed ring, and where the crop is cut
    by the image edge close to the face, following the head as much as the rings at that distance do,
    so that hair and shoulders cut by the frame move with the head instead of being pinned to the edge."""
    offset = border - centre
    angle = np.arctan2(offset[:, 1], offset[:, 0])
    oval_angle = np.arctan2(radial[:, 1], radial[:, 0])
    nearest = np.abs(np.angle(np.exp(1j * (angle[:, None] - oval_angle[None])))).argmin(axis=1)
    factor = np.linalg.norm(offset, axis=1) / np.maximum(np.linalg.norm(radial[nearest], axis=1), 1e-6)
    bottom = bottomness[nearest]
    keep = factor > 1.15  # anchors the face covers would pin it: drop them
    distances = [ring[0] for ring in MOVING_RINGS] + [FIXED_RING]

    def along(k: int) -> np.ndarray:
        return np.interp(factor, distances, [ring[k] for ring in MOVING_RINGS] + [0.0])

    weight = along(1) + (along(2) - along(1)) * bottom
    depth = np.where(factor < FIXED_RING, oval_depth[nearest], 0.0)
    return border[keep], depth[keep], weight[keep]


def _outer_triangles(oval_xy: np.ndarray, oval_index: np.ndarray, anchor_xy: np.ndarray, offset: int) -> np.ndarray:
    """Delaunay triangles over the oval and the anchors, indexed into (mesh points, anchors).

    Triangles inside the oval are kept: they lie under the face triangles, which are drawn after
    them, so every crop pixel is covered even where the oval is locally concave.
    """
    index = np.concatenate([oval_index, offset + np.arange(len(anchor_xy))]).astype(np.int32)
    simplices = Delaunay(np.concatenate([oval_xy, anchor_xy])).simplices
    return index[simplices]
