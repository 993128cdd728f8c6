"""What is inside a media file, read from the stderr of the bundled ``ffmpeg -i`` (there is no ffprobe)."""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from thead.errors import BadInputError

@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped inside the ``imageio-ffmpeg`` wheel."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def require_file(path: str | os.PathLike, kind: str) -> Path:
    """``path`` as a Path after checking it is an existing, non-empty file; ``kind`` names it in errors."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BadInputError(f"{kind} {path} does not exist", "check the path and its spelling")
    if not path.is_file():
        raise BadInputError(f"{kind} {path} is not a file", f"give the path of a {kind} file")
    if path.stat().st_size == 0:
        raise BadInputError(f"{kind} {path} is empty (0 bytes)", "it is damaged or still being written")
    return path


@dataclass(frozen=True)
class VideoStream:
    codec: str
    pix_fmt: str
    width: int  # as stored, before rotation
    height: int
    fps: float
    rotation: int  # clockwise degrees a player turns the picture: 0, 90, 180 or 270


@dataclass(frozen=True)
class AudioStream:
    codec: str
    sample_rate: int
    channel_layout: str


@dataclass(frozen=True)
class MediaInfo:
    """The first video and audio streams of a file, its duration (s, or None) and its global tags."""

    path: Path
    format_name: str
    duration: float | None
    video: VideoStream | None
    audio: AudioStream | None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def is_still_image(self) -> bool:
        return self.format_name == "image2" or self.format_name.endswith("_pipe")


def probe(path: str | os.PathLike, kind: str = "media file") -> MediaInfo:
    """Streams, duration and tags of ``path``; BadInputError when ffmpeg cannot open it."""
    path = require_file(path, kind)
    result = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    text = result.stderr.decode("utf-8", "replace")
    if "moov atom not found" in text and _starts_like_mp4(path):
        raise BadInputError(
            f"{kind} {path} is truncated or incomplete (its mp4 index, the moov atom, is missing)",
            "the file was cut off while downloading or recording; use a complete copy",
        )
    if "Input #0" not in text:
        raise BadInputError(
            f"{kind} {path} is not a media file ffmpeg can read ({last_error_line(text)})",
            "give a video or audio file such as .mp4, .mov, .wav, .mp3",
        )
    return parse_ffmpeg_info(path, text)


def parse_ffmpeg_info(path: Path, text: str) -> MediaInfo:
    """Parse the ``Input #0`` report that ``ffmpeg -i`` prints on stderr."""
    format_match = re.search(r"^Input #0, ([^,]+)(?:,[^']*)?, from ", text, re.M)
    format_name = format_match.group(1) if format_match else ""
    duration_match = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", text)
    duration = None
    if duration_match:
        hours, minutes, seconds = duration_match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    video = audio = None
    tags: dict[str, str] = {}
    section = ""  # "global", "video", "audio", "other": whose metadata / side data lines we are reading
    rotation = None
    for line in text.splitlines():
        stream = re.match(r"\s*Stream #0:\d+\S*: (\w+): (.*)$", line)
        if stream:
            kind, description = stream.groups()
            section = "other"
            if kind == "Video" and video is None and "(attached pic)" not in description:
                video = _parse_video(description)
                section = "video"
            elif kind == "Audio" and audio is None:
                audio = _parse_audio(description)
                section = "audio"
            continue
        if line.startswith("  Metadata:") and video is None and audio is None:
            section = "global"
        elif line.startswith("  Duration:"):
            section = ""
        tag = re.match(r"\s+(\S[^:]*?)\s*: (.*)$", line)
        if section == "global" and tag and line.startswith("    ") and not line.startswith("     "):
            tags[tag.group(1)] = tag.group(2)
        if section == "video":
            legacy = re.match(r"\s+rotate\s*: (-?\d+)", line)
            matrix = re.search(r"(?i)display ?matrix: rotation of (-?[\d.]+) degrees", line)
            if legacy:
                rotation = int(legacy.group(1))
            elif matrix:
                rotation = -float(matrix.group(1))  # the matrix turns counter-clockwise
    if video is not None and rotation is not None:
        video = replace(video, rotation=round(rotation / 90.0) * 90 % 360)
    return MediaInfo(path, format_name, duration, video, audio, tags)


def count_frames(path: Path) -> int | None:
    """Exact number of video frames, counted by demuxing without decoding (tens of ms per minute of video)."""
    result = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null",
         "-nostats", "-progress", "pipe:1", "-"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    counts = re.findall(rb"^frame=(\d+)", result.stdout, re.M)
    return int(counts[-1]) if result.returncode == 0 and counts else None


def _starts_like_mp4(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8)[4:] in (b"ftyp", b"mdat", b"moov", b"free", b"wide", b"skip")


def last_error_line(text: str) -> str:
    """The most telling line of an ffmpeg error report, for one-line messages."""
    noise = ("At least one output", "Press [q]")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(noise)]
    return re.sub(r"^\[[^]]+\] ", "", lines[-1]) if lines else "no details from ffmpeg"


def _split_top_level(description: str) -> list[str]:
    """Split a stream description on commas that are not inside parentheses or brackets."""
    items, depth, start = [], 0, 0
    for index, char in enumerate(description):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(description[start:index].strip())
            start = index + 1
    items.append(description[start:].strip())
    return items


def _parse_video(description: str) -> VideoStream | None:
    items = _split_top_level(description)
    sizes = [re.match(r"(\d+)x(\d+)(?:\s|$)", item) for item in items]
    size = next((match for match in sizes if match), None)
    if size is None:
        return None  # ffmpeg could not even read the picture size: treat as undecodable
    rates = {}
    for item in items:
        rate = re.match(r"([\d.]+)(k?) (fps|tbr)$", item)
        if rate:
            rates[rate.group(3)] = float(rate.group(1)) * (1000 if rate.group(2) else 1)
    fps = _snap_ntsc(rates.get("fps") or rates.get("tbr") or 0.0)
    pix_fmt = items[1].split("(")[0].strip() if len(items) > 1 else ""
    return VideoStream(items[0].split(" ")[0], pix_fmt, int(size.group(1)), int(size.group(2)), fps, 0)


def _parse_audio(description: str) -> AudioStream:
    items = _split_top_level(description)
    rate = next((re.match(r"(\d+) Hz", item) for item in items if re.match(r"(\d+) Hz", item)), None)
    layout = items[2] if len(items) > 2 else ""
    return AudioStream(items[0].split(" ")[0], int(rate.group(1)) if rate else 0, layout)


def _snap_ntsc(fps: float) -> float:
    """ffmpeg prints 30000/1001 as "29.97": restore the exact NTSC rates (23.976, 29.97, 59.94...)."""
    scaled = fps * 1.001
    if fps and abs(fps - round(fps)) > 1e-6 and abs(scaled - round(scaled)) < 0.006:
        return round(scaled) / 1.001
    return fps
