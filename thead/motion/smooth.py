"""Temporal filtering of landmark tracks against jitter, without lag.

A One Euro filter (Casiez et al., CHI 2012) adapts its cutoff to speed: still landmarks are
smoothed hard, fast ones (blinks, lip closures) pass. Run forward then backward over a whole
track, it is zero-phase: no delay between the motion and the picture.

The ends need care: a filter pass ends with a causal filter's lag, so a plain forward-backward
run would pull frame 0 towards the frames after it. Frame 0 is the reference of relative motion
(every output frame moves the source by the driver's change since it), so that pull would offset
the whole output, by the distance the head travels in a few frames. The track is therefore
extended at both ends by its point reflection through the end frame (the odd extension of
``filtfilt``): a straight-line motion continues across the end, and the filter keeps the end
frame where it was measured.
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


def reflect_ends(values: np.ndarray, frames: int) -> np.ndarray:
    """``values`` [T, ...] extended by ``frames`` (< T) at each end: the point reflection of the track through
    its first and last frame (2 x[0] - x[k] before, 2 x[-1] - x[-1-k] after), so trends run on across the ends."""
    head = 2 * values[0] - values[frames:0:-1]
    tail = 2 * values[-1] - values[-2 : -frames - 2 : -1]
    return np.concatenate([head, values, tail])


def end_frames(fps: float, cutoff: float, frames: int) -> int:
    """Frames of reflection at each end: 2 pi time constants of the still cutoff (~99.8 % of the filter's
    memory), at most ``frames`` - 1."""
    return min(frames - 1, math.ceil(fps / cutoff))


def smooth_track(values: np.ndarray, fps: float, strength: float) -> np.ndarray:
    """Zero-phase One Euro smoothing of ``values`` [T, ...] (in face-size units), float32; ``strength`` 0 (off) .. 1.

    The track is extended by :func:`reflect_ends`, then the filter runs forward, then backward over
    the result, so its delays cancel, also at the first and last frame.
    """
    if strength <= 0 or len(values) < MIN_FRAMES:
        return np.asarray(values, np.float32)
    cutoff = min_cutoff(strength)
    pad = end_frames(fps, cutoff, len(values))
    forward = one_euro(reflect_ends(np.asarray(values, np.float64), pad), fps, cutoff, BETA)
    both = one_euro(forward[::-1], fps, cutoff, BETA)[::-1]
    return both[pad : pad + len(values)].astype(np.float32)
