"""drive-audio: speech (a file, or text through TTS) -> articulation -> motion -> render, with the sound muxed.

An image source is animated whole (mouth from the speech; blinks, head motion, brows and
saccades synthesised around it). A video source is *dubbed*: its own head motion, blinks and
everything but the lips are kept, and the lips follow the new speech. The output lasts exactly as
long as the speech; a shorter source video is extended by ``loop`` (``pingpong`` or ``hold``).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from thead import __version__
from thead.backends import DEFAULT_BACKEND, DriveOptions, resolve_backend
from thead.backends.base import Backend
from thead.errors import BadInputError, UsageError
from thead.io.atomic import atomic_path, check_output_path, temporary_path
from thead.io.formats import output_kind
from thead.motion.track import MotionTrack
from thead.pipelines.media import naming, open_source, prepared_frames, write_track
from thead.pipelines.provenance import provenance, weight_revisions
from thead.pipelines.result import RenderResult, timed
from thead.report import Notes, Silent

SAMPLE_RATE = 16_000
LOOPS = ("pingpong", "hold")
GUIDANCE = 2.8  # classifier-free guidance of a backend's own audio model: JoyVASA's command-line default
STEPS = 50  # denoising steps JoyVASA was trained with
POSES = ("natural", "still")
REST_SECONDS = 2.0  # a dubbed video's rest lip shape: its most closed mouth in the first seconds


def drive_audio(
    source: str | os.PathLike,
    audio: str | os.PathLike | None,
    output: str | os.PathLike,
    *,
    text: str | None = None,
    voice: str | None = None,
    rate: float = 1.0,
    speech_out: str | os.PathLike | None = None,
    language: str = "en",
    backend: str | Backend = DEFAULT_BACKEND,
    device: str = "auto",
    backend_options: dict[str, Any] | None = None,
    pose: str = "natural",
    blink_rate: float = 17.0,
    expressions: tuple[tuple[str, float], ...] = (),
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    fps: float = 25.0,
    loop: str = "pingpong",
    source_face: int = 0,
    paste_back: bool = True,
    motion_out: str | os.PathLike | None = None,
    force: bool = False,
    reporter: Notes | None = None,
) -> RenderResult:
    """Make ``source`` (portrait image, or a video to dub) speak ``audio`` (or ``text``) into ``output``.

    A backend with its own audio-to-motion model (``joyvasa``) generates the motion from the speech
    itself, sampled with ``guidance`` (default 2.8) and ``steps`` (default 50); other backends are
    driven by thead's speech analysis and refuse those two options.
    """
    reporter = reporter or Silent()
    if (audio is None) == (text is None):
        raise UsageError("give either an AUDIO file or --text, not both" if audio is not None else
                         "nothing to say: give an AUDIO file or --text", "e.g. thead drive-audio face.jpg speech.wav -o talk.mp4")
    if text is not None and not text.strip():
        raise UsageError("--text is empty", 'give the words to say, e.g. --text "Hello there."')
    if loop not in LOOPS:
        raise UsageError(f"--loop {loop}: unknown", f"choose one of: {', '.join(LOOPS)}")
    pose_video = _pose_video(pose)
    if not 0 <= blink_rate <= 60:
        raise UsageError(f"--blink-rate {blink_rate:g} is out of range", "give blinks per minute in 0..60 (people: 15-20)")
    output_kind(output, ("video",))
    inputs = [source, audio] + ([pose_video] if pose_video is not None else [])
    out = check_output_path(output, inputs, force)
    for extra, kind in ((motion_out, "motion"), (speech_out, "audio")):
        if extra is not None:
            if kind == "motion":
                output_kind(extra, ("motion",))
            elif Path(extra).suffix.lower() != ".wav":
                raise UsageError(f"--speech-out {extra}: unsupported format", "use a .wav name")
            check_output_path(extra, inputs + [out], force)

    timings: dict[str, float] = {}
    timer = functools.partial(timed, timings)
    src = open_source(source)
    if pose_video is not None and src.kind != "image":
        raise UsageError("--pose from:VIDEO is for a portrait image", "a dubbed video keeps its own head motion: drop --pose")
    with contextlib.ExitStack() as outputs:
        with timer("speech"):
            samples, sound, speech = _speech(audio, text, voice, rate, speech_out, out.parent, outputs, reporter)
        phones, spoken = (speech.phones, speech.language) if speech is not None else (None, None)
        video_fps = src.fps if src.kind == "video" else fps
        with timer("audio analysis"):
            from thead.audio.articulation import analyze_speech

            articulation = analyze_speech(samples, SAMPLE_RATE, video_fps, phones=phones, language=spoken or language)
        total = len(articulation)
        if total == 0:
            raise BadInputError(f"{audio or 'the synthesized speech'} is shorter than one frame", "give longer audio")
        engine = resolve_backend(backend, device, backend_options)
        generation = _generation(engine, src.kind, pose_video, guidance, steps)
        result = RenderResult(str(out), 0, video_fps, engine.name, str(engine.device), audio=True, timings=timings)
        if float(np.max(articulation.speech, initial=0.0)) < 0.5:
            result.warn(reporter, f"no speech found in {audio or 'the synthesized speech'}: the face stays silent "
                                    "(blinks and head motion only)")
        options = DriveOptions(relative=True, paste_back=paste_back, face_index=source_face)
        with timer("source"), naming(source):
            if src.kind == "image":
                moves = None if pose_video is None else _video_pose(engine, pose_video, video_fps, total, loop,
                                                                   reporter, result)
                if generation is not None:
                    frames, track = _generate_image(engine, src, samples, articulation, options, pose, blink_rate,
                                                    seed, expressions, generation, reporter)
                else:
                    frames, track = _animate_image(engine, src, articulation, options, pose, blink_rate, seed,
                                                   expressions, moves)
            else:
                frames, track = _dub_video(engine, src, articulation, options, loop, reporter, result)
            first = next(frames)  # analyses the source (and loads weights) before any output exists
        result.weights = weight_revisions(engine.weight_sets_used())
        if motion_out is not None:
            result.motion = str(motion_out)
        tags = provenance("drive-audio", engine.name, seed=seed, weights=result.weights)
        if speech is not None:
            tags["thead_voice"] = f"{speech.engine}:{speech.voice}"
        from thead.io.video import VideoWriter

        writer = VideoWriter(out, video_fps, audio_from=sound, metadata=tags, frame_count=total)
        with timer("render+encode"), naming(source), writer:
            for frame in reporter.progress(itertools.chain([first], frames), total, "rendering speech"):
                writer.write(frame)
            if motion_out is not None:
                motion = track()
                motion.metadata.update({"thead_version": __version__, "backend": engine.name, "speech": str(audio or "text")})
                write_track(motion, motion_out, outputs)
        result.frames = writer.frames_written
    return result


def _speech(audio, text, voice, rate, speech_out, folder: Path, outputs: contextlib.ExitStack, reporter: Notes):
    """Mono samples at 16 kHz, the file whose sound is muxed, and the synthesised Speech (None for recordings)."""
    from thead.io.audio import has_audio, read_audio

    if audio is not None:
        with naming(audio):
            if not has_audio(audio):
                raise BadInputError(f"{audio} has no audio stream", "give a file with sound (wav, mp3, m4a, or a video with sound)")
            return read_audio(audio, SAMPLE_RATE), Path(audio), None
    from thead.audio.tts import synthesize

    speech = synthesize(text, voice=voice, rate=rate, notes=reporter)
    sound = outputs.enter_context(atomic_path(speech_out)) if speech_out is not None else \
        outputs.enter_context(temporary_path(folder, ".wav"))
    _write_wav(sound, speech.samples, speech.sample_rate)
    return _resample(speech.samples, speech.sample_rate), sound, speech


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    import wave

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())


def _resample(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == SAMPLE_RATE:
        return samples.astype(np.float32)
    import librosa

    return librosa.resample(samples.astype(np.float32), orig_sr=sample_rate, target_sr=SAMPLE_RATE).astype(np.float32)


def _pose_video(pose: str) -> Path | None:
    """The driving video of ``--pose from:VIDEO`` (None for the synthesised poses); checks the value."""
    if pose in POSES:
        return None
    if not pose.startswith("from:") or not pose[5:].strip():
        raise UsageError(f"--pose {pose}: unknown", f"choose one of: {', '.join(POSES)}, or from:VIDEO")
    video = Path(pose[5:])
    if not video.is_file():
        raise BadInputError(f"--pose {pose}: no such video", "give the path of a video with a face, e.g. from:talk.mp4")
    return video


def _video_pose(engine: Backend, video: Path, fps: float, total: int, loop: str, reporter: Notes,
                result: RenderResult) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Head angle offsets [total, 3] (degrees, from the video's first frame), eye closure [total] and torso shift
    [total, 2] (None when the backend's space has no ``body``) of a driving video, sampled at ``fps`` and extended
    to ``total`` frames by ``loop``."""
    from thead.io.video import open_video

    with naming(video):
        reader = open_video(video)

        def warn_missing(missing: int, count: int) -> None:
            result.warn(reporter, f"no face in {missing} of {count} frames of {video}; held and interpolated the pose")

        needed = min(reader.frame_count, math.ceil(total * reader.fps / fps) + 1)  # a long video: only what is used
        frames = reporter.progress(itertools.islice(iter(reader), needed), needed, "tracking the pose video")
        track = engine.extract_motion(frames, fps=reader.fps, on_missing=warn_missing)
    angles = np.stack([track[name] for name in ("yaw", "pitch", "roll")], axis=1).astype(np.float64)
    eyes = np.asarray(track["eye_open"], np.float64).reshape(len(track), -1).mean(axis=1)
    closure = np.clip(1.0 - eyes / max(float(np.percentile(eyes, 90)), 1e-3), 0.0, 1.0)
    at = np.minimum(np.round(np.arange(len(track) * fps / track.fps) * track.fps / fps).astype(int), len(track) - 1)
    if at.size < total:
        result.warn(reporter, f"pose video {video} is shorter than the speech; extended by --loop {loop}")
    order = at[_loop_order(at.size, total, loop)]
    body = track.channels.get("body")
    return angles[order] - angles[0], closure[order], None if body is None else body[order] - body[0]


def _generation(engine: Backend, kind: str, pose_video: Path | None, guidance: float | None,
                steps: int | None) -> dict[str, float] | None:
    """``guidance`` and ``steps`` for a backend that generates motion from speech itself, else None."""
    if not engine.generates_speech_motion:
        if guidance is not None or steps is not None:
            raise UsageError(f"--guidance and --steps are for backends with their own audio model, not '{engine.name}'",
                             "use --backend joyvasa, or drop them")
        return None
    if kind != "image":
        raise UsageError(f"backend '{engine.name}' animates portrait images; it cannot dub a video",
                         "dub videos with --backend warp (or liveportrait)")
    if pose_video is not None:
        raise UsageError(f"--pose from:VIDEO is not available with backend '{engine.name}'",
                         "use --pose natural or still")
    guidance = GUIDANCE if guidance is None else guidance
    steps = STEPS if steps is None else steps
    if not (np.isfinite(guidance) and 0 <= guidance <= 20):
        raise UsageError(f"--guidance {guidance:g} is out of range", "give a scale in 0..20 (official defaults: 2.0-4.0)")
    if not 1 <= steps <= STEPS:
        raise UsageError(f"--steps {steps} is out of range", f"give 1..{STEPS} denoising steps")
    return {"guidance": float(guidance), "steps": int(steps)}


def _generate_image(engine: Backend, src, samples: np.ndarray, articulation, options: DriveOptions, pose: str,
                    blink_rate: float, seed: int, expressions, generation: dict[str, float],
                    reporter: Notes) -> tuple[Iterator[np.ndarray], Any]:
    """Frames of a portrait speaking with motion from the backend's own audio model (JoyVASA)."""
    prepared = engine.prepare_source(next(src.frames()), options.face_index)  # NoFaceError before any output
    base = engine.source_motion(prepared)
    track = engine.speech_motion(samples, SAMPLE_RATE, articulation.fps, base, guidance=generation["guidance"],
                                 steps=int(generation["steps"]), seed=seed, pose=pose, blink_rate=blink_rate,
                                 articulation=articulation, reporter=reporter)
    if expressions:
        from thead.motion.frame_edit import FrameEdit

        bias = FrameEdit(expressions=tuple(expressions))
        edited = [engine.apply_edit(track.frame(index), bias) for index in range(len(track))]
        track.channels.update({name: np.stack([f[name] for f in edited]).astype(np.float32) for name in track.channels})
    frames = (engine.render(prepared, track.frame(index), base, options) for index in range(len(track)))
    return frames, lambda: track


def _animate_image(engine: Backend, src, articulation, options: DriveOptions, pose: str, blink_rate: float, seed: int,
                   expressions, moves: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
                   ) -> tuple[Iterator[np.ndarray], Any]:
    """Frames of a portrait speaking, and a callable giving the motion track used.

    ``moves`` (head angle offsets, eye closure and torso shift per frame) from a pose video replace the
    synthesised head and blinks, and sway the torso.
    """
    from thead.motion.talking import speech_motion

    prepared = engine.prepare_source(next(src.frames()), options.face_index)  # NoFaceError before any output
    base = engine.source_motion(prepared)
    head, blinks, body = moves if moves is not None else (None, None, None)
    track = speech_motion(articulation, base, engine.space, pose="natural" if moves is not None else pose,
                          blink_rate=blink_rate, seed=seed, expressions=expressions, head=head, blinks=blinks,
                          body=body)
    frames = (engine.render(prepared, track.frame(index), base, options) for index in range(len(track)))
    return frames, lambda: track


def _dub_video(engine: Backend, src, articulation, options: DriveOptions, loop: str, reporter: Notes,
               result: RenderResult) -> tuple[Iterator[np.ndarray], Any]:
    """Frames of the source video with its lips replaced, and a callable giving the motion track used."""
    from thead.motion.talking import mouth_edit

    total = len(articulation)
    if src.frame_count < total:
        result.warn(reporter, f"source {src.path} ({src.frame_count} frames) is shorter than the speech ({total}); "
                                f"extended by --loop {loop}")
    driven: list[dict[str, np.ndarray]] = []

    def frames() -> Iterator[np.ndarray]:
        sources = iter(_looped(lambda: prepared_frames(engine, src, options.face_index), src.frame_count, total, loop))
        head = list(itertools.islice(sources, max(1, round(REST_SECONDS * src.fps))))
        rest = min((engine.source_motion(prepared) for _, prepared, _ in head), key=lambda m: float(m["mouth_open"]))
        for index, (_, prepared, _) in enumerate(itertools.chain(head, sources)):
            base = engine.source_motion(prepared)  # the video's own head, eyes and brows; its lips are replaced
            frame = mouth_edit(base, engine.space, float(articulation.jaw[index]), float(articulation.spread[index]),
                               float(articulation.closure[index]), float(articulation.teeth[index]), rest=rest)
            driven.append(frame)
            yield engine.render(prepared, frame, base, options)

    def track() -> MotionTrack:
        channels = {name: np.stack([f[name] for f in driven]).astype(np.float32) for name in driven[0]}
        return MotionTrack(src.fps, engine.space, channels)

    return frames(), track


def _looped(open_frames, count: int, total: int, loop: str) -> Iterator[Any]:
    """``total`` items from a sequence of ``count`` re-openable items: forwards, then ping-pong or hold."""
    if count >= total:
        yield from itertools.islice(open_frames(), total)
        return
    items = list(open_frames())  # a source shorter than the speech: held in memory to play it back and forth
    order = _loop_order(len(items), total, loop)
    for index in order:
        yield items[index]


def _loop_order(count: int, total: int, loop: str) -> list[int]:
    """Source frame indices for ``total`` output frames: 0..n-1, then back and forth (pingpong) or the last held."""
    if loop == "hold":
        return [min(i, count - 1) for i in range(total)]
    period = max(2 * count - 2, 1)
    return [i % period if i % period < count else period - i % period for i in range(total)]


