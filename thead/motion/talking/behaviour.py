"""Everything but the mouth, as per-frame curves from speech activity, loudness and emphasis.

Head angles sway a little while speaking and settle to rest in silences, nod on emphasis peaks
and at phrase ends, and take a new small turn and tilt for each phrase; brows lift on emphasis;
the eyes make small gaze jumps every one to three seconds. All curves are seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thead.motion.procedural import head_sway

SWAY_DEG = 2.5  # amplitude of the idle wander while speaking
IDLE_SWAY = 0.15  # share of the sway left in silences
NOD_DEG = 2.5  # pitch drop of a nod at full emphasis
PHRASE_END_NOD_DEG = 1.2
PHRASE_TURN_DEG = (2.0, 1.0, 1.5)  # per-phrase yaw, pitch, roll offsets (standard deviations)
LOUDNESS_LIFT_DEG = 1.0  # the head rises a little with loudness
LIMITS_DEG = (8.0, 6.0, 5.0)  # |yaw|, |pitch|, |roll| offsets never exceed these
MIN_PAUSE = 0.3  # seconds of silence that end a phrase
SACCADE_GAP = (1.0, 3.0)  # seconds between gaze jumps
SACCADE_REACH = (0.18, 0.08)  # largest gaze offset x, y, half eye widths
SACCADE_SECONDS = 0.05


@dataclass(frozen=True)
class Behaviour:
    """Per-frame offsets from the rest frame: head angles [T, 3] (degrees), gaze [T, 2], brow lift [T]."""

    angles: np.ndarray
    gaze: np.ndarray
    brows: np.ndarray


def follow(signal: np.ndarray, fps: float, attack: float, release: float) -> np.ndarray:
    """One-pole envelope of ``signal``: rises with time constant ``attack``, falls with ``release`` (seconds)."""
    up, down = 1.0 - np.exp(-1.0 / (fps * attack)), 1.0 - np.exp(-1.0 / (fps * release))
    out = np.zeros(len(signal), np.float64)
    level = 0.0
    for index, value in enumerate(np.asarray(signal, np.float64)):
        level += (up if value > level else down) * (value - level)
        out[index] = level
    return out


def smooth(signal: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """Gaussian low-pass along time (``seconds`` standard deviation), edges held."""
    sigma = seconds * fps
    if sigma < 0.5 or len(signal) < 2:
        return np.asarray(signal, np.float64)
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(np.asarray(signal, np.float64), [(radius, radius)] + [(0, 0)] * (np.ndim(signal) - 1), mode="edge")
    if np.ndim(signal) == 1:
        return np.convolve(padded, kernel, mode="valid")
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(padded.shape[1])], axis=1)


def phrases(speech: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """(first, end) frames of stretches of speech, pauses shorter than :data:`MIN_PAUSE` bridged."""
    talking = np.asarray(speech) > 0.5
    found: list[tuple[int, int]] = []
    index, frames = 0, len(talking)
    while index < frames:
        if not talking[index]:
            index += 1
            continue
        start = index
        while index < frames and talking[index]:
            index += 1
        if found and (start - found[-1][1]) < MIN_PAUSE * fps:
            found[-1] = (found[-1][0], index)
        else:
            found.append((start, index))
    return found


def _bump(frames: int, fps: float, centre: float, width: float) -> np.ndarray:
    """A raised-cosine pulse of ``width`` seconds centred at ``centre`` seconds."""
    phase = (np.arange(frames) / fps - centre) / width
    return np.where(np.abs(phase) < 0.5, 0.5 + 0.5 * np.cos(2 * np.pi * phase), 0.0)


def _peaks(signal: np.ndarray, fps: float, threshold: float = 0.4, spacing: float = 0.5) -> list[int]:
    """Frames of local maxima above ``threshold``, at least ``spacing`` seconds apart (highest first)."""
    candidates = [i for i in range(len(signal)) if signal[i] > threshold
                  and signal[i] >= signal[max(i - 1, 0)] and signal[i] >= signal[min(i + 1, len(signal) - 1)]]
    chosen: list[int] = []
    for index in sorted(candidates, key=lambda i: -signal[i]):
        if all(abs(index - other) >= spacing * fps for other in chosen):
            chosen.append(index)
    return sorted(chosen)


def head_angles(speech: np.ndarray, energy: np.ndarray, emphasis: np.ndarray, fps: float,
                rng: np.random.Generator) -> np.ndarray:
    """(yaw, pitch, roll) offsets in degrees [T, 3]: sway, per-phrase turns, nods, loudness lift."""
    frames = len(speech)
    activity = follow(speech, fps, attack=0.25, release=0.6)
    angles = head_sway(frames, fps, SWAY_DEG, int(rng.integers(2**31))).astype(np.float64)
    angles *= (IDLE_SWAY + (1.0 - IDLE_SWAY) * activity)[:, None]
    turns = np.zeros((frames, 3))
    for first, end in phrases(speech, fps):
        turns[first:end] = rng.normal(0.0, PHRASE_TURN_DEG)
        angles[:, 1] -= PHRASE_END_NOD_DEG * _bump(frames, fps, end / fps, 0.6)
    angles += smooth(turns, fps, 0.25)
    stressed = smooth(np.asarray(emphasis, np.float64) * (np.asarray(speech) > 0.5), fps, 0.03)
    for peak in _peaks(stressed, fps):
        angles[:, 1] -= NOD_DEG * stressed[peak] * _bump(frames, fps, peak / fps + 0.05, 0.5)
    angles[:, 1] += LOUDNESS_LIFT_DEG * smooth(np.asarray(energy, np.float64), fps, 0.3) * activity
    return np.clip(smooth(angles, fps, 0.06), -np.array(LIMITS_DEG), np.array(LIMITS_DEG))


def saccades(frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Gaze offsets [T, 2] (half eye widths): a jump every 1-3 s, every other one back towards the centre."""
    gaze = np.zeros((frames, 2))
    times = np.arange(frames) / fps
    current = np.zeros(2)
    t = rng.uniform(0.3, 1.0) * SACCADE_GAP[1]
    away = True
    while t < frames / fps:
        target = rng.uniform(-1.0, 1.0, 2) * SACCADE_REACH * (1.0 if away else 0.3)
        step = np.clip((times - t) / SACCADE_SECONDS, 0.0, 1.0)[:, None]
        gaze = np.where(times[:, None] >= t, current + step * (target - current), gaze)
        current, away = target, not away
        t += rng.uniform(*SACCADE_GAP)
    return gaze


def brow_lift(speech: np.ndarray, emphasis: np.ndarray, fps: float) -> np.ndarray:
    """Brow lift 0..1 per frame: emphasis while speaking, quick to rise and slower to fall."""
    return np.clip(follow(np.asarray(emphasis, np.float64) * (np.asarray(speech) > 0.5), fps, 0.06, 0.35), 0.0, 1.0)


def behaviour(speech: np.ndarray, energy: np.ndarray, emphasis: np.ndarray, fps: float, seed: int,
              moving: bool) -> Behaviour:
    """The non-mouth curves of one speech; ``moving`` False keeps head, gaze and brows at rest."""
    frames = len(speech)
    if not moving:
        return Behaviour(np.zeros((frames, 3)), np.zeros((frames, 2)), np.zeros(frames))
    rng = np.random.default_rng([seed, 1])
    return Behaviour(head_angles(speech, energy, emphasis, fps, rng), saccades(frames, fps, rng),
                     brow_lift(speech, emphasis, fps))
