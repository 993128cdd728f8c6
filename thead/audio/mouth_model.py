"""A learned lip opening from the sound: ridge regression from spectral context to mouth openness.

Input per output frame: the 20 log mel bands and the loudness (RMS in dB), each standardised over
the file (so level and microphone colour cancel) and averaged over 40 ms, at seven steps from 120 ms
before to 120 ms after the frame. The loudness, which the bands' mean does not carry, raised the
correlation of the model's raw output with real speakers' lip opening from 0.65 to 0.69 on GRID
(leave one speaker out) and from 0.43 to 0.50 on an unseen HDTF interview. Output: the lip opening
in units of the speaker's own loud opening (their 95th percentile is 1), lightly smoothed. The shipped
weights (``data/grid_mouth.safetensors``) were fitted on the GRID audiovisual corpus clips (see
``data/NOTICE``) with the real openness measured by thead's face analysis;
``benchmarks/lipsync_grid.py --write-model`` refits them, and evaluates every clip with a model fitted
without it.

Tried and not adopted (raw model r, GRID leave one clip out / the HDTF interview, as shipped 0.685 / 0.437;
``benchmarks/lipsync_grid.py --model-only``): context of +-200 ms 0.670 / 0.383, +-80 ms 0.681 / 0.472, 20 ms
steps 0.694 / 0.416; ridge penalty 10 0.697 / 0.393, 100 0.662 / 0.461; nonlinear inputs (squared centre step
0.715 / 0.391, 200 random Fourier features 0.723 / 0.321). The nonlinear models fit GRID's corpus better and an
unseen speaker worse. Blending in the jaw of the recognised phones' visemes (a quarter) lowered the rendered GRID
landmark-distance gain from +0.300 to +0.282 and raised HDTF's from +0.474 to +0.494. Also no better: LPC formants
(F1, F2) as extra inputs 0.684 / 0.436; the recognised phones' viseme channels as extra inputs 0.669-0.684 /
0.362-0.418; fitting the square root or logarithm of the opening 0.667 / 0.397 and 0.640 / 0.376; training on
pitch-shifted copies (+-1.5 and 3 semitones, as other voices) 0.647-0.679 / 0.332-0.354. A logistic detector of
closed lips in speech found no more closures than the phones do (at 0.79 precision, 0.15 recall against 0.74 and
0.20). pocketsphinx's word decoder (its bundled English language model), as Rhubarb uses, ran at 3x real time and
heard "bin blue at F two now" as "didn't have to know". What does help is more speech: held-out r fitted on 1, 3, 5
and 7 GRID clips is 0.51, 0.63, 0.66, 0.69 (HDTF 0.27, 0.37, 0.42, 0.43; ``lipsync_grid.py --curve``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from thead.audio.features import MEL_BANDS, STEP, Features
from thead.errors import WeightsError

DATA = Path(__file__).with_name("data") / "grid_mouth.safetensors"
CONTEXT = tuple(0.04 * k for k in range(-3, 4))  # seconds around each frame
POOL = 4  # 10 ms feature frames averaged per context step (40 ms)
SMOOTH = 0.028  # seconds: Gaussian smoothing of the prediction (0.7 frames at 25 fps)
STRENGTH = 30.0  # ridge penalty on standardised inputs (stronger generalised better to an unseen HDTF speaker)
PER_STEP = MEL_BANDS + 1  # inputs per context step: the mel bands and the loudness
LOUDNESS_RANGE = 50.0  # dB below the file's loud level (95th percentile) where loudness is floored: digital silence
# (-100 dB) would otherwise lie far outside anything the model was fitted on


@dataclass(frozen=True)
class MouthModel:
    """Linear weights over standardised inputs, plus the model's own output in silence (``rest``)."""

    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    bias: float
    rest: float

    def predict(self, features: Features, times: np.ndarray) -> np.ndarray:
        """Lip opening at ``times`` (seconds), 1 = the speaker's loud opening, before any gating."""
        raw = (inputs(features, times) - self.mean) / self.scale @ self.weights + self.bias
        if times.size > 1:
            raw = gaussian_filter1d(raw, SMOOTH / max(float(times[1] - times[0]), 1e-3))
        return raw.astype(np.float32)


def inputs(features: Features, times: np.ndarray) -> np.ndarray:
    """[frames, 7 * 21] context of each time: log mel bands and loudness, standardised over the file."""
    loudness = np.maximum(features.loudness, np.percentile(features.loudness, 95) - LOUDNESS_RANGE)
    frame = np.concatenate([features.mel, loudness[:, None]], axis=1)
    frame = (frame - frame.mean(axis=0)) / (frame.std(axis=0) + 1e-3)
    cumulative = np.concatenate([np.zeros((1, frame.shape[1])), np.cumsum(frame, axis=0)])
    columns = []
    for offset in CONTEXT:
        first = np.clip(np.round((np.asarray(times) + offset) / STEP).astype(int), 0, len(frame) - 1)
        last = np.minimum(first + POOL, len(frame))
        columns.append((cumulative[last] - cumulative[first]) / (last - first)[:, None])
    return np.concatenate(columns, axis=1)


def fit(examples: Iterable[tuple[Features, np.ndarray, np.ndarray, np.ndarray]], strength: float = STRENGTH) -> MouthModel:
    """Fit on (features, frame times, real mouth openness, voice activity 0..1) per recording.

    Each recording's openness is divided by its 95th percentile, so speakers who open wide and
    speakers who barely move count alike.
    """
    rows, targets, silent = [], [], []
    for features, times, openness, speech in examples:
        rows.append(inputs(features, times))
        targets.append(np.asarray(openness, np.float64) / max(float(np.percentile(openness, 95)), 1e-3))
        silent.append(np.asarray(speech) < 0.5)
    x, y = np.concatenate(rows), np.concatenate(targets)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    standard = (x - mean) / scale
    weights = np.linalg.solve(standard.T @ standard + strength * np.eye(x.shape[1]), standard.T @ (y - y.mean()))
    predicted, quiet = standard @ weights + y.mean(), np.concatenate(silent)
    rest = float(np.median(predicted[quiet])) if quiet.any() else float(np.percentile(predicted, 5))
    return MouthModel(weights.astype(np.float32), mean.astype(np.float32), scale.astype(np.float32), float(y.mean()),
                      rest)


def save(model: MouthModel, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``model`` as safetensors (never a pickle)."""
    from safetensors.numpy import save_file

    tensors = {"weights": model.weights, "mean": model.mean, "scale": model.scale,
               "bias": np.array([model.bias], np.float32), "rest": np.array([model.rest], np.float32)}
    save_file(tensors, str(path), metadata=metadata)


def load(path: str | Path = DATA) -> MouthModel:
    """Read a model written by :func:`save`; a missing or unreadable file is a :class:`WeightsError`."""
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(path))
    except Exception as err:  # missing, unreadable, or not safetensors (SafetensorError)
        raise WeightsError(f"the mouth model {path} cannot be read ({err})",
                           "reinstall thead (the file is package data), or refit it with benchmarks/lipsync_grid.py") from err
    return MouthModel(tensors["weights"], tensors["mean"], tensors["scale"], float(tensors["bias"][0]),
                      float(tensors["rest"][0]))


_override: list[MouthModel] = []


def current() -> MouthModel:
    """The model ``analyze_speech`` uses: the shipped one, unless :func:`using` replaced it."""
    return _override[-1] if _override else _shipped()


@functools.lru_cache(maxsize=1)
def _shipped() -> MouthModel:
    return load(DATA)


@contextlib.contextmanager
def using(model: MouthModel) -> Iterator[None]:
    """Analyse speech with ``model`` inside the block (e.g. a model fitted without the clip under test)."""
    _override.append(model)
    try:
        yield
    finally:
        _override.pop()
