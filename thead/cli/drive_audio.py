"""``thead drive-audio``: make a portrait speak, or dub a video's lips, from speech or text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from thead.backends import DEFAULT_BACKEND
from thead.cli._options import BackendName, Device, Force, Json, Quiet, parse_expressions
from thead.cli._output import Reporter, render_summary


def drive_audio(
    source: Annotated[Path, typer.Argument(help="Portrait image, or a video to dub.", show_default=False)],
    audio: Annotated[Optional[Path], typer.Argument(help="Speech: any file with sound (wav, mp3, m4a, a video).",
                                                    show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .mp4 (the speech is muxed in).")] = ...,
    text: Annotated[Optional[str], typer.Option("--text", help="Say this text (speech synthesised) instead of AUDIO.")] = None,
    voice: Annotated[Optional[str], typer.Option(
        "--voice", show_default=False,
        help="TTS voice for --text: a piper voice (en_US-lessac-medium, de_DE-thorsten-medium ...; see fetch-weights "
             "--list) or an espeak-ng voice (en-us, fr, zh); force one with piper:NAME or espeak:NAME. Default: piper "
             "en_US-lessac-medium when installed, else espeak-ng en-us.")] = None,
    rate: Annotated[float, typer.Option("--rate", help="TTS speaking rate for --text, 0.5..2 (2 = twice as fast; "
                                        "piper: its length scale divided by the rate).")] = 1.0,
    speech_out: Annotated[Optional[Path], typer.Option(
        "--speech-out", help="Also keep the synthesised speech (.wav, at the voice's own sample rate).")] = None,
    language: Annotated[str, typer.Option("--language", help="Language of the speech: en (phone recognition) or "
                                          "any other code (acoustic mouth model).")] = "en",
    pose: Annotated[str, typer.Option("--pose", help="Head motion: natural, still, or from:VIDEO (head and blinks of a video, looped).")] = "natural",
    blink_rate: Annotated[float, typer.Option("--blink-rate", help="Blinks per minute.")] = 17.0,
    expression: Annotated[list[str], typer.Option("--expression", help="Bias the face: NAME:STRENGTH (edit presets).")] = [],
    seed: Annotated[int, typer.Option("--seed", help="Seed of blinks, head motion and saccades (and of a "
                                      "generative backend's noise).")] = 0,
    guidance: Annotated[Optional[float], typer.Option("--guidance", help="Classifier-free guidance of a backend's own "
                                                      "audio model (joyvasa; default 2.8).", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Denoising steps of a backend's own audio model "
                                                 "(joyvasa: 1..50, default 50).", show_default=False)] = None,
    fps: Annotated[float, typer.Option("--fps", min=1.0, max=120.0, help="Frame rate for an image source.")] = 25.0,
    loop: Annotated[str, typer.Option("--loop", help="A source video shorter than the speech: pingpong or hold.")] = "pingpong",
    backend: BackendName = DEFAULT_BACKEND,
    device: Device = "auto",
    option: Annotated[list[str], typer.Option("--option", "-O", help="Backend option KEY=VALUE (repeatable).")] = [],
    source_face: Annotated[int, typer.Option("--source-face", min=0, help="Which face of SOURCE, 0 = largest.")] = 0,
    paste_back: Annotated[bool, typer.Option("--paste-back/--crop-only", help="Full frame, or the face crop.")] = True,
    motion_out: Annotated[Optional[Path], typer.Option("--motion-out", help="Also write the motion track.")] = None,
    force: Force = False,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Make SOURCE speak AUDIO (or --text): mouth in sync, with blinks and head motion; a video SOURCE is dubbed.

    \b
    Examples:
      thead drive-audio portrait.jpg speech.mp3 -o talk.mp4
      thead drive-audio portrait.jpg --text "Welcome to the evening news." -o news.mp4
      thead drive-audio portrait.jpg --text "Guten Abend." --voice de_DE-thorsten-medium --speech-out de.wav -o de.mp4
      thead drive-audio interview.mp4 dubbed_french.wav --language fr -o dubbed.mp4
      thead drive-audio portrait.jpg speech.wav --motion-out talk.motion.safetensors -o talk.mp4
      thead drive-audio portrait.jpg speech.wav --pose from:interview.mp4 -o talk.mp4
      thead drive-audio portrait.jpg speech.wav --backend joyvasa --guidance 2.8 -o talk.mp4
    """
    from thead.backends import parse_options
    from thead.pipelines.drive_audio import drive_audio as run

    reporter = Reporter(quiet=quiet, json_mode=json_output)
    result = run(
        source, audio, output, text=text, voice=voice, rate=rate, speech_out=speech_out, language=language,
        backend=backend, device=device, backend_options=parse_options(backend, option), pose=pose,
        blink_rate=blink_rate, expressions=parse_expressions(expression), seed=seed, guidance=guidance,
        steps=steps, fps=fps, loop=loop,
        source_face=source_face, paste_back=paste_back, motion_out=motion_out, force=force, reporter=reporter,
    )
    reporter.result(result.to_dict(), render_summary(result))
