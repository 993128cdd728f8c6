"""Atomic outputs: validated before work, written under a temporary name, renamed only on success."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys

import pytest

from thead.errors import OutputError, UsageError
from thead.io.atomic import atomic_path, check_output_path, remove_stale_partials
from thead.io.formats import output_kind


def _python(script: str, *args) -> subprocess.CompletedProcess:
    """``script`` run by a fresh interpreter with ``args``: its exit code and output (never raises on failure)."""
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_permissions_the_umask_gives(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        with atomic_path(tmp_path / "o.png") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "o.png").stat().st_mode) == mode


def test_failure_inside_the_block_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "o.mp4") as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_write_error_names_the_output(tmp_path):
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'o.mp4'}"):
        with atomic_path(tmp_path / "o.mp4"):
            raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_the_temporary_name_is_short_and_beside_the_output(tmp_path):
    out = tmp_path / ("n" * 236 + ".motion.safetensors")  # 255 characters, the usual limit
    with atomic_path(out) as tmp:
        assert tmp.parent == tmp_path and len(tmp.name) < 64 and tmp.name.endswith(".partial.motion.safetensors")
        tmp.write_bytes(b"x")
    assert out.read_bytes() == b"x"


def test_directory_and_special_files_are_refused(tmp_path):
    (tmp_path / "d.mp4").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        check_output_path(tmp_path / "d.mp4", force=True)
    os.mkfifo(tmp_path / "p.mp4")
    with pytest.raises(OutputError, match="not a regular file"):
        check_output_path(tmp_path / "p.mp4", force=True)
    (tmp_path / "f.mp4").write_bytes(b"")
    with pytest.raises(OutputError, match="already exists") as refused:
        check_output_path(tmp_path / "f.mp4")
    assert "pass --force" in refused.value.one_line()
    assert check_output_path(tmp_path / "f.mp4", force=True) == tmp_path / "f.mp4"


def test_an_input_is_never_an_output(tmp_path):
    (tmp_path / "in.mp4").write_bytes(b"")
    (tmp_path / "link.mp4").symlink_to(tmp_path / "in.mp4")
    with pytest.raises(OutputError, match="also an input"):
        check_output_path(tmp_path / "link.mp4", [tmp_path / "in.mp4"], force=True)


def test_partials_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    dead = _python("import os; print(os.getpid())")
    stale = tmp_path / f".thead-{dead.stdout.strip()}-abc123.partial.mp4"
    live = tmp_path / f".thead-{os.getpid()}-abc123.partial.mp4"
    other = tmp_path / ".thead-notes.partial.mp4"
    for path in (stale, live, other):
        path.write_bytes(b"x")
    remove_stale_partials(tmp_path)
    assert not stale.exists() and live.exists() and other.exists()


@pytest.mark.parametrize("name, kind", [("a.mp4", "video"), ("a.PNG", "image"), ("a.jpeg", "image"),
                                        ("t.motion.safetensors", "motion"), ("t.npz", "motion")])
def test_output_kind_from_the_extension(name, kind):
    assert output_kind(name) == kind


@pytest.mark.parametrize("name", ["a.gif", "a", "a.avi", "a.mkv", "a.webm"])
def test_unsupported_output_formats_list_the_supported_ones(name):
    with pytest.raises(UsageError, match="unsupported output format") as refused:
        output_kind(name)
    assert refused.value.one_line().endswith("use one of: .mp4, .png, .jpg, .jpeg, .motion.safetensors, .safetensors, .npz")


def test_each_refusal_is_one_exact_line(tmp_path):
    cases = {}
    (tmp_path / "dir.mp4").mkdir()
    os.mkfifo(tmp_path / "fifo.mp4")
    (tmp_path / "old.mp4").write_bytes(b"")
    (tmp_path / "dangling.mp4").symlink_to(tmp_path / "nowhere")
    (tmp_path / "in.png").write_bytes(b"")
    for name, args in {
        "missing-dir": (tmp_path / "no" / "o.mp4",),
        "dir": (tmp_path / "dir.mp4", (), True),
        "fifo": (tmp_path / "fifo.mp4", (), True),
        "exists": (tmp_path / "old.mp4",),
        "dangling": (tmp_path / "dangling.mp4",),
        "input": (tmp_path / "in.png", [None, tmp_path / "in.png"]),
    }.items():
        with pytest.raises(OutputError) as refused:
            check_output_path(*args)
        cases[name] = refused.value.one_line()
    assert cases == {
        "missing-dir": f"error: output directory {tmp_path / 'no'} does not exist — create it first: mkdir -p "
                       f"{tmp_path / 'no'}",
        "dir": f"error: output {tmp_path / 'dir.mp4'} is a directory — give a file name such as out.mp4",
        "fifo": f"error: output {tmp_path / 'fifo.mp4'} exists and is not a regular file (a device, pipe or socket) — "
                "choose a regular file path; thead only replaces regular files",
        "exists": f"error: output {tmp_path / 'old.mp4'} already exists — pass --force to overwrite it",
        "dangling": f"error: output {tmp_path / 'dangling.mp4'} is a dangling symbolic link — remove the link or "
                    "choose another path",
        "input": f"error: output {tmp_path / 'in.png'} is also an input — choose another output path; thead never "
                 "overwrites an input",
    }


def test_a_symlink_loop_is_refused_with_its_reason(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(OutputError) as refused:
        check_output_path(tmp_path / "loop" / "o.mp4")
    line = refused.value.one_line()
    assert line.startswith(f"error: output path {tmp_path / 'loop' / 'o.mp4'} cannot be used (")
    assert line.endswith("— choose another output path") and "loop" in line.lower()


def test_checking_an_output_removes_stale_partials_beside_it(tmp_path):
    dead = _python("import os; print(os.getpid())")
    stale = tmp_path / f".thead-{dead.stdout.strip()}-x1.partial.mp4"
    stale.write_bytes(b"x")
    check_output_path(tmp_path / "o.mp4")
    assert not stale.exists()


def test_partials_of_running_processes_are_kept_and_not_signalled(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".thead-{child.pid}-x1.partial.mp4"
        live.write_bytes(b"x")
        remove_stale_partials(tmp_path)
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=0.5)  # probing with signal 0 must not hurt it
        assert live.exists()
    finally:
        child.kill()
        child.wait()


def test_stale_cleanup_never_follows_links_and_never_fails(tmp_path, monkeypatch):
    dead = _python("import os; print(os.getpid())")
    target = tmp_path / "precious.mp4"
    target.write_bytes(b"keep")
    link = tmp_path / f".thead-{dead.stdout.strip()}-x1.partial.mp4"
    link.symlink_to(target)
    remove_stale_partials(tmp_path)
    assert link.is_symlink() and target.read_bytes() == b"keep"  # only regular files thead made are removed
    remove_stale_partials(tmp_path / "missing")  # no folder: nothing to do, no error
    stale = tmp_path / f".thead-{dead.stdout.strip()}-x2.partial.mp4"
    stale.write_bytes(b"x")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "unlink", refuse)
    remove_stale_partials(tmp_path)  # a file that cannot be removed is left for later, silently


@pytest.mark.parametrize("name, suffix", [("o.mp4", ".partial.mp4"), ("t.motion.safetensors", ".partial.motion.safetensors"),
                                          ("t.npz", ".partial.npz")])
def test_partial_names_carry_this_process_and_the_format(tmp_path, name, suffix):
    with atomic_path(tmp_path / name) as tmp:
        assert tmp.name.startswith(f".thead-{os.getpid()}-") and tmp.name.endswith(suffix)
        tmp.write_bytes(b"x")


def test_partials_of_processes_we_may_not_signal_are_kept(tmp_path, monkeypatch):
    def not_permitted(pid, signum):
        raise PermissionError(1, "Operation not permitted")

    partial = tmp_path / ".thead-4242-x1.partial.mp4"
    partial.write_bytes(b"x")
    monkeypatch.setattr(os, "kill", not_permitted)  # another user's process: alive, not ours to judge
    remove_stale_partials(tmp_path)
    assert partial.exists()


def test_unwritable_output_directory_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root writes anywhere: simulate a user
    with pytest.raises(OutputError) as refused:
        check_output_path(tmp_path / "o.mp4")
    assert refused.value.one_line() == f"error: output directory {tmp_path} is not writable — choose a writable directory"


_STOP_DURING_CREATION = """
import os, signal, sys, threading, time
from pathlib import Path
from thead.cli import Interrupted, raise_interrupted
from thead.io import atomic
from thead.io.video import VideoWriter

folder, target, thread = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "thread"
if thread:  # the kernel then hands the signal to that thread, and Python acts on it a moment later
    threading.Thread(target=threading.Event().wait, daemon=True).start()
created = atomic.partial_path

def create_then_signal(folder, suffix):
    path = created(folder, suffix)
    os.kill(os.getpid(), signal.SIGTERM)  # held: acted on once the hold ends, wherever that lands
    return path

atomic.partial_path = create_then_signal
signal.signal(signal.SIGTERM, raise_interrupted)
output = atomic.atomic_path(folder / "o.mp4") if target == "atomic_path" else VideoWriter(folder / "o.mp4", fps=25)
try:
    with output:  # kept alive, as a traceback keeps it: no reliance on garbage collection
        for _ in range(500):
            time.sleep(0.01)
except Interrupted as stop:
    sys.exit(stop.exit_code)
"""


@pytest.mark.parametrize("thread", ["single thread", "thread"])
@pytest.mark.parametrize("target", ["atomic_path", "VideoWriter"])
def test_stop_signal_while_the_partial_is_created_leaves_nothing(tmp_path, target, thread):
    """SIGTERM sent the moment a partial file is created: the process stops with 143 and leaves no file."""
    folder = tmp_path / "out"
    folder.mkdir()
    child = _python(_STOP_DURING_CREATION, folder, target, thread)
    assert child.returncode == 128 + signal.SIGTERM, child.stderr
    assert list(folder.iterdir()) == []


def test_partials_left_behind_by_an_odd_exception_go_at_exit(tmp_path):
    """A partial entered but never exited (an exception between creation and its ``with``) goes at exit,
    even while something keeps its context alive (here a daemon thread, whose frames are never freed)."""
    script = ("import sys, threading; from pathlib import Path; from thead.io.atomic import temporary_path\n"
              "held = temporary_path(Path(sys.argv[1]), '.mp4'); path = held.__enter__()\n"
              "threading.Thread(target=lambda keep=held: threading.Event().wait(), daemon=True).start()\n"
              "del held; assert path.exists(); sys.exit(3)")
    child = _python(script, tmp_path)
    assert child.returncode == 3, child.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_exiting_leaves_its_parents_partial_alone(tmp_path):
    script = ("import atexit, os, sys; from pathlib import Path; from thead.io.atomic import temporary_path\n"
              "with temporary_path(Path(sys.argv[1]), '.mp4') as path:\n"
              "    child = os.fork()\n"
              "    if child == 0:  # the child's exit hooks run, without unwinding the parent's `with`\n"
              "        atexit._run_exitfuncs()\n"
              "        os._exit(0)\n"
              "    os.waitpid(child, 0)\n"
              "    print(path.exists())")
    done = _python(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True" and list(tmp_path.iterdir()) == []
