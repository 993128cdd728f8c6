"""Inline SVG line charts for per-frame curves (no plotting library, no external assets)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
WIDTH, HEIGHT, PAD = 640, 180, 48


def line_chart(title: str, series: Sequence[tuple[str, np.ndarray]], fps: float, normalize: bool = False) -> str:
    """An SVG chart of per-frame series over time; ``normalize`` rescales each to 0..1 (for mixed units)."""
    curves = [(label, np.asarray(values, dtype=np.float64)) for label, values in series if len(values)]
    finite = [v[np.isfinite(v)] for _, v in curves]
    if not curves or not any(len(f) for f in finite):
        return ""
    if normalize:
        curves = [(label, _unit(v)) for label, v in curves]
        low, high = 0.0, 1.0
    else:
        low = min(float(f.min()) for f in finite if len(f))
        high = max(float(f.max()) for f in finite if len(f))
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    length = max(len(v) for _, v in curves)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-label="{html.escape(title)}">',
             f'<rect x="{PAD}" y="8" width="{WIDTH - PAD - 8}" height="{HEIGHT - PAD - 8}" fill="#fafafa" stroke="#ccc"/>',
             f'<text x="{PAD}" y="{HEIGHT - 6}" font-size="11">0 s</text>',
             f'<text x="{WIDTH - 8}" y="{HEIGHT - 6}" font-size="11" text-anchor="end">{length / max(fps, 1e-9):.1f} s</text>']
    if not normalize:
        parts += [f'<text x="{PAD - 4}" y="16" font-size="10" text-anchor="end">{_fmt(high)}</text>',
                  f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" font-size="10" text-anchor="end">{_fmt(low)}</text>']
    for k, (label, values) in enumerate(curves):
        color = COLORS[k % len(COLORS)]
        parts.extend(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>'
                     for pts in _segments(values, length, low, high))
        parts.append(f'<text x="{PAD + 6 + 120 * k}" y="22" font-size="11" fill="{color}">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _segments(values: np.ndarray, length: int, low: float, high: float) -> list[str]:
    """Polyline point lists, broken where values are missing."""
    span_x = (WIDTH - PAD - 8) / max(length - 1, 1)
    span_y = HEIGHT - PAD - 8
    segments, current = [], []
    for i, v in enumerate(values):
        if not math.isfinite(v):
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        x = PAD + i * span_x
        y = 8 + span_y * (1 - (v - low) / (high - low))
        current.append(f"{x:.1f},{y:.1f}")
    if current:
        segments.append(" ".join(current))
    return segments


def _unit(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if not len(finite) or finite.max() - finite.min() < 1e-12:
        return np.full_like(values, 0.5)
    return (values - finite.min()) / (finite.max() - finite.min())


def _fmt(value: float) -> str:
    return f"{value:.3g}"
