"""The Ray engine: the same jobs as calls on Ray actors, on this machine or a cluster (``pip install "thead[ray]"``).

Each actor is one long-lived worker holding ``--cpus-per-job`` CPUs and ``--gpus-per-job`` GPUs; it runs
jobs one at a time in-process with warm models (:mod:`thead.batch.worker`) and sends the result back to
the driver, which alone writes the status file. Without ``--address`` a local Ray runtime is started
and stopped with the batch. On a cluster, every node needs thead installed and must see the inputs and
the output folder at the same paths (a shared or mounted file system).

An actor that dies fails its job only and is replaced. On Ctrl-C or SIGTERM, running actors are
killed (a running actor call cannot be interrupted), their temporary outputs removed, and their jobs
marked cancelled.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ray

from thead.batch.tracker import Tracker
from thead.batch.worker import remove_partials_of, run_job

#: Seconds to wait for killed actors to be gone before their temporary outputs are removed.
STOP_GRACE = 20.0
#: Seconds between checks for a stop signal while jobs run.
POLL = 0.25


class JobActor:
    """A Ray worker process that runs thead jobs in-process, keeping backends warm between them."""

    def __init__(self) -> None:
        from thead.backends import warm_backends

        self._warm = warm_backends()
        self._warm.__enter__()

    def identity(self) -> tuple[str, int]:
        return os.uname().nodename, os.getpid()

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        return run_job(task)


def run_ray(tasks: list[dict[str, Any]], tracker: Tracker, *, address: str | None, workers: int | None,
            cpus_per_job: float, gpus_per_job: float) -> None:
    """Run ``tasks`` on Ray actors, reporting to ``tracker``; returns when all ended or it stops.

    A stop signal is recorded rather than raised while Ray's own code runs (an exception raised inside
    its compiled calls would surface as a SystemError); once the running jobs are cancelled and Ray is
    shut down, the signal is delivered again to the previous handler (the CLI's: exit 130/143).
    """
    with _signals_recorded() as received:
        started_here = not ray.is_initialized()
        if started_here:
            _connect(address, workers, cpus_per_job)
        try:
            if not received:
                _run(tasks, tracker, workers, cpus_per_job, gpus_per_job, received)
        finally:
            if started_here:
                ray.shutdown()
    if received:
        signal.raise_signal(received[0])


@contextlib.contextmanager
def _signals_recorded() -> Iterator[list[int]]:
    """While the block runs, SIGINT/SIGTERM/SIGHUP are appended to the yielded list instead of handled."""
    received: list[int] = []
    names = [name for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {getattr(signal, name): signal.signal(getattr(signal, name), lambda signum, _: received.append(signum))
                for name in names}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _connect(address: str | None, workers: int | None, cpus_per_job: float) -> None:
    from thead.errors import DeviceError

    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is None and workers is not None:
        options["num_cpus"] = max(1, round(workers * cpus_per_job))
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise DeviceError(f"cannot reach the Ray cluster at {address or 'a new local runtime'} ({exc})",
                          "check --address (ray://HOST:10001 or auto) and that the cluster runs") from exc


def _capacity(cpus_per_job: float, gpus_per_job: float) -> int:
    """How many jobs the cluster can run at once with these per-job resources."""
    resources = ray.cluster_resources()
    fits = [resources.get("CPU", 0) / cpus_per_job] if cpus_per_job > 0 else []
    if gpus_per_job > 0:
        fits.append(resources.get("GPU", 0) / gpus_per_job)
    return max(1, int(min(fits))) if fits else 1


def _run(tasks: list[dict[str, Any]], tracker: Tracker, workers: int | None, cpus_per_job: float,
         gpus_per_job: float, received: list[int]) -> None:
    actor_class = ray.remote(JobActor).options(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_restarts=0)
    count = min(workers or _capacity(cpus_per_job, gpus_per_job), len(tasks))
    idle = [actor_class.remote() for _ in range(count)]
    identities = dict(zip(idle, ray.get([actor.identity.remote() for actor in idle])))
    pending = list(reversed(tasks))
    running: dict[Any, tuple[Any, dict[str, Any]]] = {}  # result ref -> (actor, task)
    try:
        while (pending or running) and not received:
            while idle and pending and not tracker.stopping:
                actor, task = idle.pop(), pending.pop()
                running[actor.run.remote(task)] = (actor, task)
                host, pid = identities[actor]
                tracker.started(task["id"], f"{host}:{pid}")
            if not running:
                break
            done, _ = ray.wait(list(running), num_returns=1, timeout=POLL)
            if done:
                _collect(done[0], running, idle, identities, tracker, actor_class, more=bool(pending))
    finally:
        if running:
            tracker.interrupted = True
            _cancel(running, identities, tracker)


def _collect(ref: Any, running: dict, idle: list, identities: dict, tracker: Tracker, actor_class: Any,
             more: bool) -> None:
    """Record the result behind ``ref``; a dead actor fails its job and is replaced when jobs remain."""
    actor, task = running.pop(ref)
    try:
        tracker.finished(ray.get(ref))
        idle.append(actor)
    except ray.exceptions.RayTaskError as exc:  # the job machinery itself failed (e.g. unwritable log)
        tracker.lost(task["id"], 1, f"error: unexpected {type(exc.cause).__name__}: {exc.cause} — rerun "
                                    "with THEAD_DEBUG=1 and report the traceback")
        idle.append(actor)
    except ray.exceptions.RayActorError as exc:
        _forget(actor, task, identities)
        tracker.lost(task["id"], 1, f"error: the Ray worker died while running this job ({type(exc).__name__})"
                                    " — run it again with --resume")
        if more and not tracker.stopping:
            replacement = actor_class.remote()
            identities[replacement] = ray.get(replacement.identity.remote())
            idle.append(replacement)


def _cancel(running: dict, identities: dict, tracker: Tracker) -> None:
    """Kill the actors still running jobs (a running call cannot be interrupted), then clean up after them."""
    for actor, _ in running.values():
        ray.kill(actor)
    ray.wait(list(running), num_returns=len(running), timeout=STOP_GRACE)  # until they are gone
    for actor, task in running.values():
        _forget(actor, task, identities)
        tracker.cancelled(task["id"])
    running.clear()


def _forget(actor: Any, task: dict[str, Any], identities: dict[Any, tuple[str, int]]) -> None:
    """Remove what a dead or killed actor left half-written for ``task``."""
    _, pid = identities.pop(actor)
    remove_partials_of({pid}, {Path(p).parent for p in task["outputs"]})
