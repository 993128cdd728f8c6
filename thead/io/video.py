"""Video frames in and out through ffmpeg pipes: RGB uint8 frames, streamed, memory flat in video length.

Reading decodes with the bundled ffmpeg to raw ``rgb24`` on a pipe (rotation metadata applied, as
players do). Writing pipes raw RGB into libx264 (yuv420p, BT.709, ``+faststart``) and muxes AAC audio
from any file that has sound, padded with silence or trimmed so that the video length is kept.
Both colour conversions round (``DECODE_FLAGS``, ``ENCODE_FLAGS``): ffmpeg's default YUV to RGB path
truncates, which read every video about 1.2 levels darker than its pixels and darkened a video by as
much again at each ``thead`` stage it went through.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from thead.errors import BadInputError, OutputError
from thead.io.atomic import atomic_path, partial_path, remove_partial, signals_held
from thead.io.probe import MediaInfo, count_frames, ffmpeg_exe, last_error_line, probe

#: swscale flags of the YUV to RGB conversion when reading: rounded, chroma upsampled bilinearly at full resolution
#: (as players do). Decoding then matches the exact BT.601/709 formulas to 0.25 levels on average with no bias,
#: against -1.0/-1.5/-1.0 levels (R/G/B) with ffmpeg's default.
DECODE_FLAGS = "bilinear+accurate_rnd+full_chroma_int"
#: ... and of the RGB to YUV conversion when writing: ffmpeg's default (bicubic) chroma downsampling, rounded
#: (it was near exact already: -0.16/+0.07/-0.2 levels).
ENCODE_FLAGS = "bicubic+accurate_rnd+full_chroma_int"

try:
    from fcntl import F_SETPIPE_SZ, fcntl
except ImportError:  # not Linux: keep the system's pipe size
    F_SETPIPE_SZ = None

_PIPE_BYTES = 1 << 20  # Linux pipes hold 64 KiB by default; a bigger pipe means fewer context switches per frame


class VideoReader:
    """A video file: its properties, and a fresh ffmpeg decode each time it is iterated.

    ``size`` is ``(width, height)`` of the frames as yielded, i.e. after the rotation a player applies;
    ``rotation`` is that clockwise rotation in degrees (0, 90, 180, 270). Pixels are as stored
    (non-square sample aspect ratios are not resampled).
    """

    def __init__(self, info: MediaInfo) -> None:
        assert info.video is not None
        self.path = info.path
        self.fps = info.video.fps
        self.rotation = info.video.rotation
        width, height = info.video.width, info.video.height
        self.size = (height, width) if self.rotation in (90, 270) else (width, height)
        self.has_audio = info.audio is not None
        self._container_duration = info.duration

    @functools.cached_property
    def frame_count(self) -> int:
        """Number of frames, counted by demuxing the stream (containers' own counts and durations can be off)."""
        counted = count_frames(self.path)
        if counted is not None:
            return counted
        return round((self._container_duration or 0.0) * self.fps)

    @property
    def duration(self) -> float:
        """Duration of the video stream in seconds: ``frame_count / fps``."""
        return self.frame_count / self.fps if self.fps else (self._container_duration or 0.0)

    def __len__(self) -> int:
        return self.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        width, height = self.size
        command = [
            ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(self.path), "-map", "0:v:0",
            "-vf", f"scale={width}:{height}:flags={DECODE_FLAGS}", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ]  # fmt: skip
        with tempfile.TemporaryFile() as log, subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, bufsize=0
        ) as process:
            _widen_pipe(process.stdout)
            decoded = 0
            try:
                while True:
                    frame = np.empty((height, width, 3), np.uint8)
                    if _read_into(process.stdout, memoryview(frame).cast("B")) < frame.nbytes:
                        break
                    decoded += 1
                    yield frame
            finally:
                if process.poll() is None:
                    process.kill()
            failed = process.wait() != 0
            log.seek(0)
            detail = last_error_line(log.read().decode("utf-8", "replace"))
            if (failed and decoded == 0) or (detail and decoded < self.frame_count):
                raise BadInputError(
                    f"video {self.path} is truncated or corrupt: {decoded} of {self.frame_count} frames decoded ({detail})",
                    "re-encode it, e.g. to H.264 mp4, or use a complete copy",
                )

    def __repr__(self) -> str:
        return f"VideoReader({str(self.path)!r}, fps={self.fps:g}, size={self.size}, rotation={self.rotation})"


def open_video(path: str | os.PathLike) -> VideoReader:
    """Open a video file; BadInputError for missing, empty, truncated or undecodable files and audio-only files."""
    info = probe(path, kind="video")
    if info.is_still_image:
        raise BadInputError(f"{info.path} is a still image, not a video", "give a video file, or pass it as an image")
    if info.video is None:
        raise BadInputError(
            f"video {info.path} has no video stream",
            "give a file with pictures (.mp4, .mov, .mkv, .avi...); audio files go where audio is expected",
        )
    if info.video.fps <= 0:
        raise BadInputError(
            f"video {info.path} has no usable frame rate", "re-encode it at a constant frame rate, e.g. 25 fps"
        )
    reader = VideoReader(info)
    if reader.frame_count == 0:  # counted once here, cached for the reader's users
        raise BadInputError(
            f"video {info.path} holds no decodable frames (truncated or corrupt)", "use a complete copy of the file"
        )
    return reader


def read_frames(path: str | os.PathLike, max_frames: int | None = None) -> list[np.ndarray]:
    """All frames of a video (or the first ``max_frames``) as RGB uint8 arrays."""
    frames = iter(open_video(path))
    try:
        return list(itertools.islice(frames, max_frames))
    finally:
        frames.close()


class VideoWriter:
    """Context manager encoding RGB uint8 frames to H.264 mp4, with optional AAC audio and metadata tags.

    ``fps`` may be any positive number (29.97, 30000/1001 as float, or a Fraction) and is written as
    the closest fraction with a denominator up to 1001. ``size`` is ``(width, height)``, taken from the
    first frame when None; odd sizes are padded to even ones by repeating the last row/column.
    ``audio_from`` is any file with sound; its audio starts at ``audio_offset`` seconds (negative:
    delayed by that much) and is padded with silence or cut so the output keeps the video's length.
    ``metadata`` becomes mp4 tags, always including ``synthetic=true`` unless overridden.
    ``frame_count``, when the caller knows how many frames it will write, lets video and audio be encoded in
    one ffmpeg pass (otherwise the audio is muxed in a second pass once the length is known); writing
    another number of frames is then an error. The output appears only when the block ends without an exception.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction,
        size: tuple[int, int] | None = None,
        audio_from: str | os.PathLike | None = None,
        audio_offset: float = 0.0,
        metadata: dict[str, str] | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        frame_count: int | None = None,
    ) -> None:
        if not fps or fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.size = size
        self.audio_from = Path(audio_from) if audio_from is not None else None
        if self.audio_from is not None and probe(self.audio_from, kind="audio").audio is None:
            raise BadInputError(f"audio {self.audio_from} has no audio stream", "give a file with sound, or none")
        self.audio_offset = audio_offset
        self.metadata = {"synthetic": "true", **(metadata or {})}
        self.crf = crf
        self.preset = preset
        self.frame_count = frame_count
        self.frames_written = 0
        self._stack: contextlib.ExitStack | None = None
        self._target: Path | None = None
        self._process: subprocess.Popen | None = None
        self._log = None
        self._video_only: Path | None = None

    def __enter__(self) -> VideoWriter:
        stack = contextlib.ExitStack()
        try:
            # a stop signal held here is delivered as the hold ends, still inside __enter__, where
            # __exit__ will never run: unwind the stack here so the partial file goes with it
            with signals_held():
                self._target = stack.enter_context(atomic_path(self.path))
                self._log = stack.enter_context(tempfile.TemporaryFile())
        except BaseException as error:
            stack.__exit__(type(error), error, error.__traceback__)
            raise
        self._stack = stack
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame of shape (height, width, 3)."""
        if self._stack is None:
            raise RuntimeError("VideoWriter.write() outside its `with` block")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be RGB uint8 arrays of shape (H, W, 3), got {frame.dtype} {frame.shape}")
        if self.size is None:
            self.size = (frame.shape[1], frame.shape[0])
        if (frame.shape[1], frame.shape[0]) != tuple(self.size):
            got, want = f"{frame.shape[1]}x{frame.shape[0]}", f"{self.size[0]}x{self.size[1]}"
            raise ValueError(f"frame {self.frames_written} is {got}, the video is {want}")
        pad = (0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)
        if pad[0][1] or pad[1][1]:
            frame = np.pad(frame, pad, mode="edge")
        if self._process is None:
            # spawned and owned at once: an interruption in between would orphan ffmpeg, which would then
            # write the partial file after it was cleaned up (ffmpeg inherits the held mask; we SIGKILL it)
            with signals_held():
                self._process = self._start_encoder(frame.shape[1], frame.shape[0])
        try:
            self._process.stdin.write(np.ascontiguousarray(frame).data)
        except BrokenPipeError:
            self._process.wait()
            raise self._encoder_error() from None
        self.frames_written += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        process = self._process
        try:
            if exc_type is not None:
                if process is not None:
                    process.kill()
                    process.wait()
            elif process is None:
                raise OutputError(f"no frames were written to {self.path}", "the input gave no frames; check it plays")
            else:
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.close()
                if process.wait() != 0:
                    raise self._encoder_error()
                if self.frame_count is not None and self.frames_written != self.frame_count:
                    raise OutputError(f"{self.frames_written} of the {self.frame_count} frames announced were written "
                                      f"to {self.path}", "this is a bug in the caller; please report it")
                if self._video_only is not None:
                    self._mux_audio()
        except BaseException as error:  # let atomic_path remove the partial file
            stack.__exit__(type(error), error, error.__traceback__)
            raise
        stack.__exit__(exc_type, exc, traceback)

    def _start_encoder(self, width: int, height: int) -> subprocess.Popen:
        """Encode the piped frames; with audio, in the same pass when the frame count is known, else to a
        video-only file that :meth:`_mux_audio` completes."""
        rate = f"{self.fps.numerator}/{self.fps.denominator}"
        command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", rate, "-i", "pipe:0"]
        video = ["-map", "0:v:0", "-vf", f"scale=out_color_matrix=bt709:out_range=tv:flags={ENCODE_FLAGS},format=yuv420p",
                 "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
                 "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
        if self.audio_from is None:
            command += video + self._tags() + [str(self._target)]
        elif self.frame_count is not None:
            command += self._audio_input() + video + self._audio_output(self.frame_count) + self._tags() + [str(self._target)]
        else:
            with signals_held():
                self._video_only = partial_path(self._target.parent, ".mp4")
                self._stack.callback(remove_partial, self._video_only)
            command += video + ["-f", "mp4", str(self._video_only)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)
        _widen_pipe(process.stdin)
        return process

    def _mux_audio(self) -> None:
        """Add the audio to the video-only file, now that its length is known."""
        command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(self._video_only), *self._audio_input(),
                   "-map", "0:v:0", "-c:v", "copy", *self._audio_output(self.frames_written)]
        command += self._tags() + [str(self._target)]
        with signals_held():  # as for the encoder: never an ffmpeg we do not own
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log)
        try:
            failed = process.wait() != 0
        except BaseException:
            process.kill()
            process.wait()
            raise
        if failed:
            raise self._encoder_error()

    def _audio_input(self) -> list[str]:
        """The audio file as ffmpeg's second input, started ``audio_offset`` seconds in when positive."""
        skip = ["-ss", f"{self.audio_offset:.6f}"] if self.audio_offset > 0 else []
        return [*skip, "-i", str(self.audio_from)]

    def _audio_output(self, frames: int) -> list[str]:
        """AAC audio, delayed for a negative offset, padded with silence and cut to the video's ``frames``."""
        delay = f"adelay={-self.audio_offset * 1000:.3f}:all=1," if self.audio_offset < 0 else ""
        return ["-map", "1:a:0", "-af", f"{delay}apad", "-c:a", "aac", "-b:a", "128k",
                "-t", f"{frames / float(self.fps):.6f}"]

    def _tags(self) -> list[str]:
        tags = []
        for key, value in self.metadata.items():
            tags += ["-metadata", f"{key}={value}"]
        return tags + ["-movflags", "+faststart+use_metadata_tags"]

    def _encoder_error(self) -> OutputError:
        self._log.seek(0)
        detail = last_error_line(self._log.read().decode("utf-8", "replace"))
        return OutputError(f"ffmpeg failed to write {self.path} ({detail})", "check the disk space and output path")


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float | Fraction,
    audio_from: str | os.PathLike | None = None,
    **options,
) -> int:
    """Encode ``frames`` to ``path`` (see VideoWriter for ``options``); returns the number of frames written."""
    with VideoWriter(path, fps, audio_from=audio_from, **options) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.frames_written


def _read_into(stream, buffer: memoryview) -> int:
    """Fill ``buffer`` from an unbuffered pipe; returns the byte count (short only at end of stream)."""
    filled = 0
    while filled < len(buffer):
        got = stream.readinto(buffer[filled:])
        if not got:
            break
        filled += got
    return filled


def _widen_pipe(stream) -> None:
    if F_SETPIPE_SZ is not None:
        with contextlib.suppress(OSError):
            fcntl(stream.fileno(), F_SETPIPE_SZ, _PIPE_BYTES)
