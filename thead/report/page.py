"""The ``thead eval --report`` page: numbers, protocols, frames side by side, per-frame curves."""

from __future__ import annotations

import base64
import html
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from thead import __version__
from thead.io.atomic import atomic_path
from thead.metrics.base import Metric
from thead.metrics.runner import Row, cell, column_title, columns
from thead.report.svg import line_chart

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}tr.mean{font-weight:bold;background:#f3f3f3}
.frames img{margin:2px;border:1px solid #ccc}.label{font-size:12px;color:#666}
details{margin:6px 0}code{font-size:12px}.note{color:#a15c00;font-size:13px}.failed{color:#b00020}
"""


def png_data_uri(rgb: np.ndarray) -> str:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "inf"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"


def _table(metrics: list[Metric], rows: list[Row], mean: Row | None) -> str:
    cols = columns(metrics)
    by_name = {m.name: m for m in metrics}
    head = "".join(f"<th>{html.escape(column_title(by_name[n], k, b))}</th>" for n, k, b in cols)
    body = []
    for row in rows + ([mean] if mean else []):
        cells = "".join(f"<td>{_number(cell(row, n, k))}</td>" for n, k, _ in cols)
        if row.error:
            cells = f"<td class='failed' colspan='{max(1, len(cols))}'>failed</td>"
        body.append(f'<tr class="{"mean" if row is mean else ""}"><td>{html.escape(row.name)}</td>{cells}</tr>')
    return f"<table><tr><th>video</th>{head}</tr>{''.join(body)}</table>"


def _protocols(protocols: dict[str, dict[str, Any]]) -> str:
    items = []
    for name, protocol in protocols.items():
        lines = "".join(f"<tr><td>{html.escape(str(k))}</td><td style='text-align:left'>{html.escape(str(v))}</td></tr>"
                        for k, v in protocol.items())
        items.append(f"<details><summary><b>{html.escape(name)}</b></summary><table>{lines}</table></details>")
    return "".join(items)


def _curves(row: Row) -> str:
    charts = []
    ssim = row.results.get("ssim")
    if ssim is not None and ssim.per_frame is not None:
        series = [("SSIM", ssim.per_frame)]
        if (lp := row.results.get("lpips")) is not None and lp.per_frame is not None:
            series.append(("LPIPS", lp.per_frame))
        charts.append(("SSIM over time", line_chart("SSIM over time", series, row.fps, normalize=len(series) > 1)))
    lipsync = row.results.get("lipsync")
    if lipsync is not None and lipsync.per_frame is not None:
        curves = [("mouth openness", lipsync.per_frame[:, 0]), ("speech-band energy (dB)", lipsync.per_frame[:, 1])]
        charts.append(("Mouth openness vs audio energy (each scaled to 0-1)",
                       line_chart("mouth vs audio", curves, row.fps, normalize=True)))
    pose = row.results.get("headpose")
    if pose is not None and pose.per_frame is not None:
        curves = [("yaw", pose.per_frame[:, 0]), ("pitch", pose.per_frame[:, 1]), ("roll", pose.per_frame[:, 2])]
        charts.append(("Head pose (degrees)", line_chart("head pose", curves, row.fps)))
    for name, title in (("lmd", "Mouth landmark distance (px)"), ("csim", "Identity cosine to the source"),
                        ("blink", "Eye openness")):
        result = row.results.get(name)
        if result is not None and result.per_frame is not None:
            charts.append((title, line_chart(title, [(name, result.per_frame)], row.fps)))
    return "".join(f'<div><div class="label">{html.escape(t)}</div>{svg}</div>' for t, svg in charts if svg)


def _frames(row: Row) -> str:
    blocks = []
    for label in ("source", "generated", "reference"):
        images = row.thumbnails.get(label)
        if images:
            tags = "".join(f'<img src="{png_data_uri(img)}" alt="{label} frame">' for img in images)
            blocks.append(f'<div class="frames"><div class="label">{label}</div>{tags}</div>')
    return "".join(blocks)


def render_report(metrics: list[Metric], rows: list[Row], mean: Row | None, protocols: dict[str, dict[str, Any]],
                  skipped: dict[str, str], command: str = "") -> str:
    """The whole page as one HTML string (every asset inline)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>thead eval</title><style>{STYLE}</style></head><body>",
             f"<h1>thead eval</h1><p class='label'>thead {__version__} · {stamp}"
             + (f" · <code>{html.escape(command)}</code>" if command else "") + "</p>",
             "<h2>Results</h2>", _table(metrics, rows, mean)]
    if skipped:
        parts.append("".join(f"<p class='note'>skipped {html.escape(k)}: {html.escape(v)}</p>" for k, v in skipped.items()))
    parts += ["<h2>Protocols</h2>", _protocols(protocols)]
    for row in rows:
        notes = [n for r in row.results.values() for n in r.notes] + row.notes
        parts.append(f"<h2>{html.escape(row.name)}</h2>")
        if row.error:
            parts.append(f"<p class='failed'>failed: {html.escape(row.error)}</p>")
        parts.append("".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes))
        parts.append(_frames(row))
        parts.append(_curves(row))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str | os.PathLike, *args: Any, **kwargs: Any) -> Path:
    """Render and write the page atomically (temporary file renamed on success)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(render_report(*args, **kwargs), encoding="utf-8")
    return Path(path)
