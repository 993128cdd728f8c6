"""``thead batch``: 20 small drive-video jobs, three ways, on this machine.

1. ``sequential``: the 20 ``thead drive-video`` commands one after another (each pays the interpreter,
   the imports and the models);
2. ``batch local``: ``thead batch`` with its default engine (one worker process per core, models warm);
3. ``batch ray``: ``thead batch --engine ray`` on a local Ray runtime it starts (start-up included).

Each job animates one portrait with the first ``--frames`` frames of a driving clip (warp backend,
no sound). Inputs: ``../shared/media`` (portraits ``st_happy.png``/``st_sad.png``, driving
``lp_d12.mp4``/``lp_d18.mp4``) when present; otherwise scikit-image's astronaut driven by a clip of it
rendered here. Times are wall-clock seconds of whole commands, as a user sees them.

    python benchmarks/batch.py [--jobs 20] [--frames 25] [--workers N] [--skip-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import markdown_table

THEAD = Path(sys.executable).with_name("thead")


def inputs(folder: Path, frames: int) -> tuple[list[Path], list[Path]]:
    shared = Path(os.environ.get("THEAD_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "media"
    sources = [shared / "portraits/st_happy.png", shared / "portraits/st_sad.png"]
    drivings = [shared / "driving/lp_d12.mp4", shared / "driving/lp_d18.mp4"]
    if all(p.is_file() for p in sources + drivings):
        return sources, drivings
    from drive_video import made_inputs

    source, driving = made_inputs(folder, frames)
    return [source], [driving]


def job_args(index: int, sources: list[Path], drivings: list[Path], frames: int, output: str) -> list[str]:
    return [str(sources[index % len(sources)]), str(drivings[index // len(sources) % len(drivings)]),
            "-o", output, "--max-frames", str(frames), "--no-audio", "--quiet"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--frames", type=int, default=25, help="driving frames per job (25 = 1 s of video)")
    parser.add_argument("--workers", type=int, default=None, help="local engine workers (default: one per core)")
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources, drivings = inputs(folder, args.frames)
        rows = []
        seq = folder / "sequential"
        seq.mkdir()
        total = sum(timed([str(THEAD), "drive-video", *job_args(i, sources, drivings, args.frames,
                                                                 str(seq / f"{i:02d}.mp4"))])
                    for i in range(args.jobs))
        rows.append(("sequential thead commands", total))
        jobs = folder / "jobs.jsonl"
        jobs.write_text("".join(json.dumps({"id": f"job{i:02d}", "command": "drive-video",
                                            "args": job_args(i, sources, drivings, args.frames, f"{i:02d}.mp4")})
                                + "\n" for i in range(args.jobs)))
        workers = ["--workers", str(args.workers)] if args.workers else []
        rows.append(("thead batch (local engine)",
                     timed([str(THEAD), "batch", str(jobs), "--out-dir", str(folder / "local"), "-q", *workers])))
        if not args.skip_ray:
            rows.append(("thead batch --engine ray (local runtime)",
                         timed([str(THEAD), "batch", str(jobs), "--out-dir", str(folder / "ray"), "--engine", "ray",
                                "-q", *workers])))
    base = rows[0][1]
    print(f"{args.jobs} drive-video jobs of {args.frames} frames, {os.cpu_count()} cores")
    print(markdown_table(("how", "seconds", "per job", "speed-up"),
                         [(name, f"{seconds:.1f}", f"{seconds / args.jobs:.2f}", f"{base / seconds:.2f}x")
                          for name, seconds in rows]))


if __name__ == "__main__":
    main()
