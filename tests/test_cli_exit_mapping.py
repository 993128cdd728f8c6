"""How the CLI maps each way a command can end to the exit code of the contract (in-process, every branch)."""

from __future__ import annotations

import signal
import sys

import pytest

import thead.pipelines.drive_video as drive_pipeline
from thead.cli import Interrupted
from thead.cli.app import run
from thead.errors import BadInputError, DeviceError, OutputError, TheadError, UsageError, WeightsError


def _failing(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc

    return fail


ENDINGS = {  # built inside each test, so that the code under test (not collection) constructs them
    "usage": (lambda: UsageError("bad combination", "fix it"), 2),
    "bad-input": (lambda: BadInputError("x.jpg is corrupt", "use another"), 3),
    "output": (lambda: OutputError("cannot write o.mp4", "free space"), 3),
    "weights": (lambda: WeightsError("weights missing", "run: thead fetch-weights x"), 4),
    "device": (lambda: DeviceError("no cuda", "use --device cpu"), 5),
    "unexpected": (lambda: RuntimeError("boom"), 1),
    "sigint": (lambda: Interrupted(signal.SIGINT), 130),
    "sigterm": (lambda: Interrupted(signal.SIGTERM), 143),
    "sighup": (lambda: Interrupted(signal.SIGHUP), 129),
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_each_ending_has_its_exit_code_and_one_line(monkeypatch, capsys, tmp_path, ending):
    make, code = ENDINGS[ending]
    exc = make()
    monkeypatch.setattr(drive_pipeline, "drive_video", _failing(exc))
    assert run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4")]) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    if isinstance(exc, TheadError):
        assert lines[0] == exc.one_line()
    elif isinstance(exc, Interrupted):
        assert lines[0] == "error: interrupted"
    else:
        assert lines[0].startswith("error: unexpected RuntimeError: boom")


def test_long_messages_and_markup_stay_one_plain_line(monkeypatch, capsys, tmp_path):
    name = "[/b][bold]" + "x" * 300 + ".jpg"
    monkeypatch.setattr(drive_pipeline, "drive_video", _failing(BadInputError(f"{name} is corrupt", "use another")))
    assert run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4")]) == 3
    assert capsys.readouterr().err == f"error: {name} is corrupt — use another\n"


def test_warnings_print_as_one_line(monkeypatch, capsys, tmp_path):
    import warnings

    def warn_then_fail(*args, **kwargs):
        warnings.warn("careful [/b]", UserWarning)
        raise UsageError("stop")

    def show(message, category, filename, lineno, file=None, line=None):  # Python's default, not pytest's recorder
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    monkeypatch.setattr(warnings, "showwarning", show)
    monkeypatch.setattr(drive_pipeline, "drive_video", warn_then_fail)
    assert run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4")]) == 2
    assert capsys.readouterr().err.splitlines() == ["warning: careful [/b]", "error: stop"]


@pytest.mark.parametrize("argv, line", [
    (["--bogus"], "error: no such option: --bogus — run `thead --help` for usage"),
    ([], "error: no command given — run `thead --help` to see the commands"),
    (["drive-vidoe"], "error: no such command 'drive-vidoe' — did you mean drive-video? run `thead --help` for usage"),
    (["fetch-weights", "--lst"], "error: no such option: --lst — did you mean --list? run `thead fetch-weights --help` "
                                 "for usage"),
    (["eval"], "error: missing argument 'generated' — run `thead eval --help` for usage"),
    (["edit", "x.png", "-o", "y.png", "--yaw", "abc"], None),
])
def test_usage_errors_exit_2_with_one_line(capsys, argv, line):
    assert run(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and err[0].endswith("for usage") or line == err[0]
    if line is not None:
        assert err == [line]


def test_click_abort_is_an_interruption(monkeypatch, capsys, tmp_path):
    import typer

    abort = type("Abort", (RuntimeError,), {})  # Click's Abort, whichever Click Typer bundles
    monkeypatch.setattr(drive_pipeline, "drive_video", _failing(abort()))
    assert run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4")]) == 130
    monkeypatch.setattr(drive_pipeline, "drive_video", _failing(typer.Abort()))
    assert run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4")]) == 130
    assert capsys.readouterr().err.splitlines() == ["error: interrupted"] * 2


def test_debug_mode_shows_the_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("THEAD_DEBUG", "1")
    monkeypatch.setattr(drive_pipeline, "drive_video", _failing(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4")])


def test_success_is_exit_0(capsys):
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.startswith("thead ")


def test_signal_handlers_are_restored_after_a_run():
    before = signal.getsignal(signal.SIGTERM)
    run(["--version"])
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_click_error_that_is_not_a_usage_error_is_exit_1(monkeypatch, capsys, tmp_path):
    import typer

    click_exception = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    monkeypatch.setattr(drive_pipeline, "drive_video", _failing(click_exception("disk on fire")))
    assert run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4")]) == 1
    assert capsys.readouterr().err == "error: disk on fire — run `thead --help` for usage\n"  # no context: the root


def test_unexpected_errors_keep_their_words(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(drive_pipeline, "drive_video", _failing(ValueError("two\n  words")))
    assert run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4")]) == 1
    assert capsys.readouterr().err == ("error: unexpected ValueError: two words — rerun with THEAD_DEBUG=1 and report "
                                       "the traceback\n")


def test_an_explicit_exit_code_is_kept(monkeypatch, tmp_path):
    import typer

    monkeypatch.setattr(drive_pipeline, "drive_video", _failing(typer.Exit(4)))
    assert run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4")]) == 4


def test_interruptions_carry_their_signal():
    stop = Interrupted(signal.SIGTERM)
    assert stop.exit_code == 143 and stop.args == (signal.SIGTERM,)


def test_main_makes_stop_signals_catchable_and_exits_with_the_code(monkeypatch):
    import thead.cli as cli

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    monkeypatch.setattr(sys, "argv", ["thead", "--bogus"])
    try:
        with pytest.raises(SystemExit) as ended:
            cli.main()
        assert ended.value.code == 2
        for signum in previous:
            assert signal.getsignal(signum) is cli.raise_interrupted
        with pytest.raises(Interrupted) as stop:
            cli.raise_interrupted(signal.SIGTERM, None)
        assert stop.value.exit_code == 143
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)


def test_an_interruption_while_starting_up_is_exit_130(monkeypatch, capsys):
    import types

    import thead.cli as cli

    class Starting(types.ModuleType):
        def __getattr__(self, name):
            raise Interrupted(signal.SIGINT)

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    monkeypatch.setitem(sys.modules, "thead.cli.app", Starting("thead.cli.app"))
    try:
        with pytest.raises(SystemExit) as ended:
            cli.main()
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)
    assert ended.value.code == 130 and capsys.readouterr().err == "error: interrupted\n"


def test_a_command_that_succeeds_is_exit_0(monkeypatch, tmp_path):
    from thead.pipelines.result import RenderResult

    monkeypatch.setattr(drive_pipeline, "drive_video", lambda *a, **k: RenderResult("o.mp4", 1, 25.0, "warp", "cpu"))
    assert run(["drive-video", "a.png", "b.mp4", "-o", str(tmp_path / "o.mp4"), "-q"]) == 0


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="signals are held with the POSIX signal mask")
def test_a_stop_signal_while_mediapipe_runs_natively_is_delivered_after_it(capfd):
    """Inside a native MediaPipe call (stderr silenced) a handler's exception could be swallowed: the signal is held
    and raised as the block ends, with stderr back."""
    import os
    import time

    from thead.cli import raise_interrupted
    from thead.face._mediapipe import quiet_native_logs

    previous = signal.signal(signal.SIGINT, raise_interrupted)
    finished = False
    try:
        with pytest.raises(Interrupted):
            with quiet_native_logs():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # without the hold, the handler would raise here, inside the native call
                finished = True
    finally:
        signal.signal(signal.SIGINT, previous)
    assert finished
    print("stderr is back", file=sys.stderr, flush=True)
    assert "stderr is back" in capfd.readouterr().err
