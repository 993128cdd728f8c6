"""eval: pair inputs with references, run the planned metrics per row, pool the mean row, write CSV / HTML.

A row whose input cannot be read (missing, corrupt, a reference of another length) is kept as a failed
row with its error line; the other rows are still measured and written. :meth:`EvalResult.raise_for_failures`
turns failed rows into one BadInputError (exit 3), which the CLI raises after printing the results.
"""

from __future__ import annotations

import math
import os
from csv import writer as csv_writer
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thead.device import resolve_device
from thead.errors import BadInputError
from thead.io.atomic import atomic_path, check_output_path
from thead.metrics import parse_metric_list
from thead.metrics.base import Metric
from thead.metrics.inputs import Item, collect_items, load_sample
from thead.metrics.runner import Row, cell, columns, evaluate, mean_row, plan_metrics, row_payload
from thead.pipelines.provenance import command_line
from thead.report import Notes, Silent

PathLike = str | os.PathLike


@dataclass
class EvalResult:
    """What ``thead.eval`` measured: one row per input (failed rows carry ``error``), the mean row when
    more than one row was measured, each metric's protocol, the metrics skipped and why, files written."""

    rows: list[Row]
    mean: Row | None
    metrics: list[Metric]
    protocols: dict[str, dict[str, Any]]
    skipped: dict[str, str]
    device: str
    written: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Row]:
        """Rows whose inputs could not be read."""
        return [row for row in self.rows if row.error]

    def value(self, row: str, metric: str, key: str = "") -> float | None:
        """One number: ``row`` is a video name or "mean", ``key`` an extra such as "LSE-C" ('' = headline)."""
        found = next((r for r in [*self.rows, *([self.mean] if self.mean else [])] if r.name == row), None)
        if found is None:
            raise KeyError(row)
        return cell(found, metric, key)

    def payload(self) -> dict[str, Any]:
        """The ``--json`` object: rows, mean, protocols, skipped metrics, failed rows, device, files written."""
        return {
            "rows": [row_payload(r, self.metrics) for r in self.rows],
            "mean": row_payload(self.mean, self.metrics) if self.mean else None,
            "protocols": self.protocols, "skipped": self.skipped, "failed": [r.name for r in self.failed],
            "device": self.device, "written": self.written,
        }

    def raise_for_failures(self) -> None:
        """BadInputError (exit 3) naming the failed rows, if any."""
        failed = self.failed
        if failed:
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise BadInputError(f"{len(failed)} of {len(self.rows)} inputs could not be evaluated — "
                                f"{failed[0].name}: {failed[0].error}{more}",
                                "fix or remove the failed rows; the other rows' results were reported")


def eval(  # noqa: A001 - mirrors the `thead eval` command
    generated: PathLike,
    *,
    ref: PathLike | None = None,
    source: PathLike | None = None,
    audio: PathLike | None = None,
    metrics: str | list[str] | tuple[str, ...] = "all",
    ref_dir: PathLike | None = None,
    manifest: PathLike | None = None,
    csv: PathLike | None = None,  # noqa: A002 - the --csv option
    report: PathLike | None = None,
    weights_dir: PathLike | None = None,
    max_frames: int | None = None,
    device: str = "auto",
    force: bool = False,
    reporter: Notes | None = None,
) -> EvalResult:
    """Measure ``generated`` (a video, an image, or a folder of them) with the survey's metrics.

    ``metrics`` is "all" (every metric whose inputs and weights are present) or names such as
    ``["ssim", "psnr", "lpips"]``; ``ref`` / ``ref_dir`` give ground truth, ``source`` the portrait for
    identity (CSIM), ``audio`` the speech for sync (default: the video's own sound); ``manifest`` is a
    CSV or JSON-lines table of rows instead. ``csv`` and ``report`` also write the table and an HTML page.
    """
    reporter = reporter or Silent()
    weights = _path(weights_dir)
    items = collect_items(Path(generated), _path(ref), _path(ref_dir), _path(source), _path(audio), _path(manifest))
    inputs = [p for item in items for p in (item.generated, item.reference, item.source, item.audio) if p]
    csv_out = check_output_path(csv, inputs, force) if csv is not None else None
    report_out = check_output_path(report, inputs, force) if report is not None else None
    planned, skipped = _plan(metrics, items, weights)
    for name, reason in skipped.items():
        reporter.warn(f"skipped {name}: {reason}")
    torch_device = resolve_device(device)

    rows: list[Row] = []
    protocols = {m.name: m.describe() for m in planned}
    for item in reporter.progress(items, len(items), "evaluating"):
        try:
            row, protocols = _measure(item, planned, torch_device, weights, max_frames)
        except BadInputError as exc:
            if len(items) == 1:
                raise
            row = Row(item.generated.name, {}, error=exc.one_line().removeprefix("error: "))
            reporter.warn(f"{row.name}: {row.error}")
        rows.append(row)
    measured = [row for row in rows if not row.error]
    result = EvalResult(rows, mean_row(planned, measured) if len(measured) > 1 else None, planned, protocols,
                        skipped, str(torch_device))
    if csv_out is not None:
        write_csv(csv_out, result)
        result.written.append(str(csv))
    if report_out is not None:
        from thead.report import write_report

        write_report(report_out, planned, rows, result.mean, protocols, skipped, command=command_line())
        result.written.append(str(report))
    return result


def _path(value: PathLike | None) -> Path | None:
    return Path(value) if value is not None else None


def _plan(metrics: str | list[str] | tuple[str, ...], items: list[Item], weights_dir: Path | None
          ) -> tuple[list[Metric], dict[str, str]]:
    """The metrics to run, and why each other one is skipped ('all' does not mention absent inputs)."""
    given = {"ref"} if any(i.reference for i in items) else set()
    given |= {"source"} if any(i.source for i in items) else set()
    planned, skipped = plan_metrics(parse_metric_list(metrics), weights_dir, given)
    if isinstance(metrics, str) and metrics.strip().lower() == "all":
        skipped = {k: v for k, v in skipped.items() if not v.startswith("needs ")}
    return planned, skipped


def _measure(item: Item, metrics: list[Metric], device: Any, weights_dir: Path | None, max_frames: int | None
             ) -> tuple[Row, dict[str, dict[str, Any]]]:
    """One item's row and the protocols as run on it (weights hashes included)."""
    if item.error is not None:
        raise item.error
    sample, notes = load_sample(item, device, weights_dir, max_frames)
    return evaluate(sample, metrics, notes), {m.name: m.describe(sample) for m in metrics}


def write_csv(path: PathLike, result: EvalResult) -> None:
    """The table as CSV: one row per input and the mean row; an ``error`` column when a row failed."""
    cols = columns(result.metrics)
    with_errors = bool(result.failed)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv_writer(handle)
        writer.writerow(["video", *(f"{n}:{k}" if k else n for n, k, _ in cols), *(["error"] if with_errors else [])])
        for row in result.rows + ([result.mean] if result.mean else []):
            values = ["" if (v := cell(row, n, k)) is None or math.isnan(v) else repr(v) for n, k, _ in cols]
            writer.writerow([row.name, *values, *([row.error] if with_errors else [])])

