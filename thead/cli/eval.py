"""``thead eval``: the survey's metrics with their protocols, as a table, JSON, CSV or an HTML report."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from thead.cli._options import Device, Force, Json, Quiet
from thead.cli._output import Reporter

if TYPE_CHECKING:
    from thead.pipelines.eval import EvalResult

EXAMPLES = """
Examples:

  thead eval out.mp4 --ref real.mp4 --json

  thead eval out.mp4 --source portrait.jpg --audio speech.wav --metrics lmd,cpbd,sync

  thead eval results/ --ref-dir clips/ --csv table.csv --report report.html

  thead eval out.mp4 --ref real.mp4 --metrics lpips,fid --weights-dir ./weights

  thead eval reenacted/ --ref-dir clips/ --metrics ssim,psnr,ssim-mouth,ssim-face,lmd,akd,sharpness

Metrics: ssim psnr lpips fid is cpbd lmd akd csim sync lipsync blink headpose jitter ssim-mouth ssim-face sharpness; 'all' (default) runs each one whose inputs are given.

ssim-mouth and ssim-face are SSIM inside the reference's mouth and face boxes; sharpness compares the face-box Laplacian variance of the generated frames with the reference's (extra "sharpness ratio": 1 = as sharp; headline |log2 ratio|). Self-reenactment (frame 0 of a real clip driven by the clip, compared with it): see the README.

Protocol variants, by name only: ssim-gray ssim-downsample ssim-skimage-legacy lmd-dlib akd-dlib.

lpips, fid, is, sync and csim load what `thead fetch-weights NAME` installed, or the canonical files in --weights-dir; without them they are skipped with a note.

A reference video is resampled to the generated timeline by nearest time; durations differing by over 10 % are refused.
"""


def eval_command(
    generated: Annotated[Path, typer.Argument(help="Generated video or image, or a folder of them.", show_default=False)],
    ref: Annotated[Optional[Path], typer.Option("--ref", help="Reference (ground-truth) video or image.")] = None,
    source: Annotated[Optional[Path], typer.Option("--source", help="Source portrait, for identity (CSIM).")] = None,
    audio: Annotated[Optional[Path], typer.Option("--audio", help="Audio to check sync against (default: the "
                                                  "generated video's own sound).")] = None,
    metrics: Annotated[str, typer.Option("--metrics", help="Comma-separated metric names, or 'all'.")] = "all",
    ref_dir: Annotated[Optional[Path], typer.Option("--ref-dir", help="Folder of references matched by file name.")] = None,
    manifest: Annotated[Optional[Path], typer.Option("--manifest", help="CSV or JSON lines with generated, ref, "
                                                     "source, audio columns.")] = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Also write the table as CSV.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report.")] = None,
    weights_dir: Annotated[Optional[Path], typer.Option("--weights-dir", envvar="THEAD_METRIC_WEIGHTS",
                                                        help="Folder with the canonical weight files (instead of "
                                                        "fetch-weights).")] = None,
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", min=1, help="Evaluate only the first N frames.")] = None,
    device: Device = "auto",
    json_output: Json = False,
    quiet: Quiet = False,
    force: Force = False,
) -> None:
    """Measure generated talking-head videos: SSIM, PSNR, LPIPS, FID, IS, CPBD, LMD, AKD, CSIM, LSE-D/C and more."""
    reporter = Reporter(quiet=quiet, json_mode=json_output)
    from thead.pipelines.eval import eval as run_eval  # metrics load torch: only when a command runs

    result = run_eval(generated, ref=ref, source=source, audio=audio, metrics=metrics, ref_dir=ref_dir,
                      manifest=manifest, csv=csv_path, report=report, weights_dir=weights_dir, max_frames=max_frames,
                      device=device, force=force, reporter=reporter)
    if json_output:
        reporter.result(result.payload())
    elif not quiet:
        _print_table(result)
    result.raise_for_failures()


def _print_table(result: EvalResult) -> None:
    """The result table on stdout (one column per number; metrics down the side for a single item),
    then each metric's protocol, the notes and the failed rows' errors."""
    from thead.metrics.runner import cell, column_title, columns

    cols = columns(result.metrics)
    by_name = {m.name: m for m in result.metrics}
    mean = result.mean
    shown = result.rows + ([mean] if mean else [])
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True,
                      width=None if sys.stdout.isatty() else max(100, 14 * (len(cols) + 2)))
    table = Table()
    if len(shown) == 1:
        table.add_column("metric")
        table.add_column(Text(shown[0].name), justify="right")
        for name, key, better in cols:
            table.add_row(column_title(by_name[name], key, better), _fmt(cell(shown[0], name, key)))
    else:
        table.add_column("video")
        for name, key, better in cols:
            table.add_column(column_title(by_name[name], key, better), justify="right")
        for row in shown:
            table.add_row(Text(row.name), *(_fmt(cell(row, n, k)) for n, k, _ in cols), style="bold" if row is mean else None)
    console.print(table)
    for name, protocol in result.protocols.items():
        console.print(f"protocol {name}: " + "; ".join(f"{k}={v}" for k, v in protocol.items()), markup=False)
    for row in shown:
        for note in row.notes + [f"{n}: {t}" for n, r in row.results.items() for t in r.notes]:
            console.print(f"note ({row.name}): {note}", markup=False)
        if row.error:
            console.print(f"failed ({row.name}): {row.error}", markup=False)


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return "inf" if math.isinf(value) else f"{value:.4f}"


eval_command.__doc__ = (eval_command.__doc__ or "") + "\n" + EXAMPLES
