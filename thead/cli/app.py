"""The ``thead`` root app: wires one module per command and maps every ending to a documented exit code.

Exit codes (the contract scripts rely on): 0 success, 1 unexpected failure, 2 usage error,
3 bad input or unusable output, 4 weights missing or failing verification, 5 device unavailable,
130 interrupted by SIGINT (Ctrl-C), 143 terminated by SIGTERM (129 for SIGHUP).
"""

from __future__ import annotations

import difflib
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from thead import __version__
from thead.cli import (
    STOP_SIGNALS,
    Interrupted,
    batch,
    drive_audio,
    drive_video,
    edit,
    fetch_weights,
    generate,
    raise_interrupted,
)
from thead.cli import eval as eval_cmd
from thead.errors import TheadError

app = typer.Typer(
    name="thead",
    help="Talking-head synthesis: animate portraits, edit motion, measure results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("drive-video")(drive_video.drive_video)
app.command("drive-audio")(drive_audio.drive_audio)
app.command("edit")(edit.edit)
app.command("eval")(eval_cmd.eval_command)
app.command("fetch-weights")(fetch_weights.fetch_weights)
app.command("generate")(generate.generate)
app.command("batch")(batch.batch)

USAGE_EXIT = 2


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


def _command_names() -> list[str]:
    return [info.name for info in app.registered_commands if info.name]


def usage_line(exc: Exception) -> str:
    """One line for a Click usage error: what was wrong, a "did you mean" for a near-miss name, where to look."""
    context = getattr(exc, "ctx", None)
    command = context.command_path if context is not None else "thead"
    if type(exc).__name__ == "NoArgsIsHelpError":
        return f"error: no command given — run `{command} --help` to see the commands"
    message = " ".join(exc.format_message().split()) or type(exc).__name__
    near: list[str] = []
    if type(exc).__name__ == "NoSuchOption" and context is not None:
        option = exc.option_name
        known = [name for param in context.command.params for name in (*param.opts, *param.secondary_opts)
                 if name.startswith("-")]
        near = difflib.get_close_matches(option, known, n=1, cutoff=0.6)
        message = f"no such option: {option}"
    elif message.startswith("No such command") and context is not None:
        name = message.split("'")[1] if "'" in message else ""
        near = difflib.get_close_matches(name, _command_names(), n=1)
        message = f"no such command '{name}'"
    hint = f"did you mean {near[0]}? " if near else ""
    return f"error: {message[:1].lower() + message[1:].rstrip('.')} — {hint}run `{command} --help` for usage"


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """While the block runs, SIGINT/SIGTERM/SIGHUP raise :class:`Interrupted` instead of killing the process."""
    previous = {signum: signal.signal(signum, raise_interrupted) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (``main`` exits with it)."""
    debug = bool(os.environ.get("THEAD_DEBUG"))
    warnings.formatwarning = _one_line_warning
    try:
        with stop_signals_raise():
            code = app(args=argv, prog_name="thead", standalone_mode=False)
    except Interrupted as stop:
        say("error: interrupted")
        return stop.exit_code
    except TheadError as err:
        if debug:
            raise
        say(err.one_line())
        return err.exit_code
    except typer.Exit as ex:
        return ex.exit_code
    except Exception as exc:
        if _is_a(exc, "Abort"):  # Click's answer to Ctrl-C or end of input at a prompt
            say("error: interrupted")
            return 128 + signal.SIGINT
        if debug:
            raise
        if _is_a(exc, "ClickException"):  # Click's usage errors; recent Typer bundles its own Click
            say(usage_line(exc))
            return USAGE_EXIT if _is_a(exc, "UsageError") else 1
        message = " ".join(str(exc).split())
        say(f"error: unexpected {type(exc).__name__}: {message} — rerun with THEAD_DEBUG=1 and report the traceback")
        return 1
    return code if isinstance(code, int) else 0


def say(line: str) -> None:
    """One plain line on stderr: user data (paths, names) is never read as markup nor wrapped."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _is_a(exc: BaseException, class_name: str) -> bool:
    """True when ``exc`` is an instance of a class named ``class_name`` (whichever Click defined it)."""
    return any(cls.__name__ == class_name for cls in type(exc).__mro__)
