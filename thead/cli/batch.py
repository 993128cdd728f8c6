"""``thead batch``: run a job list (JSON Lines or CSV) resumably, on local workers or a Ray cluster."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from thead.cli._options import Json, Quiet
from thead.cli._output import Reporter, stderr
from thead.errors import TheadError, UsageError

if TYPE_CHECKING:
    from thead.batch.runner import BatchPlan
    from thead.batch.status import JobRecord, StatusFile

#: Most rows the summary table lists one by one; beyond, it lists only the jobs that did not succeed.
TABLE_ROWS = 30


def batch(
    jobs: Annotated[Path, typer.Argument(help="Job list: .jsonl (one JSON object a line) or .csv "
                                         "(columns id,command,args).", show_default=False)],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for relative outputs, the status file "
                                          "(batch-status.jsonl) and the job logs (batch-logs/).", show_default=False)],
    resume: Annotated[bool, typer.Option("--resume", help="Skip the jobs a previous run finished (outputs verified "
                                         "by size and sha256); run the rest.")] = False,
    engine: Annotated[str, typer.Option("--engine", help="local (worker processes) or ray.")] = "local",
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Jobs at once (default: one per core; "
                                                   "ray: as many as the cluster fits).")] = None,
    max_failures: Annotated[Optional[int], typer.Option("--max-failures", min=1, help="Start no new job after N "
                                                        "failures.")] = None,
    address: Annotated[Optional[str], typer.Option("--address", help="Ray cluster to join (ray://HOST:10001, or "
                                                   "auto); default: start a local Ray runtime.")] = None,
    cpus_per_job: Annotated[Optional[float], typer.Option("--cpus-per-job", min=0.0, help="CPUs each Ray job "
                                                          "holds (default 1).")] = None,
    gpus_per_job: Annotated[Optional[float], typer.Option("--gpus-per-job", min=0.0, help="GPUs each Ray job "
                                                          "holds (default 0).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the job list and print the plan; run nothing.")]
    = False,
    force: Annotated[bool, typer.Option("--force", help="Replace outputs that already exist (each job runs with "
                                        "--force).")] = False,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Run many thead commands from a job list: checked first, run in parallel, resumable after a crash.

    \b
    Examples:
      thead batch jobs.jsonl --out-dir renders/
      thead batch jobs.csv --out-dir renders/ --resume
      thead batch jobs.jsonl --out-dir renders/ --workers 4 --max-failures 10
      thead batch jobs.jsonl --out-dir /mnt/shared/renders --engine ray --address ray://head:10001 --gpus-per-job 1

    \b
    A job line: {"id": "intro-fr", "command": "drive-video", "args": ["portrait.jpg", "driving.mp4", "-o", "intro_fr.mp4"]}
    Commands: drive-video, drive-audio, edit, generate, eval. Relative inputs resolve against the job
    file's folder, relative outputs land under --out-dir. Exit 0 when every job succeeded, 6 when
    some failed or did not run (see the summary and batch-status.jsonl), 2/3 when the job list is wrong
    (every problem listed, nothing run), 130 on Ctrl-C (running jobs are stopped cleanly).
    """
    from thead.batch.jobs import JobListError
    from thead.batch.runner import ENGINES, JobsFailedError, counts, plan_batch, run_batch

    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}'", f"choose one of: {', '.join(ENGINES)}")
    if engine != "ray" and (address or cpus_per_job is not None or gpus_per_job is not None):
        raise UsageError("--address, --cpus-per-job and --gpus-per-job are for --engine ray",
                         "add --engine ray, or drop them")
    reporter = Reporter(quiet=quiet, json_mode=json_output)
    try:
        plan = plan_batch(jobs, out_dir, resume=resume, force=force, create_folders=not dry_run)
    except JobListError as err:
        for problem in err.problems:
            stderr.print(Text(str(problem)), soft_wrap=True)
        raise
    if dry_run:
        _print_plan(plan, reporter)
        return
    if plan.skipped:
        reporter.info(f"{len(plan.skipped)} of {len(plan.jobs)} jobs already done (outputs verified): skipped")
    started = time.monotonic()
    progress = _Progress(reporter, len(plan.to_run))
    try:
        with progress:
            status = run_batch(plan, engine=engine, workers=workers, max_failures=max_failures, address=address,
                               cpus_per_job=1.0 if cpus_per_job is None else cpus_per_job,
                               gpus_per_job=0.0 if gpus_per_job is None else gpus_per_job, listener=progress.update)
    except TheadError:  # the batch could not start (folder in use, Ray unreachable): nothing to summarise
        raise
    except BaseException:  # Ctrl-C, SIGTERM: the jobs stopped cleanly; say where things stand
        _print_summary(plan.status, counts(plan.status, len(plan.skipped)), started, reporter)
        raise
    summary = _print_summary(plan.status, counts(plan.status, len(plan.skipped)), started, reporter)
    unfinished = summary["jobs"] - summary["done"]
    if unfinished:
        raise JobsFailedError(f"{unfinished} of {summary['jobs']} jobs did not succeed "
                              f"({summary['failed']} failed, {summary['pending'] + summary['cancelled']} not run)",
                              f"see {status.path} and the logs in {plan.logs}; fix and rerun with --resume")


class _Progress:
    """A progress bar with counts and ETA on a terminal; one line per finished job otherwise (unless quiet)."""

    def __init__(self, reporter: Reporter, total: int) -> None:
        self.reporter, self.total = reporter, total
        self.done = self.failed = 0
        self.bar = None

    def __enter__(self) -> _Progress:
        if self.reporter.chatty and stderr.is_terminal and self.total:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.bar = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                TimeRemainingColumn(), console=stderr, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("batch", total=self.total, counts="")
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, record: JobRecord) -> None:
        from thead.batch.status import DONE, RUNNING

        if record.state == RUNNING:
            return
        self.done += record.state == DONE
        self.failed += record.state != DONE
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done + self.failed,
                            counts=f"{self.done} done, {self.failed} failed")
        elif record.state == DONE:
            self.reporter.info(f"done    {record.id}  ({record.seconds or 0:.1f} s)")
        else:
            self.reporter.info(f"{record.state:<7} {record.id}  (line {record.line}): {record.error or ''}")


def _print_plan(plan: BatchPlan, reporter: Reporter) -> None:
    rows = [{"id": job.id, "line": job.line, "run": job in plan.to_run, "force": job.id in plan.forced,
             "argv": ["thead", *job.argv], "outputs": [str(p) for p in job.outputs]} for job in plan.jobs]
    if reporter.json_mode:
        sys.stdout.write(json.dumps({"status": str(plan.status.path), "jobs": rows}) + "\n")
        return
    for row in rows:
        what = "run " if row["run"] else "skip"
        reporter.result({}, f"{what}  {row['id']}  {shlex.join(row['argv'])}" + ("  (--force)" if row["force"] else ""))


def _print_summary(status: StatusFile, summary: dict[str, float], started: float, reporter: Reporter) -> dict:
    """The summary table (or JSON object) on stdout; returns the counts with the wall time."""
    summary["seconds"] = round(time.monotonic() - started, 2)
    if reporter.json_mode:
        payload = {**summary, "status": str(status.path),
                   "results": [vars(record) for record in status.records.values()]}
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()
        return summary
    if reporter.quiet:
        return summary
    from rich.console import Console

    from thead.batch.status import DONE

    records = list(status.records.values())
    shown = records if len(records) <= TABLE_ROWS else [r for r in records if r.state != DONE]
    table = Table()
    for title in ("job", "line", "command", "state", "exit", "seconds", "output or error"):
        table.add_column(title, justify="right" if title in ("line", "exit", "seconds") else "left")
    for record in shown:
        detail = ", ".join(Path(o["path"]).name for o in record.outputs) if record.state == DONE else record.error
        table.add_row(Text(record.id), str(record.line), Text(record.command), record.state,
                      "" if record.exit_code is None else str(record.exit_code),
                      "" if record.seconds is None else f"{record.seconds:.1f}", Text(detail or ""))
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    if shown:
        console.print(table)
    line = (f"{summary['jobs']} jobs: {summary['done']} done ({summary['skipped']} already before), "
            f"{summary['failed']} failed, {summary['cancelled']} cancelled, {summary['pending']} not run; "
            f"{summary['seconds']:.1f} s; status: {status.path}")
    console.print(Text(line))
    return summary
