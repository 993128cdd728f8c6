"""Mouth interiors from real pictures: smooth inner-lip contours, warping, colour matching, blending.

A mouth interior (teeth, tongue, the shaded cavity) is copied from a picture that shows one (the
driving frame, or an entry of the shipped bank, :mod:`thead.backends.warp.bank`) into the opening
of the rendered mouth. Both openings are traced by the same smooth closed curve through the
inner-lip landmarks (a Catmull-Rom spline per lip, meeting at the corners), the picture is warped
between the two curves in mouth coordinates (along the mouth, and down from the upper lip with
the teeth kept at their size), its lightness and saturation are matched to the rendered lips,
and it is blended with an anti-aliased, feathered mask of the target curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from thead.easing import smoothstep

SPLINE_STEPS = 3  # curve samples per landmark interval
TEETH_BAND = 0.35  # share of the opening, at each lip, carried at the picture's own scale (the teeth)
# The picture's middle (between the two teeth bands) stretches at most this much. A target opening taller than
# that (a source that already opens wide, or a narrow mouth given a wide smile's picture) shows the cavity between
# the two rows instead: stretching a smile's clenched teeth to fill it drew them as long vertical bars.
MAX_STRETCH = 1.5
CAVITY_DARK = 0.2  # brightness of the cavity's shadow (the back of the mouth) as a share of the tongue's
CAVITY_EDGE = 0.12  # the cavity fades in over this share of the picture's opening (no hard edge on the teeth)
CAVITY_TONGUE = (0.4, 0.35)  # the tongue fills the cavity's lower part, from this share of its height (in, over)
CAVITY_TONGUE_HALF_WIDTH = 0.2  # ... and its middle, this share of the mouth's width each side (fading over as much)
LIP_BAND = 0.08  # width of the band the colour statistics are taken in (the lips), over the mouth width
FEATHER = 2.0  # pixels inside the curve over which the blend mask rises from 0 to 1
LIGHT_GAIN = (0.55, 1.6)  # limits of the lightness gain between picture and render
TONGUE_LIGHT = 0.6  # lightness of the tongue in the mouth's shadow, as a share of the lips'
SATURATION_GAIN = (0.0, 1.5)
SUPERSAMPLE = 2


@dataclass(frozen=True)
class MouthPicture:
    """A picture showing a mouth interior and its inner-lip chains (corner to corner, pixels, [n, 2])."""

    image: np.ndarray  # RGB uint8
    upper: np.ndarray
    lower: np.ndarray
    ring: np.ndarray | None = None  # mean Lab colour around the opening, when known (see :func:`ring_lab`)


def _catmull_rom(points: np.ndarray, steps: int) -> np.ndarray:
    """Uniform Catmull-Rom curve through an open chain of points [n, 2] (ends included), [(n-1)*steps+1, 2]."""
    p = np.asarray(points, np.float64)
    padded = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    p0, p1, p2, p3 = (padded[i : i + len(p) - 1, None, :] for i in range(4))  # [segments, 1, 2]
    t = (np.arange(steps, dtype=np.float64) / steps)[None, :, None]
    curve = 0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
    return np.concatenate([curve.reshape(-1, 2), p[-1:]])


def grown(contour: np.ndarray, pixels: float) -> np.ndarray:
    """A :func:`lip_contour` curve moved ``pixels`` outwards along its normals, keeping its sampling.

    A shut mouth's curve (both lips on one line) grows into a thin lens around the line.
    """
    if not pixels:
        return contour
    tangent = np.roll(contour, -1, axis=0) - np.roll(contour, 1, axis=0)
    # Upper lip left to right, then lower lip right to left: (ty, -tx) points out of the mouth.
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-6)
    return (contour + pixels * normal).astype(np.float32)


def lip_contour(upper: np.ndarray, lower: np.ndarray, steps: int = SPLINE_STEPS) -> np.ndarray:
    """Closed smooth inner-lip curve [N, 2]: along the upper lip corner to corner, back along the lower one.

    ``upper`` and ``lower`` are chains of 2D points sharing their end points (the mouth corners).
    The curve passes through every landmark and has no corners but at the mouth corners.
    """
    top = _catmull_rom(upper[:, :2], steps)
    bottom = _catmull_rom(lower[:, :2], steps)
    return np.concatenate([top, bottom[::-1][1:-1]]).astype(np.float32)


def contour_mask(contour: np.ndarray, box: tuple[int, int, int, int], feather: float = FEATHER) -> np.ndarray:
    """Anti-aliased float32 mask [h, w] of a closed curve over ``box`` (x0, y0, x1, y1).

    With ``feather`` > 0 the mask rises smoothly from 0 on the curve to 1 at ``feather`` pixels
    inside it: no step at the curve, and nothing outside it.
    """
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    big = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), np.uint8)
    scaled = np.round((contour - (x0, y0) + 0.5) * SUPERSAMPLE - 0.5).astype(np.int32)
    cv2.fillPoly(big, [scaled], 255)
    if feather > 0:
        inside = cv2.distanceTransform(big, cv2.DIST_L2, 3) / (SUPERSAMPLE * feather)
        x = np.clip(inside, 0.0, 1.0)
        return cv2.resize(x * x * (3.0 - 2.0 * x), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _lips_of(contour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The upper and lower curves (corner to corner) of a :func:`lip_contour` loop."""
    m = len(contour) // 2 + 1
    return contour[:m], np.concatenate([contour[:1], contour[m:][::-1], contour[m - 1 : m]])


class _MouthFrame:
    """Coordinates in a mouth opening: ``s`` along the corner-to-corner axis (0..1), and for each ``s``
    the upper and lower lip's offsets along the axis' normal (pixels)."""

    def __init__(self, contour: np.ndarray) -> None:
        upper, lower = _lips_of(contour.astype(np.float64))
        self.left = upper[0]
        span = upper[-1] - upper[0]
        self.width = max(float(np.linalg.norm(span)), 1e-6)
        self.axis = span / self.width
        self.normal = np.array([-self.axis[1], self.axis[0]])
        self.upper, self.lower = upper, lower

    def _curve(self, chain: np.ndarray, s: np.ndarray) -> np.ndarray:
        rel = chain - self.left
        along = np.maximum.accumulate(rel @ self.axis / self.width + np.arange(len(rel)) * 1e-6)
        return np.interp(s, along, rel @ self.normal)

    def lips(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normal offsets of the upper and lower lip at ``s``."""
        return self._curve(self.upper, s), self._curve(self.lower, s)


def warp_opening(image: np.ndarray, source: np.ndarray, target: np.ndarray, box: tuple[int, int, int, int],
                 lips: np.ndarray | None = None) -> np.ndarray:
    """``image`` warped so that its mouth curve ``source`` lands on ``target`` (both :func:`lip_contour` loops),
    over ``box``; float32. ``lips`` is the picture's :func:`ring_lab` around ``source`` when the caller has it.

    Each target pixel keeps its place along the mouth and its distance from the nearer lip, in
    the picture's scale, for up to TEETH_BAND of the opening: teeth keep their size and hang
    from their lip, and the cavity between them stretches or shrinks with the opening, by at most
    MAX_STRETCH; beyond that the middle of the opening takes the picture's cavity colour
    (a shadow over the tongue, in the picture's colours). Beyond the lips the picture continues unstretched.
    """
    src, dst = _MouthFrame(source), _MouthFrame(target)
    scale = src.width / dst.width
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    rel_x, rel_y = xx - dst.left[0], yy - dst.left[1]
    s = (rel_x * dst.axis[0] + rel_y * dst.axis[1]) / dst.width
    n = rel_x * dst.normal[0] + rel_y * dst.normal[1]
    top, bottom = dst.lips(s)
    src_top, src_bottom = src.lips(s)
    gap = np.maximum(bottom - top, 0.0) * scale  # the target opening in picture pixels
    src_gap = np.maximum(src_bottom - src_top, 0.0)
    band = TEETH_BAND * np.minimum(gap, src_gap)
    depth = (n - top) * scale  # picture pixels below the upper lip
    src_middle, middle = src_gap - 2 * band, gap - 2 * band
    shown = np.minimum(middle, MAX_STRETCH * src_middle)  # of the target's middle, what the picture's middle covers
    cavity = middle - shown  # the rest, between the two halves of the picture's middle
    ratio = src_middle / np.maximum(shown, 1e-6)
    inner = depth - band  # below the upper band
    offset = np.where(depth <= band, depth, np.where(depth >= gap - band, src_gap - (gap - depth),
                      band + np.where(inner <= shown / 2, inner, np.maximum(inner - cavity, shown / 2)) * ratio))
    offset = src_top + offset
    along = s * src.width
    map_x = src.left[0] + along * src.axis[0] + offset * src.normal[0]
    map_y = src.left[1] + along * src.axis[1] + offset * src.normal[1]
    out = cv2.remap(image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    if float(cavity.max()) <= 0.0:
        return out
    edge = np.maximum(CAVITY_EDGE * src_gap, 0.5)
    reach = np.minimum(inner - shown / 2, shown / 2 + cavity - inner)  # picture pixels inside the cavity
    weight = np.where(cavity > 0, np.clip(reach / edge + 0.5, 0.0, 1.0), 0.0)[..., None].astype(np.float32)
    down = np.clip((inner - shown / 2) / np.maximum(cavity, 1e-6), 0.0, 1.0)  # 0 at the cavity's top, 1 at its bottom
    if lips is None:
        lips = ring_lab(image, source)
    return out + weight * (_cavity(tongue_tone(lips), s, down) - out)


def _cavity(tongue: np.ndarray, along: np.ndarray, down: np.ndarray) -> np.ndarray:
    """RGB [h, w, 3] of an open mouth's cavity in the tongue's tone (``tongue``, RGB): a shadow at CAVITY_DARK of it,
    with the tongue in its lower middle; ``along`` is the place along the mouth (0..1), ``down`` the depth in the
    cavity (0 its top, 1 its bottom)."""
    shown = smoothstep((down - CAVITY_TONGUE[0]) / CAVITY_TONGUE[1])
    shown *= 1.0 - smoothstep((np.abs(along - 0.5) - CAVITY_TONGUE_HALF_WIDTH) / CAVITY_TONGUE_HALF_WIDTH)
    return tongue * (CAVITY_DARK + (1.0 - CAVITY_DARK) * shown[..., None])


def ring_lab(image: np.ndarray, contour: np.ndarray) -> np.ndarray | None:
    """Mean Lab colour (float, L 0..100) of the band just outside a mouth opening: the lips."""
    outer = grown(contour, LIP_BAND * float(np.ptp(contour[:, 0])))
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(outer.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(outer.max(axis=0)).astype(int) + 1, (w, h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    band = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(band, [np.round(outer - (x0, y0)).astype(np.int32)], 1)
    cv2.fillPoly(band, [np.round(contour - (x0, y0)).astype(np.int32)], 0)
    band = band > 0
    if band.sum() < 4:
        return None
    lab = cv2.cvtColor(image[y0:y1, x0:x1].astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return lab[band].mean(axis=0)


def tongue_tone(lips: np.ndarray | None) -> np.ndarray:
    """RGB (0..255) of the tongue in the mouth's shadow, from the Lab colour of the lips around it
    (:func:`ring_lab`): their own colour at TONGUE_LIGHT of their lightness; black without lips."""
    if lips is None:
        return np.zeros(3, np.float32)
    lab = np.array([[[lips[0] * TONGUE_LIGHT, lips[1], lips[2]]]], np.float32)
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)[0, 0] * 255.0


def match_colour(interior: np.ndarray, picture_ring: np.ndarray | None, render_ring: np.ndarray | None) -> np.ndarray:
    """``interior`` (float RGB 0..255) relit like the render: lightness and saturation scaled by the ratio
    of the bands around the two openings (the picture's and the render's lips), within limits."""
    if picture_ring is None or render_ring is None:
        return interior
    lab = cv2.cvtColor(np.clip(interior, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    light = float(np.clip(render_ring[0] / max(float(picture_ring[0]), 1.0), *LIGHT_GAIN))
    chroma = float(np.clip(np.linalg.norm(render_ring[1:]) / max(float(np.linalg.norm(picture_ring[1:])), 1.0),
                           *SATURATION_GAIN))
    lab[..., 0] = np.clip(lab[..., 0] * light, 0.0, 100.0)
    lab[..., 1:] *= chroma
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * 255.0


def carry_interior(picture: MouthPicture, render_ring: np.ndarray | None, target: np.ndarray,
                   box: tuple[int, int, int, int], grow: float = 0.0) -> np.ndarray:
    """The picture's mouth interior warped onto ``target`` (the render's smooth inner-lip curve, sampled like
    :func:`lip_contour`) and colour-matched to the render's lips, whose :func:`ring_lab` is ``render_ring``;
    float32 RGB over ``box``.

    ``grow`` (pixels of the render) is how far ``target`` was moved outwards by :func:`grown`: the
    picture's curve is moved by as much, in its own scale, so that the two still correspond.
    """
    source = lip_contour(picture.upper, picture.lower)
    if grow:
        source = grown(source, grow * (np.ptp(source[:, 0]) + 1e-6) / (np.ptp(target[:, 0]) + 1e-6))
    picture_ring = picture.ring if picture.ring is not None and not grow else ring_lab(picture.image, source)
    return match_colour(warp_opening(picture.image, source, target, box, picture_ring), picture_ring, render_ring)


def blend(render: np.ndarray, interior: np.ndarray, alpha: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``render`` (modified in place) with ``interior`` blended in over ``box`` by ``alpha`` [h, w]."""
    x0, y0, x1, y1 = box
    region = render[y0:y1, x0:x1].astype(np.float32)
    a = alpha[..., None]
    render[y0:y1, x0:x1] = np.clip(region + a * (interior - region) + 0.5, 0, 255).astype(np.uint8)
    return render
