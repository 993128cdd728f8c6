"""From timed phones to continuous mouth targets: a viseme table and coarticulation.

Each ARPAbet phone has articulation targets (``jaw`` 0 closed .. 1 wide speech opening, ``spread``
-1 rounded .. +1 spread, ``closure`` 1 = lips pressed, ``teeth`` 1 = lower lip under the upper
teeth / teeth shown) and two dominances: how strongly it imposes its jaw and its lip shape on its
neighbours. Tongue consonants (t, d, k, n, l ...) barely constrain the lips, so the neighbouring
vowels' lip shapes carry through them; bilabials and labiodentals dominate.

Coarticulation follows the dominance-blending model (Cohen & Massaro): every phone spreads a
bell-shaped dominance around its centre, wider before it than after it (anticipation: lips start
moving towards a sound ~60-100 ms before it is heard), and each channel at time t is the
dominance-weighted mean of the targets. Bilabial closure is then always reached on at least one
frame of every m, b, p, and silences blend to a neutral closed mouth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thead.audio.phones import Phone


@dataclass(frozen=True)
class Viseme:
    """Articulation targets of one phone and its dominance over jaw and lips."""

    jaw: float
    spread: float = 0.0
    closure: float = 0.0
    teeth: float = 0.0
    jaw_dominance: float = 0.5
    lip_dominance: float = 0.5


_VOWEL, _CONSONANT, _TONGUE = 0.6, 0.6, 0.25
# Values: jaw opening relative to a wide speech opening (AA ~ 0.9); spread from lip rounding
# (UW, OW, W rounded; IY, EY spread); closure only for bilabials; teeth for f/v, th, s/z, sh.
VISEMES: dict[str, Viseme] = {
    "AA": Viseme(0.90, 0.10, jaw_dominance=_VOWEL, lip_dominance=0.4),
    "AE": Viseme(0.80, 0.40, jaw_dominance=_VOWEL, lip_dominance=0.4),
    "AH": Viseme(0.65, 0.00, jaw_dominance=_VOWEL, lip_dominance=0.3),
    "AO": Viseme(0.75, -0.50, jaw_dominance=_VOWEL, lip_dominance=0.6),
    "AW": Viseme(0.80, -0.30, jaw_dominance=_VOWEL, lip_dominance=0.5),
    "AY": Viseme(0.80, 0.20, jaw_dominance=_VOWEL, lip_dominance=0.4),
    "EH": Viseme(0.60, 0.35, jaw_dominance=_VOWEL, lip_dominance=0.4),
    "ER": Viseme(0.45, -0.30, jaw_dominance=_VOWEL, lip_dominance=0.5),
    "EY": Viseme(0.50, 0.50, jaw_dominance=_VOWEL, lip_dominance=0.5),
    "IH": Viseme(0.40, 0.45, jaw_dominance=_VOWEL, lip_dominance=0.4),
    "IY": Viseme(0.30, 0.70, jaw_dominance=_VOWEL, lip_dominance=0.6),
    "OW": Viseme(0.55, -0.70, jaw_dominance=_VOWEL, lip_dominance=0.7),
    "OY": Viseme(0.60, -0.50, jaw_dominance=_VOWEL, lip_dominance=0.6),
    "UH": Viseme(0.40, -0.50, jaw_dominance=_VOWEL, lip_dominance=0.6),
    "UW": Viseme(0.25, -0.90, jaw_dominance=_VOWEL, lip_dominance=0.8),
    "B": Viseme(0.10, 0.00, closure=1.0, jaw_dominance=1.0, lip_dominance=0.9),
    "M": Viseme(0.10, 0.00, closure=1.0, jaw_dominance=1.0, lip_dominance=0.9),
    "P": Viseme(0.10, 0.00, closure=1.0, jaw_dominance=1.0, lip_dominance=0.9),
    "F": Viseme(0.15, 0.00, teeth=1.0, jaw_dominance=0.9, lip_dominance=0.9),
    "V": Viseme(0.15, 0.00, teeth=1.0, jaw_dominance=0.9, lip_dominance=0.9),
    "TH": Viseme(0.20, 0.00, teeth=0.7, jaw_dominance=_CONSONANT, lip_dominance=0.3),
    "DH": Viseme(0.20, 0.00, teeth=0.7, jaw_dominance=_CONSONANT, lip_dominance=0.3),
    "S": Viseme(0.12, 0.40, teeth=0.8, jaw_dominance=0.8, lip_dominance=0.4),
    "Z": Viseme(0.12, 0.40, teeth=0.8, jaw_dominance=0.8, lip_dominance=0.4),
    "SH": Viseme(0.20, -0.50, teeth=0.6, jaw_dominance=0.7, lip_dominance=0.7),
    "ZH": Viseme(0.20, -0.50, teeth=0.6, jaw_dominance=0.7, lip_dominance=0.7),
    "CH": Viseme(0.20, -0.50, teeth=0.6, jaw_dominance=0.7, lip_dominance=0.7),
    "JH": Viseme(0.20, -0.50, teeth=0.6, jaw_dominance=0.7, lip_dominance=0.7),
    "T": Viseme(0.25, 0.00, teeth=0.3, jaw_dominance=_CONSONANT, lip_dominance=_TONGUE),
    "D": Viseme(0.25, 0.00, teeth=0.3, jaw_dominance=_CONSONANT, lip_dominance=_TONGUE),
    "N": Viseme(0.25, 0.00, teeth=0.3, jaw_dominance=_CONSONANT, lip_dominance=_TONGUE),
    "L": Viseme(0.30, 0.00, teeth=0.3, jaw_dominance=_TONGUE, lip_dominance=_TONGUE),
    "K": Viseme(0.30, 0.00, jaw_dominance=_TONGUE, lip_dominance=_TONGUE),
    "G": Viseme(0.30, 0.00, jaw_dominance=_TONGUE, lip_dominance=_TONGUE),
    "NG": Viseme(0.30, 0.00, jaw_dominance=_TONGUE, lip_dominance=_TONGUE),
    "HH": Viseme(0.45, 0.00, jaw_dominance=0.1, lip_dominance=0.1),
    "R": Viseme(0.30, -0.40, jaw_dominance=_TONGUE, lip_dominance=0.5),
    "W": Viseme(0.15, -0.90, jaw_dominance=0.7, lip_dominance=0.9),
    "Y": Viseme(0.25, 0.50, jaw_dominance=_TONGUE, lip_dominance=0.5),
    "SIL": Viseme(0.00, 0.00, closure=0.5, jaw_dominance=0.8, lip_dominance=0.8),
}
BILABIALS = frozenset({"B", "M", "P"})
VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})

ANTICIPATION = 0.0  # seconds: the centre of the visible gesture leads the sound's by this much
SHORT_PAUSE = 0.15  # seconds: shorter silences between phones barely pull the mouth to rest
_SPREAD_BEFORE, _SPREAD_AFTER = 1.8, 1.0  # dominance widths in half durations (anticipation > carry-over)
_MIN_HALF = 0.03  # seconds: the narrowest dominance half width
_REACH = 0.35  # seconds: phones farther than this from a frame do not influence it
_CHUNK = 512  # frames blended at once (memory flat in the number of phones)


def articulate(phones: list[Phone], times: np.ndarray) -> dict[str, np.ndarray]:
    """Blended ``jaw``, ``spread``, ``closure``, ``teeth`` at ``times`` (seconds) from timed phones.

    Times not covered by any phone get the silence targets.
    """
    times = np.asarray(times, np.float64)
    channels = {name: np.zeros(times.size, np.float32) for name in ("jaw", "spread", "closure", "teeth")}
    channels["closure"][:] = VISEMES["SIL"].closure
    phones = [p for p in phones if p.end > p.start]
    if not phones or times.size == 0:
        return channels
    table = [VISEMES.get(p.symbol, VISEMES["SIL"]) for p in phones]
    centre = np.array([(p.start + p.end) / 2 for p in phones]) - ANTICIPATION
    half = np.maximum(np.array([(p.end - p.start) / 2 for p in phones]), _MIN_HALF)
    targets = np.array([[v.jaw, v.spread, v.closure, v.teeth] for v in table])
    dominance = np.array([[v.jaw_dominance, v.lip_dominance] for v in table])
    for index, phone in enumerate(phones):  # a short pause inside speech is a recognition slip, not a rest
        if phone.symbol == "SIL" and phone.end - phone.start < SHORT_PAUSE and 0 < index < len(phones) - 1:
            dominance[index] *= 0.1
    bounds = np.concatenate([[phones[0].start - 1.0], [p.end for p in phones]])
    silence_before = times < phones[0].start - _REACH
    for first in range(0, times.size, _CHUNK):
        t = times[first : first + _CHUNK]
        near = np.flatnonzero(
            (centre + half * _SPREAD_BEFORE + _REACH > t[0]) & (centre - half * _SPREAD_BEFORE - _REACH < t[-1])
        )
        if near.size == 0:
            continue
        offset = (t[:, None] - centre[near][None, :]) / half[near][None, :]
        width = np.where(offset < 0, _SPREAD_BEFORE, _SPREAD_AFTER)
        bell = np.exp(-((offset / width) ** 2))
        jaw_weight = bell * dominance[near, 0][None, :]
        lip_weight = bell * dominance[near, 1][None, :]
        jaw_total, lip_total = jaw_weight.sum(1), lip_weight.sum(1)
        covered = jaw_total > 1e-4
        block = slice(first, first + t.size)
        channels["jaw"][block] = np.where(covered, jaw_weight @ targets[near, 0] / np.maximum(jaw_total, 1e-12), 0.0)
        for index, name in ((1, "spread"), (2, "closure"), (3, "teeth")):
            value = lip_weight @ targets[near, index] / np.maximum(lip_total, 1e-12)
            channels[name][block] = np.where(covered, value, channels[name][block])
    _reach_closures(phones, centre, half, times, channels)
    channels["jaw"][silence_before | (times > bounds[-1] + _REACH)] = 0.0
    return channels


def _reach_closures(phones, centre, half, times, channels) -> None:
    """Every bilabial closes the lips fully on the frames around its centre (at least the nearest one)."""
    for index, phone in enumerate(phones):
        if phone.symbol not in BILABIALS:
            continue
        hold = (times >= centre[index] - half[index] / 2) & (times <= centre[index] + half[index] / 2)
        nearest = int(np.argmin(np.abs(times - centre[index])))
        if abs(times[nearest] - centre[index]) <= half[index] + 0.05:
            hold[nearest] = True
        channels["closure"][hold] = 1.0
        channels["jaw"][hold] = np.minimum(channels["jaw"][hold], VISEMES[phone.symbol].jaw)
