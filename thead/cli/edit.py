"""``thead edit``: change pose, eyes, gaze, mouth and expression of an image, a video or a motion track."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from thead.backends import DEFAULT_BACKEND
from thead.cli._options import BackendName, Device, Force, Json, Quiet, parse_expressions
from thead.cli._output import Reporter
from thead.errors import UsageError


def _pair(text: Optional[str]) -> Optional[tuple[float, float]]:
    if text is None:
        return None
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise UsageError(f"--gaze expects X,Y, got '{text}'", "e.g. --gaze 0.3,-0.1") from exc
    return x, y


def edit(
    input: Annotated[Path, typer.Argument(help="Image, video or motion track to edit.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image, .mp4 or motion track.")],
    yaw: Annotated[Optional[float], typer.Option(help="Add to head yaw, degrees (> 0 turns to the image's left).")] = None,
    pitch: Annotated[Optional[float], typer.Option(help="Add to head pitch, degrees (> 0 looks up).")] = None,
    roll: Annotated[Optional[float], typer.Option(help="Add to head roll, degrees (> 0 clockwise).")] = None,
    smile: Annotated[Optional[float], typer.Option(help="Smile strength, -1 (frown) .. 1.")] = None,
    eyes: Annotated[Optional[float], typer.Option(help="Eye openness ratio: 0 closed, ~0.3 open.")] = None,
    mouth: Annotated[Optional[float], typer.Option(help="Mouth openness ratio: 0 closed, ~0.6 wide open.")] = None,
    lips_closed: Annotated[bool, typer.Option("--lips-closed", help="Keep the mouth closed on every frame "
                                              "(silence a video's lips), everything else kept.")] = False,
    gaze: Annotated[Optional[str], typer.Option(help="Gaze X,Y in half eye widths, e.g. 0.3,0.")] = None,
    expression: Annotated[list[str], typer.Option("--expression", help="Expression preset NAME:STRENGTH (0..1): "
                                                  "neutral, happy, sad, surprised, angry, disgusted; smile:-1..1; "
                                                  "wink (liveportrait).")] = [],
    blink: Annotated[list[float], typer.Option("--blink", help="Add a blink at this time (s); repeatable.")] = [],
    start: Annotated[Optional[float], typer.Option("--from", help="Edit only from this time (s).")] = None,
    end: Annotated[Optional[float], typer.Option("--to", help="Edit only until this time (s).")] = None,
    keyframes: Annotated[Optional[Path], typer.Option(help="JSON keyframes: [{\"t\": 0, \"yaw\": 0}, {\"t\": 1.5, "
                                                      "\"yaw\": 15, \"eyes\": 0.1, \"ease\": \"in-out\"}, ...]; "
                                                      "see the README for the schema.")] = None,
    motion: Annotated[Optional[Path], typer.Option(help="Base motion track to edit and render onto INPUT.")] = None,
    duration: Annotated[Optional[float], typer.Option(help="Seconds of video from an image input.")] = None,
    fps: Annotated[float, typer.Option(help="Frame rate of video from an image input.")] = 25.0,
    backend: BackendName = DEFAULT_BACKEND,
    device: Device = "auto",
    option: Annotated[list[str], typer.Option("--option", "-O", help="Backend option KEY=VALUE (repeatable), e.g. "
                                              "stitching=false for liveportrait.")] = [],
    face_index: Annotated[int, typer.Option("--face-index", min=0, help="Which face, 0 = largest.")] = 0,
    paste_back: Annotated[bool, typer.Option("--paste-back/--crop-only", help="Full frame, or the face crop.")] = True,
    force: Force = False,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Edit head pose, eyes, gaze, mouth and expression; constant, over a time range, or keyframed.

    Angles are added to the input's pose; --eyes, --mouth and --gaze are targets. Requests beyond
    what the backend renders well (warp: |yaw| 25°, |pitch| 20°, |roll| 30°, mouth 0.7, eyes 0.4)
    are clamped with a warning. --blink, --from/--to and --keyframes need a video output.

    \b
    Examples:
      thead edit portrait.jpg --yaw 15 --eyes 0.1 --smile 0.5 -o out.png
      thead edit portrait.jpg --expression surprised:0.8 -o surprised.png
      thead edit talk.mp4 --lips-closed -o silent.mp4
      thead edit talk.mp4 --yaw 15 --from 2 --to 4 -o turned.mp4
      thead edit portrait.jpg --blink 0.5 --blink 2 --duration 3 -o blinks.mp4
      thead edit portrait.jpg --keyframes keys.json -o moves.mp4
      thead edit take.motion.safetensors --mouth 0 -o closed.motion.safetensors
    """
    from thead.backends import get_backend_class, parse_options
    from thead.motion.frame_edit import FrameEdit
    from thead.motion.keyframes import load_keyframes
    from thead.pipelines.edit import EditSchedule
    from thead.pipelines.edit import edit as run

    frame_edit = FrameEdit(yaw=yaw, pitch=pitch, roll=roll, eyes=eyes, mouth=mouth, gaze=_pair(gaze), smile=smile,
                           expressions=parse_expressions(expression))
    has_edit = frame_edit != FrameEdit()
    if not (has_edit or blink or keyframes or lips_closed):
        raise UsageError("nothing to edit", "give at least one of --yaw, --pitch, --roll, --smile, --eyes, --mouth, --gaze, "
                         "--expression, --lips-closed, --blink or --keyframes")
    space = get_backend_class(backend).space
    schedule = EditSchedule(
        edit=frame_edit if has_edit else None, start=start, end=end, blinks=tuple(blink), lips_closed=lips_closed,
        keyframes=load_keyframes(keyframes, space) if keyframes else (),
    )
    reporter = Reporter(quiet=quiet, json_mode=json_output)
    result = run(input, output, schedule, backend=backend, device=device, backend_options=parse_options(backend, option),
                 motion=motion, duration=duration, fps=fps,
                 face_index=face_index, paste_back=paste_back, force=force, reporter=reporter)
    reporter.result(result.to_dict(), f"{result.output}  ({result.frames} frame{'s' if result.frames != 1 else ''})")
