"""Text to speech with timed phones, for ``drive-audio --text``.

The engine is espeak-ng (see :mod:`thead.audio.espeak`): its phoneme events give each phone's first
sample, so the mouth follows exactly what was synthesised. espeak's phoneme mnemonics are mapped to
ARPAbet (:data:`MNEMONIC_TO_ARPABET`): stress and syllabicity marks (``'``, ``,``, ``%``, ``=``) are
dropped; a mnemonic missing from the table is shortened from the end (``ts.h`` -> ``ts.``, ``'iE`` -> ``i``)
until it matches, so language-specific variants land on their nearest English phone; pauses (``_``,
``_:``, ``_|`` ...) become ``SIL``; marks with no letter at all (``;``) extend the phone before them.
Front rounded vowels (French ``y``, German ``2``) map to rounded English vowels because the lips,
not the tongue, are what a face shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from thead.audio.espeak import DEFAULT_WORDS_PER_MINUTE, Utterance, Voice, load_espeak
from thead.audio.phones import Phone
from thead.errors import UsageError

DEFAULT_VOICE = "en-us"
RATE_RANGE = (0.5, 2.0)

MNEMONIC_TO_ARPABET: dict[str, str] = {
    # vowels and diphthongs (English espeak-ng names first, then other languages' common ones)
    "a": "AE", "aa": "AE", "a#": "AH", "a2": "AH", "A": "AA", "A:": "AA", "A@": "AA", "A~": "AA", "0": "AA",
    "aI": "AY", "aI@": "AY", "aI3": "AY", "aU": "AW", "aU@": "AW",
    "E": "EH", "E2": "EH", "E3": "EH", "E@": "EH", "e@": "EH", "E~": "EH", "e": "EY", "e:": "EY", "eI": "EY",
    "I": "IH", "I2": "IH", "I#": "IH", "i": "IY", "i:": "IY", "i@": "IY", "i@3": "IY",
    "@": "AH", "@2": "AH", "@5": "AH", "@-": "AH", "V": "AH", "@L": "L", "3": "ER", "3:": "ER", "@r": "ER",
    "O": "AO", "O:": "AO", "O@": "AO", "o@": "AO", "O~": "AO", "OI": "OY",
    "o": "OW", "o:": "OW", "oU": "OW", "o~": "OW",
    "U": "UH", "U@": "UH", "u": "UW", "u:": "UW",
    "y": "UW", "y:": "UW", "Y": "UH", "2": "OW", "W": "AO", "W~": "AO", "&": "AE",
    # consonants
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "t#": "T", "d#": "D", "?": "HH",
    "f": "F", "v": "V", "T": "TH", "D": "DH", "s": "S", "z": "Z", "S": "SH", "Z": "ZH", "h": "HH",
    "x": "K", "X": "K", "C": "HH", "H": "HH", "Q": "G", "c": "K", "B": "B", "G": "G",
    "tS": "CH", "dZ": "JH", "ts": "S", "dz": "Z", "ts.": "CH", "dz.": "JH", "s.": "SH", "z.": "ZH", "S;": "SH",
    "m": "M", "n": "N", "N": "NG", "n^": "N", "J": "JH", "l": "L", "L": "L", "l^": "L",
    "r": "R", "r-": "R", "R": "R", "R2": "R", "*": "R", "w": "W", "j": "Y",
}
_MARKS = re.compile(r"[',%=]")


@dataclass(frozen=True)
class Speech:
    """Synthesised speech: float32 mono ``samples`` in -1..1, their ``sample_rate``, the ``phones`` spoken
    (contiguous, covering 0..duration) and the voice's ``language`` code (``en``, ``fr``, ``cmn`` ...)."""

    samples: np.ndarray
    sample_rate: int
    phones: list[Phone]
    language: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


def synthesize(text: str, *, voice: str | None = None, rate: float = 1.0) -> Speech:
    """Speak ``text`` with espeak-ng ``voice`` (a language code such as ``en-us``, ``fr``, ``de``, ``zh``, or a
    voice identifier/name; default ``en-us``) at ``rate`` times the normal speed (0.5..2.0)."""
    if not text or not text.strip():
        raise UsageError("the text to speak is empty", 'give the words to say, e.g. --text "Hello there."')
    low, high = RATE_RANGE
    if not low <= rate <= high:
        raise UsageError(f"speaking rate {rate:g} is out of range", f"use --rate between {low:g} and {high:g}")
    engine = load_espeak()
    chosen = find_voice(engine.voices, voice or DEFAULT_VOICE)
    utterance = engine.speak(text.replace("\0", " "), chosen, round(DEFAULT_WORDS_PER_MINUTE * rate))
    phones = timed_phones(utterance)
    if not any(phone.symbol != "SIL" for phone in phones):
        raise UsageError(f"the text {text!r} has nothing to speak", "give words, not only punctuation or spaces")
    samples = utterance.samples.astype(np.float32) / 32768.0
    return Speech(samples, utterance.sample_rate, phones, chosen.languages[0].split("-")[0])


def find_voice(voices: tuple[Voice, ...], wanted: str) -> Voice:
    """The voice whose identifier, language code or name is ``wanted`` (case-insensitive); the voice that
    ranks a language highest wins (``zh`` -> Mandarin). Unknown -> UsageError listing the language codes."""
    key = wanted.strip().lower()
    for voice in voices:
        if key in (voice.identifier.lower(), voice.identifier.lower().rsplit("/", 1)[-1], voice.name.lower()):
            return voice
    speaking = [voice for voice in voices if key in voice.languages]
    if speaking:
        return min(speaking, key=lambda voice: voice.languages.index(key))
    codes = sorted({voice.languages[0] for voice in voices if voice.languages})
    raise UsageError(f"unknown voice {wanted!r}", "choose an espeak-ng voice: " + ", ".join(codes))


def to_arpabet(mnemonic: str) -> str | None:
    """ARPAbet symbol for one espeak-ng phoneme mnemonic; ``SIL`` for pauses; None for a mark with no sound
    of its own (it belongs to the phone before)."""
    name = _MARKS.sub("", mnemonic)
    if name.startswith("_") or name == "||":
        return "SIL"
    while name:
        if name in MNEMONIC_TO_ARPABET:
            return MNEMONIC_TO_ARPABET[name]
        name = name[:-1]
    return None


def timed_phones(utterance: Utterance) -> list[Phone]:
    """Contiguous phones from 0 to the end of the audio: each phone runs from its event to the next one;
    leading audio before the first event, and neighbouring pauses, are one ``SIL``."""
    total = len(utterance.samples)
    starts: list[tuple[int, str]] = [(0, "SIL")]
    for sample, mnemonic in utterance.events:
        symbol = to_arpabet(mnemonic)
        if symbol is not None:
            starts.append((min(max(sample, starts[-1][0]), total), symbol))
    ends = [sample for sample, _ in starts[1:]] + [total]
    phones: list[Phone] = []
    for (start, symbol), end in zip(starts, ends):
        if end <= start:
            continue
        if phones and symbol == "SIL" == phones[-1].symbol:
            start = round(phones.pop().start * utterance.sample_rate)
        phones.append(Phone(start / utterance.sample_rate, end / utterance.sample_rate, symbol))
    return phones
