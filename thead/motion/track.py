"""The motion track: thead's intermediate representation between driving and rendering.

A track is a set of per-frame channels (float32 numpy arrays whose first axis is time) with a
frame rate, a *space* naming the representation the channels live in, and a format version. It is
stored as safetensors (tensors + string metadata) or as an ``.npz`` read without pickle.

The channels of each space, their units and bounds are declared in :mod:`thead.motion.spaces`;
every track is validated against its space when it is read and when it is written
(:func:`thead.motion.spaces.validate_track`): all channels present, float32, ``[T, *shape]`` with
one T >= 1, finite and within their bounds, fps within 1..240. A file that fails any check is a
:class:`BadInputError` (exit 3) naming the file and the field.
"""

from __future__ import annotations

import json
import lzma
import os
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError

from thead.errors import BadInputError
from thead.io.atomic import atomic_path
from thead.motion.spaces import COMMON_CHANNELS, check_fps, validate_track
from thead.motion.spaces.schema import HINT, TRACK

FORMAT = "thead.motion"
VERSION = 1
SUFFIXES = (".motion.safetensors", ".safetensors", ".npz")
HEADER = "__header__"  # the npz member holding the JSON header
# What reading arbitrary bytes can raise in numpy's npz reader and in safetensors.
READ_ERRORS = (OSError, ValueError, TypeError, KeyError, EOFError, MemoryError, OverflowError, SyntaxError,
               RecursionError, NotImplementedError, struct.error, tokenize.TokenError, zipfile.BadZipFile, zlib.error,
               lzma.LZMAError, SafetensorError)

__all__ = ["COMMON_CHANNELS", "FORMAT", "VERSION", "MotionTrack", "is_motion_path"]


@dataclass
class MotionTrack:
    """Per-frame motion channels with a frame rate and the space they live in.

    Construction checks the frame rate and that channels agree in length (``BadInputError``);
    :meth:`validate`, run by :meth:`save` and :meth:`load`, checks the whole schema of the space.
    """

    fps: float
    space: str
    channels: dict[str, np.ndarray]
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fps = check_fps(self.fps)
        lengths = {name: len(value) for name, value in self.channels.items()}
        if len(set(lengths.values())) > 1:
            raise BadInputError(f"motion channels differ in length: {lengths}",
                                "give every channel one value per frame")

    def __len__(self) -> int:
        return len(next(iter(self.channels.values()))) if self.channels else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.channels[name]

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    def frame(self, index: int) -> dict[str, np.ndarray]:
        """All channels at one frame."""
        return {name: value[index] for name, value in self.channels.items()}

    def validate(self, where: str = TRACK) -> None:
        """Raise :class:`BadInputError` naming ``where`` and the field unless the track fits its space."""
        validate_track(self.space, self.fps, self.channels, where)

    def save(self, path: str | os.PathLike) -> None:
        """Validate, then write as safetensors (``.safetensors``) or pickle-free npz (``.npz``)."""
        path = Path(path)
        self.validate(f"motion track for {path}")
        tensors = {name: np.ascontiguousarray(value) for name, value in self.channels.items()}
        header = {"format": FORMAT, "version": str(VERSION), "fps": repr(float(self.fps)), "space": self.space}
        header["metadata"] = json.dumps(self.metadata, sort_keys=True)
        with atomic_path(path) as tmp:  # a complete file or none, with the permissions the umask gives
            if path.suffix == ".npz":
                with open(tmp, "wb") as handle:  # np.savez would append .npz to a temporary name
                    np.savez(handle, **tensors, **{HEADER: np.array(json.dumps(header))})
            else:
                from safetensors.numpy import save_file

                save_file(tensors, str(tmp), metadata=header)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MotionTrack:
        """Read and validate a track written by :meth:`save`; never unpickles."""
        path = Path(path)
        try:
            header, tensors = _read_npz(path) if path.suffix == ".npz" else _read_safetensors(path)
        except READ_ERRORS as exc:
            raise BadInputError(f"{path} is not a readable motion track ({type(exc).__name__}: {exc})", HINT) from exc
        where = str(path)
        if header.get("format") != FORMAT:
            raise BadInputError(f"{path} is not a thead motion track (no '{FORMAT}' format in its header)", HINT)
        _check_version(header.get("version"), where)
        fps, space = _number(header.get("fps"), where), header.get("space")
        validate_track(space, fps, tensors, where)
        return cls(fps=fps, space=space, channels=tensors, metadata=_metadata(header.get("metadata", "{}"), where))


def _read_npz(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as data:
        if HEADER not in data.files:
            raise BadInputError(f"{path} is not a thead motion track (no {HEADER} entry)", HINT)
        try:
            arrays = {name: data[name] for name in data.files}
        except ValueError as exc:
            if "pickle" in str(exc):
                raise BadInputError(f"{path} holds pickled (object) arrays, which thead never loads",
                                    "save motion channels as float32 arrays") from exc
            raise
    raw = arrays.pop(HEADER)
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise BadInputError(f"{path}: {HEADER} is not a JSON string", HINT)
    header = json.loads(str(raw))
    if not isinstance(header, dict) or not all(isinstance(v, str) for v in header.values()):
        raise BadInputError(f"{path}: {HEADER} is not a JSON object of strings", HINT)
    return header, arrays


def _read_safetensors(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        header = dict(handle.metadata() or {})
        return header, {name: handle.get_tensor(name) for name in handle.keys()}


def _check_version(version: object, where: str) -> None:
    text = str(version)
    if version is None or not (text.isascii() and text.isdigit()):
        raise BadInputError(f"{where}: motion format version {version!r} is not a whole number", HINT)
    if int(text) > VERSION:
        raise BadInputError(f"{where} has motion format version {int(text)}; this thead reads up to {VERSION}",
                            "upgrade thead")
    if int(text) < 1:
        raise BadInputError(f"{where}: unknown motion format version {int(text)}", HINT)


def _number(text: object, where: str) -> float:
    try:
        return float(str(text))
    except ValueError:
        raise BadInputError(f"{where}: fps {text!r} is not a number", HINT) from None


def _metadata(text: str, where: str) -> dict[str, str]:
    try:
        metadata = json.loads(text)
    except (ValueError, RecursionError):
        metadata = None
    if not isinstance(metadata, dict):
        raise BadInputError(f"{where}: metadata is not a JSON object", HINT)
    return metadata


def is_motion_path(path: str | os.PathLike) -> bool:
    """True when ``path`` names a motion track by its extension."""
    name = str(path).lower()
    return name.endswith(SUFFIXES)
