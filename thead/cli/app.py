"""The ``thead`` root app: wires one module per command and maps typed errors to exit codes."""

from __future__ import annotations

import os
import sys
import warnings

import typer

from thead import __version__
from thead.cli import drive_video, edit, eval as eval_cmd, fetch_weights
from thead.cli._output import stderr
from thead.errors import TheadError

app = typer.Typer(
    name="thead",
    help="Talking-head synthesis: animate portraits, edit motion, measure results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("drive-video")(drive_video.drive_video)
app.command("edit")(edit.edit)
app.command("eval")(eval_cmd.eval_command)
app.command("fetch-weights")(fetch_weights.fetch_weights)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"thead {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Talking-head synthesis: animate portraits, edit motion, measure results."""


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def main() -> None:
    """Console-script entry point: one ``error: ...`` line and a documented exit code on failure."""
    warnings.formatwarning = _one_line_warning
    try:
        app(standalone_mode=False)
    except TheadError as err:
        if os.environ.get("THEAD_DEBUG"):
            raise
        stderr.print(err.one_line(), markup=False, highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except typer.Exit as ex:
        sys.exit(ex.exit_code)
    except typer.Abort:
        stderr.print("error: aborted", markup=False)
        sys.exit(1)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("THEAD_DEBUG"):
            raise
        stderr.print(f"error: unexpected {type(exc).__name__}: {exc} — rerun with THEAD_DEBUG=1 and report the traceback", markup=False, soft_wrap=True)
        sys.exit(1)
