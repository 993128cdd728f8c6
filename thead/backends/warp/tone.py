"""Tones of pixel sets: BT.601 luminance, and the colour of a set's darkest share (lash lines, lip seams)."""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # BT.601 weights of R, G, B


def luminance(pixels: np.ndarray) -> np.ndarray:
    """BT.601 luminance of RGB ``pixels`` [..., 3]."""
    return pixels @ LUMA


def darkest_tone(pixels: np.ndarray, percent: float) -> np.ndarray:
    """Median RGB colour of the darkest ``percent`` % of ``pixels`` [N, 3] by luminance."""
    light = luminance(pixels)
    return np.median(pixels[light <= np.percentile(light, percent)], axis=0)
