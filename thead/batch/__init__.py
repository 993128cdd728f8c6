"""Batch rendering: run a list of thead jobs, resumably, on local worker processes or on a Ray cluster.

- :mod:`thead.batch.jobs` reads and checks the job list (JSON Lines or CSV);
- :mod:`thead.batch.runner` plans and runs a batch; :mod:`thead.batch.local` and
  :mod:`thead.batch.ray_engine` are the engines, :mod:`thead.batch.worker` runs one job in a worker;
- :mod:`thead.batch.status` is the status file, :mod:`thead.batch.resume` decides what ``--resume`` skips.

Jobs run the CLI's own commands in-process, so this package builds on :mod:`thead.cli` (the reverse
of the rest of the library): a job behaves exactly as the same ``thead`` command would.
"""

from thead.batch.runner import JobsFailedError, plan_batch, run_batch

__all__ = ["JobsFailedError", "plan_batch", "run_batch"]
