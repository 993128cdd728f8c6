"""Temporal filtering of landmark tracks against jitter, without lag.

A One Euro filter (Casiez et al., CHI 2012) adapts its cutoff to speed: still landmarks are
smoothed hard, fast ones (blinks, lip closures) pass. Run forward then backward over a whole
track, it is zero-phase: no delay between the motion and the picture.
"""

from __future__ import annotations

import math

import numpy as np


MIN_FRAMES = 3  # shorter tracks are returned as they are
BETA = 5.0  # speed coefficient: a landmark moving one face size per second raises the cutoff by 5 Hz
D_CUTOFF = 1.0  # Hz, low-pass of the speed estimate (the paper's default)


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * rate)


def one_euro(values: np.ndarray, fps: float, min_cutoff: float, beta: float, d_cutoff: float = D_CUTOFF) -> np.ndarray:
    """Causal One Euro filter along axis 0 of ``values`` ([T, ...]), float64; cutoffs in Hz, speed per second."""
    values = np.asarray(values, np.float64)
    out = np.empty_like(values)
    if not len(values):
        return out
    state, speed = values[0], 0.0
    a_d = _alpha(d_cutoff, fps)
    for index, x in enumerate(values):
        speed = a_d * (x - state) * fps + (1 - a_d) * speed
        a = _alpha(min_cutoff + beta * np.abs(speed), fps)
        state = a * x + (1 - a) * state
        out[index] = state
    return out


def min_cutoff(strength: float) -> float:
    """Cutoff (Hz) for still landmarks at ``strength``: 2.75 Hz at 0, 1.5 Hz at 0.5, 0.25 Hz at 1 and above."""
    return 0.25 + 2.5 * (1.0 - min(strength, 1.0))


def smooth_track(values: np.ndarray, fps: float, strength: float) -> np.ndarray:
    """Zero-phase One Euro smoothing of ``values`` [T, ...] (in face-size units), float32; ``strength`` 0 (off) .. 1.

    The filter runs forward, then backward over the result, so its delays cancel.
    """
    if strength <= 0 or len(values) < MIN_FRAMES:
        return np.asarray(values, np.float32)
    cutoff = min_cutoff(strength)
    forward = one_euro(values, fps, cutoff, BETA)
    return one_euro(forward[::-1], fps, cutoff, BETA)[::-1].astype(np.float32)
