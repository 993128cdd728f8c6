"""What kind of file a path is, and a source that may be an image or a video."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thead.errors import BadInputError
from thead.motion.track import is_motion_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def media_kind(path: str | os.PathLike) -> str:
    """``image``, ``video`` or ``motion`` by extension; the file must exist."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{path} does not exist", "check the path")
    if path.is_dir():
        raise BadInputError(f"{path} is a directory", "give a file")
    if is_motion_path(path):
        return "motion"
    return "image" if path.suffix.lower() in IMAGE_SUFFIXES else "video"


@dataclass
class Source:
    """A source portrait: one image, or a video whose frames are each a source."""

    path: Path
    kind: str
    fps: float | None = None
    frame_count: int = 1

    def frames(self) -> Iterator[np.ndarray]:
        from thead.io.image import read_image
        from thead.io.video import open_video

        if self.kind == "image":
            yield read_image(self.path)
        else:
            yield from open_video(self.path)


def open_source(path: str | os.PathLike) -> Source:
    """Describe a source path (image or video) without decoding it all."""
    path = Path(path)
    kind = media_kind(path)
    if kind == "motion":
        raise BadInputError(f"{path} is a motion track, not a portrait", "give an image or a video as SOURCE")
    if kind == "image":
        return Source(path, kind)
    from thead.io.video import open_video

    reader = open_video(path)
    return Source(path, kind, reader.fps, reader.frame_count)


@contextlib.contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """Prefix bad-input errors raised inside the block with the file they concern."""
    try:
        yield
    except BadInputError as err:
        if str(path) not in err.message:
            err.message = f"{path}: {err.message}"
        raise
