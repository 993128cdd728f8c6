"""Timed phones: what speech recognition and text-to-speech hand to the articulation model.

Symbols are ARPAbet without stress digits (``AA``, ``B``, ``CH`` ... ``ZH``), plus ``SIL`` for
silence and ``+NSN+``-style noise marks mapped to ``SIL``. Every source of phones (pocketsphinx,
espeak-ng, piper) converts to this one alphabet, so one viseme table serves them all.
"""

from __future__ import annotations

from dataclasses import dataclass

ARPABET = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
    "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
    "Z", "ZH", "SIL",
)


@dataclass(frozen=True)
class Phone:
    """One phone from ``start`` to ``end`` seconds."""

    start: float
    end: float
    symbol: str
