"""``thead eval``: the survey's metrics with their protocols, as a table, JSON, CSV or an HTML report."""

from __future__ import annotations

import csv
import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from thead.cli._options import Device, Force, Json, Quiet
from thead.cli._output import Reporter, stderr
from thead.device import resolve_device
from thead.io.atomic import atomic_path, check_output_path
from thead.metrics import parse_metric_list
from thead.metrics.base import Metric
from thead.metrics.inputs import collect_items, load_sample
from thead.metrics.runner import Row, cell, column_title, columns, evaluate, mean_row, plan_metrics, row_payload

EXAMPLES = """
Examples:

  thead eval out.mp4 --ref real.mp4 --json

  thead eval out.mp4 --source portrait.jpg --audio speech.wav --metrics lmd,cpbd,sync

  thead eval results/ --ref-dir clips/ --csv table.csv --report report.html

  thead eval out.mp4 --ref real.mp4 --metrics lpips,fid --weights-dir ./weights

Metrics: ssim psnr lpips fid is cpbd lmd akd csim sync lipsync blink headpose jitter; 'all' (default) runs each one whose inputs are given.

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
    items = collect_items(generated, ref, ref_dir, source, audio, manifest)
    inputs = [p for item in items for p in (item.generated, item.reference, item.source, item.audio) if p]
    csv_out = check_output_path(csv_path, inputs, force) if csv_path else None
    report_out = check_output_path(report, inputs, force) if report else None
    names = parse_metric_list(metrics)
    given = {"ref"} if any(i.reference for i in items) else set()
    given |= {"source"} if any(i.source for i in items) else set()
    planned, skipped = plan_metrics(names, weights_dir, given)
    if metrics.strip().lower() == "all":  # 'all' only mentions weights/dependency skips, not absent inputs
        skipped = {k: v for k, v in skipped.items() if not v.startswith("needs ")}
    for name, reason in skipped.items():  # one unwrapped line each, even with --json (not with -q)
        if not quiet:
            stderr.print(f"warning: skipped {name}: {reason}", markup=False, soft_wrap=True)
    torch_device = resolve_device(device)

    rows: list[Row] = []
    protocols: dict[str, dict[str, Any]] = {}
    for item in reporter.progress(items, len(items), "evaluating"):
        sample, notes = load_sample(item, torch_device, weights_dir, max_frames)
        rows.append(evaluate(sample, planned, notes))
        protocols = {m.name: m.describe(sample) for m in planned}
    mean = mean_row(planned, rows) if len(rows) > 1 else None

    if csv_out is not None:
        _write_csv(csv_out, planned, rows, mean)
    if report_out is not None:
        from thead.report import write_report

        write_report(report_out, planned, rows, mean, protocols, skipped, command=shlex.join(["thead", *sys.argv[1:]]))
    payload: dict[str, Any] = {
        "rows": [row_payload(r, planned) for r in rows],
        "mean": row_payload(mean, planned) if mean else None,
        "protocols": protocols, "skipped": skipped, "device": str(torch_device),
        "written": [str(p) for p in (csv_path, report) if p is not None],
    }
    if json_output:
        reporter.result(payload)
    elif not quiet:
        _print_table(planned, rows, mean, protocols)


def _print_table(metrics: list[Metric], rows: list[Row], mean: Row | None, protocols: dict[str, dict[str, Any]]) -> None:
    """The result table on stdout (one column per number; metrics down the side for a single item),
    then each metric's protocol and the notes."""
    cols = columns(metrics)
    by_name = {m.name: m for m in metrics}
    shown = rows + ([mean] if mean else [])
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True,
                      width=None if sys.stdout.isatty() else max(100, 14 * (len(cols) + 2)))
    table = Table()
    if len(shown) == 1:
        table.add_column("metric")
        table.add_column(shown[0].name, justify="right")
        for name, key, better in cols:
            table.add_row(column_title(by_name[name], key, better), _fmt(cell(shown[0], name, key)))
    else:
        table.add_column("video")
        for name, key, better in cols:
            table.add_column(column_title(by_name[name], key, better), justify="right")
        for row in shown:
            table.add_row(row.name, *(_fmt(cell(row, n, k)) for n, k, _ in cols), style="bold" if row is mean else None)
    console.print(table)
    for name, protocol in protocols.items():
        console.print(f"protocol {name}: " + "; ".join(f"{k}={v}" for k, v in protocol.items()), markup=False)
    for row in shown:
        for note in row.notes + [f"{n}: {t}" for n, r in row.results.items() for t in r.notes]:
            console.print(f"note ({row.name}): {note}", markup=False)


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return "inf" if math.isinf(value) else f"{value:.4f}"


def _write_csv(path: Path, metrics: list[Metric], rows: list[Row], mean: Row | None) -> None:
    cols = columns(metrics)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", *(f"{n}:{k}" if k else n for n, k, _ in cols)])
        for row in rows + ([mean] if mean else []):
            writer.writerow([row.name, *("" if (v := cell(row, n, k)) is None or math.isnan(v) else repr(v)
                                         for n, k, _ in cols)])


eval_command.__doc__ = (eval_command.__doc__ or "") + "\n" + EXAMPLES
