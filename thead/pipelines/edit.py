"""edit: change pose, eyes, gaze, mouth and expression of an image, a video or a motion track.

Edits are operations on motion frames in the backend's space (``Backend.apply_edit``); the
renderer moves the input by the difference between the edited and the original motion. An edit
is constant, limited to a time range (with short ramps), or keyframed (:mod:`thead.motion.keyframes`);
blinks can be added at given times and the lips kept shut throughout. Names and strengths are
checked before anything is read; requests beyond the backend's ``edit_limits`` are clamped with
a warning (``result.warnings``).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from thead import __version__
from thead.backends import DEFAULT_BACKEND, DriveOptions, get_backend_class, resolve_backend
from thead.backends.base import Backend
from thead.errors import UsageError
from thead.io.atomic import check_output_path
from thead.io.formats import output_kind
from thead.motion import expressions
from thead.motion.frame_edit import FrameEdit
from thead.motion.keyframes import Keyframe, as_keyframe, clamp_keyframes, keyframe_steps
from thead.motion.procedural import BLINK_SECONDS, blink_closure
from thead.motion.track import MotionTrack
from thead.pipelines.media import load_track, media_kind, naming, open_source, prepared_frames, write_track
from thead.pipelines.provenance import provenance, weight_revisions
from thead.pipelines.result import RenderResult
from thead.report import Notes, Silent

RAMP_SECONDS = 0.2
Frame = dict[str, np.ndarray]


@dataclass(frozen=True)
class EditSchedule:
    """When edits apply: a constant edit (optionally within [start, end]), keyframes, blinks, closed lips.

    ``keyframes`` holds :class:`thead.motion.keyframes.Keyframe` objects or ``(t, FrameEdit)`` pairs;
    ``lips_closed`` keeps the mouth shut on every frame, after every other edit.
    """

    edit: FrameEdit | None = None
    start: float | None = None
    end: float | None = None
    keyframes: tuple[Keyframe | tuple[float, FrameEdit], ...] = ()
    blinks: tuple[float, ...] = ()
    lips_closed: bool = False

    def steps(self, t: float) -> list[tuple[FrameEdit, float]]:
        """The edits in force at time ``t`` with their weights (0..1), in application order."""
        steps = []
        if self.edit is not None and (weight := _window(t, self.start, self.end)) > 0:
            steps.append((self.edit, weight))
        steps += [(edit, weight) for edit, weight in keyframe_steps(self.keyframes, t) if weight > 0]
        if (closure := blink_closure(t, self.blinks)) > 0:
            steps.append((FrameEdit(eyes=0.0), closure))
        if self.lips_closed:
            steps.append((FrameEdit(mouth=0.0), 1.0))
        return steps

    @property
    def end_time(self) -> float:
        """The last time anything in the schedule changes."""
        times = [0.0] + [as_keyframe(k).t for k in self.keyframes] + [b + BLINK_SECONDS for b in self.blinks]
        times += [v + RAMP_SECONDS for v in (self.start, self.end) if v is not None]
        return max(times)

    @property
    def timed(self) -> bool:
        """Whether anything depends on time (a still image cannot show it)."""
        return bool(self.keyframes or self.blinks) or self.start is not None or self.end is not None


def _window(t: float, start: float | None, end: float | None) -> float:
    rise = 1.0 if start is None else float(np.clip((t - start + RAMP_SECONDS) / RAMP_SECONDS, 0.0, 1.0))
    fall = 1.0 if end is None else float(np.clip((end + RAMP_SECONDS - t) / RAMP_SECONDS, 0.0, 1.0))
    return min(rise, fall)


def check_schedule(schedule: EditSchedule, space: str) -> None:
    """Usage errors for names and values no backend of ``space`` can honour."""
    edits = ([schedule.edit] if schedule.edit is not None else []) + [as_keyframe(k).edit for k in schedule.keyframes]
    for frame_edit in edits:
        expressions.check_expressions(space, frame_edit.expressions)
        if frame_edit.smile is not None:
            expressions.check_expressions(space, [("smile", frame_edit.smile)])
        for name in ("eyes", "mouth"):
            if (value := getattr(frame_edit, name)) is not None and value < 0:
                raise UsageError(f"--{name} {value:g} is negative", "give an openness ratio >= 0 (0 is closed)")
    if schedule.lips_closed and any(e.mouth is not None for e in edits):
        raise UsageError("--lips-closed and --mouth both set the mouth", "give one of them")


def _clamped(frame_edit: FrameEdit, limits: dict[str, tuple[float, float]], backend: str,
             warn: Callable[[str], None]) -> FrameEdit:
    changes = {}
    for name, (low, high) in limits.items():
        value = getattr(frame_edit, name)
        if value is not None and not low <= value <= high:
            changes[name] = float(np.clip(value, low, high))
            unit = "°" if name in ("yaw", "pitch", "roll") else ""
            warn(f"{name} {value:g}{unit} is beyond what the {backend} backend renders well "
                 f"({low:g}{unit} to {high:g}{unit}); clamped to {changes[name]:g}{unit}")
    return replace(frame_edit, **changes) if changes else frame_edit


def clamp_schedule(schedule: EditSchedule, limits: dict[str, tuple[float, float]], backend: str,
                   warn: Callable[[str], None]) -> EditSchedule:
    """``schedule`` with values beyond the backend's ``limits`` clamped, each clamp reported once to ``warn``."""
    said: set[str] = set()

    def once(message: str) -> None:
        if message not in said:
            said.add(message)
            warn(message)

    def clamp(frame_edit: FrameEdit) -> FrameEdit:
        return _clamped(frame_edit, limits, backend, once)

    return replace(schedule, edit=None if schedule.edit is None else clamp(schedule.edit),
                   keyframes=clamp_keyframes(schedule.keyframes, clamp))


def edit_frame(engine: Backend, frame: Frame, steps: list[tuple[FrameEdit, float]]) -> Frame:
    """Apply weighted edits in order; weight w blends every channel w of the way to the edit."""
    for edit, weight in steps:
        edited = engine.apply_edit(frame, edit)
        frame = {k: (np.asarray(frame[k], np.float32) + weight * (np.asarray(edited[k], np.float32) - frame[k]))
                 for k in frame}
    return frame


def edit(
    input: str | os.PathLike,
    output: str | os.PathLike,
    schedule: EditSchedule,
    *,
    backend: str | Backend = DEFAULT_BACKEND,
    device: str = "auto",
    backend_options: dict[str, Any] | None = None,
    motion: str | os.PathLike | None = None,
    duration: float | None = None,
    fps: float = 25.0,
    face_index: int = 0,
    paste_back: bool = True,
    force: bool = False,
    reporter: Notes | None = None,
) -> RenderResult:
    """Edit ``input`` (image, video or motion track) into ``output`` (image, video or motion track).

    ``backend`` is a registered name or an already-built :class:`Backend` (models stay loaded across calls).
    """
    reporter = reporter or Silent()
    check_schedule(schedule, backend.space if isinstance(backend, Backend) else get_backend_class(backend).space)
    out_kind = output_kind(output)
    out = check_output_path(output, [input] + ([motion] if motion else []), force)
    kind = media_kind(input)
    if out_kind == "image" and schedule.timed:
        raise UsageError(f"output {out.name} is a still image, but --blink, --from/--to or --keyframes change over time",
                         "write a video instead, e.g. -o edited.mp4 --duration 3")
    engine = resolve_backend(backend, device, backend_options)
    result = RenderResult(str(out), 0, None, engine.name, str(engine.device))

    schedule = clamp_schedule(schedule, engine.edit_limits, engine.name, functools.partial(result.warn, reporter))
    if kind == "motion" or out_kind == "motion":
        if kind != "motion" or out_kind != "motion":
            raise UsageError("a motion track edits into a motion track", "give both INPUT and -o as .motion.safetensors")
        track = load_track(input, engine)
        edited = _edit_track(engine, track, schedule)
        with contextlib.ExitStack() as outputs:
            write_track(edited, out, outputs)
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

        result.weights = weight_revisions(engine.weight_sets_used())
        write_image(out, frame, metadata=provenance("edit", engine.name, weights=result.weights))
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
    first = next(frames, None)  # loads the backend's weights: provenance names what was loaded
    result.weights = weight_revisions(engine.weight_sets_used())
    audio_from = Path(input) if source.kind == "video" else None
    from thead.io.audio import has_audio
    from thead.io.video import VideoWriter

    with naming(input), VideoWriter(out, fps, audio_from=audio_from if audio_from and has_audio(audio_from) else None,
                                    metadata=provenance("edit", engine.name, weights=result.weights)) as writer:
        rendered = frames if first is None else itertools.chain([first], frames)
        for frame in reporter.progress(rendered, total, "rendering edit"):
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
