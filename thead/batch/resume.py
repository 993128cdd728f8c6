"""``--resume``: which jobs a previous run already finished, checked against the files on disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from thead.batch.jobs import Job
from thead.batch.status import DONE, JobRecord
from thead.io.hashing import sha256_file


def output_verifies(recorded: dict[str, Any]) -> bool:
    """The file exists, is not empty, reads to the end, and has the size and sha256 the status file recorded."""
    path = Path(recorded.get("path", ""))
    try:
        size = os.stat(path).st_size
        return (path.is_file() and size > 0 and size == recorded.get("bytes")
                and sha256_file(path) == recorded.get("sha256"))
    except OSError:
        return False


def finished_before(job: Job, record: JobRecord | None) -> bool:
    """True when ``record`` is this very job (same command and arguments), done, with every output verified."""
    if record is None or record.state != DONE or record.command != job.command or list(record.args) != list(job.args):
        return False
    recorded = {item.get("path") for item in record.outputs}
    if recorded != {str(path) for path in job.outputs}:  # a job writing no file (eval to its log) counts as done
        return False
    return all(output_verifies(item) for item in record.outputs)
