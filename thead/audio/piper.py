"""Piper neural text to speech: voices installed by ``thead fetch-weights``, phones timed by the model itself.

A piper voice is a VITS network (``<voice>.onnx``) plus its config (``<voice>.onnx.json``). The voices
thead offers are the weight sets of ``weights.toml`` whose ``used_by`` says ``tts:piper``; a voice's name
is its file stem (``en_US-lessac-medium``). Synthesis runs through the ``piper-tts`` package (GPL-3.0,
optional: ``pip install "thead[piper]"``), one chunk per sentence.

Timings come from the network's own durations: VITS predicts how many spectrogram frames each phoneme id
lasts (the ``Ceil`` tensor of its duration predictor) and the decoder turns every frame into ``hop_length``
samples, so those counts place each phoneme on the audio exactly. piper exposes the tensor when it loads a
voice with alignments (it marks the tensor as an output in memory, with the ``onnx`` package). A voice
without it gets each sentence's audio shared out over its phonemes by nominal length (vowels twice a
consonant), and a warning.

Piper's phonemes are IPA characters (espeak-ng's output); :data:`IPA_TO_ARPABET` maps them to the ARPAbet
the articulation model reads. Diphthongs and affricates written as two characters (``aɪ``, ``tʃ``) are
merged first; stress marks belong to the phone after them, length marks and word spaces extend the phone
before them; punctuation and the sentence start and end are ``SIL``. A letter missing from the table
becomes ``AH`` (an open, neutral mouth).
"""

from __future__ import annotations

import json
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thead.audio.phones import Phone
from thead.errors import UsageError, WeightsError
from thead.report import Notes
from thead.weights import load_manifest, resolve_files

ENGINE = "piper"
USED_BY = "tts:piper"
DEFAULT_VOICE = "en_US-lessac-medium"
INSTALL_HINT = 'install the engine: pip install "thead[piper]" (piper-tts, GPL-3.0)'
_SENTENCE_EDGES = ("^", "$")  # piper's begin and end of sentence symbols
_STRESS = frozenset("ˈˌ")  # IPA stress marks stand before the syllable they stress
NOISE_SEED = 0  # seeds VITS's sampling noise: the same text, voice and rate always sound the same
_SESSION_LOCK = threading.Lock()

IPA_TO_ARPABET: dict[str, str] = {
    # two-character diphthongs and affricates, merged before single characters are looked up
    "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY",
    "tʃ": "CH", "dʒ": "JH", "ts": "S", "dz": "Z", "tɕ": "CH", "dʑ": "JH",
    "c\u0327": "HH",  # ç as piper spells it: NFD, c + combining cedilla (German "ich")
    # vowels (front rounded ones map to rounded English vowels: the lips are what a face shows)
    "a": "AA", "ɑ": "AA", "ɒ": "AA", "ɐ": "AH", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɘ": "AH", "ɤ": "AH",
    "ɚ": "ER", "ɜ": "ER", "ɝ": "ER", "e": "EY", "ɛ": "EH", "i": "IY", "ɪ": "IH", "ɨ": "IH",
    "o": "OW", "ɔ": "AO", "u": "UW", "ʊ": "UH", "ɯ": "UW", "y": "UW", "ʏ": "UH", "ø": "OW", "ɵ": "OW",
    "œ": "AO",
    # consonants
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "ɡ": "G", "ʔ": "HH", "q": "K", "c": "K",
    "ɟ": "G", "ʈ": "T", "ɖ": "D", "f": "F", "v": "V", "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH",
    "ʒ": "ZH", "ɕ": "SH", "ʑ": "ZH", "ʂ": "SH", "ʐ": "ZH", "h": "HH", "x": "K", "χ": "K", "ç": "HH",
    "ɣ": "G", "β": "B", "ʋ": "V", "m": "M", "ɱ": "M", "n": "N", "ɲ": "N", "ɳ": "N", "ŋ": "NG",
    "l": "L", "ɫ": "L", "ʎ": "L", "ɬ": "L", "r": "R", "ɾ": "R", "ɹ": "R", "ɻ": "R", "ʁ": "R", "ʀ": "R",
    "j": "Y", "w": "W", "ɥ": "W",
}
_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})


@dataclass(frozen=True)
class PiperVoiceFiles:
    """A piper voice the manifest offers: its ``name``, weight ``weight_set``, model and config paths, licence."""

    name: str
    weight_set: str
    model: str
    config: str
    license: str


@dataclass(frozen=True)
class PiperSpeech:
    """Piper output: float32 mono ``samples`` in -1..1, ``sample_rate``, contiguous ``phones``, ``language``."""

    samples: np.ndarray
    sample_rate: int
    phones: list[Phone]
    language: str


def package_available() -> bool:
    """True when the ``piper-tts`` package imports."""
    try:
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


def voices() -> dict[str, PiperVoiceFiles]:
    """Every piper voice of the weights manifest, by name (``en_US-lessac-medium``)."""
    found: dict[str, PiperVoiceFiles] = {}
    for weight_set in load_manifest().sets.values():
        if USED_BY not in weight_set.used_by:
            continue
        paths = {file.path for file in weight_set.files}
        for path in sorted(paths):
            if path.endswith(".onnx") and path + ".json" in paths:
                name = Path(path).name[: -len(".onnx")]
                found[name] = PiperVoiceFiles(name, weight_set.name, path, path + ".json", weight_set.license)
    return found


def find_voice(wanted: str) -> PiperVoiceFiles | None:
    """The piper voice named ``wanted`` (its name or its weight set's name, case-insensitive), else None."""
    key = wanted.strip().lower()
    return next((v for v in voices().values() if key in (v.name.lower(), v.weight_set)), None)


def is_installed(voice: PiperVoiceFiles) -> bool:
    """True when ``thead fetch-weights`` has installed and verified the voice's files."""
    try:
        resolve_files(voice.weight_set)
    except WeightsError:
        return False
    return True


def synthesize(text: str, voice: PiperVoiceFiles, rate: float, notes: Notes) -> PiperSpeech:
    """Speak ``text`` with piper ``voice`` at ``rate`` times its normal speed; phones timed by the model."""
    if not package_available():
        raise WeightsError(f"piper voice {voice.name!r} asked for, but the piper engine is not installed", INSTALL_HINT)
    files = resolve_files(voice.weight_set)  # WeightsError naming `thead fetch-weights SET` when missing
    engine, language = _load(voice, files[voice.model], files[voice.config])
    from piper.config import SynthesisConfig

    settings = SynthesisConfig(length_scale=engine.config.length_scale / rate)
    pieces: list[np.ndarray] = []
    phones: list[Phone] = []
    approximate = False
    offset = 0
    for chunk in engine.synthesize(text, settings, include_alignments=True):
        samples = np.asarray(chunk.audio_float_array, np.float32).reshape(-1)
        if chunk.phoneme_alignments:
            spans = [(a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments]
        else:
            approximate = True
            spans = _nominal_spans(chunk.phonemes)
        phones.extend(timed_phones(spans, len(samples), offset, chunk.sample_rate))
        pieces.append(samples)
        offset += len(samples)
    if not any(phone.symbol != "SIL" for phone in phones):
        raise UsageError(f"the text {text!r} has nothing to speak", "give words, not only punctuation or spaces")
    if approximate:
        notes.warn(f"piper voice {voice.name} gives no phoneme durations: mouth timings are approximate")
    rate_hz = engine.config.sample_rate
    return PiperSpeech(np.concatenate(pieces), rate_hz, _merge_silences(phones), language)


def _load(voice: PiperVoiceFiles, model: Path, config: Path):
    """A fresh piper voice (durations exposed when the ``onnx`` package is there) and its language code.

    VITS samples noise inside the network; onnxruntime seeds those kernels when a session is created, so a
    new session made right after seeding makes the same text, voice and rate give the same speech every time.
    """
    import onnxruntime
    from piper import PiperVoice

    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
        family = (settings.get("language") or {}).get("family") or settings["espeak"]["voice"].split("-")[0]
        with _SESSION_LOCK:
            onnxruntime.set_seed(NOISE_SEED)
            engine = PiperVoice.load(model, config_path=config, include_alignments=True)
    except Exception as error:  # onnx, onnxruntime and piper each raise their own types for a bad file
        reason = (str(error).strip().splitlines() or [""])[0][:200]
        raise WeightsError(f"piper voice {voice.name!r} cannot be loaded ({type(error).__name__}: {reason})",
                           f"check its files: thead fetch-weights --verify {voice.weight_set}") from error
    return engine, str(family).lower()


def to_arpabet(phoneme: str) -> str | None:
    """ARPAbet symbol of one piper phoneme (IPA character or merged pair); ``SIL`` for pauses and sentence
    edges; None for a mark with no sound of its own (stress, length, word space: it extends the phone before)."""
    if phoneme in IPA_TO_ARPABET:
        return IPA_TO_ARPABET[phoneme]
    if phoneme in _SENTENCE_EDGES or (phoneme and unicodedata.category(phoneme[0]).startswith("P")):
        return "SIL"
    if not phoneme.strip() or unicodedata.category(phoneme[0]) in ("Lm", "Mn", "Sk"):
        return None
    return "AH"


def timed_phones(spans: list[tuple[str, int]], total: int, offset: int, sample_rate: int) -> list[Phone]:
    """Contiguous phones for one sentence: ``spans`` are (phoneme, samples) in order, rescaled to the
    sentence's ``total`` samples, placed from sample ``offset``. Pairs in :data:`IPA_TO_ARPABET` merge."""
    merged: list[tuple[str, int]] = []
    for phoneme, count in spans:
        if merged and merged[-1][0] + phoneme in IPA_TO_ARPABET:
            merged[-1] = (merged[-1][0] + phoneme, merged[-1][1] + count)
        else:
            merged.append((phoneme, count))
    symbols: list[tuple[str, int]] = [("SIL", 0)]
    carried = 0  # a stress mark's samples, given to the phone it stresses
    for phoneme, count in merged:
        symbol = to_arpabet(phoneme)
        if phoneme in _STRESS:
            carried += count
        elif symbol is None or symbol == "SIL" == symbols[-1][0]:
            symbols[-1] = (symbols[-1][0], symbols[-1][1] + count)
        else:
            symbols.append((symbol, count + carried))
            carried = 0
    symbols[-1] = (symbols[-1][0], symbols[-1][1] + carried)
    counts = np.array([count for _, count in symbols], np.float64)
    scale = total / counts.sum() if counts.sum() > 0 else 0.0
    edges = np.round(np.concatenate([[0.0], np.cumsum(counts) * scale])).astype(np.int64) + offset
    edges[-1] = offset + total
    return [Phone(float(start) / sample_rate, float(end) / sample_rate, symbol)
            for (symbol, _), start, end in zip(symbols, edges[:-1], edges[1:]) if end > start]


def _nominal_spans(phonemes: list[str]) -> list[tuple[str, int]]:
    """(phoneme, weight) for a sentence without durations: vowels 2, other sounds 1, marks 0, edges 1."""
    spans = [(_SENTENCE_EDGES[0], 1)]
    for phoneme in phonemes:
        symbol = to_arpabet(phoneme)
        spans.append((phoneme, 0 if symbol is None else 2 if symbol in _VOWELS else 1))
    return spans + [(_SENTENCE_EDGES[1], 1)]


def _merge_silences(phones: list[Phone]) -> list[Phone]:
    """Neighbouring ``SIL`` phones (a sentence's end and the next one's start) become one."""
    merged: list[Phone] = []
    for phone in phones:
        if merged and phone.symbol == "SIL" == merged[-1].symbol:
            phone = Phone(merged.pop().start, phone.end, "SIL")
        merged.append(phone)
    return merged
