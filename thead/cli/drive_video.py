"""``thead drive-video``: animate a portrait with the motion of a driving video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from thead.cli._options import Device, Force, Json, Quiet
from thead.cli._output import Reporter

def drive_video(
    source: Annotated[Path, typer.Argument(help="Portrait image, or a video (video-to-video).", show_default=False)],
    driving: Annotated[Path, typer.Argument(help="Driving video, image, or motion track (.motion.safetensors/.npz).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .mp4 (or .png for a still).")],
    backend: Annotated[str, typer.Option("--backend", help="Renderer: warp (embedded) or liveportrait.")] = "warp",
    device: Device = "auto",
    option: Annotated[list[str], typer.Option("--option", "-O", help="Backend option KEY=VALUE (repeatable), e.g. "
                                              "stitching=false for liveportrait.")] = [],
    relative: Annotated[bool, typer.Option("--relative/--absolute", help="Motion relative to the first driving frame.")] = True,
    region: Annotated[str, typer.Option("--region", help="What moves: all, pose, exp, eyes or lips.")] = "all",
    paste_back: Annotated[bool, typer.Option("--paste-back/--crop-only", help="Full frame, or the face crop only.")] = True,
    keep_audio: Annotated[bool, typer.Option("--keep-audio/--no-audio", help="Mux the driving video's audio.")] = True,
    smooth: Annotated[float, typer.Option("--smooth", min=0.0, max=1.0, help="Temporal smoothing strength 0..1.")] = 0.5,
    face_index: Annotated[int, typer.Option("--face-index", min=0, help="Which face, 0 = largest.")] = 0,
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
      thead drive-video source.mp4 driving.mp4 -o v2v.mp4 --crop-only --json
    """
    from thead.backends import parse_options
    from thead.pipelines.drive_video import drive_video as run

    reporter = Reporter(quiet=quiet, json_mode=json_output)
    result = run(
        source, driving, output, backend=backend, device=device, backend_options=parse_options(backend, option),
        relative=relative, region=region,
        paste_back=paste_back, keep_audio=keep_audio, smooth=smooth, face_index=face_index,
        motion_out=motion_out, max_frames=max_frames, force=force, reporter=reporter,
    )
    total = sum(result.timings.values())
    frames = f"{result.frames} frame" + ("s" if result.frames != 1 else "")
    reporter.result(result.to_dict(), f"{result.output}  ({frames}, {result.fps:g} fps, {total:.1f} s)")
