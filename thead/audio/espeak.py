"""espeak-ng through its C library (ctypes): voices, and speech with timed phoneme events.

The library comes from the ``espeakng-loader`` wheel (libespeak-ng plus its data), or else from the
system (``libespeak-ng.so.1``, e.g. Debian's ``libespeak-ng1``). It is driven synchronously: one
``espeak_Synth`` call fills a callback with 16-bit samples and events; ``espeakEVENT_PHONEME`` events
carry the phoneme mnemonic (espeak's own Kirshenbaum-like alphabet) and the sample it starts at.
espeak-ng keeps global state, so every call holds one process-wide lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass
from functools import cache

import numpy as np

from thead.errors import TheadError, WeightsError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAMETER_RATE = 1
DEFAULT_WORDS_PER_MINUTE = 175
_RATE_LIMITS = (80, 450)
INSTALL_HINT = 'install the engine: pip install "thead[tts]" (espeak-ng, GPL-3.0; or the system\'s libespeak-ng1)'

_LOCK = threading.Lock()


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int), ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Voice:
    """An installed espeak-ng voice: ``identifier`` (e.g. ``gmw/en-US``), display name, language codes by priority."""

    identifier: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Utterance:
    """Raw espeak-ng output: 16-bit samples and ``(first_sample, mnemonic)`` phoneme events in order."""

    samples: np.ndarray
    sample_rate: int
    events: list[tuple[int, str]]


class Espeak:
    """One initialised libespeak-ng; use :func:`load_espeak` to get the shared instance."""

    def __init__(self, lib: ctypes.CDLL, data_path: str | None) -> None:
        self._lib = lib
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        path = data_path.encode() if data_path else None
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, path,
                                                 _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise TheadError(f"espeak-ng failed to initialise (data {data_path or 'default'})", INSTALL_HINT)
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        self._callback = _SynthCallback(self._collect)  # kept referenced: the library calls it
        lib.espeak_SetSynthCallback(self._callback)
        self.voices = self._list_voices()

    def _list_voices(self) -> tuple[Voice, ...]:
        table = self._lib.espeak_ListVoices(None)
        voices = []
        for index in range(100_000):
            if not table[index]:
                break
            entry = table[index].contents
            voices.append(Voice(entry.identifier.decode(), entry.name.decode(), _languages(entry.languages)))
        return tuple(voices)

    def _collect(self, wav, count: int, events) -> int:
        if wav and count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_PHONEME:
                self._events.append((event.sample, event.id.string.decode("utf-8", "replace")))
            index += 1
        return 0

    def speak(self, text: str, voice: Voice, words_per_minute: int) -> Utterance:
        """Synthesise ``text`` (UTF-8, not SSML) with ``voice`` at ``words_per_minute`` (clamped to 80..450)."""
        low, high = _RATE_LIMITS
        encoded = text.encode("utf-8")
        with _LOCK:
            if self._lib.espeak_SetVoiceByName(voice.identifier.encode()) != 0:
                raise TheadError(f"espeak-ng could not load voice {voice.identifier!r}", INSTALL_HINT)
            self._lib.espeak_SetParameter(_PARAMETER_RATE, min(max(words_per_minute, low), high), 0)
            self._chunks, self._events = [], []
            status = self._lib.espeak_Synth(encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if status != 0:
                raise TheadError(f"espeak-ng failed to synthesise (status {status})", INSTALL_HINT)
            self._lib.espeak_Synchronize()
            samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return Utterance(samples, self.sample_rate, list(self._events))


def _languages(pointer: int | None) -> tuple[str, ...]:
    """Decode espeak's language list: (priority byte, NUL-terminated code) pairs up to a zero byte, by priority."""
    found: list[tuple[int, str]] = []
    while pointer:
        priority = ctypes.string_at(pointer, 1)[0]
        if priority == 0:
            break
        code = ctypes.string_at(pointer + 1)
        found.append((priority, code.decode()))
        pointer += len(code) + 2
    return tuple(code for _, code in sorted(found, key=lambda item: item[0]))


@cache
def load_espeak() -> Espeak:
    """The process's espeak-ng: the ``espeakng-loader`` bundle first, else the system library."""
    try:
        import espeakng_loader
    except ImportError:
        system = ctypes.util.find_library("espeak-ng")
        if system is None:
            raise WeightsError("no text-to-speech engine: espeak-ng is not installed", INSTALL_HINT) from None
        return Espeak(ctypes.CDLL(system), None)
    return Espeak(ctypes.CDLL(espeakng_loader.get_library_path()), espeakng_loader.get_data_path())
