"""``thead batch`` on the local engine, through the installed ``thead``: the job list is checked whole, a
failing or killed job stops nothing else and leaves nothing partial, ``--resume`` runs only what is left,
and Ctrl-C stops cleanly with the status written."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

THEAD = Path(sys.executable).with_name("thead")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def write_jobs(path: Path, jobs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(job) + "\n" for job in jobs))
    return path


def status(out: Path) -> dict[str, dict]:
    lines = (out / "batch-status.jsonl").read_text().splitlines()
    return {record["id"]: record for record in map(json.loads, lines)}


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".thead-*") if ".partial" in p.name]


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([str(THEAD), "batch", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)


def wait_for_partial(out: Path, process: subprocess.Popen, timeout: float = 60) -> Path:
    """The temporary video of the drive-video job being written (named after its worker's pid)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        found = [p for p in partials(out) if p.name.endswith(".mp4")]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no job was writing (exit {process.poll()})")


@pytest.fixture()
def workdir(tmp_path, portrait, shared) -> Path:
    shutil.copy(portrait, tmp_path / "face.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    os.symlink(shared / "media" / "driving" / "lp_d12.mp4", tmp_path / "driving.mp4")
    return tmp_path


def long_job(job_id: str) -> dict:
    return {"id": job_id, "command": "drive-video",
            "args": ["face.png", "driving.mp4", "-o", f"{job_id}.mp4", "--max-frames", "40"]}


def edit_job(job_id: str, source: str, yaw: int) -> dict:
    return {"id": job_id, "command": "edit", "args": [source, "--yaw", str(yaw), "-o", f"stills/{job_id}.png"]}


def test_the_whole_list_is_checked_and_nothing_runs(tmp_path, portrait):
    shutil.copy(portrait, tmp_path / "face.png")
    jobs = write_jobs(tmp_path / "jobs.jsonl", [
        {"command": "edit", "args": ["face.png", "--yaw", "5", "-o", "a.png"]},
        {"command": "edt", "args": ["face.png", "-o", "b.png"]},
        {"command": "edit", "args": ["face.png", "--yaww", "5", "-o", "c.png"]},
        {"command": "edit", "args": ["face.png", "--yaw", "5", "-o", "a.png"]},
    ])
    done = subprocess.run([str(THEAD), "batch", str(jobs), "--out-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, env=ENV, check=False)
    assert done.returncode == 2, done.stderr
    assert "line 2: unknown command 'edt' — did you mean edit?" in done.stderr
    assert "line 3: no such option: --yaww — did you mean --yaw?" in done.stderr
    assert f"line 4: output {tmp_path / 'out' / 'a.png'} is also written by the job on line 1" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: 3 problems in job list")
    assert not (tmp_path / "out").exists()

    (tmp_path / "list.csv").write_text('id,command,args\nfirst,edit,"missing.png --yaw 5 -o \'my a.png\'"\n')
    done = subprocess.run([str(THEAD), "batch", str(tmp_path / "list.csv"), "--out-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, env=ENV, check=False)
    assert done.returncode == 3, done.stderr
    assert f"line 2: input {tmp_path / 'missing.png'} does not exist" in done.stderr


def test_failures_stay_contained_and_resume_runs_only_the_rest(workdir):
    out = workdir / "out"
    jobs = write_jobs(workdir / "jobs.jsonl", [long_job("long"), edit_job("left", "face.png", 10),
                                               edit_job("right", "face.png", -10), edit_job("broken", "corrupt.png", 5)])
    batch = start(jobs, "--out-dir", out, "--workers", "2")
    partial = wait_for_partial(out, batch)
    os.kill(int(partial.name.split("-")[1]), signal.SIGKILL)  # the worker writing "long" dies mid-way
    _, err = batch.communicate(timeout=120)

    assert batch.returncode == 6, err
    first = status(out)
    assert {k: r["state"] for k, r in first.items()} == {"long": "failed", "left": "done", "right": "done",
                                                          "broken": "failed"}
    assert first["long"]["exit_code"] == 128 + signal.SIGKILL and "died (killed by SIGKILL)" in first["long"]["error"]
    assert first["broken"]["exit_code"] == 3 and "corrupt.png" in first["broken"]["error"]
    assert "error: " in (out / "batch-logs" / "broken.log").read_text()
    assert partials(workdir) == [] and not (out / "long.mp4").exists()
    left = out / "stills" / "left.png"
    assert first["left"]["outputs"][0]["bytes"] == left.stat().st_size > 0
    stamp = left.stat().st_mtime_ns

    shutil.copy(workdir / "face.png", workdir / "corrupt.png")  # the bad input is fixed
    (out / "stills" / "right.png").write_bytes(b"damaged")  # a finished output no longer matches its hash
    done = subprocess.run([str(THEAD), "batch", str(jobs), "--out-dir", str(out), "--resume", "--workers", "1"],
                          capture_output=True, text=True, env=ENV, check=False)
    assert done.returncode == 0, done.stderr
    second = status(out)
    assert all(record["state"] == "done" for record in second.values())
    assert second["left"] == first["left"] and left.stat().st_mtime_ns == stamp  # not re-run
    assert second["right"]["started"] > first["right"]["started"]  # re-run: its output failed verification
    assert second["long"]["outputs"][0]["bytes"] == (out / "long.mp4").stat().st_size > 0
    assert partials(workdir) == []


def test_ctrl_c_stops_cleanly_with_the_status_written(workdir):
    out = workdir / "out"
    jobs = write_jobs(workdir / "jobs.jsonl", [long_job("long"), edit_job("after", "face.png", 10)])
    batch = start(jobs, "--out-dir", out, "--workers", "1")
    wait_for_partial(out, batch)
    interrupted = time.monotonic()
    batch.send_signal(signal.SIGINT)
    _, err = batch.communicate(timeout=60)
    assert batch.returncode == 130, err
    assert time.monotonic() - interrupted < 15
    assert err.strip().splitlines()[-1] == "error: interrupted"
    records = status(out)
    assert records["long"]["state"] == "cancelled" and records["after"]["state"] == "pending"
    assert partials(workdir) == [] and not (out / "long.mp4").exists()


def test_warm_backends_reuse_the_built_backend_only_inside_the_block():
    from thead.backends import resolve_backend, warm_backends

    with warm_backends():
        first = resolve_backend("warp", "cpu")
        assert resolve_backend("warp", "cpu") is first  # a batch worker's second job finds its models loaded
        assert resolve_backend("WARP", "cpu", {}) is first
    assert resolve_backend("warp", "cpu") is not first
    assert resolve_backend("warp", "cpu") is not resolve_backend("warp", "cpu")


def test_max_failures_stops_new_jobs_and_each_event_reaches_the_status_file(tmp_path):
    from thead.batch.status import JobRecord, StatusFile
    from thead.batch.tracker import Tracker

    status = StatusFile(tmp_path / "batch-status.jsonl", [JobRecord(str(i), i, "edit", []) for i in (1, 2, 3)])
    tracker = Tracker(status, max_failures=2)
    tracker.started("1", "host:1")
    assert json.loads((tmp_path / "batch-status.jsonl").read_text().splitlines()[0])["state"] == "running"
    tracker.finished({"id": "1", "exit_code": 3, "error": "error: corrupt"})
    assert not tracker.stopping
    tracker.started("2", "host:2")
    tracker.lost("2", 137, "error: the worker process died")
    assert tracker.stopping  # the engines start no new job from here
    saved = [json.loads(line) for line in (tmp_path / "batch-status.jsonl").read_text().splitlines()]
    assert [(r["state"], r["exit_code"]) for r in saved] == [("failed", 3), ("failed", 137), ("pending", None)]


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("jobs.jsonl", ('{"id": "a", "command": "edit", "args": ["f.png", "--yaw", 5]}\n\n'
                    '{"command": "edit"\n["edit"]\n{"command": "edit", "argz": []}\n{"command": "edit", "args": "x"}\n'
                    '{"command": " edit ", "args": []}\n'),
     ([(1, "a", "edit", ("f.png", "--yaw", "5")), (7, "7", "edit", ())],
      [(3, "not valid JSON"), (4, "a job is a JSON object"), (5, "unknown key(s) argz"),
       (6, "args must be a list of strings")])),
    ("jobs.csv", 'id,command,args\nb,edit,"f.png -o \'o 1.png\'"\n,edit,"f.png -o \'unclosed"\n, edit ,f.png\n',
     ([(2, "b", "edit", ("f.png", "-o", "o 1.png")), (4, "4", "edit", ("f.png",))],
      [(3, "args are not valid shell quoting")])),
    ("jobs.csv", "name,args\nx,y\n", ([], [(1, "a CSV job file has the header id,command,args")])),
])
def test_job_file_readers_keep_good_rows_and_name_each_bad_line(tmp_path, name, text, expected):
    from thead.batch.jobs import read_job_file

    (tmp_path / name).write_text(text)
    entries, problems = read_job_file(tmp_path / name)
    assert [(e.line, e.id, e.command, e.args) for e in entries] == expected[0]
    assert len(problems) == len(expected[1])
    for problem, (line, start) in zip(problems, expected[1]):
        assert problem.line == line and problem.message.startswith(start), problem


def test_generate_jobs_declare_their_numbered_outputs(tmp_path):
    from thead.batch.jobs import JobListError, load_jobs

    jobs = write_jobs(tmp_path / "jobs.jsonl", [
        {"id": "many", "command": "generate", "args": ["--num", "3", "-o", "w.png"]},
        {"id": "sheet", "command": "generate", "args": ["--num", "3", "--grid", "-o", "sheet.png"]},
    ])
    many, sheet = load_jobs(jobs, tmp_path / "out")
    assert many.outputs == tuple(tmp_path / "out" / f"w-{i}.png" for i in (1, 2, 3))
    assert sheet.outputs == (tmp_path / "out" / "sheet.png",)
    clash = write_jobs(tmp_path / "clash.jsonl", [
        {"command": "generate", "args": ["--num", "2", "-o", "w.png"]},
        {"command": "generate", "args": ["-o", "w-2.png"]},
    ])
    with pytest.raises(JobListError) as error:
        load_jobs(clash, tmp_path / "out")
    assert [str(p) for p in error.value.problems] == [
        f"line 2: output {tmp_path / 'out' / 'w-2.png'} is also written by the job on line 1"]
