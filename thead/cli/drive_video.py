"""``thead drive-video``: animate a portrait with the motion of a driving video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from thead.backends import DEFAULT_BACKEND
from thead.cli._options import BackendName, Device, Force, Json, Quiet
from thead.cli._output import Reporter, render_summary
from thead.errors import UsageError


def drive_video(
    source: Annotated[Path, typer.Argument(help="Portrait image, or a video (video-to-video).", show_default=False)],
    driving: Annotated[Path, typer.Argument(help="Driving video, image, or motion track (.motion.safetensors/.npz).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .mp4 (or .png for a still).")],
    backend: BackendName = DEFAULT_BACKEND,
    device: Device = "auto",
    option: Annotated[list[str], typer.Option("--option", "-O", help="Backend option KEY=VALUE (repeatable), e.g. "
                                              "stitching=false for liveportrait.")] = [],
    relative: Annotated[bool, typer.Option("--relative/--absolute", help="Motion relative to the first driving frame.")] = True,
    region: Annotated[str, typer.Option("--region", help="What moves: all, pose, exp, eyes or lips.")] = "all",
    paste_back: Annotated[bool, typer.Option("--paste-back/--crop-only", help="Full frame, or the face crop only.")] = True,
    audio: Annotated[str, typer.Option("--audio", help="Sound of the output: driving, source, none, or a file "
                                       "with sound.")] = "driving",
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Same as --audio none.")] = False,
    smooth: Annotated[float, typer.Option("--smooth", min=0.0, max=1.0, help="Temporal smoothing strength 0..1.")] = 0.5,
    source_face: Annotated[int, typer.Option("--source-face", min=0, help="Which face of SOURCE, 0 = largest.")] = 0,
    driving_face: Annotated[int, typer.Option("--driving-face", min=0, help="Which face of DRIVING, 0 = largest.")] = 0,
    motion_out: Annotated[Optional[Path], typer.Option("--motion-out", help="Also write the driving motion track.")] = None,
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", min=1, help="Only the first N driving frames.")] = None,
    force: Force = False,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Animate SOURCE with the head motion, expressions, blinks and mouth of DRIVING.

    \b
    Examples:
      thead drive-video portrait.jpg driving.mp4 -o out.mp4
      thead drive-video portrait.jpg driving.mp4 -o out.mp4 --motion-out driving.motion.safetensors
      thead drive-video portrait.jpg driving.motion.safetensors -o lips.mp4 --region lips --no-audio
      thead drive-video source.mp4 driving.mp4 -o v2v.mp4 --crop-only --audio source --json

    The output follows DRIVING's timeline (frame rate and duration); a source video is sampled at
    the same times and its last frame held if it is shorter.
    """
    from thead.backends import parse_options
    from thead.pipelines.drive_video import drive_video as run

    if no_audio and audio != "driving":
        raise UsageError("--no-audio and --audio both given", "keep one: --audio none is the same as --no-audio")
    reporter = Reporter(quiet=quiet, json_mode=json_output)
    result = run(
        source, driving, output, backend=backend, device=device, backend_options=parse_options(backend, option),
        relative=relative, region=region,
        paste_back=paste_back, audio="none" if no_audio else audio, smooth=smooth, source_face=source_face,
        driving_face=driving_face,
        motion_out=motion_out, max_frames=max_frames, force=force, reporter=reporter,
    )
    reporter.result(result.to_dict(), render_summary(result))
