"""The status file: one JSON line per job (id, state, exit code, outputs with sizes and hashes, timings, error).

It is rewritten whole, atomically (temporary file, then rename), after every change, so a crash or a
power loss leaves the previous complete version, never half a line.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from thead.io.atomic import atomic_path

#: Job states: waiting, running, finished well, failed, stopped by Ctrl-C (or SIGTERM) before the end.
PENDING, RUNNING, DONE, FAILED, CANCELLED = "pending", "running", "done", "failed", "cancelled"


@dataclass
class JobRecord:
    """What the status file says about one job."""

    id: str
    line: int
    command: str
    args: list[str]
    state: str = PENDING
    exit_code: int | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)  # {"path", "bytes", "sha256"} of each file written
    error: str | None = None  # the job's `error: ...` line
    log: str | None = None
    worker: str | None = None  # host:pid that ran it
    started: float | None = None  # Unix time
    finished: float | None = None
    seconds: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class StatusFile:
    """The records of every job of a batch, in job-list order, saved to ``path`` on each change."""

    def __init__(self, path: Path, records: list[JobRecord]) -> None:
        self.path = path
        self.records = {record.id: record for record in records}

    def __getitem__(self, job_id: str) -> JobRecord:
        return self.records[job_id]

    def save(self) -> None:
        """Rewrite the file atomically."""
        text = "".join(json.dumps(asdict(record), ensure_ascii=False) + "\n" for record in self.records.values())
        with atomic_path(self.path) as tmp:
            tmp.write_text(text, encoding="utf-8")


def read_status(path: Path) -> dict[str, JobRecord]:
    """The records of a previous run by job id (empty when there is no status file; unreadable lines skipped)."""
    if not os.path.isfile(path):
        return {}
    records = {}
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = JobRecord.from_dict(json.loads(raw))
        except (ValueError, TypeError):
            continue
        records[record.id] = record
    return records
