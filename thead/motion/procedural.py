"""Procedural motion: natural blinks and head sway, for audio driving, idle loops and demos."""

from __future__ import annotations

import numpy as np

from thead.easing import smoothstep
from thead.motion import edits
from thead.motion.track import MotionTrack

BLINK_SECONDS = 0.25  # close, hold, open


def blink_curve(frames: int, fps: float, rate_per_minute: float = 15.0, seed: int = 0) -> np.ndarray:
    """Eye-closure amount per frame (0 open .. 1 closed) with blinks at Poisson-like intervals."""
    rng = np.random.default_rng(seed)
    closure = np.zeros(frames, np.float32)
    if rate_per_minute <= 0:
        return closure
    mean_gap = 60.0 / rate_per_minute
    t = rng.uniform(0.3, 1.0) * mean_gap
    times = np.arange(frames) / fps
    while t < frames / fps:
        phase = (times - t) / BLINK_SECONDS
        shape = np.where((phase >= 0) & (phase <= 1), np.sin(np.pi * np.clip(phase, 0, 1)) ** 0.7, 0.0)
        closure = np.maximum(closure, shape.astype(np.float32))
        t += max(0.6, rng.gamma(4.0, mean_gap / 4.0))
    return closure


def head_sway(frames: int, fps: float, amplitude_deg: float = 6.0, seed: int = 0) -> np.ndarray:
    """Smooth (yaw, pitch, roll) wander in degrees, [frames, 3], starting at zero."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    sway = np.zeros((frames, 3), np.float32)
    for axis, scale in enumerate((1.0, 0.6, 0.35)):
        for _ in range(3):
            freq = rng.uniform(0.08, 0.45)
            phase = rng.uniform(0, 2 * np.pi)
            sway[:, axis] += scale * amplitude_deg / 3 * (np.sin(2 * np.pi * freq * t + phase) - np.sin(phase))
    return sway


def animate(base: dict[str, np.ndarray], fps: float, yaw_pitch_roll: np.ndarray, eye_closure: np.ndarray,
            mouth_open: np.ndarray | None = None, space: str = "landmarks") -> MotionTrack:
    """A track that starts at ``base`` (one ``landmarks`` frame) and follows the given curves."""
    frames = []
    open_eyes = np.asarray(base["eye_open"], np.float32)
    for index in range(len(eye_closure)):
        frame = edits.set_pose(base, *(float(base[k]) + float(v) for k, v in zip(("yaw", "pitch", "roll"), yaw_pitch_roll[index])))
        if eye_closure[index] > 0:
            frame = edits.set_eyes(frame, tuple(open_eyes * (1.0 - 0.95 * float(eye_closure[index]))))
        if mouth_open is not None:
            frame = edits.set_mouth(frame, float(mouth_open[index]))
        frames.append(frame)
    channels = {name: np.stack([np.asarray(f[name], np.float32) for f in frames]) for name in base}
    return MotionTrack(fps=fps, space=space, channels=channels)


def blink_closure(t: float, onsets: tuple[float, ...] | list[float]) -> float:
    """Eye-closure amount (0..1) at time ``t`` for blinks starting at ``onsets`` (seconds)."""
    closure = 0.0
    for onset in onsets:
        phase = (t - onset) / BLINK_SECONDS
        if 0.0 <= phase <= 1.0:
            closure = max(closure, float(np.sin(np.pi * phase) ** 0.7))
    return closure


BLINK_DURATION = (0.1, 0.4)  # seconds, shortest and longest blink
BLINK_PAUSE = 0.15  # seconds of open eyes at least between two blinks


def blink_schedule(duration: float, rate_per_minute: float, seed: int = 0) -> list[tuple[float, float]]:
    """(onset, length) in seconds of blinks over ``duration`` seconds at about ``rate_per_minute``.

    Lengths are 0.1-0.4 s (mostly about 0.2 s); the gaps between onsets follow a gamma
    distribution around the mean gap, and a blink never starts before the previous one has ended.
    """
    rng = np.random.default_rng(seed)
    if rate_per_minute <= 0:
        return []
    mean_gap = 60.0 / rate_per_minute
    low, high = BLINK_DURATION
    blinks: list[tuple[float, float]] = []
    t = rng.uniform(0.1, 1.0) * mean_gap
    while True:
        length = low + (high - low) * rng.beta(2.0, 4.0)
        if t + length > duration:
            return blinks
        blinks.append((t, length))
        t += max(length + BLINK_PAUSE, rng.gamma(4.0, mean_gap / 4.0))


def blink_closures(frames: int, fps: float, blinks: list[tuple[float, float]]) -> np.ndarray:
    """Eye closure per frame (0 open .. 1 shut) for (onset, length) blinks: a quick close, a short
    hold and a slower opening; the frame nearest each blink's hold is fully shut, so a short blink
    still shows at a low frame rate."""
    closure = np.zeros(frames, np.float32)
    times = np.arange(frames) / fps
    for onset, length in blinks:
        phase = (times - onset) / length
        closing = np.clip(phase / 0.35, 0.0, 1.0)
        opening = np.clip((1.0 - phase) / 0.5, 0.0, 1.0)
        shape = np.minimum(smoothstep(closing), smoothstep(opening))
        closure = np.maximum(closure, shape.astype(np.float32))
        shut = round((onset + 0.425 * length) * fps)
        if 0 <= shut < frames:
            closure[shut] = 1.0
    return closure
