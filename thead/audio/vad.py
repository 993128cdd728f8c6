"""Voice activity with silero-vad's bundled model (its batched ONNX export, run on onnxruntime).

The model file ships inside the ``silero-vad`` wheel; it is located without importing the package
(whose ``__init__`` imports torch), so voice activity costs onnxruntime only. The model reads
16 kHz audio in 32 ms frames; blocks of frames go through one ONNX call each with the recurrent
state carried across blocks, so memory stays flat in the audio's length.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from thead.errors import WeightsError

SAMPLE_RATE = 16000
FRAME = 512  # samples per model frame at 16 kHz (32 ms)
_CONTEXT = 64  # samples of the previous frame the model sees
_BLOCK_FRAMES = 512  # frames per ONNX call (~16 s)
_MODEL = "silero_vad_16k_sequence.onnx"


@functools.cache
def _session():
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("silero-vad is not installed", "pip install silero-vad")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / _MODEL
    if not path.is_file():
        raise WeightsError(
            f"silero-vad model {_MODEL} is missing from the package", "pip install --force-reinstall silero-vad"
        )
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def speech_probability(samples: np.ndarray) -> np.ndarray:
    """Probability of speech per 32 ms frame of 16 kHz mono ``samples`` (frame i covers i*512 .. i*512+512)."""
    samples = np.asarray(samples, np.float32).reshape(-1)
    frames = -(-samples.size // FRAME)
    session = _session()
    hidden = np.zeros((1, 1, 128), np.float32)
    cell = np.zeros((1, 1, 128), np.float32)
    context = np.zeros(_CONTEXT, np.float32)
    out = np.empty(frames, np.float32)
    for first in range(0, frames, _BLOCK_FRAMES):
        count = min(_BLOCK_FRAMES, frames - first)
        block = np.zeros((count, FRAME), np.float32)
        chunk = samples[first * FRAME : (first + count) * FRAME]
        block.reshape(-1)[: chunk.size] = chunk
        contexts = np.empty((count, _CONTEXT), np.float32)
        contexts[0] = context
        contexts[1:] = block[:-1, -_CONTEXT:]
        context = block[-1, -_CONTEXT:].copy()
        probs, hidden, cell = session.run(
            ["speech_probs", "hn", "cn"], {"input": np.concatenate([contexts, block], axis=1), "h": hidden, "c": cell}
        )
        out[first : first + count] = np.asarray(probs, np.float32).reshape(-1)
    return out


def speech_segments(
    probability: np.ndarray,
    *,
    threshold: float = 0.5,
    min_silence: float = 0.25,
    min_speech: float = 0.1,
    pad: float = 0.1,
) -> list[tuple[float, float]]:
    """Speech segments ``(start, end)`` in seconds from per-frame probabilities (hysteresis, gaps closed, padded)."""
    step = FRAME / SAMPLE_RATE
    on = probability >= threshold
    off_level = max(threshold - 0.15, 0.01)
    segments: list[list[float]] = []
    active = False
    for index, value in enumerate(probability):
        if not active and on[index]:
            active = True
            segments.append([index * step, (index + 1) * step])
        elif active:
            if value >= off_level:
                segments[-1][1] = (index + 1) * step
            else:
                active = False
    merged: list[list[float]] = []
    for start, end in segments:
        if merged and start - merged[-1][1] < min_silence:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    total = probability.size * step
    return [(max(start - pad, 0.0), min(end + pad, total)) for start, end in merged if end - start >= min_speech]


def activity_at(probability: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Speech probability interpolated at ``times`` (seconds), 0 beyond the analysed audio."""
    centres = (np.arange(probability.size) + 0.5) * FRAME / SAMPLE_RATE
    if probability.size == 0:
        return np.zeros(len(times), np.float32)
    return np.interp(times, centres, probability, left=float(probability[0]), right=0.0).astype(np.float32)
