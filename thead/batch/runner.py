"""A batch from job file to status file: check and plan the jobs, then run them on the chosen engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thead.batch.jobs import BAD_INPUT, LOGS_NAME, STATUS_NAME, Job, JobListError, Problem, load_jobs
from thead.batch.resume import finished_before
from thead.batch.status import CANCELLED, DONE, FAILED, PENDING, JobRecord, StatusFile, read_status
from thead.batch.tracker import Tracker
from thead.batch.worker import task_for
from thead.errors import OutputError, TheadError, UsageError

ENGINES = ("local", "ray")


class JobsFailedError(TheadError):
    """The batch ran, but not every job succeeded (exit 6): the status file and the summary say which and why."""

    exit_code = 6


@dataclass
class BatchPlan:
    """The checked jobs, which of them run (and which get ``--force``), and the status file they report to."""

    jobs: list[Job]
    to_run: list[Job]
    skipped: list[Job]
    forced: set[str]
    status: StatusFile
    logs: Path


def plan_batch(job_file: Path, out_dir: Path, *, resume: bool = False, force: bool = False,
               create_folders: bool = True) -> BatchPlan:
    """Check the whole job list and decide what runs; raises :class:`JobListError` listing every problem.

    With ``resume``, a job whose previous record is done with verified outputs is skipped, and the
    outputs a previous run of a job left unverified are replaced. Other existing outputs are refused
    unless ``force``. The output folders are created unless ``create_folders`` is false (a dry run).
    """
    out_dir = out_dir.expanduser().absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out-dir {out_dir} is not a directory", "give a folder (it is created if missing)")
    jobs = load_jobs(job_file.expanduser().absolute(), out_dir)
    status_path, logs = out_dir / STATUS_NAME, out_dir / LOGS_NAME
    previous = read_status(status_path) if resume else {}
    to_run, skipped, forced, problems = [], [], set(), []
    for job in jobs:
        if finished_before(job, previous.get(job.id)):
            skipped.append(job)
            continue
        to_run.append(job)
        existing = [path for path in job.outputs if path.exists()]
        if existing and (force or job.id in previous) and job.takes_force:
            forced.add(job.id)
        elif existing:
            problems.append(Problem(job.line, f"output {existing[0]} already exists — pass --force to replace it "
                                              "(or --resume to skip the jobs that finished)", BAD_INPUT))
    if problems:
        raise JobListError(job_file, problems)
    try:
        for path in ({p.parent for job in to_run for p in job.outputs} | {logs}) if create_folders else ():
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {exc.filename} ({exc.strerror})", "check --out-dir") from exc
    records = [previous[job.id] if job in skipped else
               JobRecord(job.id, job.line, job.command, list(job.args), log=str(logs / f"{job.id}.log"))
               for job in jobs]
    return BatchPlan(jobs, to_run, skipped, forced, StatusFile(status_path, records), logs)


def run_batch(plan: BatchPlan, *, engine: str = "local", workers: int | None = None,
              max_failures: int | None = None, address: str | None = None, cpus_per_job: float = 1.0,
              gpus_per_job: float = 0.0, listener: Callable[[JobRecord], None] | None = None) -> StatusFile:
    """Run the planned jobs; the status file is written before, during and after (also on Ctrl-C).

    One batch at a time per output folder: a lock file beside the status file keeps a second one out.
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}'", f"choose one of: {', '.join(ENGINES)}")
    from filelock import FileLock, Timeout

    lock = FileLock(f"{plan.status.path}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise OutputError(f"another thead batch is running in {plan.status.path.parent}",
                          "wait for it to end, or choose another --out-dir") from exc
    try:
        _run(plan, engine, workers, max_failures, address, cpus_per_job, gpus_per_job, listener)
    finally:
        lock.release()
    return plan.status


def _run(plan: BatchPlan, engine: str, workers: int | None, max_failures: int | None, address: str | None,
         cpus_per_job: float, gpus_per_job: float, listener: Callable[[JobRecord], None] | None) -> None:
    plan.status.save()
    tasks = [task_for(job, Path(plan.status[job.id].log), ("--force",) if job.id in plan.forced else ())
             for job in plan.to_run]
    tracker = Tracker(plan.status, max_failures, listener)
    if not tasks:
        return
    if engine == "local":
        from thead.batch.local import default_workers, run_local

        run_local(tasks, tracker, workers or default_workers())
    else:
        try:
            from thead.batch.ray_engine import run_ray
        except ImportError as exc:
            raise UsageError("the Ray engine needs Ray", 'pip install "thead[ray]"') from exc
        run_ray(tasks, tracker, address=address, workers=workers, cpus_per_job=cpus_per_job,
                gpus_per_job=gpus_per_job)


def counts(status: StatusFile, skipped: int = 0) -> dict[str, int]:
    """Jobs by state (done includes the ``skipped`` ones a resume did not re-run)."""
    states = [record.state for record in status.records.values()]
    return {"jobs": len(states), "done": states.count(DONE), "skipped": skipped, "failed": states.count(FAILED),
            "cancelled": states.count(CANCELLED), "pending": states.count(PENDING)}
