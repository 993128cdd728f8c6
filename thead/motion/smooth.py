"""Temporal filtering of landmark tracks against jitter, without lag.

A One Euro filter (Casiez et al., CHI 2012) adapts its cutoff to speed: still landmarks are
smoothed hard, fast ones (blinks, lip closures) pass. Run forward then backward over a whole
track, it is zero-phase: no delay between the motion and the picture.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * rate)


def one_euro(values: np.ndarray, fps: float, min_cutoff: float = 1.5, beta: float = 0.5, d_cutoff: float = 1.0) -> np.ndarray:
    """Causal One Euro filter along axis 0 of ``values`` ([T, ...]); values in units where speed ~ 1/s matters."""
    out = np.empty_like(values, dtype=np.float64)
    if len(values) == 0:
        return out
    state = values[0].astype(np.float64)
    speed = np.zeros_like(state)
    out[0] = state
    a_d = _alpha(d_cutoff, fps)
    for i in range(1, len(values)):
        x = values[i].astype(np.float64)
        speed = a_d * (x - state) * fps + (1 - a_d) * speed
        cutoff = min_cutoff + beta * np.abs(speed)
        a = _alpha(cutoff, fps)
        state = a * x + (1 - a) * state
        out[i] = state
    return out


def smooth_track(values: np.ndarray, fps: float, strength: float = 0.5) -> np.ndarray:
    """Zero-phase One Euro smoothing of ``values`` [T, ...] (in face-size units); ``strength`` 0 (off) .. 1."""
    if strength <= 0 or len(values) < 3:
        return values.astype(np.float32)
    min_cutoff = 0.25 + 2.5 * (1.0 - min(strength, 1.0))  # Hz; 0.5 -> 1.5 Hz for still landmarks
    forward = one_euro(values, fps, min_cutoff=min_cutoff, beta=5.0)
    backward = one_euro(forward[::-1], fps, min_cutoff=min_cutoff, beta=5.0)[::-1]
    return backward.astype(np.float32)
