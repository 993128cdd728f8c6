"""Frames per second of ``thead drive-video`` on the embedded ``warp`` backend at 512x512: whole and per stage.

Each stage is timed on its own over the same driving frames: decode (``open_video``), landmarks
(``FaceTracker.track``), motion (smoothing and channels, ``motion_from_points``), warp
(``WarpBackend.render``; the one-off ``prepare_source`` is reported apart) and encode (H.264 through
``VideoWriter``); then the whole command runs through its Python API (``drive_video``, audio off,
interpreter start-up excluded). Issue 2's goal: >= 30 fps end to end, and the whole command costing
no more than twice decode + landmarks + encode. Each row keeps the fastest of ``--repeats`` runs
(the machine is shared). Inputs: ``../shared/media/portraits/lp_s42.jpg`` driven by
``../shared/media/driving/lp_d3.mp4`` (both 512x512) when present; otherwise scikit-image's
astronaut driven by a clip rendered here from it with procedural sway, blinks and speech.

    python benchmarks/drive_video.py [--frames 200] [--repeats 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from _timing import best_time, markdown_table


def shared_inputs() -> tuple[Path, Path] | None:
    shared = Path(os.environ.get("THEAD_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    source, driving = shared / "media/portraits/lp_s42.jpg", shared / "media/driving/lp_d3.mp4"
    return (source, driving) if source.is_file() and driving.is_file() else None


def made_inputs(folder: Path, frames: int) -> tuple[Path, Path]:
    """The astronaut and a 512x512 clip of it swaying, blinking and talking, rendered by the warp backend."""
    import skimage.data
    import torch

    from thead.backends.base import DriveOptions
    from thead.backends.warp import WarpBackend
    from thead.io.image import write_image
    from thead.io.video import VideoWriter
    from thead.motion.procedural import animate, blink_curve, head_sway

    portrait = skimage.data.astronaut()
    source_path, driving_path = folder / "astronaut.png", folder / "driving.mp4"
    write_image(source_path, portrait)
    backend = WarpBackend(torch.device("cpu"))
    source = backend.prepare_source(portrait)
    base = backend.source_motion(source)
    t = np.arange(frames) / 25.0
    mouth = float(base["mouth_open"]) + 0.3 * np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None)
    track = animate(base, 25.0, head_sway(frames, 25.0, 8.0), blink_curve(frames, 25.0), mouth)
    with VideoWriter(driving_path, 25.0) as writer:
        for index in range(frames):
            writer.write(backend.render(source, track.frame(index), base, DriveOptions()))
    return source_path, driving_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="driving frames to use")
    parser.add_argument("--repeats", type=int, default=2, help="runs per stage; the fastest counts")
    parser.add_argument("--threads", type=int, default=2, help="torch and OpenCV threads")
    args = parser.parse_args()

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    from thead.backends.base import DriveOptions
    from thead.backends.warp import WarpBackend
    from thead.face import FaceTracker
    from thead.io.image import read_image
    from thead.io.video import VideoWriter, open_video
    from thead.motion.extract import motion_from_points
    from thead.pipelines.drive_video import drive_video

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = shared_inputs() or made_inputs(folder, args.frames)
        source_path, driving_path = inputs
        reader = open_video(driving_path)
        count = min(args.frames, reader.frame_count)
        fps = reader.fps
        print(f"source {source_path.name}, driving {driving_path.name} ({reader.size[0]}x{reader.size[1]}, "
              f"{count} frames at {fps:g} fps), {args.threads} threads, best of {args.repeats}")

        def decode() -> list[np.ndarray]:
            return [frame for _, frame in zip(range(count), open_video(driving_path))]

        def landmarks(frames: list[np.ndarray]) -> np.ndarray:
            with FaceTracker(0) as tracker:
                return np.stack([tracker.track(frame).points for frame in frames])

        backend = WarpBackend(torch.device("cpu"))
        image = read_image(source_path)
        times: dict[str, float] = {}
        times["decode"], frames = best_time(decode, args.repeats)
        times["landmarks"], points = best_time(lambda: landmarks(frames), args.repeats)
        times["motion"], track = best_time(lambda: motion_from_points(points, fps), args.repeats)
        prepare, source = best_time(lambda: backend.prepare_source(image), args.repeats)
        reference = track.frame(0)
        def warp() -> list[np.ndarray]:
            return [backend.render(source, track.frame(i), reference, DriveOptions()) for i in range(count)]

        times["warp"], rendered = best_time(warp, args.repeats)

        def encode() -> None:
            with VideoWriter(folder / "encoded.mp4", fps) as writer:
                for frame in rendered:
                    writer.write(frame)

        times["encode"], _ = best_time(encode, args.repeats)
        whole, _ = best_time(lambda: drive_video(source_path, driving_path, folder / "whole.mp4",
                                                 audio="none", max_frames=count, force=True), args.repeats)

    rows = [(name, f"{1000 * seconds / count:.1f}", f"{count / seconds:.0f}")
            for name, seconds in [*times.items(), ("whole command", whole)]]
    print("\n" + markdown_table(("stage", "ms / frame", "fps"), rows))
    base = times["decode"] + times["landmarks"] + times["encode"]
    print(f"\nprepare_source (once): {1000 * prepare:.0f} ms")
    print(f"whole / (decode + landmarks + encode) = {whole / base:.2f} (goal <= 2); "
          f"end to end {count / whole:.1f} fps (goal >= 30)")


if __name__ == "__main__":
    main()
