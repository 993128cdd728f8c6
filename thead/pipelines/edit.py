"""edit: change pose, eyes, gaze, mouth and expression of an image, a video or a motion track.

Edits are operations on motion frames in the backend's space (``Backend.apply_edit``); the
renderer moves the input by the difference between the edited and the original motion. An edit
is constant, limited to a time range (with short ramps), or keyframed; blinks can be added at
given times.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from thead import __version__
from thead.backends import DEFAULT_BACKEND, DriveOptions, create_backend
from thead.backends.base import Backend, FrameEdit
from thead.cli._output import Reporter
from thead.device import resolve_device
from thead.errors import BadInputError, UsageError
from thead.io.atomic import atomic_path, check_output_path
from thead.motion.procedural import blink_closure
from thead.motion.track import MotionTrack, is_motion_path
from thead.pipelines.provenance import provenance, weight_revisions
from thead.pipelines.media import IMAGE_SUFFIXES, load_track, media_kind, naming, open_source, prepared_frames

RAMP_SECONDS = 0.2
Frame = dict[str, np.ndarray]


@dataclass(frozen=True)
class EditSchedule:
    """When edits apply: a constant edit (optionally within [start, end]), keyframes, blinks."""

    edit: FrameEdit | None = None
    start: float | None = None
    end: float | None = None
    keyframes: tuple[tuple[float, FrameEdit], ...] = ()
    blinks: tuple[float, ...] = ()

    def steps(self, t: float) -> list[tuple[FrameEdit, float]]:
        """The edits in force at time ``t`` with their weights (0..1), in application order."""
        steps = []
        if self.edit is not None and (weight := _window(t, self.start, self.end)) > 0:
            steps.append((self.edit, weight))
        if self.keyframes:
            steps.append((_keyframe_edit(self.keyframes, t), 1.0))
        if (closure := blink_closure(t, self.blinks)) > 0:
            steps.append((FrameEdit(eyes=0.0), closure))
        return steps

    @property
    def end_time(self) -> float:
        """The last time anything in the schedule changes."""
        times = [0.0] + [t for t, _ in self.keyframes] + [b + 0.3 for b in self.blinks]
        times += [v + RAMP_SECONDS for v in (self.start, self.end) if v is not None]
        return max(times)


def _window(t: float, start: float | None, end: float | None) -> float:
    rise = 1.0 if start is None else float(np.clip((t - start + RAMP_SECONDS) / RAMP_SECONDS, 0.0, 1.0))
    fall = 1.0 if end is None else float(np.clip((end + RAMP_SECONDS - t) / RAMP_SECONDS, 0.0, 1.0))
    return min(rise, fall)


def _keyframe_edit(keys: tuple[tuple[float, FrameEdit], ...], t: float) -> FrameEdit:
    """Linear interpolation, field by field, between the keyframes that set each field."""
    values: dict[str, Any] = {}
    for name in ("yaw", "pitch", "roll", "eyes", "mouth", "smile"):
        points = [(time, getattr(edit, name)) for time, edit in keys if getattr(edit, name) is not None]
        if points:
            values[name] = float(np.interp(t, [p[0] for p in points], [p[1] for p in points]))
    gazes = [(time, edit.gaze) for time, edit in keys if edit.gaze is not None]
    if gazes:
        times = [g[0] for g in gazes]
        values["gaze"] = tuple(float(np.interp(t, times, [g[1][axis] for g in gazes])) for axis in (0, 1))
    return FrameEdit(**values)


def load_keyframes(path: str | os.PathLike) -> tuple[tuple[float, FrameEdit], ...]:
    """Read ``[{"t": 0, "yaw": 0}, {"t": 1.5, "yaw": 15, "gaze": [0.2, 0]}]`` (or ``{"keyframes": [...]}``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read keyframes {path} ({exc})", "give a JSON list of {\"t\": seconds, ...}") from exc
    keys = data.get("keyframes") if isinstance(data, dict) else data
    allowed = {f.name for f in fields(FrameEdit)} - {"expressions"}
    parsed = []
    for index, key in enumerate(keys or []):
        if not isinstance(key, dict) or "t" not in key or set(key) - allowed - {"t"}:
            raise BadInputError(f"keyframe {index} in {path} is not valid: {key}",
                                f"each keyframe needs \"t\" and only these keys: {', '.join(sorted(allowed))}")
        values = {k: (tuple(v) if k == "gaze" else float(v)) for k, v in key.items() if k != "t"}
        parsed.append((float(key["t"]), FrameEdit(**values)))
    if not parsed:
        raise BadInputError(f"{path} holds no keyframes", "give a JSON list of {\"t\": seconds, ...}")
    return tuple(sorted(parsed, key=lambda item: item[0]))


def edit_frame(engine: Backend, frame: Frame, steps: list[tuple[FrameEdit, float]]) -> Frame:
    """Apply weighted edits in order; weight w blends every channel w of the way to the edit."""
    for edit, weight in steps:
        edited = engine.apply_edit(frame, edit)
        frame = {k: (np.asarray(frame[k], np.float32) + weight * (np.asarray(edited[k], np.float32) - frame[k]))
                 for k in frame}
    return frame


@dataclass
class EditResult:
    """What edit wrote."""

    output: str
    frames: int
    fps: float | None
    backend: str
    device: str
    warnings: list[str] = field(default_factory=list)
    weights: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def edit(
    input: str | os.PathLike,
    output: str | os.PathLike,
    schedule: EditSchedule,
    *,
    backend: str = DEFAULT_BACKEND,
    device: str = "auto",
    backend_options: dict[str, Any] | None = None,
    motion: str | os.PathLike | None = None,
    duration: float | None = None,
    fps: float = 25.0,
    face_index: int = 0,
    paste_back: bool = True,
    force: bool = False,
    reporter: Reporter | None = None,
) -> EditResult:
    """Edit ``input`` (image, video or motion track) into ``output`` (image, video or motion track)."""
    reporter = reporter or Reporter(quiet=True)
    out = check_output_path(output, [input] + ([motion] if motion else []), force)
    kind = media_kind(input)
    out_kind = "motion" if is_motion_path(out) else "image" if out.suffix.lower() in IMAGE_SUFFIXES else "video"
    engine = create_backend(backend, resolve_device(device), **(backend_options or {}))
    result = EditResult(str(out), 0, None, backend, str(engine.device), weights=weight_revisions(engine.weights))
    if kind == "motion" or out_kind == "motion":
        if kind != "motion" or out_kind != "motion":
            raise UsageError("a motion track edits into a motion track", "give both INPUT and -o as .motion.safetensors")
        track = load_track(input, engine)
        edited = _edit_track(engine, track, schedule)
        with atomic_path(out) as tmp:
            edited.save(tmp)
        result.frames, result.fps = len(edited), edited.fps
        return result

    options = DriveOptions(relative=True, paste_back=paste_back, face_index=face_index)
    source = open_source(input)
    if out_kind == "image":
        if source.kind != "image" or motion is not None:
            raise UsageError(f"output {out} is an image", "write an .mp4 to edit a video or apply a motion track")
        with naming(input):
            prepared = engine.prepare_source(next(source.frames()), face_index)
        base = engine.source_motion(prepared)
        frame = engine.render(prepared, edit_frame(engine, base, schedule.steps(0.0)), base, options)
        from thead.io.image import write_image

        write_image(out, frame, metadata=provenance("edit", backend, weights=result.weights))
        result.frames = 1
        return result

    track = None
    if motion is not None:
        track = load_track(motion, engine)
    if source.kind == "video":
        fps, total = source.fps, source.frame_count
    elif track is not None:
        fps, total = track.fps, len(track)
    else:
        total = int(round((duration or max(schedule.end_time, 3.0)) * fps))
    if track is not None:
        total = min(total, len(track))
    frames = _render_edits(engine, source, track, schedule, options, fps, total, face_index)
    audio_from = Path(input) if source.kind == "video" else None
    from thead.io.audio import has_audio
    from thead.io.video import VideoWriter

    with naming(input), VideoWriter(out, fps, audio_from=audio_from if audio_from and has_audio(audio_from) else None,
                                    metadata=provenance("edit", backend, weights=result.weights)) as writer:
        for frame in reporter.progress(frames, total, "rendering edit"):
            writer.write(frame)
        result.frames = writer.frames_written
    result.fps = fps
    return result


def _render_edits(engine, source, track, schedule, options, fps, total, face_index):
    for index, (_, prepared, _) in zip(range(total), prepared_frames(engine, source, face_index)):
        base = engine.source_motion(prepared)
        current = base if track is None else track.frame(index)
        reference = base if track is None else track.frame(0)
        yield engine.render(prepared, edit_frame(engine, current, schedule.steps(index / fps)), reference, options)


def _edit_track(engine: Backend, track: MotionTrack, schedule: EditSchedule) -> MotionTrack:
    frames = [edit_frame(engine, track.frame(i), schedule.steps(i / track.fps)) for i in range(len(track))]
    channels = {name: np.stack([f[name] for f in frames]).astype(np.float32) for name in track.channels}
    return MotionTrack(track.fps, track.space, channels, dict(track.metadata, edited_by=f"thead {__version__}"))
