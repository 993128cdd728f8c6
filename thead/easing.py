"""The one easing curve of thead's motion and renderer: smoothstep."""

from __future__ import annotations

import numpy as np


def smoothstep(x):
    """3x^2 - 2x^3 of ``x`` clipped to [0, 1] (array or float): 0 below 0, 1 above 1, flat at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)
