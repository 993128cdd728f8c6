"""Self-contained HTML reports: one page, inline PNG frames (base64) and inline SVG curves, no external assets."""

from thead.report.page import render_report, write_report

__all__ = ["render_report", "write_report"]
