"""Mouth: a jaw that opens by rotating about its hinge, and a synthesized mouth interior.

The jaw rig rotates the lower face (lower lip, chin, jaw line) about an axis through both jaw
hinges in the canonical landmarks until the inner-lip gap reaches the target openness. Where
the rendered mouth opens beyond what the source shows, the opening is painted: upper teeth hang
from the skull at the source's resting lip line, lower teeth ride on the jaw, and between them
lie the dark oral cavity and the tongue, all coloured from the source's own lips and skin and
blended with anti-aliased masks. The lips themselves stay the warped source lips, and a mouth
that was open in the source keeps its own teeth (see :meth:`MouthPainter.teeth_edge`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from thead.backends.warp.mesh import face_topology, graph_distance
from thead.backends.warp.paste import polygon_mask

OPEN_LIMIT = 0.9  # inner-lip gap over mouth width
PRESS_LIMIT = 0.1  # how far a shut mouth may be pressed (negative openness)
HINGE_OFFSET = (0.25, 0.1)  # jaw hinge below and behind the outline points by the ears, inter-ocular units
CENTRE_PAIRS = (4, 5, 6)  # chain positions of the pairs the openness is measured on (82/87, 13/14, 312/317)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class JawRig:
    """Opens and closes one source's mouth in canonical landmarks (units: inter-ocular distance)."""

    def __init__(self, canonical: np.ndarray) -> None:
        topo = face_topology()
        self.upper, self.lower = topo.mouth
        p = canonical.astype(np.float64)
        side = p[[234, 454]].mean(axis=0)  # the face outline level with the ears
        self.hinge = np.array([0.0, side[1] + HINGE_OFFSET[0], side[2] + HINGE_OFFSET[1]])
        corner = p[[self.upper[0], self.upper[-1]]]
        corner_x, corner_y = float(np.abs(corner[:, 0]).mean()), float(corner[:, 1].mean())
        side_x = float(np.abs(p[[234, 454], 0]).mean())
        # Below a line from the mouth corners up to the hinges, the lower face moves with the jaw.
        lateral = np.clip((np.abs(p[:, 0]) - corner_x) / max(side_x - corner_x, 1e-6), 0.0, 1.0)
        line_y = corner_y + (self.hinge[1] - corner_y) * lateral
        weight = _smoothstep((p[:, 1] - line_y + 0.05) / 0.15)
        to_upper, to_lower = graph_distance(self.upper[1:-1]), graph_distance(self.lower[1:-1])
        mesh = weight[: len(to_upper)]  # a view: the tessellated points
        mesh[(to_lower < to_upper) & (to_lower <= 3)] = 1.0
        mesh[(to_upper < to_lower) & (to_upper <= 3)] = 0.0
        # Near the mouth corners the soft tissue stays with the upper lip: the opening takes the
        # lens shape of a real mouth and the skin beside the corners stretches.
        half = float(np.linalg.norm(corner[1, :2] - corner[0, :2])) / 2
        to_corner = np.linalg.norm(p[:, None, :2] - corner[None, :, :2], axis=2).min(axis=1)
        weight *= _smoothstep(to_corner / (0.9 * max(half, 1e-6)))
        weight[[self.upper[0], self.upper[-1]]] = 0.0
        weight[468:] = 0.0  # irises
        self.weight = weight.astype(np.float32)
        self.source_openness = self.openness(canonical)

    def openness(self, points: np.ndarray) -> float:
        """Signed inner-lip gap over mouth width (negative when the lips cross)."""
        pairs = list(CENTRE_PAIRS)
        gap = points[self.lower[pairs], 1] - points[self.upper[pairs], 1]
        width = np.linalg.norm(points[self.upper[-1], :2] - points[self.upper[0], :2])
        return float(gap.mean() / max(width, 1e-6))

    def _rotate(self, points: np.ndarray, angle: float) -> np.ndarray:
        c, s = np.cos(angle), np.sin(angle)
        rel = points - self.hinge
        turned = np.stack([rel[:, 0], c * rel[:, 1] - s * rel[:, 2], s * rel[:, 1] + c * rel[:, 2]], axis=1)
        return points + self.weight[:, None] * (turned - rel)

    def set_openness(self, points: np.ndarray, target: float) -> np.ndarray:
        """Canonical ``points`` with the jaw turned so the mouth openness is ``target`` (clipped), lips uncrossed.

        A target below 0 presses the lips together: they cross and meet half way, which also
        covers the source's lip edges where its landmarks sit inside the visible opening.
        """
        target = float(np.clip(target, -PRESS_LIMIT, OPEN_LIMIT))
        out = points.astype(np.float64)
        current = self.openness(out)
        probe = self.openness(self._rotate(out, 0.1)) - current
        if abs(probe) > 1e-6:
            out = self._rotate(out, 0.1 * (target - current) / probe)
        upper, lower = self.upper[1:-1], self.lower[1:-1]
        crossed = out[lower, 1] < out[upper, 1]
        middle = (out[upper[crossed], 1] + out[lower[crossed], 1]) / 2
        out[upper[crossed], 1] = middle
        out[lower[crossed], 1] = middle
        return out.astype(np.float32)


LIP_SAMPLES = ((13, 0), (14, 17), (82, 37), (312, 267), (87, 84), (317, 314))  # (inner, outer) lip pairs
CHIN = 152
TEETH_RGB = np.array([236.0, 230.0, 216.0])
# Sizes over the resting mouth width: visible crowns, the lower incisors' tuck behind the upper
# ones, and tooth widths from the midline (incisors to premolars).
UPPER_TEETH, LOWER_TEETH, OVERBITE = 0.2, 0.09, 0.03
TOOTH_WIDTHS = np.array([0.15, 0.12, 0.13, 0.12, 0.12])
LOWER_INCISOR_LEVER = 0.8  # the lower incisors drop this share of the chin's drop
KEEP_STRETCH = 1.2  # the source's own open mouth is kept until stretched beyond this
MIN_EXCESS = 0.5  # pixels the mouth must open beyond the source's before anything is painted


@dataclass(frozen=True)
class _Layout:
    """Per-pixel mouth coordinates in the painted box (all arrays [h, w], pixels unless noted)."""

    box: tuple[int, int, int, int]
    s: np.ndarray  # 0 at one mouth corner, 1 at the other (mouth widths)
    t: np.ndarray  # distance below the line through the corners
    top: np.ndarray  # upper inner lip
    teeth_edge: np.ndarray  # edge of the upper teeth
    lower_edge: np.ndarray  # tips of the lower teeth
    coverage: np.ndarray  # how much of each pixel is painted
    width: float  # current mouth width
    teeth_size: float  # resting mouth width


def _sample(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Median colour of 3x3 neighbourhoods at the given pixel positions."""
    h, w = image.shape[:2]
    values = []
    for x, y in np.round(xy).astype(int):
        x, y = int(np.clip(x, 1, w - 2)), int(np.clip(y, 1, h - 2))
        values.append(image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3))
    return np.median(np.concatenate(values), axis=0).astype(np.float32)


def _teeth_shading(s: np.ndarray) -> np.ndarray:
    """Brightness across the tooth row (``s`` 0..1 corner to corner): rounded teeth with soft seams."""
    offset = np.abs(s - 0.5)
    edges = np.concatenate([[0.0], np.cumsum(TOOTH_WIDTHS)])
    index = np.clip(np.searchsorted(edges, offset, side="right") - 1, 0, len(TOOTH_WIDTHS) - 1)
    within = np.clip((offset - edges[index]) / TOOTH_WIDTHS[index], 0.0, 1.0)  # 0..1 across one tooth
    return (0.8 + 0.2 * np.sin(np.pi * within) ** 0.5).astype(np.float32)


def _band(distance: np.ndarray, height: np.ndarray | float) -> np.ndarray:
    """Anti-aliased indicator of 0 <= distance <= height (pixels)."""
    return np.clip(distance + 0.5, 0.0, 1.0) * np.clip(height - distance + 0.5, 0.0, 1.0)


class MouthPainter:
    """Paints a mouth interior into the rendered crop wherever the mouth opens beyond the source's.

    The upper teeth hang from the skull at the source's resting lip line and the lower teeth
    ride on the jaw, so parted lips over a closed jaw show two rows of teeth (a grin) and a
    dropped jaw shows the dark cavity and tongue between them.
    """

    def __init__(self, crop: np.ndarray, points: np.ndarray) -> None:
        topo = face_topology()
        self.upper, self.lower = topo.mouth
        self.source_gap = self._frame(points)[0]
        pairs = np.array(LIP_SAMPLES)
        lip = _sample(crop, (points[pairs[:, 0], :2] + points[pairs[:, 1], :2]) / 2)
        oval = points[topo.oval, :2]
        x0, y0 = np.maximum(oval.min(axis=0), 0).astype(int)
        x1, y1 = oval.max(axis=0).astype(int) + 1
        face = crop[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32)
        if len(face) == 0:
            face = crop.reshape(-1, 3).astype(np.float32)
        luminance = face @ np.array([0.299, 0.587, 0.114], np.float32)
        chroma = np.median(face.max(axis=1) - face.min(axis=1))
        colourful = float(np.clip(chroma / 25.0, 0.0, 1.0))  # greyscale photos get a grey mouth
        bright = float(np.clip(np.percentile(luminance, 97) / 235.0, 0.45, 1.0))

        def tone(rgb: np.ndarray) -> np.ndarray:
            grey = float(rgb @ np.array([0.299, 0.587, 0.114]))
            return (grey + colourful * (rgb - grey)).astype(np.float32)

        self.cavity = tone(lip * np.array([0.34, 0.2, 0.2]))
        self.tongue = tone(lip * np.array([0.85, 0.55, 0.55]))
        self.gums = tone(lip * np.array([0.8, 0.62, 0.62]))
        cast = np.median(face, axis=0) / max(float(np.median(face, axis=0).mean()), 1.0)  # the picture's colour cast
        self.teeth = (TEETH_RGB * bright * 0.95 * np.sqrt(np.clip(cast, 0.5, 1.5))).astype(np.float32)

    def _frame(self, points: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float]:
        """(central inner-lip gap, left corner, axis, normal, width) in crop pixels."""
        left, right = points[self.upper[0], :2], points[self.upper[-1], :2]
        width = max(float(np.linalg.norm(right - left)), 1e-6)
        axis = (right - left) / width
        normal = np.array([-axis[1], axis[0]], np.float32)
        pairs = list(CENTRE_PAIRS)
        gap = float(((points[self.lower[pairs], :2] - points[self.upper[pairs], :2]) @ normal).mean())
        return gap, left, axis, normal, width

    def teeth_edge(self, points: np.ndarray, rigid: np.ndarray) -> np.ndarray:
        """[9, 3] target positions of the upper-teeth edge (warp vertices 468..476), in crop pixels.

        The edge is the source's lower inner lip carried by the head alone (the upper teeth are
        fixed to the skull), kept between the target lips. On the source itself it lies on the
        lower lip, so the part of the mouth above it is the source's own opening.
        """
        upper, lower = points[self.upper[1:-1]], points[self.lower[1:-1]]
        span = lower - upper
        length = np.maximum((span[:, :2] ** 2).sum(axis=1), 1e-9)
        share = np.clip(((rigid[self.lower[1:-1], :2] - upper[:, :2]) * span[:, :2]).sum(axis=1) / length, 0.0, 1.0)
        return (upper + share[:, None] * span).astype(np.float32)

    def paint(self, frame: np.ndarray, points: np.ndarray, rigid: np.ndarray, teeth: np.ndarray) -> np.ndarray:
        """``frame`` (rendered crop, modified in place) with the mouth interior painted.

        ``points`` are the target landmarks, ``rigid`` the source landmarks moved by the target
        head pose only and ``teeth`` the upper-teeth edge from :meth:`teeth_edge` (crop pixels).
        Below the edge the jaw has opened: cavity, tongue and lower teeth are painted. Above it
        the warp shows the source's own mouth where the source was open, and painted upper teeth
        where the lips parted over a mouth that was shut.
        """
        layout = self._layout(frame.shape[:2], points, rigid, teeth)
        if layout is None:
            return frame
        x0, y0, x1, y1 = layout.box
        region = frame[y0:y1, x0:x1].astype(np.float32)
        alpha = layout.coverage[..., None]
        frame[y0:y1, x0:x1] = np.clip(region + alpha * (self._interior(layout) - region) + 0.5, 0, 255).astype(np.uint8)
        return frame

    def _layout(self, shape: tuple[int, int], points: np.ndarray, rigid: np.ndarray, teeth: np.ndarray) -> _Layout | None:
        """Where to paint and the mouth's coordinates there; None when the mouth is not open beyond the source."""
        gap, left, axis, normal, width = self._frame(points)
        if gap - max(self.source_gap, 0.0) <= MIN_EXCESS or width < 4:
            return None
        outline = np.concatenate([points[self.upper, :2], points[self.lower[::-1], :2]])
        x0, y0 = np.maximum(np.floor(outline.min(axis=0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(outline.max(axis=0)).astype(int) + 3, (shape[1], shape[0]))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        rel_x, rel_y = xx - left[0], yy - left[1]
        s = (rel_x * axis[0] + rel_y * axis[1]) / width
        t = rel_x * normal[0] + rel_y * normal[1]

        def curve(xy: np.ndarray) -> np.ndarray:
            """A lip-like chain as a function of ``s`` (made monotonic where a round mouth folds back)."""
            rel = xy - left
            along = np.maximum.accumulate((rel @ axis) / width + np.arange(len(rel)) * 1e-6)
            return np.interp(s, along, rel @ normal).astype(np.float32)

        top = curve(points[self.upper, :2])
        corners = points[[self.upper[0], self.upper[-1]], :2]
        teeth_edge = curve(np.concatenate([corners[:1], teeth[:, :2], corners[1:]]))
        # Above the edge, the source's own opening is kept until stretching would show: beyond
        # KEEP_STRETCH times its height the lips parted over a mouth the source did not show open.
        source_open = np.maximum(curve(rigid[self.lower, :2]) - curve(rigid[self.upper, :2]), 0.0)
        stretch = np.maximum(teeth_edge - top, 0.0) / np.maximum(source_open, 1e-3)
        coverage = polygon_mask(outline - (x0, y0), (y1 - y0, x1 - x0))
        coverage *= np.where(t < teeth_edge, _smoothstep((stretch - KEEP_STRETCH) / 0.5), 1.0)
        if float(coverage.max()) <= 0.0:
            return None
        jaw_drop = max(float((points[CHIN, :2] - rigid[CHIN, :2]) @ normal), 0.0)
        teeth_size = float(np.linalg.norm(rigid[self.upper[-1], :2] - rigid[self.upper[0], :2]))
        lower_edge = teeth_edge + LOWER_INCISOR_LEVER * jaw_drop - OVERBITE * teeth_size
        return _Layout((x0, y0, x1, y1), s, t, top, teeth_edge, lower_edge, coverage, width, teeth_size)

    def _interior(self, m: _Layout) -> np.ndarray:
        """Colours of the mouth interior over the layout's box, float32 [h, w, 3]."""
        lateral = np.clip(np.abs(m.s - 0.5) * 2.0, 0.0, 1.0)  # 0 centre, 1 corners
        corridor = np.clip((0.85 - lateral) / 0.3, 0.0, 1.0)  # teeth fade into the dark corners
        cavity_h = np.maximum(m.lower_edge - m.teeth_edge, 0.0)
        depth = np.clip((m.t - m.teeth_edge) / np.maximum(cavity_h, 1e-3), 0.0, 1.0)
        interior = self.cavity * ((0.55 + 0.45 * np.abs(2 * depth - 1.0) ** 2) * (1.0 - 0.35 * lateral))[..., None]
        # Tongue: a hump resting behind the lower teeth, rounded at the sides.
        tongue_h = 0.35 * cavity_h * np.sqrt(np.clip(1.0 - (lateral / 0.7) ** 2, 0.0, 1.0))
        tongue_a = _band(m.lower_edge - m.t, tongue_h) * np.clip(cavity_h / (0.05 * m.width) - 1.0, 0.0, 1.0)
        interior += tongue_a[..., None] * (self.tongue * (0.7 + 0.3 * depth)[..., None] - interior)
        # Lower teeth below the dropped edge, then the upper teeth over them down to their edge.
        shape = _teeth_shading(m.s) * (1.0 - 0.55 * lateral**2)
        lower_h = LOWER_TEETH * m.teeth_size
        lower_a = _band(m.t - m.lower_edge, lower_h) * corridor
        lower_shade = shape * (0.85 - 0.25 * np.clip((m.t - m.lower_edge) / lower_h, 0.0, 1.0))
        interior += lower_a[..., None] * (self.teeth * lower_shade[..., None] - interior)
        upper_h = UPPER_TEETH * m.teeth_size
        from_top = np.clip((m.t - m.top) / (0.35 * upper_h), 0.0, 1.0)  # the upper lip's shadow
        edge = 1.0 - 0.12 * np.clip(1.0 - (m.teeth_edge - m.t) / 1.5, 0.0, 1.0)
        upper_a = _band(m.teeth_edge - m.t, upper_h) * corridor
        interior += upper_a[..., None] * (self.teeth * (shape * (0.6 + 0.4 * from_top) * edge)[..., None] - interior)
        gums_a = np.clip(m.teeth_edge - upper_h - m.t + 0.5, 0.0, 1.0) * corridor  # above the crowns
        interior += gums_a[..., None] * (self.gums * (0.65 + 0.35 * from_top)[..., None] - interior)
        return cv2.GaussianBlur(interior.astype(np.float32), (3, 3), 0)
