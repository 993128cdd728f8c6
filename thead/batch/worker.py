"""Running one job inside a long-lived worker process (local or Ray): the CLI in-process, output to a log file.

A worker runs its jobs one after another through :func:`thead.cli.app.run`, inside
:func:`thead.backends.warm_backends`, so that imports and loaded models are paid once per worker.
Everything the job prints (its own lines, ffmpeg's, native libraries') goes to the job's log file.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thead.io.atomic import PARTIAL_PREFIX
from thead.io.hashing import sha256_file


def task_for(job, log: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a worker needs to run ``job`` (plain data: it crosses process and machine boundaries)."""
    return {"id": job.id, "argv": [*job.argv, *extra], "outputs": [str(p) for p in job.outputs], "log": str(log)}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(task: dict[str, Any]) -> dict[str, Any]:
    """Run one job in this process; returns its exit code, error line, outputs (size, sha256) and timings."""
    from thead.cli.app import run

    log = Path(task["log"])
    started = time.time()
    with redirected_output(log, header=f"$ thead {shlex.join(task['argv'])}\n"):
        try:
            code = run(list(task["argv"]))
        except SystemExit as exit_:  # a library calling sys.exit: keep the worker alive
            code = exit_.code if isinstance(exit_.code, int) else 1
    finished = time.time()
    outputs = [describe_output(Path(p)) for p in task["outputs"] if code == 0 and os.path.isfile(p)]
    return {"id": task["id"], "exit_code": code, "error": None if code == 0 else last_error_line(log),
            "outputs": outputs, "started": started, "finished": finished, "seconds": round(finished - started, 3),
            "worker": worker_name()}


def describe_output(path: Path) -> dict[str, Any]:
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)}


@contextlib.contextmanager
def redirected_output(log: Path, header: str = "") -> Iterator[None]:
    """Send file descriptors 1 and 2 (and so sys.stdout, sys.stderr and child processes) to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "w", encoding="utf-8") as handle:
        handle.write(header)
        handle.flush()
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def last_error_line(log: Path) -> str | None:
    """The last ``error: ...`` line a job printed (the CLI prints exactly one when it fails)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return next((line for line in reversed(lines) if line.startswith("error:")), None)


def remove_partials_of(pids: set[int], folders: set[Path]) -> None:
    """Delete the temporary ``.thead-<pid>-*.partial*`` files of the (dead) worker processes ``pids``."""
    for folder in folders:
        for pid in pids:
            for path in folder.glob(f"{PARTIAL_PREFIX}{pid}-*.partial*"):
                with contextlib.suppress(OSError):
                    path.unlink()
