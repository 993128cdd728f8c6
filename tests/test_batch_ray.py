"""``thead batch --engine ray`` on a local Ray runtime with 2 CPUs that the command starts and stops."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("ray")

THEAD = Path(sys.executable).with_name("thead")


def test_ray_engine_runs_the_jobs_and_reports_each_one(tmp_path, portrait):
    shutil.copy(portrait, tmp_path / "face.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps(job) + "\n" for job in [
        {"id": "turned", "command": "edit", "args": ["face.png", "--yaw", "10", "-o", "turned.png"]},
        {"id": "broken", "command": "edit", "args": ["corrupt.png", "--yaw", "10", "-o", "broken.png"]},
    ]))
    ray_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    try:
        # one actor holding both CPUs: the local runtime is started with 2 CPUs, jobs share one warm worker
        done = subprocess.run([str(THEAD), "batch", str(jobs), "--out-dir", str(tmp_path / "out"), "--engine", "ray",
                               "--workers", "1", "--cpus-per-job", "2", "--json"],
                              capture_output=True, text=True, env={**os.environ, "RAY_TMPDIR": ray_dir}, timeout=180, check=False)
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)
    assert done.returncode == 6, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["jobs"], summary["done"], summary["failed"]) == (2, 1, 1)
    results = {record["id"]: record for record in summary["results"]}
    written = tmp_path / "out" / "turned.png"
    assert results["turned"]["outputs"][0] == {"path": str(written), "bytes": written.stat().st_size,
                                               "sha256": results["turned"]["outputs"][0]["sha256"]}
    assert results["turned"]["worker"] == results["broken"]["worker"]  # the same warm actor ran both
    assert results["broken"]["exit_code"] == 3 and "corrupt.png" in results["broken"]["error"]
    on_disk = [json.loads(line) for line in (tmp_path / "out" / "batch-status.jsonl").read_text().splitlines()]
    assert on_disk == summary["results"]
