"""Mouth: a jaw that opens by rotating about its hinge, and a synthesized mouth interior.

The jaw rig rotates the lower face (lower lip, chin, jaw line) about an axis through both jaw
hinges in the canonical landmarks until the inner-lip gap reaches the target openness. Where
the rendered mouth opens beyond what the source shows, the opening is painted over with an
oral cavity, an upper teeth band and a hint of tongue, coloured from the source's own lips and
skin and blended with feathered masks; the lips themselves stay the warped source lips.
"""

from __future__ import annotations

import cv2
import numpy as np

from thead.backends.warp.mesh import face_topology, graph_distance

OPEN_LIMIT = 0.9  # inner-lip gap over mouth width
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
        side = p[[234, 454]].mean(axis=0)
        self.hinge = np.array([0.0, side[1] + 0.25, side[2] + 0.1])
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
        """Canonical ``points`` with the jaw turned so the mouth openness is ``target`` (clipped), lips uncrossed."""
        target = float(np.clip(target, 0.0, OPEN_LIMIT))
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
TEETH_RGB = np.array([236.0, 230.0, 216.0])


def _sample(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Median colour of 3x3 neighbourhoods at the given pixel positions."""
    h, w = image.shape[:2]
    values = []
    for x, y in np.round(xy).astype(int):
        x, y = int(np.clip(x, 1, w - 2)), int(np.clip(y, 1, h - 2))
        values.append(image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3))
    return np.median(np.concatenate(values), axis=0).astype(np.float32)


class MouthPainter:
    """Paints a mouth interior into the rendered crop wherever the mouth opens beyond the source's."""

    def __init__(self, crop: np.ndarray, points: np.ndarray) -> None:
        topo = face_topology()
        self.upper, self.lower = topo.mouth
        self.source_gap = self._gap_and_frame(points)[0]
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

        self.cavity = tone(lip * 0.3 + np.array([8.0, 2.0, 2.0]))
        self.tongue = tone(lip * 0.7 + np.array([14.0, 0.0, 2.0]) * bright)
        self.teeth = tone(TEETH_RGB * bright)

    def _gap_and_frame(self, points: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float]:
        """(central inner-lip gap, left corner, axis, normal, width) in crop pixels."""
        left, right = points[self.upper[0], :2], points[self.upper[-1], :2]
        width = max(float(np.linalg.norm(right - left)), 1e-6)
        axis = (right - left) / width
        normal = np.array([-axis[1], axis[0]], np.float32)
        pairs = list(CENTRE_PAIRS)
        gap = float(((points[self.lower[pairs], :2] - points[self.upper[pairs], :2]) @ normal).mean())
        return gap, left, axis, normal, width

    def paint(self, frame: np.ndarray, points: np.ndarray) -> np.ndarray:
        """``frame`` (rendered crop, modified in place) with the interior of the mouth at ``points`` painted."""
        gap, left, axis, normal, width = self._gap_and_frame(points)
        excess = gap - max(self.source_gap, 0.0)
        if excess < 0.5 or width < 4:
            return frame
        strength = float(np.clip(excess / max(0.06 * width, self.source_gap, 1.0), 0.0, 1.0))
        outline = np.concatenate([points[self.upper, :2], points[self.lower[::-1], :2]])
        h, w = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(outline.min(axis=0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(outline.max(axis=0)).astype(int) + 3, (w, h))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return frame
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        rel_x, rel_y = xx - left[0], yy - left[1]
        s = (rel_x * axis[0] + rel_y * axis[1]) / width  # 0 at one corner, 1 at the other
        t = rel_x * normal[0] + rel_y * normal[1]  # pixels below the corner line
        def chain(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rel = points[indices, :2] - left
            return (rel @ axis) / width, rel @ normal

        su, tu = chain(self.upper)
        sl, tl = chain(self.lower)
        top = np.interp(s, su, tu).astype(np.float32)
        bottom = np.interp(s, sl, tl).astype(np.float32)
        local_gap = np.maximum(bottom - top, 1e-3)
        inside = np.clip((np.minimum(t - top, bottom - t) - 0.3) / 1.2, 0.0, 1.0)
        inside *= ((s > 0.0) & (s < 1.0)).astype(np.float32)
        depth = np.clip((t - top) / local_gap, 0.0, 1.0)  # 0 at the upper lip, 1 at the lower lip
        lateral = np.clip(np.abs(s - 0.5) * 2.0, 0.0, 1.0)  # 0 centre, 1 corners

        shade = 0.45 + 0.75 * (1.0 - np.sin(np.pi * depth)) ** 2 * (1.0 - 0.4 * lateral)
        interior = self.cavity[None, None] * shade[..., None]
        # Tongue: a rounded hump resting on the lower lip, darker towards the back.
        tongue_h = 0.32 * local_gap * np.sqrt(np.clip(1.0 - (lateral / 0.7) ** 2, 0.0, 1.0))
        from_lower = bottom - t
        tongue_a = np.clip((tongue_h - from_lower) / 1.5, 0.0, 1.0)
        tongue = self.tongue[None, None] * (1.0 - 0.55 * np.clip(from_lower / np.maximum(tongue_h, 1e-3), 0, 1))[..., None]
        interior += tongue_a[..., None] * (tongue - interior)
        # Upper teeth: a band under the upper lip, shorter and shadowed towards the corners, with faint gaps.
        teeth_h = np.minimum(0.13 * width, 0.6 * local_gap) * np.sqrt(np.clip(1.0 - lateral**2, 0.0, 1.0))
        from_upper = t - top
        teeth_a = np.clip((teeth_h - from_upper) / 1.0, 0.0, 1.0) * np.clip((0.82 - lateral) / 0.25, 0.0, 1.0)
        seams = np.abs(((s - 0.5) / 0.085 + 0.5) % 1.0 - 0.5)  # 0 at a tooth boundary
        teeth_shade = (1.0 - 0.5 * lateral**2) * (0.55 + 0.45 * np.clip(from_upper / (0.25 * np.maximum(teeth_h, 1e-3)), 0, 1))
        teeth_shade *= 1.0 - 0.12 * np.exp(-((seams / 0.06) ** 2))
        interior += teeth_a[..., None] * (self.teeth[None, None] * teeth_shade[..., None] - interior)

        region = frame[y0:y1, x0:x1].astype(np.float32)
        alpha = (strength * inside)[..., None]
        frame[y0:y1, x0:x1] = np.clip(region + alpha * (interior - region) + 0.5, 0, 255).astype(np.uint8)
        return frame
