"""Acoustic features every 10 ms with librosa: loudness, pitch, spectral shape.

The signal is analysed in blocks of ``BLOCK`` frames (with the window's overlap taken from the
neighbouring samples), so no spectrogram of the whole file is ever held. Pitch uses YIN on the
signal decimated to 8 kHz (pyin is ~50x slower and its voicing decision is not needed: voice
activity comes from silero-vad).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
HOP = 160  # 10 ms
STEP = HOP / SAMPLE_RATE
_N_FFT = 512
_BLOCK = 3000  # frames (30 s) per analysis block
_PITCH_RATE = 8000
_PITCH_RANGE = (65.0, 400.0)
_PITCH_WINDOW = 400  # samples at 8 kHz (50 ms): two periods of the lowest pitch
MEL_BANDS = 20  # log mel band powers, 60 Hz .. 7.6 kHz (the mouth model's input)
_MEL_RANGE = (60.0, 7600.0)


@dataclass
class Features:
    """Per 10 ms frame (frame i centred at i * STEP seconds), all float32."""

    loudness: np.ndarray  # RMS in dB (full scale)
    pitch: np.ndarray  # Hz (YIN estimate; meaningless where there is no voice)
    centroid: np.ndarray  # spectral centroid, Hz
    rolloff: np.ndarray  # 85 % spectral roll-off, Hz
    flatness: np.ndarray  # spectral flatness 0 (tonal) .. 1 (noise)
    high_ratio: np.ndarray  # share of energy above 3 kHz (fricatives: s, sh, f)
    mel: np.ndarray  # [frames, MEL_BANDS] natural log of mel band power

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.loudness.size) * STEP

    def at(self, name: str, times: np.ndarray) -> np.ndarray:
        """Feature ``name`` linearly interpolated at ``times`` (seconds)."""
        return np.interp(times, self.times, getattr(self, name)).astype(np.float32)


def analyze_features(samples: np.ndarray) -> Features:
    """Features of 16 kHz mono ``samples``, block by block."""
    import librosa

    samples = np.asarray(samples, np.float32).reshape(-1)
    frames = samples.size // HOP + 1
    parts: dict[str, list[np.ndarray]] = {name: [] for name in Features.__dataclass_fields__}
    bank = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=_N_FFT, n_mels=MEL_BANDS, fmin=_MEL_RANGE[0], fmax=_MEL_RANGE[1])
    for first in range(0, frames, _BLOCK):
        count = min(_BLOCK, frames - first)
        chunk = _window(samples, first * HOP - _N_FFT // 2, count * HOP + _N_FFT - HOP)
        spectrum = np.abs(librosa.stft(chunk, n_fft=_N_FFT, hop_length=HOP, center=False))[:, :count]
        power = spectrum**2
        frequencies = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=_N_FFT)
        rms = librosa.feature.rms(S=spectrum, frame_length=_N_FFT)[0]
        parts["loudness"].append(20 * np.log10(np.maximum(rms, 1e-5)))
        parts["centroid"].append(librosa.feature.spectral_centroid(S=spectrum, sr=SAMPLE_RATE)[0])
        parts["rolloff"].append(librosa.feature.spectral_rolloff(S=spectrum, sr=SAMPLE_RATE, roll_percent=0.85)[0])
        parts["flatness"].append(librosa.feature.spectral_flatness(S=spectrum)[0])
        high = power[frequencies >= 3000].sum(axis=0)
        parts["high_ratio"].append(high / np.maximum(power.sum(axis=0), 1e-12))
        parts["pitch"].append(_pitch(samples, first, count))
        parts["mel"].append(np.log(bank @ power + 1e-6).T)
    return Features(**{name: np.concatenate(values).astype(np.float32) for name, values in parts.items()})


def _window(samples: np.ndarray, start: int, length: int) -> np.ndarray:
    """``samples[start:start+length]`` with zeros outside the signal."""
    out = np.zeros(length, np.float32)
    lo, hi = max(start, 0), min(start + length, samples.size)
    if hi > lo:
        out[lo - start : hi - start] = samples[lo:hi]
    return out


def _pitch(samples: np.ndarray, first: int, count: int) -> np.ndarray:
    """YIN pitch of frames ``first .. first+count`` on the signal decimated to 8 kHz."""
    import librosa

    factor = SAMPLE_RATE // _PITCH_RATE
    hop = HOP // factor
    margin = 64  # samples at 16 kHz on each side so the decimation filter sees context
    start = first * HOP - _PITCH_WINDOW * factor // 2 - margin
    chunk = _window(samples, start, count * HOP + _PITCH_WINDOW * factor + 2 * margin)
    decimated = librosa.resample(chunk, orig_sr=SAMPLE_RATE, target_sr=_PITCH_RATE, res_type="polyphase")
    decimated = decimated[margin // factor :]
    f0 = librosa.yin(
        decimated, fmin=_PITCH_RANGE[0], fmax=_PITCH_RANGE[1], sr=_PITCH_RATE,
        frame_length=_PITCH_WINDOW, hop_length=hop, center=False,
    )  # fmt: skip
    out = np.full(count, np.nan, np.float32)
    out[: min(count, f0.size)] = f0[:count]
    return np.nan_to_num(out, nan=float(np.nanmedian(out)) if np.isfinite(out).any() else 0.0)
