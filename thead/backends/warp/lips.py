"""Shut lips over an open source mouth: the source's opening turns into lip as the rendered mouth closes.

MediaPipe's inner-lip landmarks sit a little inside the visible opening, so the lip triangles of
an open source mouth carry a thin band of its teeth and cavity at their inner edge. When the
mouth closes, that band meets at the seam and draws a white line edged in black between the
lips. As the rendered mouth closes over the source's opening, the warp therefore samples a
texture in which the opening, grown by LIP_REACH of its height, is filled from the lips around it
by a membrane (:func:`thead.backends.warp.fill.membrane_fill`: the upper lip's tone running evenly
into the lower lip's), so that the lips meet lip to lip. An open mouth keeps the source's own teeth.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from thead.backends.warp.fill import membrane_fill
from thead.backends.warp.interior import lip_contour
from thead.backends.warp.paste import polygon_mask
from thead.backends.warp.tone import darkest_tone
from thead.easing import smoothstep

MIN_GAP = 2.0  # pixels: a source mouth opened less than this has no band worth covering
LIP_REACH = 0.15  # the filled region reaches this share of the source's opening beyond its landmarks
SEAM_TONE = 0.35  # how dark the opening itself turns: 0 lip, 1 the darkest tone of the lips' inner edge
CLOSING_FILL = (0.85, 1.0)  # closure (1 - rendered gap / source gap) over which the opening turns into lip
MARGIN = 4  # pixels around the grown opening in the patch


class ShutLips:
    """The source crop's mouth opening filled with lip, blended in as the rendered mouth shuts."""

    def __init__(self, crop: np.ndarray, upper: np.ndarray, lower: np.ndarray, gap: float) -> None:
        """``upper``, ``lower``: the source's inner-lip chains in crop pixels; ``gap``: its opening height (pixels)."""
        self.gap = gap
        self.usable = gap >= MIN_GAP
        if not self.usable:
            return
        contour = lip_contour(upper[:, :2], lower[:, :2])
        height, width = crop.shape[:2]
        x0, y0 = np.maximum(np.floor(contour.min(axis=0)).astype(int) - MARGIN - int(gap), 0)
        x1, y1 = np.minimum(np.ceil(contour.max(axis=0)).astype(int) + MARGIN + int(gap) + 1, (width, height))
        self.box = (int(x0), int(y0), int(x1), int(y1))
        self._patch = np.ascontiguousarray(crop[y0:y1, x0:x1])
        self._opening = polygon_mask(contour - (x0, y0), self._patch.shape[:2]) > 0.0
        reach = 1 + 2 * max(1, round(LIP_REACH * gap))
        self._grown = cv2.dilate(self._opening.astype(np.uint8),
                                 cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
        self.mask = cv2.GaussianBlur(self._grown.astype(np.float32), (3, 3), 0)[..., None]

    @functools.cached_property
    def lips(self) -> np.ndarray:
        """The patch with the grown opening filled with lip (float32), built the first time the mouth shuts: a
        video source, prepared again for every frame, pays for it only on frames whose mouth closes."""
        patch, grown = self._patch, self._grown
        lips = membrane_fill(patch, grown > 0)
        # Where the opening itself was, the lips meet: a darker seam, in the tone of the lips' shadowed inner edge.
        ring = cv2.dilate(grown, np.ones((3, 3), np.uint8)) > grown
        edge = patch[ring].astype(np.float32) if ring.sum() >= 4 else patch.reshape(-1, 3).astype(np.float32)
        shadow = darkest_tone(edge, 20)
        seam = SEAM_TONE * cv2.GaussianBlur(self._opening.astype(np.float32), (3, 3), 0)[..., None]
        return lips + seam * (shadow - lips)

    def texture(self, texture: np.ndarray, gap: float) -> np.ndarray:
        """``texture`` (the crop the warp samples; not modified) with the opening turned into lip as far as the
        rendered mouth's ``gap`` (pixels) has closed over the source's; ``texture`` itself when it has not."""
        if not self.usable:
            return texture
        fill = float(smoothstep((1.0 - gap / self.gap - CLOSING_FILL[0]) / (CLOSING_FILL[1] - CLOSING_FILL[0])))
        if fill <= 0.0:
            return texture
        x0, y0, x1, y1 = self.box
        out = texture.copy()
        patch = texture[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(patch + (fill * self.mask) * (self.lips - patch) + 0.5, 0, 255).astype(np.uint8)
        return out
