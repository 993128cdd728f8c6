"""drive-video: extract the driving motion, put it onto the source, render, encode.

The output follows the driving clip's timeline (its frame rate and duration). A source video is
sampled at the matching times; when it is shorter than the driving clip its last frame is held.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from thead import __version__
from thead.backends import DEFAULT_BACKEND, DriveOptions, resolve_backend
from thead.backends.base import REGIONS, Backend
from thead.errors import UsageError
from thead.io.atomic import check_output_path
from thead.io.formats import output_kind
from thead.motion.track import MotionTrack
from thead.pipelines.media import (
    load_track, media_kind, naming, open_source, prepared_frames, source_at_times, write_track,
)
from thead.pipelines.provenance import provenance, weight_revisions
from thead.pipelines.result import RenderResult, timed
from thead.report import Notes, Silent

AUDIO_CHOICES = ("driving", "source", "none")


def drive_video(
    source: str | os.PathLike,
    driving: str | os.PathLike,
    output: str | os.PathLike,
    *,
    backend: str | Backend = DEFAULT_BACKEND,
    device: str = "auto",
    backend_options: dict[str, Any] | None = None,
    relative: bool = True,
    region: str = "all",
    paste_back: bool = True,
    audio: str | os.PathLike = "driving",
    smooth: float = 0.5,
    source_face: int = 0,
    driving_face: int = 0,
    motion_out: str | os.PathLike | None = None,
    max_frames: int | None = None,
    force: bool = False,
    reporter: Notes | None = None,
) -> RenderResult:
    """Animate ``source`` (image or video) with ``driving`` (video, image or motion track) into ``output``.

    ``backend`` is a registered name or an already-built :class:`Backend` (models stay loaded across
    calls). ``audio`` is ``driving`` (default), ``source``, ``none`` or the path of a file with sound.
    """
    reporter = reporter or Silent()
    if region not in REGIONS:
        raise UsageError(f"unknown region '{region}'", f"choose one of: {', '.join(REGIONS)}")
    audio_file = _audio_file_option(audio)
    inputs = [source, driving, audio_file]
    out = check_output_path(output, inputs, force)
    still = output_kind(out, ("video", "image")) == "image"
    if motion_out is not None:
        output_kind(motion_out, ("motion",))
        check_output_path(motion_out, inputs + [out], force)
    src = open_source(source)
    driving_kind = media_kind(driving)
    engine = resolve_backend(backend, device, backend_options)
    options = DriveOptions(relative=relative, region=region, paste_back=paste_back, face_index=source_face)
    result = RenderResult(str(out), 0, 0.0, engine.name, str(engine.device))
    timer = functools.partial(timed, result.timings)

    with timer("motion"), naming(driving):
        track = _driving_track(engine, driving, driving_kind, smooth, driving_face, max_frames, reporter, result)
    if driving_kind == "image":
        options = DriveOptions(relative=False, region="exp" if region == "all" else region,
                               paste_back=paste_back, face_index=source_face)
    frame_total = len(track)
    if still and frame_total != 1:
        raise UsageError(f"output {out} is an image but the motion has {frame_total} frames", "write an .mp4")
    reference = track.frame(0) if options.relative else None
    sources = prepared_frames(engine, src, source_face)
    if src.kind == "video":
        sources = source_at_times(sources, src.fps, track.fps, on_short=functools.partial(
            result.warn, reporter, f"source {source} is shorter than the driving motion; held its last frame"))
    with timer("source"):
        first = next(sources)  # an image without a face fails here, before any output exists
    first_source = result.timings["source"]
    result.weights = weight_revisions(engine.weight_sets_used())
    lost: list[int] = []
    pixels = _driving_pixels(engine, driving, driving_kind)
    frames = _render(engine, itertools.chain([first], sources), track, reference, options, frame_total, timer, lost,
                     pixels)
    audio_from = None if still else _audio_source(audio, audio_file, src, driving, driving_kind, reporter, result)
    result.fps = track.fps
    result.audio = audio_from is not None
    tags = provenance("drive-video", engine.name, weights=result.weights)
    with contextlib.ExitStack() as outputs:
        if motion_out is not None:  # renamed into place only after the video is, so a failure leaves neither
            track.metadata.update({"thead_version": __version__, "backend": engine.name, "driving": str(driving)})
            write_track(track, motion_out, outputs)
            result.motion = str(motion_out)
        with timer("write"), naming(source):
            if still:
                from thead.io.image import write_image

                write_image(out, next(iter(frames)), metadata=tags)
                result.frames = 1
            else:
                result.frames = _encode(out, reporter.progress(frames, frame_total, "rendering"), track.fps,
                                        audio_from, tags)
    # the lazy render/encode loop interleaves: report encode and render as measured inside _render
    result.timings["write"] -= result.timings.get("render", 0.0) + result.timings.get("source", 0.0) - first_source
    if lost:
        result.warn(reporter, f"no face in {len(lost)} of {result.frames} frames of source {source}; "
                                "held the last face found")
    return result


def _audio_file_option(audio: str | os.PathLike) -> Path | None:
    """The file named by ``--audio FILE`` (None for the keywords); it must exist."""
    if str(audio) in AUDIO_CHOICES:
        return None
    path = Path(audio)
    if not path.is_file():
        raise UsageError(f"--audio {audio}: not one of {', '.join(AUDIO_CHOICES)} and not an existing file",
                         "give driving, source, none, or the path of a file with sound")
    return path


def _audio_source(audio, audio_file: Path | None, src, driving, driving_kind: str, reporter: Notes,
                  result: RenderResult) -> Path | None:
    """The file whose sound is muxed into the output, warning when a source video's sound is dropped."""
    from thead.io.audio import has_audio

    source_sound = src.kind == "video" and src.reader.has_audio
    if audio_file is not None:
        chosen = audio_file
        if not has_audio(audio_file):
            raise UsageError(f"--audio {audio_file} has no audio stream", "give a file with sound")
    elif audio == "source":
        chosen = src.path if source_sound else None
        if chosen is None:
            result.warn(reporter, f"--audio source: source {src.path} has no sound; the output is silent")
    elif audio == "driving":
        chosen = Path(driving) if driving_kind == "video" and has_audio(driving) else None
    else:
        chosen = None
    if source_sound and chosen != src.path:
        result.warn(reporter, f"the sound of source video {src.path} is not in the output "
                                "(pass --audio source to keep it)")
    return chosen


def _driving_track(engine: Backend, driving, kind: str, smooth: float, face_index: int, max_frames: int | None,
                   reporter: Notes, result: RenderResult) -> MotionTrack:
    if kind == "motion":
        track = load_track(driving, engine)
        if max_frames is None:
            return track
        return MotionTrack(track.fps, track.space, {k: v[:max_frames] for k, v in track.channels.items()},
                           track.metadata)
    if kind == "image":
        from thead.io.image import read_image

        return engine.extract_motion([read_image(driving)], fps=25.0, face_index=face_index)
    from thead.io.video import open_video

    reader = open_video(driving)
    total = reader.frame_count if max_frames is None else min(reader.frame_count, max_frames)
    frames = reporter.progress(itertools.islice(iter(reader), total), total, "tracking driving face")

    def warn_missing(missing: int, count: int) -> None:
        result.warn(reporter, f"no face in {missing} of {count} driving frames of {driving}; "
                                "held and interpolated the motion")

    return engine.extract_motion(frames, fps=reader.fps, face_index=face_index, smooth=smooth, on_missing=warn_missing)


def _driving_pixels(engine: Backend, driving, kind: str) -> Iterator[np.ndarray | None]:
    """The driving frames again, one per motion frame, for backends that copy appearance from them
    (None for the others, for motion files and past the clip's end). Decoding twice is far cheaper
    than keeping the frames or analysing the faces twice."""
    if engine.uses_driving_image and kind == "video":
        from thead.io.video import open_video

        yield from open_video(driving)
    elif engine.uses_driving_image and kind == "image":
        from thead.io.image import read_image

        yield read_image(driving)
    yield from itertools.repeat(None)


def _render(engine: Backend, sources, track: MotionTrack, reference, options: DriveOptions, total: int, timer,
            lost: list[int], pixels: Iterator[np.ndarray | None]) -> Iterator[np.ndarray]:
    """Rendered frames; ``lost`` collects the indices where the source video's face was held."""
    for index in range(total):
        with timer("source"):
            item = next(sources, None)
        if item is None:
            return
        _, state, found = item
        if not found:
            lost.append(index)
        with timer("render"):  # includes decoding the driving frame again (backends that use its pixels)
            image = next(pixels)
            if image is None:
                yield engine.render(state, track.frame(index), reference, options)
            else:
                yield engine.render(state, track.frame(index), reference, options, driving_image=image)


def _encode(out: Path, frames, fps: float, audio_from: Path | None, metadata: dict[str, str]) -> int:
    from thead.io.video import VideoWriter

    with VideoWriter(out, fps, audio_from=audio_from, metadata=metadata) as writer:
        for frame in frames:
            writer.write(frame)
        return writer.frames_written
