"""What kind of file a path is, and a source that may be an image or a video."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from thead.errors import BadInputError, OutputError, TheadError
from thead.io.formats import IMAGE_SUFFIXES
from thead.motion.track import MotionTrack, is_motion_path

if TYPE_CHECKING:
    from thead.backends.base import Backend
    from thead.io.video import VideoReader



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
    reader: VideoReader | None = None  # the opened video, probed once

    @property
    def fps(self) -> float | None:
        return self.reader.fps if self.reader else None

    @property
    def frame_count(self) -> int:
        return self.reader.frame_count if self.reader else 1

    def frames(self) -> Iterator[np.ndarray]:
        if self.reader is not None:
            yield from self.reader
        else:
            from thead.io.image import read_image

            yield read_image(self.path)


def prepared_frames(engine: Backend, source: Source, face_index: int = 0) -> Iterator[tuple[np.ndarray, Any, bool]]:
    """Each source frame with the backend's prepared state and whether its face was found.

    An image is analysed once (NoFaceError if it shows no face) and repeated forever. A video is
    tracked frame by frame, so each frame costs a tracking step rather than a full analysis;
    where the face is lost, the last found face is held (``found`` is False).
    """
    from thead.errors import NoFaceError
    from thead.face import FaceTracker
    from thead.face.plausibility import require_human_face

    if source.kind == "image":
        frame = next(source.frames())
        with naming(source.path):
            state = engine.prepare_source(frame, face_index)
        while True:
            yield frame, state, True
    state = None
    with FaceTracker(face_index) as tracker:
        for index, frame in enumerate(source.frames()):
            face = tracker.track(frame)
            if face is not None:
                if state is None:  # the first face found: is it a person's? (checked once per video)
                    require_human_face(frame, face, f"source video {source.path}")
                state = engine.prepare_source(frame, face_index, face=face)
            elif state is None:
                raise NoFaceError(f"no face in the first frames of source video {source.path} (frame {index})",
                                  "trim the video to start where the face is visible")
            yield frame, state, face is not None


def open_source(path: str | os.PathLike) -> Source:
    """Describe a source path (image or video) without decoding it all."""
    path = Path(path)
    kind = media_kind(path)
    if kind == "motion":
        raise BadInputError(f"{path} is a motion track, not a portrait", "give an image or a video as SOURCE")
    if kind == "image":
        return Source(path, kind)
    from thead.io.video import open_video

    return Source(path, kind, open_video(path))


@contextlib.contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """Prefix bad-input errors raised inside the block with the file they concern."""
    try:
        yield
    except BadInputError as err:
        if not isinstance(err, OutputError) and str(path) not in err.message:
            err.message = f"{path}: {err.message}"
        raise


def load_track(path: str | os.PathLike, engine: Backend) -> MotionTrack:
    """A motion track that ``engine`` can render (its space must match the backend's)."""
    track = MotionTrack.load(path)
    if track.space != engine.space:
        raise BadInputError(f"{path} is a '{track.space}' motion track; backend '{engine.name}' needs '{engine.space}'",
                            f"extract it with --backend {engine.name}, or use a backend of space '{track.space}'")
    return track


def source_at_times(frames: Iterator[tuple[np.ndarray, Any, bool]], source_fps: float, output_fps: float,
                    on_short: Callable[[], None]) -> Iterator[tuple[np.ndarray, Any, bool]]:
    """Source-video frames re-timed to the output's frame rate: output frame i shows the source at i / output_fps.

    Source frames between output times are skipped, frames are repeated when the source is slower,
    and the last source frame is held (``on_short`` called once) when the source ends first.
    """
    current = next(frames)
    position, ended = 0, False
    for index in itertools.count():
        wanted = int(np.floor(index * source_fps / output_fps + 1e-6))
        while position < wanted and not ended:
            following = next(frames, None)
            if following is None:
                ended = True
                on_short()
            else:
                current, position = following, position + 1
        yield current


def write_track(track: MotionTrack, path: str | os.PathLike, outputs: contextlib.ExitStack) -> None:
    """Write ``track`` to a temporary file now; ``outputs`` renames it onto ``path`` when it closes without error."""
    from thead.io.atomic import atomic_path

    tmp = outputs.enter_context(atomic_path(path))
    try:
        track.save(tmp)
    except TheadError:
        raise
    except Exception as exc:  # safetensors reports a full disk as its own error type
        raise OutputError(f"cannot write {path} ({type(exc).__name__}: {exc})",
                          "check the free disk space and the output path") from exc
