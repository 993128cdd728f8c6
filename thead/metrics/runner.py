"""Running a list of metrics over samples: availability checks, per-row results, the mean row."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from thead.errors import BadInputError, WeightsError
from thead.metrics import get_metric_class
from thead.metrics.base import Metric, MetricResult, Sample, resolve_weight_files

INPUT_FLAGS = {"ref": "--ref/--ref-dir", "source": "--source", "audio": "--audio or a video with sound"}
THUMB_HEIGHT = 160
THUMBS = 4


@dataclass
class Row:
    """One evaluated item: its results by metric name, notes, and small pictures for the report.

    A row whose input could not be read has no results and ``error`` says why (one line).
    """

    name: str
    results: dict[str, MetricResult]
    notes: list[str] = field(default_factory=list)
    fps: float = 0.0
    frames: int = 0
    thumbnails: dict[str, list[np.ndarray]] = field(default_factory=dict)
    error: str = ""


def plan_metrics(names: Iterable[str], weights_dir: Path | None, inputs: set[str]) -> tuple[list[Metric], dict[str, str]]:
    """Instantiate the metrics that can run; the others map to a one-line reason (never silent)."""
    runnable: list[Metric] = []
    skipped: dict[str, str] = {}
    for name in names:
        metric = get_metric_class(name)()
        reason = metric.unavailable() or _missing_weights(metric, weights_dir)
        absent = [need for need in metric.needs if need != "audio" and need not in inputs]
        if not reason and absent:
            reason = "needs " + ", ".join(INPUT_FLAGS[need] for need in absent)
        if reason:
            skipped[name] = reason
        else:
            runnable.append(metric)
    return runnable, skipped


def _missing_weights(metric: Metric, weights_dir: Path | None) -> str | None:
    for weight_set, files in metric.weights.items():
        try:
            resolve_weight_files(weight_set, files, weights_dir)
        except WeightsError:
            where = "not in --weights-dir" if weights_dir else "not installed"
            return f"weights '{weight_set}' {where} — run: thead fetch-weights {weight_set}"
    return None


def evaluate(sample: Sample, metrics: list[Metric], notes: list[str]) -> Row:
    """Every metric on one sample; a metric that cannot run on this sample records NaN and why."""
    results: dict[str, MetricResult] = {}
    for metric in metrics:
        absent = [need for need in metric.needs if not sample.has(need)]
        if absent:
            results[metric.name] = MetricResult(math.nan, notes=[f"skipped: needs {INPUT_FLAGS[absent[0]]}"])
            continue
        try:
            results[metric.name] = metric.compute(sample)
        except BadInputError as exc:  # no face, clip too short: this row only
            results[metric.name] = MetricResult(math.nan, notes=[exc.one_line().removeprefix("error: ")])
    row = Row(sample.name, results, list(notes), sample.fps, len(sample.frames))
    row.thumbnails = _thumbnails(sample)
    return row


def mean_row(metrics: list[Metric], rows: list[Row]) -> Row:
    """The table's mean row: each metric's own aggregate (plain mean, or pooled features for FID/IS)."""
    results = {}
    for metric in metrics:
        usable = [r.results[metric.name] for r in rows if metric.name in r.results and not math.isnan(r.results[metric.name].value)]
        if usable:
            results[metric.name] = metric.aggregate(usable)
    return Row("mean", results, [f"{len(rows)} videos"])


def columns(metrics: list[Metric]) -> list[tuple[str, str, bool | None]]:
    """(metric name, result key or '' for the headline, higher-is-better) per table column."""
    out: list[tuple[str, str, bool | None]] = []
    for metric in metrics:
        out.append((metric.name, "", metric.higher_is_better))
        out.extend((metric.name, key, better) for key, better in metric.extra_higher_is_better.items())
        if metric.name == "is":
            out.append((metric.name, "IS_std", None))
    return out


def column_title(metric: Metric, key: str, better: bool | None) -> str:
    arrow = {True: " ↑", False: " ↓", None: ""}[better]
    return (key or metric.label or metric.name.upper()) + arrow


def cell(row: Row, name: str, key: str) -> float | None:
    result = row.results.get(name)
    if result is None:
        return None
    value = result.extras.get(key, math.nan) if key else result.value
    return float(value)


def row_payload(row: Row, metrics: list[Metric]) -> dict[str, Any]:
    """JSON form of a row: finite numbers, None for NaN/inf (with the notes saying why)."""
    out: dict[str, Any] = {"name": row.name}
    if row.error:
        out["error"] = row.error
    if row.frames:
        out.update(frames=row.frames, fps=row.fps)
    values: dict[str, Any] = {}
    for metric in metrics:
        result = row.results.get(metric.name)
        if result is None:
            continue
        values[metric.name] = {"value": _finite(result.value), **{k: _finite(v) for k, v in result.extras.items()}}
        if result.notes:
            values[metric.name]["notes"] = result.notes
    out["metrics"] = values
    if row.notes:
        out["notes"] = row.notes
    return out


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _thumbnails(sample: Sample) -> dict[str, list[np.ndarray]]:
    picks = np.unique(np.linspace(0, len(sample.frames) - 1, THUMBS).round().astype(int))
    out = {"generated": [_shrink(sample.frames[i]) for i in picks]}
    if sample.reference is not None:
        out["reference"] = [_shrink(sample.reference[i]) for i in picks]
    if sample.source is not None:
        out["source"] = [_shrink(sample.source)]
    return out


def _shrink(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    if height <= THUMB_HEIGHT:
        return frame
    return cv2.resize(frame, (max(1, round(width * THUMB_HEIGHT / height)), THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
