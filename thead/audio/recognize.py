"""English phone recognition with timings: pocketsphinx's bundled en-US model in phone-loop mode.

As Rhubarb Lip Sync does, the decoder runs in ``allphone`` mode with the bundled phone language
model (``en-us-phone.lm.bin``), which yields a timed ARPAbet phone string without a vocabulary.
Only the speech segments found by voice activity are decoded, one utterance each (cut every
``MAX_UTTERANCE`` seconds), so memory stays flat and silences cost nothing. The decoder is built once
per process; its feature state (the cepstral mean adapts from one utterance to the next) is reset at the
start of every recording, so a recording's phones never depend on the recordings recognised before it.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from thead.audio.phones import ARPABET, Phone
from thead.errors import WeightsError

SAMPLE_RATE = 16000
MAX_UTTERANCE = 20.0  # seconds per decoded utterance
_FRAME = 0.01  # pocketsphinx frame period (100 frames per second)
# beam 1e-10 and 2 Gaussians per senone: ~30x real time on one core, the phone string as with wider beams
_DECODER_OPTIONS = {"lw": 2.0, "beam": 1e-10, "pbeam": 1e-10, "topn": 2}


@functools.cache
def _decoder():
    try:
        from pocketsphinx import Decoder, get_model_path
    except ImportError as error:
        raise WeightsError("pocketsphinx is not installed", "pip install pocketsphinx") from error
    model = get_model_path()
    hmm, phone_lm = os.path.join(model, "en-us", "en-us"), os.path.join(model, "en-us", "en-us-phone.lm.bin")
    if not (os.path.isdir(hmm) and os.path.isfile(phone_lm)):
        raise WeightsError(
            "pocketsphinx's bundled en-US model is missing", "pip install --force-reinstall pocketsphinx"
        )
    return Decoder(hmm=hmm, allphone=phone_lm, loglevel="ERROR", **_DECODER_OPTIONS)


def to_arpabet(symbol: str) -> str:
    """A pocketsphinx phone as ARPAbet without stress; silence and noise marks (``+NSN+``) become ``SIL``."""
    symbol = symbol.strip().upper().rstrip("012")
    return symbol if symbol in ARPABET else "SIL"


def recognize_phones(samples: np.ndarray, segments: list[tuple[float, float]]) -> list[Phone]:
    """Timed ARPAbet phones of the ``segments`` (seconds) of 16 kHz mono ``samples``, ``SIL`` between them."""
    decoder = _decoder()
    decoder.reinit_feat()  # adapt within this recording only
    phones: list[Phone] = []
    for start, end in _utterances(segments):
        first, last = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
        pcm = (np.clip(samples[first:last], -1.0, 1.0) * 32767).astype(np.int16)
        if pcm.size < SAMPLE_RATE // 20:
            continue
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        for seg in decoder.seg():
            symbol = to_arpabet(seg.word)
            begin, finish = start + seg.start_frame * _FRAME, start + (seg.end_frame + 1) * _FRAME
            if phones and phones[-1].symbol == symbol == "SIL":
                phones[-1] = Phone(phones[-1].start, finish, "SIL")
            else:
                phones.append(Phone(begin, finish, symbol))
    return phones


def _utterances(segments: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Segments cut into pieces of at most MAX_UTTERANCE seconds."""
    pieces = []
    for start, end in segments:
        while end - start > MAX_UTTERANCE:
            pieces.append((start, start + MAX_UTTERANCE))
            start += MAX_UTTERANCE
        pieces.append((start, end))
    return pieces
