"""The local engine: N worker processes on this machine, each running its jobs in-process with warm models.

Workers are started with ``spawn`` (forking a process that already holds OpenCV or torch thread pools can
hang). A worker that dies mid-job (killed, out of memory) fails that job only: its temporary output is
removed and a new worker takes the next job. On Ctrl-C or SIGTERM, no new job starts, running jobs are
interrupted (they remove their partial outputs and report exit 130/143), and the status is written.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from thead.batch.tracker import Tracker
from thead.batch.worker import remove_partials_of, run_job
from thead.io.atomic import signals_held

#: Seconds interrupted jobs get to clean up before their workers are killed.
STOP_GRACE = 20.0


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass
class _Worker:
    process: Any
    conn: Connection
    task: dict[str, Any] | None = None


def run_local(tasks: list[dict[str, Any]], tracker: Tracker, workers: int) -> None:
    """Run ``tasks`` on ``workers`` processes, reporting to ``tracker``; returns when all ended or it stops."""
    context = multiprocessing.get_context("spawn")
    threads = max(1, default_workers() // workers)
    pending = deque(tasks)
    pool = [_start(context, threads) for _ in range(min(workers, len(tasks)))]
    try:
        while pool:
            for worker in [w for w in pool if w.task is None]:
                if pending and not tracker.stopping and not _hand_over(worker, pending.popleft(), tracker):
                    pending.appendleft(worker.task)  # it died while idle: a new worker takes its place
                    worker.task = None
                    pool[pool.index(worker)] = _start(context, threads)
            busy = [w for w in pool if w.task is not None]
            if not busy:
                break
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if (worker.conn in ready or worker.process.sentinel in ready) and not _collect(worker, tracker):
                    pool.remove(worker)  # it died running its job (now failed)
                    if pending and not tracker.stopping:
                        pool.append(_start(context, threads))
    except BaseException:
        with signals_held():  # a second Ctrl-C must not cut the clean-up short
            tracker.interrupted = True
            _stop_running(pool, tracker)
        raise
    finally:
        _shut_down(pool)


def _start(context, threads: int) -> _Worker:
    parent, child = context.Pipe()
    process = context.Process(target=_worker_main, args=(child, os.getpid(), threads), daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


def _hand_over(worker: _Worker, task: dict[str, Any], tracker: Tracker) -> bool:
    """Give ``task`` to an idle worker; False when that worker has died in the meantime."""
    worker.task = task
    try:
        worker.conn.send(task)
    except OSError:
        return False
    tracker.started(task["id"], f"{os.uname().nodename}:{worker.process.pid}")
    return True


def _collect(worker: _Worker, tracker: Tracker) -> bool:
    """Record the result of ``worker``'s job; False when the worker died instead (its job then failed)."""
    task = worker.task
    try:
        result = worker.conn.recv()
    except (EOFError, OSError):
        worker.process.join(5)
        code = worker.process.exitcode
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit {code}"
        remove_partials_of({worker.process.pid}, {Path(p).parent for p in task["outputs"]})
        tracker.lost(task["id"], 128 - code if code is not None and code < 0 else 1,
                     f"error: the worker process died ({how}) while running this job — run it again with --resume")
        worker.task = None
        return False
    worker.task = None
    tracker.finished(result)
    return True


def _stop_running(pool: list[_Worker], tracker: Tracker) -> None:
    """Interrupt the running jobs, wait for their reports, kill the workers that do not answer."""
    running = [w for w in pool if w.task is not None and w.process.is_alive()]
    for worker in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.process.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE
    while running and time.monotonic() < deadline:
        ready = wait([w.conn for w in running] + [w.process.sentinel for w in running],
                     timeout=deadline - time.monotonic())
        for worker in [w for w in running if w.conn in ready or w.process.sentinel in ready]:
            task = worker.task
            try:
                tracker.finished(worker.conn.recv())
            except (EOFError, OSError):
                remove_partials_of({worker.process.pid}, {Path(p).parent for p in task["outputs"]})
                tracker.cancelled(task["id"])
            worker.task = None
            running.remove(worker)
    for worker in running:
        worker.process.kill()
        worker.process.join(5)
        remove_partials_of({worker.process.pid}, {Path(p).parent for p in worker.task["outputs"]})
        tracker.cancelled(worker.task["id"])
        worker.task = None


def _shut_down(pool: list[_Worker]) -> None:
    for worker in pool:
        with contextlib.suppress(OSError):
            worker.conn.send(None)
    for worker in pool:
        worker.process.join(10)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(5)


def _worker_main(conn: Connection, parent: int, threads: int) -> None:
    """A worker: run jobs until told to stop. Stop signals come from the batch process only (one each):
    the worker leaves the terminal's process group and ignores them between jobs."""
    os.setpgrp()
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, str(threads))
    threading.Thread(target=_stop_with_parent, args=(parent,), daemon=True).start()
    from thead.backends import warm_backends

    with warm_backends():
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                return
            if task is None:
                return
            result = run_job(task)
            try:
                conn.send(result)
            except OSError:
                return


def _stop_with_parent(parent: int) -> None:
    """If the batch process disappears (killed outright), interrupt the running job so it cleans up."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
