"""drive-video: extract the driving motion, put it onto the source, render, encode."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from dataclasses import asdict, dataclass, field
from collections.abc import Iterator
from pathlib import Path
from typing import Any


import numpy as np

from thead import __version__
from thead.backends import DEFAULT_BACKEND, DriveOptions, create_backend
from thead.backends.base import REGIONS, Backend
from thead.cli._output import Reporter
from thead.device import resolve_device
from thead.errors import UsageError
from thead.io.atomic import atomic_path, check_output_path
from thead.motion.track import MotionTrack, is_motion_path
from thead.pipelines.provenance import provenance, weight_revisions
from thead.pipelines.media import IMAGE_SUFFIXES, load_track, media_kind, naming, open_source, prepared_frames


@dataclass
class DriveResult:
    """What drive-video wrote and how long each stage took."""

    output: str
    frames: int
    fps: float
    backend: str
    device: str
    audio: bool
    motion: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    weights: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def drive_video(
    source: str | os.PathLike,
    driving: str | os.PathLike,
    output: str | os.PathLike,
    *,
    backend: str = DEFAULT_BACKEND,
    device: str = "auto",
    backend_options: dict[str, Any] | None = None,
    relative: bool = True,
    region: str = "all",
    paste_back: bool = True,
    keep_audio: bool = True,
    smooth: float = 0.5,
    face_index: int = 0,
    motion_out: str | os.PathLike | None = None,
    max_frames: int | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> DriveResult:
    """Animate ``source`` (image or video) with ``driving`` (video, image or motion track) into ``output``."""
    reporter = reporter or Reporter(quiet=True)
    if region not in REGIONS:
        raise UsageError(f"unknown region '{region}'", f"choose one of: {', '.join(REGIONS)}")
    inputs = [source, driving]
    out = check_output_path(output, inputs, force)
    still = out.suffix.lower() in IMAGE_SUFFIXES
    if motion_out is not None:
        if not is_motion_path(motion_out):
            raise UsageError(f"--motion-out {motion_out} needs a .motion.safetensors or .npz name", "rename it")
        check_output_path(motion_out, inputs + [out], force)
    src = open_source(source)
    driving_kind = media_kind(driving)
    engine = create_backend(backend, resolve_device(device), **(backend_options or {}))
    options = DriveOptions(relative=relative, region=region, paste_back=paste_back, face_index=face_index)
    result = DriveResult(str(out), 0, 0.0, backend, str(engine.device), audio=False,
                         weights=weight_revisions(engine.weights))
    timer = functools.partial(_timed, result.timings)

    with timer("motion"), naming(driving):
        track = _driving_track(engine, driving, driving_kind, smooth, face_index, max_frames, reporter, result)
    if driving_kind == "image":
        options = DriveOptions(relative=False, region="exp" if region == "all" else region,
                               paste_back=paste_back, face_index=face_index)
    if motion_out is not None:
        with atomic_path(motion_out) as tmp:
            track.metadata.update({"thead_version": __version__, "backend": backend, "driving": str(driving)})
            track.save(tmp)
        result.motion = str(motion_out)

    frame_total = len(track) if src.kind == "image" else min(len(track), src.frame_count)
    if still and frame_total != 1:
        raise UsageError(f"output {out} is an image but the motion has {frame_total} frames", "write an .mp4")
    reference = track.frame(0) if options.relative else None
    sources = prepared_frames(engine, src, face_index)
    with timer("source"):
        first = next(sources)  # an image without a face fails here, before any output exists
    first_source = result.timings["source"]
    lost: list[int] = []
    frames = _render(engine, itertools.chain([first], sources), track, reference, options, frame_total, timer, lost)
    audio_from = Path(driving) if keep_audio and driving_kind == "video" and _has_audio(driving) else None
    result.fps = track.fps
    result.audio = audio_from is not None and not still
    tags = provenance("drive-video", backend, weights=result.weights)
    with timer("write"), naming(source):
        if still:
            from thead.io.image import write_image

            write_image(out, next(iter(frames)), metadata=tags)
            result.frames = 1
        else:
            result.frames = _encode(out, reporter.progress(frames, frame_total, "rendering"), track.fps, audio_from, tags)
    # the lazy render/encode loop interleaves: report encode and render as measured inside _render
    result.timings["write"] -= result.timings.get("render", 0.0) + result.timings.get("source", 0.0) - first_source
    if lost:
        message = f"no face in {len(lost)} of {result.frames} frames of source {source}; held the last face found"
        result.warnings.append(message)
        reporter.warn(message)
    return result


def _driving_track(engine: Backend, driving, kind: str, smooth: float, face_index: int, max_frames: int | None,
                   reporter: Reporter, result: DriveResult) -> MotionTrack:
    if kind == "motion":
        return load_track(driving, engine)
    if kind == "image":
        from thead.io.image import read_image

        return engine.extract_motion([read_image(driving)], fps=25.0, face_index=face_index)
    from thead.io.video import open_video

    reader = open_video(driving)
    total = reader.frame_count if max_frames is None else min(reader.frame_count, max_frames)
    frames = reporter.progress(itertools.islice(iter(reader), total), total, "tracking driving face")

    def warn_missing(missing: int, count: int) -> None:
        message = f"no face in {missing} of {count} driving frames of {driving}; held and interpolated the motion"
        result.warnings.append(message)
        reporter.warn(message)

    return engine.extract_motion(frames, fps=reader.fps, face_index=face_index, smooth=smooth, on_missing=warn_missing)


def _render(engine: Backend, sources, track: MotionTrack, reference, options: DriveOptions, total: int, timer,
            lost: list[int]) -> Iterator[np.ndarray]:
    """Rendered frames; ``lost`` collects the indices where the source video's face was held."""
    for index in range(total):
        with timer("source"):
            item = next(sources, None)
        if item is None:
            return
        _, state, found = item
        if not found:
            lost.append(index)
        with timer("render"):
            yield engine.render(state, track.frame(index), reference, options)


def _encode(out: Path, frames, fps: float, audio_from: Path | None, metadata: dict[str, str]) -> int:
    from thead.io.video import VideoWriter

    with VideoWriter(out, fps, audio_from=audio_from, metadata=metadata) as writer:
        for frame in frames:
            writer.write(frame)
        return writer.frames_written


def _has_audio(path) -> bool:
    from thead.io.audio import has_audio

    return has_audio(path)


@contextlib.contextmanager
def _timed(sink: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to ``sink[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        sink[name] = sink.get(name, 0.0) + time.perf_counter() - start
