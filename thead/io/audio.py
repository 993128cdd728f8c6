"""Audio in: any file ffmpeg reads (wav, flac, mp3, m4a, the sound track of a video) as float32 mono."""

from __future__ import annotations

import os
import subprocess

import numpy as np

from thead.errors import BadInputError
from thead.io.probe import ffmpeg_exe, last_error_line, probe


def has_audio(path: str | os.PathLike) -> bool:
    """Whether ``path`` has an audio stream (BadInputError if it is missing or unreadable)."""
    return probe(path).audio is not None


def read_audio(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """The first audio stream of ``path``, resampled to ``sample_rate`` Hz, channels averaged, in [-1, 1]."""
    info = probe(path, kind="audio")
    if info.audio is None:
        raise BadInputError(
            f"audio {info.path} has no audio stream",
            "give a file with sound: .wav, .flac, .mp3, .m4a or a video with an audio track",
        )
    # rematrix_maxval=1 turns the downmix into a plain average of the channels (ffmpeg's -ac 1 adds them at -3 dB)
    command = [
        ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(info.path), "-map", "0:a:0",
        "-af", f"aresample={sample_rate}:rematrix_maxval=1.0,aformat=sample_fmts=flt:channel_layouts=mono",
        "-f", "f32le", "-",
    ]  # fmt: skip
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if result.returncode != 0:
        detail = last_error_line(result.stderr.decode("utf-8", "replace"))
        raise BadInputError(f"audio {info.path} could not be decoded ({detail})", "convert it to .wav first")
    samples = np.frombuffer(result.stdout, np.float32).copy()
    if samples.size == 0:
        raise BadInputError(f"audio {info.path} is empty audio (zero samples)", "give a file with sound in it")
    return np.clip(samples, -1.0, 1.0, out=samples)
