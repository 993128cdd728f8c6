"""What both engines report while a batch runs: job started, finished, lost or cancelled.

The tracker turns these events into status records (saved atomically at each one), counts failures
against ``--max-failures`` and tells a listener (the CLI's progress bar) what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from thead.batch.status import CANCELLED, DONE, FAILED, RUNNING, JobRecord, StatusFile

#: Exit codes of a job stopped by a signal the batch forwarded (SIGINT, SIGTERM).
STOPPED_CODES = (130, 143)


class Tracker:
    """The live state of a batch: status records, failure count, whether to stop starting jobs."""

    def __init__(self, status: StatusFile, max_failures: int | None = None,
                 listener: Callable[[JobRecord], None] | None = None) -> None:
        self.status = status
        self.max_failures = max_failures
        self.failures = 0
        self.interrupted = False
        self.listener = listener or (lambda record: None)

    @property
    def stopping(self) -> bool:
        """No new job should start: interrupted, or ``--max-failures`` reached."""
        return self.interrupted or (self.max_failures is not None and self.failures >= self.max_failures)

    def started(self, job_id: str, worker: str | None = None) -> None:
        record = self.status[job_id]
        record.state, record.worker, record.started = RUNNING, worker, time.time()
        record.exit_code = record.error = record.finished = record.seconds = None
        record.outputs = []
        self._changed(record)

    def finished(self, result: dict[str, Any]) -> None:
        """A worker's result (see :func:`thead.batch.worker.run_job`)."""
        record = self.status[result["id"]]
        code = result["exit_code"]
        record.exit_code, record.error, record.outputs = code, result.get("error"), result.get("outputs", [])
        record.started, record.finished = result.get("started", record.started), result.get("finished")
        record.seconds, record.worker = result.get("seconds"), result.get("worker", record.worker)
        if code == 0:
            record.state = DONE
        elif self.interrupted and code in STOPPED_CODES:
            record.state = CANCELLED
        else:
            record.state = FAILED
            self.failures += 1
        self._changed(record)

    def lost(self, job_id: str, exit_code: int, error: str) -> None:
        """The worker running ``job_id`` died (killed, out of memory, crashed)."""
        self._ended(job_id, FAILED, exit_code, error)
        self.failures += 1

    def cancelled(self, job_id: str) -> None:
        """The job was stopped by Ctrl-C or SIGTERM before it finished; it left no output."""
        self._ended(job_id, CANCELLED, None, "cancelled: the batch was interrupted")

    def _ended(self, job_id: str, state: str, exit_code: int | None, error: str) -> None:
        record = self.status[job_id]
        record.state, record.exit_code, record.error, record.outputs = state, exit_code, error, []
        record.finished = time.time()
        record.seconds = round(record.finished - record.started, 3) if record.started else None
        self._changed(record)

    def _changed(self, record: JobRecord) -> None:
        self.status.save()
        self.listener(record)
