"""``thead generate``: portraits from a prompt, from attribute labels, or unconditionally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from thead.cli._options import Device, Force, Json, Quiet
from thead.cli._output import Reporter
from thead.generate import DEFAULT_GENERATOR, DEFAULT_TRIES, REGISTRY
from thead.generate.attributes import KEYS, help_table

_BACKENDS = ", ".join(f"{name} (default)" if name == DEFAULT_GENERATOR else name for name in REGISTRY.names())


def generate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .png or .jpg (numbered with --num).",
                                         show_default=False)],
    prompt: Annotated[Optional[str], typer.Argument(help="What to draw; omit for a generic portrait "
                                                    "(or with an unconditional backend).", show_default=False)] = None,
    attr: Annotated[list[str], typer.Option("--attr", "-a", help=f"Attribute KEY=VALUE (repeatable): "
                                            f"{', '.join(KEYS)}.")] = [],
    backend: Annotated[str, typer.Option("--backend", help=f"Generator: {_BACKENDS}.", show_default=False)]
    = DEFAULT_GENERATOR,
    device: Device = "auto",
    num: Annotated[int, typer.Option("--num", "-n", min=1, help="How many portraits.")] = 1,
    grid: Annotated[bool, typer.Option("--grid", help="With --num, one contact sheet instead of numbered files.")]
    = False,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="First seed (images take consecutive "
                                                "seeds); random when omitted.")] = None,
    size: Annotated[Optional[int], typer.Option("--size", help="Image side in pixels (multiple of 8); "
                                                "default: the backend's own (512 sd-turbo, 256 ldm-celebahq).")]
    = None,
    steps: Annotated[Optional[int], typer.Option("--steps", min=1, help="Denoising steps (sd-turbo 1-4, default 1; "
                                                 "ldm-celebahq default 50).")] = None,
    negative: Annotated[Optional[str], typer.Option("--negative", help="What to avoid (sd-turbo: turns on "
                                                    "guidance, twice the work).")] = None,
    no_face_check: Annotated[bool, typer.Option("--no-face-check", help="Keep every image, drivable face or not.")]
    = False,
    tries: Annotated[int, typer.Option("--tries", min=1, help="Seeds tried per image by the face check.")]
    = DEFAULT_TRIES,
    force: Force = False,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Generate portraits from PROMPT, from --attr labels, or unconditionally.

    \b
    Examples:
      thead generate "studio portrait of an elderly fisherman, soft light" -o fisherman.png
      thead generate --attr age=30 --attr gender=female --attr hair=red --attr expression=smile --num 4 -o women.png
      thead generate --backend ldm-celebahq --num 8 --seed 7 --grid -o faces.png
      thead generate "news anchor" --attr background=plain -o anchor.png && thead drive-video anchor.png d.mp4 -o a.mp4

    \b
    Attributes (--attr KEY=VALUE):
{attributes}

    Every image is checked to show exactly one well-sized, near-frontal face (so it can be driven
    right away); a failing seed is replaced by the next one, up to --tries times. Weights come from
    the thead cache only: run `thead fetch-weights sd-turbo` (or ldm-celebahq) first. Each PNG
    carries the prompt, attributes, seed, backend, weights revision and synthetic=true.
    """
    from thead.pipelines.generate import generate as run

    reporter = Reporter(quiet=quiet, json_mode=json_output)
    result = run(prompt, output, attributes=attr, backend=backend, device=device, num=num, grid=grid, seed=seed,
                 size=size, steps=steps, negative=negative, face_check=not no_face_check, tries=tries, force=force,
                 reporter=reporter)
    reporter.result(result.to_dict(), _summary(result))


def _summary(result) -> str:
    """``women-1.png women-2.png  (2 portraits, sd-turbo, seeds 7-8; generated in 3.1 s)``."""
    count = len(result.seeds)
    what = f"{count} portrait" + ("s" if count != 1 else "") + (" on a contact sheet" if result.grid else "")
    return f"{' '.join(result.outputs)}  ({what}, {result.backend}, seed{'s' if count != 1 else ''} " \
           f"{_seed_list(result.seeds)}; generated in {sum(result.timings.values()):.1f} s)"



generate.__doc__ = generate.__doc__.format(attributes=help_table(indent=" " * 6))

def _seed_list(seeds: list[int]) -> str:
    """``7-10`` for a run of consecutive seeds, else ``7,9,10``."""
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))
