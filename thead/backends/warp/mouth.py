"""Mouth: a jaw that opens by rotating about its hinge, and a real mouth interior in the opening.

The jaw rig rotates the lower face (lower lip, chin, jaw line) about an axis through both jaw
hinges in the canonical landmarks until the inner-lip gap reaches the target openness, keeping
both lips at least LIP_KEEP of their rest thickness (the lower lip and the skin under it ride
down with the jaw). Where the rendered mouth opens beyond what the source shows, the opening is filled with a real mouth
interior (teeth, tongue, the shaded cavity): the driving frame's own when there is one, else
entries of the shipped bank chosen by opening (:mod:`thead.backends.warp.bank`), warped onto a
smooth curve through the rendered inner lips, colour-matched and blended
(:mod:`thead.backends.warp.interior`). The lips themselves stay the warped source lips, and a
mouth that was open in the source keeps its own teeth (see :meth:`MouthFiller.teeth_edge`). A bank
interior shades into a dark cavity below the upper teeth, whose shadow turns towards the lower lip
into the tongue's tone (the lips' colour, darker), and a thin opening is a dark, crisp slit, so that
small openings read as open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thead.backends.warp.bank import mouth_bank
from thead.backends.warp.interior import (
    FEATHER,
    MouthPicture,
    blend,
    carry_interior,
    contour_mask,
    grown,
    lip_contour,
    ring_lab,
    tongue_tone,
)
from thead.backends.warp.mesh import face_topology, graph_distance
from thead.easing import smoothstep

OPEN_LIMIT = 0.9  # inner-lip gap over mouth width
PRESS_LIMIT = 0.1  # how far a shut mouth may be pressed (negative openness)
HINGE_OFFSET = (0.25, 0.1)  # jaw hinge below and behind the outline points by the ears, inter-ocular units
CENTRE_PAIRS = (4, 5, 6)  # chain positions of the pairs the openness is measured on (82/87, 13/14, 312/317)
OUTER_LOWER = (146, 91, 181, 84, 17, 314, 405, 321, 375)  # outer lower lip, paired with the inner chain's middle
OUTER_UPPER = (185, 40, 39, 37, 0, 267, 269, 270, 409)  # outer upper lip, likewise
JAW_STEPS = 4  # at most this many Newton steps to reach the target openness ...
JAW_TOLERANCE = 1e-3  # ... within this (openness units: mouth widths)
LIP_KEEP = 0.6  # an opening mouth keeps each lip at least this share of its rest thickness (real lips
# thin less than this when they part, so a driving video's own lip motion is left alone)


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
        weight = smoothstep((p[:, 1] - line_y + 0.05) / 0.15)
        to_upper, to_lower = graph_distance(self.upper[1:-1]), graph_distance(self.lower[1:-1])
        mesh = weight[: len(to_upper)]  # a view: the tessellated points
        mesh[(to_lower < to_upper) & (to_lower <= 3)] = 1.0
        mesh[(to_upper < to_lower) & (to_upper <= 3)] = 0.0
        # Near the mouth corners the soft tissue stays with the upper lip: the opening takes the
        # lens shape of a real mouth and the skin beside the corners stretches.
        half = float(np.linalg.norm(corner[1, :2] - corner[0, :2])) / 2
        to_corner = np.linalg.norm(p[:, None, :2] - corner[None, :, :2], axis=2).min(axis=1)
        weight *= smoothstep(to_corner / (0.9 * max(half, 1e-6)))
        weight[[self.upper[0], self.upper[-1]]] = 0.0
        weight[468:] = 0.0  # irises
        self.weight = weight.astype(np.float32)
        self.source_openness = self.openness(canonical)
        # The lips keep their fullness when the mouth opens: an opening that stretched the lower lip
        # thin is undone by lowering it (the skin under it follows, fading out towards the chin),
        # one that raised the upper lip's inner edge into the lip by lowering that edge again.
        inner, outer = p[self.lower[1:-1]], p[list(OUTER_LOWER)]
        self.lower_thickness = (outer[:, 1] - inner[:, 1]).astype(np.float32)
        self.upper_thickness = (p[self.upper[1:-1], 1] - p[list(OUTER_UPPER), 1]).astype(np.float32)
        chin = float(p[152, 1])

        def level(chain: np.ndarray) -> np.ndarray:
            """The chain's height under every point (interpolated along x)."""
            order = np.argsort(chain[:, 0])
            return np.interp(p[:, 0], chain[order, 0], chain[order, 1])

        inner_y, outer_y = level(p[self.lower]), level(p[[61, *OUTER_LOWER, 291]])
        within = np.clip((p[:, 1] - inner_y) / np.maximum(outer_y - inner_y, 1e-3), 0.0, 1.0)
        fade = 1.0 - smoothstep((p[:, 1] - outer_y) / max(chin - float(outer[:, 1].mean()), 1e-6))
        self.lower_carry = np.where(p[:, 1] <= outer_y, within, fade).astype(np.float32)
        lower_side = np.zeros(len(p), bool)  # nearer (along the mesh) to the lower lip than to the upper
        lower_side[: len(to_upper)] = to_lower < to_upper
        self.lower_carry[~lower_side | (np.arange(len(p)) >= 468)] = 0.0
        self.lower_carry[self.lower] = 0.0
        self.lower_carry[list(OUTER_LOWER)] = 1.0
        inner_y, outer_y = level(p[self.upper]), level(p[[61, *OUTER_UPPER, 291]])
        self.upper_carry = np.clip((p[:, 1] - outer_y) / np.maximum(inner_y - outer_y, 1e-3), 0.0, 1.0)
        self.upper_carry[(p[:, 1] > inner_y + 1e-6) | lower_side | (np.arange(len(p)) >= 468)] = 0.0
        self.upper_carry[self.upper[1:-1]] = 1.0
        self.upper_carry = self.upper_carry.astype(np.float32)

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
        out = self._keep_upper_lip(points.astype(np.float64))
        for _ in range(JAW_STEPS):  # Newton steps: a wide-open source needs a large, non-linear turn to shut
            current = self.openness(out)
            if abs(target - current) < JAW_TOLERANCE:
                break
            probe = self.openness(self._rotate(out, 0.1)) - current
            if abs(probe) <= 1e-6:
                break
            out = self._rotate(out, 0.1 * (target - current) / probe)
        upper, lower = self.upper[1:-1], self.lower[1:-1]
        crossed = out[lower, 1] < out[upper, 1]
        middle = (out[upper[crossed], 1:] + out[lower[crossed], 1:]) / 2  # the lips meet, in depth too
        out[upper[crossed], 1:] = middle
        out[lower[crossed], 1:] = middle
        return self._keep_lower_lip(out).astype(np.float32)

    def _keep_upper_lip(self, points: np.ndarray) -> np.ndarray:
        """``points`` with the upper lip's inner edge lowered back to LIP_KEEP of its rest thickness."""
        thickness = points[self.upper[1:-1], 1] - points[list(OUTER_UPPER), 1]
        return self._move_lip(points, LIP_KEEP * self.upper_thickness - thickness, self.upper[1:-1], self.upper_carry)

    def _keep_lower_lip(self, points: np.ndarray) -> np.ndarray:
        """``points`` with the lower lip lowered back to LIP_KEEP of its rest thickness where it was squeezed."""
        thickness = points[list(OUTER_LOWER), 1] - points[self.lower[1:-1], 1]
        return self._move_lip(points, LIP_KEEP * self.lower_thickness - thickness, list(OUTER_LOWER), self.lower_carry)

    @staticmethod
    def _move_lip(points: np.ndarray, deficit: np.ndarray, chain, carry: np.ndarray) -> np.ndarray:
        """``points`` lowered by the positive ``deficit`` of each lip column, spread along x and weighted by ``carry``."""
        deficit = np.maximum(deficit, 0.0)
        if not deficit.any():
            return points
        xs = points[chain, 0]
        order = np.argsort(xs)
        drop = np.interp(points[:, 0], xs[order], deficit[order], left=0.0, right=0.0)
        points[:, 1] += drop * carry
        return points


KEEP_STRETCH = 1.2  # the source's own open mouth is kept until stretched beyond this
MIN_EXCESS = 0.5  # pixels the mouth must open (beyond the source's, for the bank) before anything is filled
DRIVER_RIM = 0.05  # share of the mouth width: the driver's interior also covers the lips' inner rim
MARGIN = 3  # pixels around the opening's curve in the filled box
SLIT_FEATHER = 0.25  # the blend mask's feather is at most this share of the opening's height (thin gaps stay crisp)
CAVITY_FROM = (0.3, 0.05)  # where a bank interior starts to shade into the cavity below the upper lip: this share
# of the opening, at most this share of the mouth width (the upper teeth's height)
CAVITY_SPAN = (0.4, 0.1)  # ... and over how much it reaches full shade (same units)
CAVITY_SHADE = 0.15  # brightness left at full shade: a speaking mouth shows its upper teeth over a dark cavity
TONGUE_REACH = 0.7  # share of the opening, up from the lower lip, over which the shadow turns to the tongue's tone
TONGUE_GAP = 0.3  # ... and under this share, right above the lower lip, it fades back into the shadow (the lip's rim)
TONGUE_HALF_WIDTH = 0.22  # the tongue spans this share of the mouth width either side of the centre ...
TONGUE_FADE = 0.15  # ... fading out over this share towards the corners
SLIT_PIXELS = 6.0  # openings thinner than this (pixels) show a dark slit rather than teeth


@dataclass(frozen=True)
class _Layout:
    """Where the interior goes: the box (crop pixels), the opening's curve and the blend weights over the box."""

    box: tuple[int, int, int, int]
    contour: np.ndarray  # [N, 2] smooth inner-lip curve, crop pixels
    coverage: np.ndarray  # [h, w] how much of each pixel takes the interior
    openness: float  # inner-lip gap over mouth width
    shade: np.ndarray | float = 1.0  # [h, w] brightness factor for a bank interior (the cavity's shade)
    floor: np.ndarray | float = 0.0  # [h, w] how much of the shadow takes the tongue's tone (by the lower lip)


class MouthFiller:
    """Fills the rendered mouth opening with a real interior.

    With the driving frame's picture, the whole opening (and the lips' inner rim, so that a shut
    mouth gets the driver's closed-lip seam) takes the driver's interior. Without it, the upper
    teeth of the source stay with the skull (the warp's teeth-edge vertices), so a source that
    shows its own teeth keeps them while they are not stretched; beyond that, and everywhere a
    shut source mouth opens, the interior comes from the bank.
    """

    def __init__(self, points: np.ndarray) -> None:
        topo = face_topology()
        self.upper, self.lower = topo.mouth
        self.source_gap = self._frame(points)[0]

    def _frame(self, points: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float]:
        """(central inner-lip gap, left corner, axis, normal, width) in crop pixels."""
        left, right = points[self.upper[0], :2], points[self.upper[-1], :2]
        width = max(float(np.linalg.norm(right - left)), 1e-6)
        axis = (right - left) / width
        normal = np.array([-axis[1], axis[0]], np.float32)
        pairs = list(CENTRE_PAIRS)
        gap = float(((points[self.lower[pairs], :2] - points[self.upper[pairs], :2]) @ normal).mean())
        return gap, left, axis, normal, width

    def gap(self, points: np.ndarray) -> float:
        """The central inner-lip gap of landmarks ``points`` (pixels; negative when the lips are pressed)."""
        return self._frame(points)[0]

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

    def contour(self, points: np.ndarray) -> np.ndarray:
        """The smooth inner-lip curve of landmarks ``points`` (pixels)."""
        return lip_contour(points[self.upper, :2], points[self.lower, :2])

    def fill(self, frame: np.ndarray, points: np.ndarray, rigid: np.ndarray, teeth: np.ndarray,
             picture: MouthPicture | None = None) -> np.ndarray:
        """``frame`` (rendered crop, modified in place) with a real mouth interior in its opening.

        ``points`` are the target landmarks, ``rigid`` the source landmarks moved by the target
        head pose only and ``teeth`` the upper-teeth edge from :meth:`teeth_edge` (crop pixels).
        ``picture`` is the driving frame's mouth, which then fills the whole opening; without one,
        bank entries matching the opening are blended in where the mouth opens beyond the source's.
        """
        grow = 0.0 if picture is None else DRIVER_RIM * self._frame(points)[4]
        layout = self._layout(frame.shape[:2], points, rigid, teeth, keep_own=picture is None, grow=grow)
        if layout is None:
            return frame
        lips = ring_lab(frame, layout.contour)
        if picture is not None:
            interior = carry_interior(picture, lips, layout.contour, layout.box, grow)
        else:
            interior = sum(weight * carry_interior(entry, lips, layout.contour, layout.box)
                           for entry, weight in mouth_bank().choose(layout.openness))
            interior = interior * layout.shade + (1.0 - layout.shade) * layout.floor * tongue_tone(lips)
        return blend(frame, interior, layout.coverage, layout.box)

    def _layout(self, shape: tuple[int, int], points: np.ndarray, rigid: np.ndarray, teeth: np.ndarray,
                keep_own: bool, grow: float) -> _Layout | None:
        """Where to fill and how much; None when there is nothing to fill.

        With ``keep_own`` the source's own opening is kept where it is not stretched (nothing is
        filled unless the mouth opens beyond the source's); without it the whole opening is filled.
        The filled curve is the inner-lip curve grown by ``grow`` pixels.
        """
        gap, left, axis, normal, width = self._frame(points)
        floor = max(self.source_gap, 0.0) if keep_own else -2.0 * grow  # a grown curve has room even when shut
        if gap - floor <= MIN_EXCESS or width < 4:
            return None
        contour = grown(self.contour(points), grow)
        x0, y0 = np.maximum(np.floor(contour.min(axis=0)).astype(int) - MARGIN, 0)
        x1, y1 = np.minimum(np.ceil(contour.max(axis=0)).astype(int) + MARGIN + 1, (shape[1], shape[0]))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        box = (int(x0), int(y0), int(x1), int(y1))
        if not keep_own:
            return _Layout(box, contour, contour_mask(contour, box), gap / width)
        coverage = contour_mask(contour, box, min(FEATHER, max(SLIT_FEATHER * gap, 0.5)))
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
        coverage *= np.where(t < teeth_edge, smoothstep((stretch - KEEP_STRETCH) / 0.5), 1.0)
        if float(coverage.max()) <= 0.0:
            return None
        # The bank's teeth stay by the upper lip; deeper the opening shades into the cavity (fully
        # when it is only a slit), so that a small opening reads as parted lips, not as a row of teeth.
        height = np.maximum(curve(points[self.lower, :2]) - top, 1e-3)
        start = np.minimum(CAVITY_FROM[0] * height, CAVITY_FROM[1] * width)
        span = np.minimum(CAVITY_SPAN[0] * height, CAVITY_SPAN[1] * width)
        depth = smoothstep((t - top - start) / span)
        slit = 1.0 - smoothstep(height / SLIT_PIXELS - 0.5)
        shade = 1.0 - (1.0 - CAVITY_SHADE) * np.maximum(depth, slit)
        # The tongue lies on the floor of the mouth: a rounded patch of the shadow above the lower lip (not against
        # it, nor out to the corners) takes the lips' colour; thin slits stay dark.
        above_lip = top + height - t
        floor = smoothstep(1.0 - above_lip / (TONGUE_REACH * height)) * smoothstep(above_lip / (TONGUE_GAP * height))
        floor *= (1.0 - slit) * (1.0 - smoothstep((np.abs(s - 0.5) - TONGUE_HALF_WIDTH) / TONGUE_FADE))
        return _Layout(box, contour, coverage, gap / width, shade[..., None].astype(np.float32),
                       floor[..., None].astype(np.float32))
