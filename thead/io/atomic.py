"""Output paths: validation before any work, and atomic writes (temporary file, rename on success).

Temporary files are named ``.thead-<pid>-<random>.partial<suffix>`` beside the output: short (any
output name the file system allows also works), and recognisable, so that a later run removes the
leftovers of a process that was killed outright (SIGKILL, power loss) once that process is gone.

A stop signal is asynchronous: with several threads it may be acted on a moment after it was sent,
between a partial file's creation and the ``with`` block that owns it, where no ``finally`` removes
it. So every partial file this process creates is also remembered, and those still there when the
interpreter exits are removed then.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from thead.errors import OutputError
from thead.signals import STOP_SIGNALS

PARTIAL_PREFIX = ".thead-"
_PARTIAL = re.compile(r"\.thead-(\d+)-[A-Za-z0-9_]+\.partial(\.[A-Za-z0-9.]+)?")
_owned: set[Path] = set()  # partial files this process created and has not removed yet
if hasattr(os, "register_at_fork"):  # a forked child must not remove, as it exits, files its parent is writing
    os.register_at_fork(after_in_child=_owned.clear)


def check_output_path(output: str | os.PathLike, inputs: Sequence[str | os.PathLike | None] = (),
                      force: bool = False) -> Path:
    """Validate ``output`` before any work: not an input, directory usable, only regular files replaced."""
    out = Path(output).expanduser()
    try:
        resolved = out.resolve()
        parent = resolved.parent
        for item in inputs:
            if item is not None and Path(item).expanduser().resolve() == resolved:
                raise OutputError(f"output {out} is also an input",
                                  "choose another output path; thead never overwrites an input")
        parent_ok = parent.is_dir()
        existing = os.stat(out) if os.path.lexists(out) and out.exists() else None
    except (OSError, RuntimeError) as exc:  # symlink loops, over-long names, permission on a parent
        raise OutputError(f"output path {out} cannot be used ({exc.__class__.__name__}: {exc})",
                          "choose another output path") from exc
    if not parent_ok:
        raise OutputError(f"output directory {parent} does not exist", f"create it first: mkdir -p {parent}")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"output directory {parent} is not writable", "choose a writable directory")
    if existing is not None:
        if stat.S_ISDIR(existing.st_mode):
            raise OutputError(f"output {out} is a directory", "give a file name such as out.mp4")
        if not stat.S_ISREG(existing.st_mode):
            raise OutputError(f"output {out} exists and is not a regular file (a device, pipe or socket)",
                              "choose a regular file path; thead only replaces regular files")
        if not force:
            raise OutputError(f"output {out} already exists", "pass --force to overwrite it")
    elif os.path.islink(out):
        raise OutputError(f"output {out} is a dangling symbolic link", "remove the link or choose another path")
    remove_stale_partials(parent)
    return out


def remove_stale_partials(folder: Path) -> None:
    """Delete ``.thead-<pid>-*.partial*`` files left in ``folder`` by processes that no longer run."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _PARTIAL.fullmatch(entry.name)
            if match and entry.is_file(follow_symlinks=False) and not _process_alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def partial_path(folder: Path, suffix: str) -> Path:
    """A new, empty temporary file in ``folder`` named so that :func:`remove_stale_partials` knows it."""
    fd, name = tempfile.mkstemp(prefix=f"{PARTIAL_PREFIX}{os.getpid()}-", suffix=f".partial{suffix}", dir=folder)
    os.close(fd)
    path = Path(name)
    _owned.add(path)
    return path


def remove_partial(path: Path) -> None:
    """Delete a file made by :func:`partial_path` (if it is still there) and forget it."""
    path.unlink(missing_ok=True)
    _owned.discard(path)


@atexit.register
def _remove_owned_partials() -> None:
    """At exit, delete the partial files whose owner never got to clean up (see the module docstring)."""
    for path in list(_owned):
        with contextlib.suppress(OSError):
            remove_partial(path)


def output_suffix(out: Path) -> str:
    """The extension that chooses the format (``.motion.safetensors`` counts as one)."""
    return ".motion.safetensors" if out.name.lower().endswith(".motion.safetensors") else out.suffix


@contextlib.contextmanager
def atomic_path(output: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``output``; rename it onto ``output`` only if the block succeeds.

    Any exception in the block (including an interruption) removes the temporary file. Writing
    errors such as a full disk become :class:`OutputError` naming ``output``.
    """
    out = Path(output)
    with temporary_path(out.parent if str(out.parent) else Path("."), output_suffix(out)) as tmp:
        try:
            yield tmp
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs get the usual permissions
            os.replace(tmp, out)
        except OSError as exc:
            raise OutputError(f"cannot write {out} ({exc.strerror or exc})",
                              "check the free disk space and the output path") from exc


@contextlib.contextmanager
def temporary_path(folder: Path, suffix: str) -> Iterator[Path]:
    """A new :func:`partial_path` in ``folder``, removed when the block ends, however it ends.

    A stop signal that arrives while the file is created is delivered once it is owned (inside the
    ``try``), so the file is removed even then.
    """
    path: Path | None = None
    try:
        with signals_held():
            path = partial_path(folder, suffix)
        yield path
    finally:
        if path is not None:
            remove_partial(path)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold the stop signals (SIGINT, SIGTERM, SIGHUP) until the block ends; they are delivered right after it.

    The signal mask keeps them from this thread and from children started in the block. Another thread
    (rich's refresher, torch's pool) may still take a signal sent to the process, and Python then runs
    the handler in the main thread at any moment, so in the main thread the handlers are also swapped for
    a recorder while the block runs, and what it recorded goes to the real handlers afterwards.
    """
    pending: list[int] = []
    previous_handlers = _swap_handlers(lambda signum, frame: pending.append(signum))
    masking = hasattr(signal, "pthread_sigmask")  # not on Windows
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS) if masking else None
    try:
        yield
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        if previous_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)  # masked signals reach the restored handlers
        for signum in dict.fromkeys(pending):
            _deliver(signum, previous_handlers[signum])


def _swap_handlers(handler) -> dict[int, Any]:
    """Install ``handler`` for the stop signals that have a Python-level handler; return the previous ones."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # handlers can only be changed, and only run, in the main thread
    previous = {}
    for signum in STOP_SIGNALS:
        current = signal.getsignal(signum)
        if current is not None:  # None: installed outside Python, cannot be restored
            previous[signum] = signal.signal(signum, handler)
    return previous


def _deliver(signum: int, handler: Any) -> None:
    """Act on a held signal as ``handler`` would have when it arrived."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
