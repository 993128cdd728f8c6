"""Speech audio to per-frame articulation: the mouth (and prosody) a talking head should show.

``analyze_speech`` combines four models and a viseme table:

- silero-vad (bundled ONNX model) for voice activity: more than half a second from any voice, the
  mouth rests closed;
- the learned mouth model (:mod:`thead.audio.mouth_model`, fitted on real speakers) for the jaw:
  log-mel context of +-120 ms to lip opening, on a compressive curve (lips part quickly and stay
  apart through a syllable);
- pocketsphinx (bundled en-US acoustic model, phone-loop decoding) for timed English phones,
  skipped when the caller already has phones (text-to-speech): they give lip spread/rounding,
  teeth, and full lip closure on m, b, p;
- librosa features for loudness, pitch and spectral shape (emphasis; the acoustic mode).

Languages other than English (``language`` not ``"en"``/``"en-*"``) use the acoustic mode: the
jaw still comes from the mouth model (it listens to the sound, not to English phones), fricative
noise (a high share of energy above 3 kHz) shows teeth and narrows the opening, the spectral
centroid of voiced sound sets spread (high) vs rounding (low), and deep loudness dips inside speech
close the lips. It cannot tell an "m" from a short pause as phones can.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter, uniform_filter1d

from thead.audio import features as acoustic
from thead.audio import mouth_model, vad
from thead.audio.phones import Phone
from thead.audio.recognize import recognize_phones
from thead.audio.visemes import articulate
from thead.errors import UsageError

ANALYSIS_RATE = 16000
JAW_AT_LOUD = 0.8  # jaw of a speaker's loud opening (the mouth model's 1); 0.72 measured the same GRID gain (+0.303)
JAW_CURVE = 0.5  # compressive: real lips part quickly and stay apart through a syllable
PRESS_FROM = 0.5  # blended closure below this is coarticulation noise, not pressed lips (m, b, p reach 1)
LEAD = 0.02  # seconds: the lips lead the sound they make (best lags on GRID; GRID landmark-distance gain +0.300,
# against +0.299 at 0 and +0.290 at -0.02)
QUIET_FRAMES = 5  # frames of silence needed to measure the model's rest output on the recording itself
SILENCE_HOLD = 0.5  # seconds: the mouth model may keep the lips moving this close to detected voice


@dataclass
class Articulation:
    """Per output frame, all float32 arrays of length T = ceil(duration * fps)."""

    fps: float
    jaw: np.ndarray  # 0 closed .. 1 a wide speech opening
    spread: np.ndarray  # -1 rounded (OO, W) .. +1 spread (EE, S)
    closure: np.ndarray  # 0..1, 1 = lips pressed together (M, B, P); overrides jaw
    teeth: np.ndarray  # 0..1 lower lip under the upper teeth (F, V) / teeth shown (S, TH)
    speech: np.ndarray  # 0..1 voice activity
    energy: np.ndarray  # 0..1 loudness, robustly normalised over the file
    emphasis: np.ndarray  # 0..1 prosodic emphasis (pitch and loudness peaks)

    def __len__(self) -> int:
        return int(self.jaw.size)

    @property
    def opening(self) -> np.ndarray:
        """The effective lip opening, ``jaw * (1 - closure)``."""
        return self.jaw * (1.0 - self.closure)


def analyze_speech(
    samples: np.ndarray, sample_rate: int, fps: float, *, phones: list[Phone] | None = None, language: str = "en"
) -> Articulation:
    """Articulation of mono ``samples`` at ``sample_rate`` Hz, one value per frame at ``fps``.

    ``phones`` (e.g. from text-to-speech) skip recognition. Without them, ``language`` "en" runs
    English phone recognition and any other language code the acoustic mode (see the module doc).
    """
    samples = _mono(samples)
    if sample_rate <= 0 or not math.isfinite(fps) or fps <= 0:
        raise UsageError(f"sample rate {sample_rate} and fps {fps} must be positive", "pass the audio's real rate")
    frames = math.ceil(samples.size / sample_rate * fps - 1e-9)
    signal = _resample(samples, sample_rate)
    times = np.arange(frames) / fps  # frame i is shown from i / fps
    probability = vad.speech_probability(signal)
    speech = np.clip(vad.activity_at(probability, times + LEAD) * 1.25, 0.0, 1.0)
    feats = acoustic.analyze_features(signal)
    loudness = _normalised_loudness(feats, probability)
    energy = np.interp(times, feats.times, loudness).astype(np.float32)
    if phones is None and language.lower().split("-")[0] == "en":
        phones = recognize_phones(signal, vad.speech_segments(probability))
    voiced = np.clip((speech - 0.25) / 0.25, 0.0, 1.0)  # VAD noise below a quarter is silence
    near_voice = maximum_filter1d(voiced, 2 * round(SILENCE_HOLD * fps) + 1) if speech.size else speech
    jaw = _learned_jaw(feats, times, speech) * near_voice
    if phones is not None:
        mouth = _phonetic(phones, times, jaw, near_voice)
    else:
        mouth = _acoustic(feats, loudness, times, jaw, speech)
    emphasis = np.interp(times, feats.times, _emphasis(feats, loudness, probability))
    return Articulation(
        fps=float(fps),
        **{name: np.clip(value, lo, 1.0).astype(np.float32) for name, (value, lo) in mouth.items()},
        speech=speech.astype(np.float32),
        energy=np.clip(energy, 0.0, 1.0).astype(np.float32),
        emphasis=np.clip(emphasis, 0.0, 1.0).astype(np.float32),
    )


def _mono(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, np.float32)
    if samples.ndim == 2:  # [samples, channels] or [channels, samples]: average the shorter axis
        samples = samples.mean(axis=int(np.argmin(samples.shape)))
    if samples.ndim != 1:
        raise UsageError(f"audio samples have shape {samples.shape}", "pass mono samples [N] (or [N, channels])")
    return np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)


def _resample(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == ANALYSIS_RATE:
        return samples
    import librosa

    return librosa.resample(samples, orig_sr=sample_rate, target_sr=ANALYSIS_RATE, res_type="soxr_hq").astype(
        np.float32
    )


def _normalised_loudness(feats: acoustic.Features, probability: np.ndarray) -> np.ndarray:
    """Loudness 0..1 per feature frame: the noise floor maps to 0, loud speech (95th percentile) to 1."""
    db = feats.loudness
    in_speech = vad.activity_at(probability, feats.times) >= 0.5
    top = float(np.percentile(db[in_speech] if in_speech.sum() >= 10 else db, 95))
    floor = max(float(np.percentile(db, 5)), top - 45.0)
    if top - floor < 6.0:  # no dynamics: silence or a flat tone
        floor = top - 6.0
    return np.clip((db - floor) / (top - floor), 0.0, 1.0).astype(np.float32)


def _learned_jaw(feats: acoustic.Features, times: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Jaw from the learned mouth model; its output in silence (this recording's own, when it has
    some, else the training speakers') maps to 0."""
    model = mouth_model.current()
    predicted = model.predict(feats, times + LEAD)
    quiet = speech < 0.1
    rest = max(model.rest, float(np.median(predicted[quiet]))) if quiet.sum() >= QUIET_FRAMES else model.rest
    opening = (predicted - rest) / max(1.0 - rest, 1e-3)
    return np.clip(JAW_AT_LOUD * np.maximum(opening, 0.0) ** JAW_CURVE, 0.0, 1.0)


def _phonetic(phones, times, jaw, speech) -> dict:
    """Lip shapes and bilabial closures from viseme blending; the jaw from the mouth model."""
    mouth = articulate(phones, times)
    pressed = np.clip((mouth["closure"] - PRESS_FROM) / (1.0 - PRESS_FROM), 0.0, 1.0)  # bilabials, not blends
    return {
        "jaw": (jaw, 0.0), "spread": (mouth["spread"] * speech, -1.0),
        "closure": (pressed * speech, 0.0), "teeth": (mouth["teeth"] * speech, 0.0),
    }  # fmt: skip


def _acoustic(feats: acoustic.Features, loudness: np.ndarray, times: np.ndarray, jaw: np.ndarray,
              speech: np.ndarray) -> dict:
    """Language-independent lip shapes from loudness and spectral shape (see the module doc)."""
    ahead = times + LEAD
    level = np.interp(ahead, feats.times, uniform_filter1d(loudness, 5))
    fricative = np.clip((feats.at("high_ratio", ahead) - 0.3) / 0.4, 0.0, 1.0)
    voiced = (1.0 - fricative) * speech
    centroid = feats.at("centroid", ahead)
    spread = np.clip((centroid - 1600.0) / 1200.0, -1.0, 1.0) * 0.6 * voiced
    jaw = jaw * (1.0 - 0.5 * fricative)
    local_peak = maximum_filter1d(level, max(round(0.25 / max(times[1] - times[0], 1e-3)), 1) if times.size > 1 else 1)
    dip = np.clip(1.0 - level / np.maximum(0.25 * local_peak, 1e-3), 0.0, 1.0) * (local_peak > 0.3)
    closure = dip * speech
    return {"jaw": (jaw, 0.0), "spread": (spread, -1.0), "closure": (closure, 0.0), "teeth": (fricative * speech, 0.0)}


def _emphasis(feats: acoustic.Features, loudness: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Prosodic emphasis per feature frame: loudness and pitch above their local (2 s) level, in speech."""
    second = round(1.0 / acoustic.STEP)
    in_speech = vad.activity_at(probability, feats.times)
    louder = loudness - uniform_filter1d(loudness, 2 * second)
    pitch = median_filter(np.log2(np.maximum(feats.pitch, 1.0)) * 12.0, size=9)
    voiced_pitch = np.where(in_speech >= 0.5, pitch, np.nan)
    reference = _moving_nanmedian(voiced_pitch, 2 * second)
    higher = np.nan_to_num(voiced_pitch - reference, nan=0.0)
    raw = np.clip(2.0 * louder, 0.0, None) + np.clip(higher / 6.0, 0.0, None)
    return uniform_filter1d(np.clip(raw, 0.0, 1.0) * in_speech, 15)


def _moving_nanmedian(values: np.ndarray, window: int) -> np.ndarray:
    """Median of the finite values over blocks of ``window`` frames (piecewise constant, cheap)."""
    out = np.full(values.size, np.nan)
    for first in range(0, values.size, window):
        block = values[max(first - window // 2, 0) : first + window + window // 2]
        if np.isfinite(block).any():
            out[first : first + window] = np.nanmedian(block)
    return out
