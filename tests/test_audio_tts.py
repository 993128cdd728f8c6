"""Text to speech: espeak-ng audio with ARPAbet phones whose timings match the synthesised sound."""

from __future__ import annotations

import ctypes.util
import itertools
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from thead.audio import espeak
from thead.audio.phones import ARPABET
from thead.audio.tts import Speech, find_voice, synthesize, to_arpabet
from thead.errors import TheadError, UsageError

VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
BILABIALS = {"M", "B", "P"}
SENTENCE = "Map the bob. My baby moved home to Boston in May."


ESPEAK = "espeak:en-us"  # this module tests the espeak-ng engine, even where a piper voice is installed


@pytest.fixture(scope="module")
def speech() -> Speech:
    return synthesize(SENTENCE, voice=ESPEAK)


def rms(speech: Speech, start: float, end: float) -> float:
    segment = speech.samples[int(start * speech.sample_rate):int(end * speech.sample_rate)]
    return float(np.sqrt(np.mean(segment.astype(np.float64) ** 2)))


def frame_rms(speech: Speech, hop: float = 0.01) -> np.ndarray:
    size = int(hop * speech.sample_rate)
    frames = speech.samples[: len(speech.samples) // size * size].reshape(-1, size).astype(np.float64)
    return np.sqrt(np.mean(frames**2, axis=1))


def test_speech_is_float32_mono_audio_of_plausible_length(speech):
    assert speech.samples.dtype == np.float32 and speech.samples.ndim == 1
    assert speech.sample_rate == 22050
    assert 2.0 < speech.duration < 6.0  # eleven words at ~175 words per minute
    peak = float(np.abs(speech.samples).max())
    assert 0.1 < peak <= 1.0
    assert speech.language == "en"


def test_phones_cover_the_audio_contiguously(speech):
    phones = speech.phones
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(speech.duration, abs=1e-9)
    for before, after in itertools.pairwise(phones):
        assert after.start == pytest.approx(before.end, abs=1e-9)
        assert not before.symbol == after.symbol == "SIL"
    assert all(phone.end > phone.start for phone in phones)
    assert {phone.symbol for phone in phones} <= set(ARPABET)


def test_map_the_bob_is_spelled_in_arpabet(speech):
    words = [phone.symbol for phone in speech.phones if phone.symbol != "SIL"]
    assert words[:8] == ["M", "AE", "P", "DH", "AH", "B", "AA", "B"]


def test_bilabials_sit_in_energy_dips_between_louder_vowels(speech):
    phones = speech.phones
    checked = 0
    for index, phone in enumerate(phones):
        if phone.symbol not in BILABIALS:
            continue
        neighbours = [p for p in phones[max(index - 1, 0):index + 2] if p.symbol in VOWELS]
        if not neighbours:
            continue
        middle = (phone.start + phone.end) / 2
        closed = rms(speech, middle - 0.015, middle + 0.015)
        open_ = max(rms(speech, p.start, p.end) for p in neighbours)
        assert closed < 0.6 * open_, (phone, closed, open_)
        checked += 1
    assert checked >= 8


def test_vowels_coincide_with_loud_audio_and_pauses_with_silence(speech):
    loud = frame_rms(speech) > 0.25 * frame_rms(speech).max()
    times = (np.arange(len(loud)) + 0.5) * 0.01

    def loud_fraction(symbols: set[str]) -> float:
        inside = np.zeros(len(loud), bool)
        for phone in speech.phones:
            if phone.symbol in symbols:
                inside |= (times >= phone.start) & (times < phone.end)
        return float(loud[inside].mean())

    assert loud_fraction(VOWELS) > 0.85
    assert loud_fraction({"SIL"}) == 0.0
    assert loud_fraction({"P", "T", "K", "S", "F", "V", "D"}) < 0.3


def test_a_faster_rate_gives_shorter_speech_with_the_same_phones():
    normal, fast, slow = (synthesize("The evening news.", voice=ESPEAK, rate=rate) for rate in (1.0, 2.0, 0.5))
    assert fast.duration < 0.7 * normal.duration < 0.7 * slow.duration
    spoken = [[p.symbol for p in s.phones if p.symbol != "SIL"] for s in (normal, fast, slow)]
    assert spoken[0] == spoken[1] == spoken[2]


@pytest.mark.parametrize("rate", [0.2, 2.5, float("nan")])
def test_a_rate_out_of_range_is_a_usage_error(rate):
    with pytest.raises(UsageError, match="rate") as caught:
        synthesize("hello", voice=ESPEAK, rate=rate)
    assert caught.value.exit_code == 2 and "--rate" in caught.value.hint


@pytest.mark.parametrize("text", ["", "   \n\t", "...", " , "])
def test_text_with_nothing_to_say_is_a_usage_error(text):
    with pytest.raises(UsageError) as caught:
        synthesize(text)
    assert caught.value.exit_code == 2 and "text" in caught.value.message and caught.value.hint


def test_an_unknown_voice_is_refused_with_the_voices_to_choose_from():
    with pytest.raises(UsageError, match="martian") as caught:
        synthesize("hello", voice="martian")
    assert caught.value.exit_code == 2
    for code in ("en-us", "fr-fr", "de", "cmn"):
        assert code in caught.value.hint.split(": ", 1)[1].split(", ")


@pytest.mark.parametrize(("wanted", "identifier"), [
    ("en-us", "gmw/en-US"), ("EN-US", "gmw/en-US"), ("zh", "sit/cmn"), ("fr", "roa/fr"), ("gmw/de", "gmw/de"),
    ("French (France)", "roa/fr"),
])
def test_voices_are_found_by_language_identifier_or_name(wanted, identifier):
    assert find_voice(espeak.load_espeak().voices, wanted).identifier == identifier


@pytest.mark.parametrize(("voice", "text", "language", "expected"), [
    ("fr", "Bonjour, je mange une pomme.", "fr", ["B", "AO", "ZH", "UW", "R"]),
    ("de", "Guten Morgen, Bob.", "de", ["G", "UW", "T", "AH", "N"]),
    ("zh", "床前明月光", "cmn", ["CH", "W", "AA", "NG"]),
])
def test_other_languages_speak_with_their_own_phones(voice, text, language, expected):
    speech = synthesize(text, voice=voice)
    assert speech.language == language
    spoken = [phone.symbol for phone in speech.phones if phone.symbol != "SIL"]
    assert spoken[: len(expected)] == expected
    assert speech.duration > 0.8 and float(np.abs(speech.samples).max()) > 0.1


@pytest.mark.parametrize(("mnemonic", "symbol"), [
    ("'a", "AE"), (",aI", "AY"), ("tS", "CH"), ("dZ", "JH"), ("T", "TH"), ("D", "DH"), ("N", "NG"),
    ("ts.h", "CH"), ("tS;h", "CH"), ("'iE", "IY"), ("O~", "AO"), ("y", "UW"), ("kh", "K"),
    ("B", "B"), ("t_s\\", "T"), ("a:", "AE"),
    ("_", "SIL"), ("_:", "SIL"), ("_|", "SIL"), (";", None), ("", None),
])
def test_espeak_mnemonics_map_to_the_nearest_arpabet_phone(mnemonic, symbol):
    assert to_arpabet(mnemonic) == symbol


def test_concurrent_calls_each_get_their_own_speech():
    # espeak-ng's timing varies by a few samples from call to call within a process, so compare phones
    texts = ["Map the bob.", "Welcome to the evening news.", "Bonjour."] * 2
    alone = [synthesize(text, voice=ESPEAK) for text in texts]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(synthesize, texts))
    for one, other in zip(alone, together):
        assert [p.symbol for p in one.phones] == [p.symbol for p in other.phones]
        assert other.duration == pytest.approx(one.duration, rel=0.03)
        assert other.phones[-1].end == pytest.approx(other.duration)


def test_without_any_espeak_the_error_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(TheadError, match="espeak-ng is not installed") as caught:
        espeak.load_espeak.__wrapped__()
    assert 'pip install "thead[tts]"' in caught.value.hint and caught.value.exit_code == 4  # an engine, like weights
