"""MFCCs computed the way ``python_speech_features.mfcc`` does with its defaults (SyncNet's front end).

25 ms frames every 10 ms (lengths rounded half up), no window, frames zero-padded to cover the
signal, pre-emphasis 0.97 (first sample kept), power spectrum |rfft(frame, 512)|^2 / 512, 26
triangular mel filters on floor((nfft + 1) * hz / rate) bins, log, orthonormal DCT-II, first 13
coefficients, sinusoidal lifter 22, and c0 replaced by the log frame energy. Zero energies become
float eps before the log. Written from the published algorithm; no code is shared.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from scipy.fft import dct

EPS = np.finfo(float).eps


def _round_half_up(value: float) -> int:
    return int(Decimal(value).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595 * np.log10(1 + np.asarray(hz) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700 * (10 ** (np.asarray(mel) / 2595.0) - 1)


def mel_filterbank(num_filters: int = 26, nfft: int = 512, sample_rate: int = 16000,
                   low_hz: float = 0.0, high_hz: float | None = None) -> np.ndarray:
    """[num_filters, nfft // 2 + 1] triangular filters on integer FFT bins."""
    high_hz = high_hz or sample_rate / 2
    mels = np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), num_filters + 2)
    bins = np.floor((nfft + 1) * mel_to_hz(mels) / sample_rate)
    k = np.arange(nfft // 2 + 1)[None, :]
    lower, centre, upper = bins[:-2, None], bins[1:-1, None], bins[2:, None]
    rising = np.where((k >= lower) & (k < centre), (k - lower) / np.where(centre > lower, centre - lower, 1), 0.0)
    falling = np.where((k >= centre) & (k < upper), (upper - k) / np.where(upper > centre, upper - centre, 1), 0.0)
    return rising + falling


def frame_signal(signal: np.ndarray, frame_length: int, frame_step: int) -> np.ndarray:
    """[num_frames, frame_length] frames; the tail is zero-padded so every sample is covered."""
    n = len(signal)
    num_frames = 1 if n <= frame_length else 1 + math.ceil((n - frame_length) / frame_step)
    padded = np.concatenate([signal, np.zeros((num_frames - 1) * frame_step + frame_length - n)])
    index = np.arange(frame_length)[None, :] + frame_step * np.arange(num_frames)[:, None]
    return padded[index]


def mfcc(signal: np.ndarray, sample_rate: int = 16000, num_ceps: int = 13, win_length: float = 0.025,
         win_step: float = 0.01, num_filters: int = 26, nfft: int = 512, preemphasis: float = 0.97,
         lifter: int = 22) -> np.ndarray:
    """[num_frames, num_ceps] MFCCs of a mono signal (any scale: SyncNet feeds int16 values)."""
    signal = np.asarray(signal)
    emphasized = np.append(signal[0], signal[1:] - preemphasis * signal[:-1]).astype(np.float64)
    frames = frame_signal(emphasized, _round_half_up(win_length * sample_rate), _round_half_up(win_step * sample_rate))
    power = np.square(np.abs(np.fft.rfft(frames, nfft))) / nfft
    energy = power.sum(axis=1)
    energy = np.where(energy == 0, EPS, energy)
    banks = power @ mel_filterbank(num_filters, nfft, sample_rate).T
    banks = np.where(banks == 0, EPS, banks)
    cepstra = dct(np.log(banks), type=2, axis=1, norm="ortho")[:, :num_ceps]
    if lifter > 0:
        cepstra = cepstra * (1 + (lifter / 2.0) * np.sin(np.pi * np.arange(num_ceps) / lifter))
    cepstra[:, 0] = np.log(energy)
    return cepstra
