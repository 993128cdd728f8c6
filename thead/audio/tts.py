"""Text to speech with timed phones, for ``drive-audio --text``: piper when it is there, else espeak-ng.

Choosing the engine (``voice``): ``piper:NAME`` and ``espeak:NAME`` force one. A plain name that is a piper
voice of the weights manifest (``en_US-lessac-medium``, or its weight set ``piper-voice``) selects piper;
any other name is an espeak-ng voice or language code (``en-us``, ``fr``, ``zh``). Without a voice, piper
speaks with ``en_US-lessac-medium`` when the ``piper-tts`` package is importable and that voice is
installed (``thead fetch-weights piper-voice``); otherwise espeak-ng speaks ``en-us``. The choice, and why,
is said through :class:`~thead.report.Notes`. A piper voice asked for by name never falls back: a missing
engine or voice is an error naming the command that installs it.

piper (see :mod:`thead.audio.piper`) times its phones with the network's own durations. espeak-ng (see
:mod:`thead.audio.espeak`) gives each phone's first sample in its phoneme events, so with either engine
the mouth follows exactly what was synthesised. espeak's phoneme mnemonics are mapped to
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

from thead.audio import piper
from thead.audio.espeak import DEFAULT_WORDS_PER_MINUTE, Utterance, Voice, load_espeak
from thead.audio.phones import Phone
from thead.errors import UsageError, WeightsError
from thead.report import Notes, Silent

DEFAULT_VOICE = "en-us"  # espeak-ng's, when piper is not used
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
    (contiguous, covering 0..duration), the voice's ``language`` code (``en``, ``fr``, ``cmn`` ...), and the
    ``engine`` (``piper`` or ``espeak-ng``) and ``voice`` that spoke."""

    samples: np.ndarray
    sample_rate: int
    phones: list[Phone]
    language: str
    engine: str = "espeak-ng"
    voice: str = ""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


def synthesize(text: str, *, voice: str | None = None, rate: float = 1.0, notes: Notes | None = None) -> Speech:
    """Speak ``text`` with ``voice`` (see the module docstring for how it picks piper or espeak-ng) at ``rate``
    times the normal speed (0.5..2.0); ``notes`` hears which engine and voice spoke."""
    notes = notes or Silent()
    if not text or not text.strip():
        raise UsageError("the text to speak is empty", 'give the words to say, e.g. --text "Hello there."')
    low, high = RATE_RANGE
    if not low <= rate <= high:
        raise UsageError(f"speaking rate {rate:g} is out of range", f"use --rate between {low:g} and {high:g}")
    text = text.replace("\0", " ")
    chosen, espeak_voice, reason = choose_voice(voice)
    if chosen is not None:
        spoken = piper.synthesize(text, chosen, rate, notes)
        notes.info(f"speech: piper voice {chosen.name} (licence: {chosen.license})")
        return Speech(spoken.samples, spoken.sample_rate, spoken.phones, spoken.language, piper.ENGINE, chosen.name)
    try:
        speech = _espeak_speech(text, espeak_voice, rate)
    except WeightsError as error:
        if not reason:
            raise
        raise WeightsError("no text-to-speech engine: neither piper nor espeak-ng is installed",
                           f'{reason}; or pip install "thead[tts]" for espeak-ng') from error
    notes.info(f"speech: espeak-ng voice {speech.voice}" + (f" ({reason})" if reason else ""))
    return speech


def choose_voice(voice: str | None) -> tuple[piper.PiperVoiceFiles | None, str, str]:
    """(piper voice or None, espeak-ng voice, why piper was not used) for a ``--voice`` value."""
    if voice is None:
        default = piper.find_voice(piper.DEFAULT_VOICE)
        if not piper.package_available():
            return None, DEFAULT_VOICE, 'piper is not installed: pip install "thead[piper]"'
        if default is None or not piper.is_installed(default):
            fetch = f"thead fetch-weights {default.weight_set}" if default else "add a tts:piper voice to weights.toml"
            return None, DEFAULT_VOICE, f"piper voice {piper.DEFAULT_VOICE} is not installed: {fetch}"
        return default, DEFAULT_VOICE, ""
    engine, _, name = voice.partition(":")
    if engine.lower() == "espeak" and name:
        return None, name, ""
    if engine.lower() == "piper" and name:
        chosen = piper.find_voice(name)
        if chosen is None:
            raise UsageError(f"unknown piper voice {name!r}", "choose one of: " + ", ".join(sorted(piper.voices())))
        return chosen, DEFAULT_VOICE, ""
    return piper.find_voice(voice), voice, ""


def _espeak_speech(text: str, voice: str, rate: float) -> Speech:
    """espeak-ng speaking ``voice`` (a language code such as ``en-us``, ``fr``, ``de``, ``zh``, or a voice
    identifier/name)."""
    engine = load_espeak()
    chosen = find_voice(engine.voices, voice)
    utterance = engine.speak(text, chosen, round(DEFAULT_WORDS_PER_MINUTE * rate))
    phones = timed_phones(utterance)
    if not any(phone.symbol != "SIL" for phone in phones):
        raise UsageError(f"the text {text!r} has nothing to speak", "give words, not only punctuation or spaces")
    samples = utterance.samples.astype(np.float32) / 32768.0
    return Speech(samples, utterance.sample_rate, phones, chosen.languages[0].split("-")[0], "espeak-ng",
                  chosen.identifier)


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
