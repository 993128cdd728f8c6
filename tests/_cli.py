"""Run the ``thead`` console entry point in-process, as a shell would, and capture what it prints."""

from __future__ import annotations

import sys


def run_cli(capsys, monkeypatch, *args) -> tuple[int, str, str]:
    """Run ``thead ARGS``; returns (exit code, stdout, stderr)."""
    from thead.cli import main

    monkeypatch.setattr(sys, "argv", ["thead", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
