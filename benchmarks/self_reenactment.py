"""Self-reenactment: frame 0 of each real talking clip driven by the clip itself, compared with the clip.

The field's standard reconstruction protocol (the survey's Table VI): the source is frame 0 of a real
clip, the driver is the clip, and every output frame is compared with the real frame at the same time.
Rendering goes through the public ``thead.drive_video`` API (``--backend``, relative motion, paste-back,
no audio; H.264 at the writer's default quality), so any release with that API can be measured.
Per clip and on average it reports full-frame SSIM and PSNR, mouth-region and face-region SSIM, mouth
LMD, AKD and the sharpness ratio (face-box Laplacian variance, output over truth), each beside the same
numbers for the still frame 0 repeated (the do-nothing baseline). Frames 1..N-1 are compared (frame 0
is the source itself, identical for the still). Frames are decoded by this script (:func:`decode`, rounded
colour conversion), not by the measured release's reader, so that every release sees the same pixels:
the reader of earlier releases truncated, and read every video about 1.2 levels dark. The numbers come
from thead's own metrics (``thead eval --metrics ssim,psnr,ssim-mouth,ssim-face,lmd,akd,sharpness``);
when the measured ``thead`` is an older release without the region metrics, they are loaded from this
checkout, so that every release is measured by the same code.

    python benchmarks/self_reenactment.py [CLIP_OR_FOLDER ...] [--frames N] [--backend warp]
        [--json OUT.json] [--contact-sheet DIR] [--baseline PREVIOUS.json]

Default clips: ``../shared/media/talking/`` (or ``$THEAD_SHARED/media/talking``). ``--baseline`` adds the
previous release's numbers (a JSON written by ``--json``) in extra columns; ``--contact-sheet`` writes
``truth | output | still`` at the frame where the real mouth is widest open, one PNG per clip.
To measure the previous release: ``cd /tmp && PYTHONPATH=/path/to/old/checkout python
/path/to/this/benchmarks/self_reenactment.py --json old.json``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: swscale flags of the measurement decoder: rounded, full-resolution chroma (as thead.io.video reads)
DECODE_FLAGS = "bilinear+accurate_rnd+full_chroma_int"
VIDEO_SUFFIXES = {".mp4", ".mpg", ".mpeg", ".mov", ".mkv", ".avi", ".webm", ".m4v"}
#: (key in the JSON, column title, decimals, higher is better)
METRICS = [
    ("ssim", "SSIM", 3, True), ("psnr", "PSNR", 2, True), ("ssim-mouth", "SSIM mouth", 3, True),
    ("ssim-face", "SSIM face", 3, True), ("lmd", "LMD", 2, False), ("akd", "AKD", 2, False),
    ("sharpness", "sharpness", 3, None),
]
#: metric key -> "module:Class" under thead.metrics; the region metrics are new in this release.
METRIC_CLASSES = {
    "ssim": "ssim:SSIM", "psnr": "psnr:PSNR", "ssim-mouth": "ssim_mouth:MouthSSIM", "ssim-face": "ssim_face:FaceSSIM",
    "lmd": "lmd:LMD", "akd": "akd:AKD", "sharpness": "sharpness:Sharpness",
}
#: metrics whose benchmark number is one of their extras rather than the headline
EXTRA = {"sharpness": "sharpness ratio"}
OWN_METRIC_MODULES = ("regions", "ssim_mouth", "ssim_face", "sharpness")


def default_clips() -> list[Path]:
    shared = Path(os.environ.get("THEAD_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return clips_in([shared / "media/talking"])


def clips_in(paths: list[Path]) -> list[Path]:
    """Video files named, and the video files inside folders named, sorted per folder."""
    clips: list[Path] = []
    for path in paths:
        if path.is_dir():
            clips.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES))
        elif path.is_file():
            clips.append(path)
        else:
            raise SystemExit(f"error: {path} does not exist — name clips or folders of clips")
    return clips


def metric_classes() -> dict[str, type]:
    """The metric classes, from the measured thead when it has them, else from this checkout."""
    import thead.metrics

    own = Path(__file__).resolve().parents[1] / "thead" / "metrics"
    for name in OWN_METRIC_MODULES:
        full = f"thead.metrics.{name}"
        if importlib.util.find_spec(full) is None:
            spec = importlib.util.spec_from_file_location(full, own / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[full] = module
            spec.loader.exec_module(module)
            setattr(thead.metrics, name, module)
    out = {}
    for key, target in METRIC_CLASSES.items():
        module, _, cls = target.partition(":")
        out[key] = getattr(importlib.import_module(f"thead.metrics.{module}"), cls)
    return out


def decode(path: Path, frames: int | None = None) -> list[np.ndarray]:
    """The first ``frames`` (None: all) RGB uint8 frames of a video, decoded the same way for every release."""
    import subprocess

    from imageio_ffmpeg import get_ffmpeg_exe

    from thead.io.video import open_video

    width, height = open_video(path).size  # after the rotation players apply, as ffmpeg decodes
    limit = ["-frames:v", str(frames)] if frames else []
    command = [get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", *limit,
               "-vf", f"scale={width}:{height}:flags={DECODE_FLAGS}", "-fps_mode", "passthrough",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    data = subprocess.run(command, capture_output=True, check=True).stdout
    return list(np.frombuffer(data, np.uint8).reshape(-1, height, width, 3))


def render(clip: Path, first: np.ndarray, folder: Path, frames: int | None, backend: str) -> list[np.ndarray]:
    """Frame 0 driven by the clip through ``thead.drive_video`` (paste-back, relative, no audio)."""
    import thead
    from thead.io.image import write_image

    source, output = folder / f"{clip.stem}_frame0.png", folder / f"{clip.stem}_output.mp4"
    write_image(source, first)
    thead.drive_video(source, clip, output, backend=backend, audio="none", max_frames=frames, paste_back=True,
                      force=True)
    return decode(output)


def measure(classes: dict[str, type], generated: list[np.ndarray], truth: list[np.ndarray], fps: float,
            cache: dict) -> dict[str, float]:
    """Every metric of ``generated`` against ``truth``; ``cache`` holds meshes already tracked (sample cache keys)."""
    from thead.metrics.base import Sample

    sample = Sample(name="clip", frames=generated, fps=fps, reference=truth)
    sample.cache.update(cache)
    values = {}
    for key, cls in classes.items():
        result = cls().compute(sample)
        values[key] = float(result.extras[EXTRA[key]] if key in EXTRA else result.value)
    return values


def widest_mouth_frame(mesh: tuple[np.ndarray, np.ndarray]) -> int:
    """The frame whose real mouth is widest open (inner-lip gap over mouth width)."""
    from thead.face.geometry import mouth_openness

    points, found = mesh
    openness = [mouth_openness(p) if ok else -1.0 for p, ok in zip(points, found)]
    return int(np.argmax(openness))


def contact_sheet(path: Path, truth: np.ndarray, output: np.ndarray, still: np.ndarray, caption: str) -> None:
    """``truth | output | still`` side by side with titles, as PNG."""
    import cv2

    tiles = []
    for title, frame in (("truth", truth), ("output", output), ("still frame 0", still)):
        tile = np.ascontiguousarray(frame.copy())
        cv2.putText(tile, title, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, title, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    sheet = np.hstack(tiles)
    cv2.putText(sheet, caption, (6, sheet.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def run_clip(clip: Path, classes: dict[str, type], frames: int | None, backend: str, sheets: Path | None) -> dict:
    from thead.io.video import open_video
    from thead.metrics.landmarks import track_mesh

    fps = open_video(clip).fps
    truth = decode(clip, frames)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        output = render(clip, truth[0], Path(tmp), frames, backend)
    rendered = time.perf_counter() - start
    notes = []
    if len(output) != len(truth):
        notes.append(f"output has {len(output)} frames, truth {len(truth)}: compared the first "
                     f"{min(len(output), len(truth))}")
    count = min(len(output), len(truth))
    if count < 2:
        raise SystemExit(f"error: {clip.name} has {count} frame(s) — self-reenactment needs at least 2")
    first = truth[0]
    truth, output = truth[1:count], output[1:count]  # frame 0 is the source itself: not compared
    cache = {"mesh:reference": track_mesh(truth)}
    widest = widest_mouth_frame(cache["mesh:reference"])
    out_values = measure(classes, output, truth, fps, cache)
    still_points, still_found = track_mesh([first])
    still_cache = {"mesh:reference": cache["mesh:reference"],
                   "mesh:generated": (np.repeat(still_points, len(truth), 0), np.repeat(still_found, len(truth), 0))}
    still_values = measure(classes, [first] * len(truth), truth, fps, still_cache)
    if sheets is not None:
        contact_sheet(sheets / f"{clip.stem}.png", truth[widest], output[widest], first,
                      f"{clip.name} frame {widest + 1} (widest-open mouth)")
    return {"frames": count, "fps": fps, "widest_mouth_frame": widest + 1, "render_seconds": round(rendered, 2),
            "output": out_values, "still": still_values, **({"notes": notes} if notes else {})}


def mean_of(clips: dict[str, dict], which: str) -> dict[str, float]:
    return {key: float(np.nanmean([c[which][key] for c in clips.values()])) for key, *_ in METRICS}


def fmt(value: float | None, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{decimals}f}"


def previous_values(baseline: dict | None, name: str, which: str, clips: dict[str, dict]) -> dict[str, float] | None:
    """The previous release's numbers for a clip (or for "mean": over the same clips, when it has them all)."""
    if baseline is None:
        return None
    if name != "mean":
        return baseline["clips"].get(name, {}).get(which)
    if not all(c in baseline["clips"] for c in clips):
        return None
    return mean_of({c: baseline["clips"][c] for c in clips}, which)


def print_tables(result: dict, baseline: dict | None) -> None:
    clips = result["clips"]
    rows = [*clips, "mean"]
    groups = ["out", "still"] + (["prev out", "prev still"] if baseline else [])
    header = ["clip"] + [f"{title} {g}" for _, title, _, _ in METRICS for g in groups]
    print("| " + " | ".join(header) + " |")
    print("|---" + "|---:" * (len(header) - 1) + "|")
    for name in rows:
        record = clips.get(name) or result["mean"]
        sources = [record["output"], record["still"]]
        if baseline:
            sources += [previous_values(baseline, name, "output", clips), previous_values(baseline, name, "still", clips)]
        cells = [fmt((s or {}).get(key), d) for key, _, d, _ in METRICS for s in sources]
        label = f"**{name}**" if name == "mean" else name
        print("| " + " | ".join([label, *cells]) + " |")
    print()
    title = ["metric", "output", "still frame 0"] + (["previous output", "previous still", "output − previous"]
                                                     if baseline else [])
    print("| " + " | ".join(title) + " |")
    print("|---" + "|---:" * (len(title) - 1) + "|")
    for key, name, decimals, better in METRICS:
        arrow = {True: " ↑", False: " ↓", None: " (→ 1)"}[better]
        cells = [fmt(result["mean"]["output"][key], decimals), fmt(result["mean"]["still"][key], decimals)]
        if baseline:
            prev = previous_values(baseline, "mean", "output", clips) or {}
            prev_still = previous_values(baseline, "mean", "still", clips) or {}
            delta = result["mean"]["output"][key] - prev[key] if key in prev else None
            cells += [fmt(prev.get(key), decimals), fmt(prev_still.get(key), decimals),
                      ("+" if delta is not None and delta >= 0 else "") + fmt(delta, decimals)]
        print("| " + " | ".join([name + arrow, *cells]) + " |")


def print_goals(result: dict, baseline: dict | None) -> None:
    """Issue 10's goals on the mean row: sharpness against the still frame; the rest against the baseline."""
    out, still = result["mean"]["output"], result["mean"]["still"]
    relative = out["sharpness"] / still["sharpness"]
    lines = [f"sharpness output / still = {relative:.3f} (goal >= 0.9): {'met' if relative >= 0.9 else 'not met'}"]
    prev = previous_values(baseline, "mean", "output", result["clips"]) if baseline else None
    if prev:
        for key, title, goal in (("ssim-mouth", "mouth SSIM", 0.05), ("ssim", "full-frame SSIM", 0.03)):
            gain = out[key] - prev[key]
            lines.append(f"{title} gain over previous = {gain:+.3f} (goal >= +{goal}): {'met' if gain >= goal else 'not met'}")
        lines.append(f"LMD {out['lmd']:.3f} vs previous {prev['lmd']:.3f} (goal: no worse): "
                     f"{'met' if out['lmd'] <= prev['lmd'] else 'not met'}")
    print("\n" + "\n".join(f"- {line}" for line in lines))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path, help="clips or folders of clips (default: shared talking clips)")
    parser.add_argument("--frames", type=int, default=None, help="use at most the first N frames of each clip")
    parser.add_argument("--backend", default="warp", help="rendering backend (default: warp)")
    parser.add_argument("--json", type=Path, help="write the numbers as JSON here")
    parser.add_argument("--contact-sheet", type=Path, metavar="DIR",
                        help="write truth | output | still at the widest-open-mouth frame, one PNG per clip")
    parser.add_argument("--baseline", type=Path, metavar="JSON", help="previous release's --json, shown in extra columns")
    args = parser.parse_args(argv)

    import thead

    clips = clips_in(args.clips) if args.clips else default_clips()
    if not clips:
        raise SystemExit("error: no clips found — name clips or folders, or set THEAD_SHARED")
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    if baseline is not None and (baseline.get("frames"), baseline.get("backend")) != (args.frames, args.backend):
        raise SystemExit(f"error: {args.baseline} was measured with --frames {baseline.get('frames')} --backend "
                         f"{baseline.get('backend')} — rerun with the same options, or measure the previous release "
                         "with these (see the module docstring)")
    classes = metric_classes()
    print(f"thead {thead.__version__} from {Path(thead.__file__).parent}, backend {args.backend}, "
          f"{len(clips)} clips, frames {args.frames or 'all'}", file=sys.stderr)
    started = time.perf_counter()
    results: dict[str, dict] = {}
    for clip in clips:
        results[clip.name] = run_clip(clip, classes, args.frames, args.backend, args.contact_sheet)
        out, still = results[clip.name]["output"], results[clip.name]["still"]
        print(f"{clip.name}: SSIM {out['ssim']:.3f} (still {still['ssim']:.3f}), mouth SSIM {out['ssim-mouth']:.3f} "
              f"(still {still['ssim-mouth']:.3f}), LMD {out['lmd']:.2f} (still {still['lmd']:.2f})", file=sys.stderr)
    result = {
        "thead": {"version": thead.__version__, "path": str(Path(thead.__file__).parent)},
        "backend": args.backend, "frames": args.frames, "seconds": round(time.perf_counter() - started, 1),
        "protocol": "source = frame 0 of the clip, driving = the clip (thead.drive_video: relative, paste-back, "
                    "no audio, H.264 CRF 18); frames 1..N-1 compared with the clip (frame 0 is the source); still = "
                    "frame 0 repeated; frames decoded by the benchmark (rounded colour conversion); metrics as in "
                    "thead eval; mean = plain mean over clips",
        "clips": results,
        "mean": {"output": mean_of(results, "output"), "still": mean_of(results, "still")},
    }
    print_tables(result, baseline)
    print_goals(result, baseline)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
