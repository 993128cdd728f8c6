"""What ``thead eval`` compares: pairing generated files with references, and loading aligned samples.

Alignment rule (documented in the README): a reference video is resampled onto the generated
video's timeline by nearest time, whatever the two frame rates and counts; generated frames past
the reference's end are dropped with a note, and clips whose durations differ by more than 10 %
(plus one frame) are refused as not being the same clip. A reference of another size is resized
to the generated size (area interpolation) with a note. An image compares as a one-frame video.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from thead.errors import BadInputError, UsageError
from thead.metrics.base import Sample

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".m4v", ".gif"}
DURATION_TOLERANCE = 0.10


@dataclass
class Item:
    """One row of the evaluation: file paths, before loading."""

    generated: Path
    reference: Path | None = None
    source: Path | None = None
    audio: Path | None = None
    #: why this row cannot be evaluated (a missing file), kept so the other rows still are.
    error: BadInputError | None = None


@dataclass
class LoadedMedia:
    frames: list[np.ndarray]
    fps: float
    notes: list[str] = field(default_factory=list)


def is_media(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES


def read_media(path: Path, max_frames: int | None = None) -> LoadedMedia:
    """Frames and fps of a video, or a still image as one frame (fps 1)."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from thead.io.image import read_image

        return LoadedMedia([read_image(path)], 1.0)
    from thead.io.video import open_video, read_frames

    fps = open_video(path).fps
    frames = read_frames(path, max_frames)
    if not frames:
        raise BadInputError(f"video {path} has no frames", "give a video with at least one frame")
    return LoadedMedia(frames, fps)


def align_reference(generated: LoadedMedia, reference: LoadedMedia, name: str) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Generated and reference frames paired frame by frame (nearest time), same size."""
    notes: list[str] = []
    gen, ref = generated.frames, reference.frames
    if len(gen) > 1 or len(ref) > 1:
        gen_duration, ref_duration = len(gen) / generated.fps, len(ref) / reference.fps
        slack = DURATION_TOLERANCE * max(gen_duration, ref_duration) + 1.0 / min(generated.fps, reference.fps)
        if abs(gen_duration - ref_duration) > slack:
            raise BadInputError(
                f"{name}: generated lasts {gen_duration:.2f} s ({len(gen)} frames at {generated.fps:g} fps) but the "
                f"reference {ref_duration:.2f} s ({len(ref)} at {reference.fps:g} fps)",
                "compare the same clip: trim the longer one (ffmpeg -t SECONDS) or pick the matching reference")
        index = np.rint(np.arange(len(gen)) * reference.fps / generated.fps).astype(int)
        keep = index < len(ref)
        if not keep.all():
            notes.append(f"{int((~keep).sum())} generated frames past the reference's end were dropped")
        if generated.fps != reference.fps or len(gen) != len(ref):
            notes.append(f"reference resampled by nearest time from {len(ref)} frames at {reference.fps:g} fps "
                         f"to {int(keep.sum())} at {generated.fps:g} fps")
        gen = [frame for frame, k in zip(gen, keep) if k]
        ref = [ref[i] for i in index[keep]]
    if ref[0].shape != gen[0].shape:
        height, width = gen[0].shape[:2]
        notes.append(f"reference resized from {ref[0].shape[1]}x{ref[0].shape[0]} to {width}x{height} (area)")
        ref = [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in ref]
    return gen, ref, notes


def load_sample(item: Item, device: torch.device, weights_dir: Path | None = None,
                max_frames: int | None = None) -> tuple[Sample, list[str]]:
    """Read and align everything an item names; returns the sample and alignment notes."""
    from thead.io.audio import has_audio, read_audio
    from thead.io.image import read_image

    generated = read_media(item.generated, max_frames)
    frames, reference, notes = generated.frames, None, []
    if item.reference is not None:
        frames, reference, notes = align_reference(generated, read_media(item.reference, max_frames), item.generated.name)
    audio = None
    audio_path = item.audio
    if audio_path is None and item.generated.suffix.lower() in VIDEO_SUFFIXES and has_audio(item.generated):
        audio_path = item.generated
    if audio_path is not None:
        audio = read_audio(audio_path, 16000)
    source = read_image(item.source) if item.source is not None else None
    sample = Sample(name=item.generated.name, frames=frames, fps=generated.fps, reference=reference, source=source,
                    audio=audio, audio_rate=16000, device=device, weights_dir=weights_dir)
    return sample, notes


def _require(path: Path, what: str) -> Path:
    try:
        exists = path.exists()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        raise BadInputError(f"{what} {path!r} is not a usable path ({exc})", "check the path") from exc
    if not exists:
        raise BadInputError(f"{what} {path} does not exist", "check the path")
    return path


def collect_items(generated: Path, reference: Path | None = None, ref_dir: Path | None = None,
                  source: Path | None = None, audio: Path | None = None, manifest: Path | None = None) -> list[Item]:
    """The rows to evaluate: one file, a folder (matched to --ref-dir by file stem), or a manifest.

    In a folder or a manifest, a row whose files are missing carries its error (``Item.error``) so the
    other rows are still evaluated; a single file, a missing folder or a malformed manifest raise.
    """
    if manifest is not None:
        return read_manifest(_require(manifest, "manifest"))
    _require(generated, "generated input")
    if generated.is_dir():
        if reference is not None and not reference.is_dir():
            raise UsageError("with a folder of generated videos, --ref must be a folder too", "use --ref-dir DIR")
        ref_dir = ref_dir or reference
        if ref_dir is not None:
            _require(ref_dir, "reference folder")
        files = sorted(p for p in generated.iterdir() if p.is_file() and is_media(p))
        if not files:
            raise BadInputError(f"folder {generated} holds no images or videos", "point at a folder of .mp4/.png files")
        return [_item(p, lambda p=p: (_match_in(ref_dir, p) if ref_dir else None, source, audio)) for p in files]
    if ref_dir is not None:
        reference = _match_in(ref_dir, generated)
    return [Item(generated, _require(reference, "reference") if reference else None,
                 _require(source, "source image") if source else None, _require(audio, "audio") if audio else None)]


def _item(generated: Path, others: Callable[[], tuple[Path | None, Path | None, Path | None]]) -> Item:
    """An item whose companion files ``others()`` finds; a BadInputError is kept on the item, not raised."""
    try:
        return Item(generated, *others())
    except BadInputError as exc:
        return Item(generated, error=exc)


def _match_in(folder: Path, generated: Path) -> Path:
    """The file in ``folder`` with the same stem as ``generated`` (any media extension)."""
    matches = sorted(p for p in folder.iterdir() if p.stem == generated.stem and is_media(p))
    if not matches:
        raise BadInputError(f"no reference for {generated.name} in {folder} (looked for {generated.stem}.*)",
                            "name each reference like its generated file, or use --manifest")
    return matches[0]


MANIFEST_KEYS = ("generated", "ref", "reference", "source", "audio")


def read_manifest(path: Path) -> list[Item]:
    """Rows from a CSV (header: generated[,ref][,source][,audio]) or JSON lines (``.jsonl``/``.json``,
    one object per line) with the same keys; relative paths are relative to the manifest's folder.

    A manifest that is not UTF-8, not CSV/JSON lines, or has a row without a ``generated`` path or with
    a value that is not text is refused (BadInputError naming the file, row and key). A row naming a
    missing file becomes an item carrying that error, so the other rows are still evaluated.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"manifest {path} is not UTF-8 text (byte {exc.start})", "save it as UTF-8") from exc
    except OSError as exc:
        raise BadInputError(f"manifest {path} cannot be read: {exc.strerror or exc}", "check the path") from exc
    is_json = path.suffix.lower() in {".jsonl", ".json"}
    records = _json_lines(path, text) if is_json else _csv_rows(path, text)
    items = []
    for number, record in records:
        where = f"manifest {path} {'line' if is_json else 'row'} {number}"
        values = {key: _text_value(record.get(key), where, key) for key in MANIFEST_KEYS}
        if not values["generated"]:
            raise BadInputError(f"{where} has no 'generated' path", "give every row a generated file")
        paths = {key: _manifest_path(path.parent, value, where, key) for key, value in values.items() if value}
        items.append(_item(paths["generated"], lambda paths=paths: _existing(paths)))
    if not items:
        raise BadInputError(f"manifest {path} has no rows", "add one row per generated video")
    return items


def _existing(paths: dict[str, Path]) -> tuple[Path | None, Path | None, Path | None]:
    """A manifest row's reference, source and audio, each checked to exist (the generated file too)."""
    _require(paths["generated"], "generated input")
    reference = paths.get("ref") or paths.get("reference")
    return (_require(reference, "reference") if reference else None,
            _require(paths["source"], "source image") if "source" in paths else None,
            _require(paths["audio"], "audio") if "audio" in paths else None)


def _json_lines(path: Path, text: str) -> list[tuple[int, dict]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise BadInputError(f"manifest {path} line {number}: not JSON", "one JSON object per line") from exc
        if not isinstance(record, dict):
            raise BadInputError(f"manifest {path} line {number}: a JSON {_json_kind(record)}, not an object",
                                'one object per line, e.g. {"generated": "out.mp4", "ref": "real.mp4"}')
        records.append((number, record))
    return records


def _json_kind(value: object) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise BadInputError(f"manifest {path} is not valid CSV: {exc}", "a header row generated,ref,source,audio "
                            "and one row per video") from exc


def _text_value(value: object, where: str, key: str) -> str | None:
    """A manifest cell: text or absent (CSV rows shorter than the header give None)."""
    if value is None or isinstance(value, str):
        return value or None
    raise BadInputError(f"{where}: '{key}' must be a path (text), not {type(value).__name__}", "quote the path")


def _manifest_path(base: Path, value: str, where: str, key: str) -> Path:
    if "\0" in value:
        raise BadInputError(f"{where}: '{key}' contains a NUL character", "fix the path")
    return base / value
