"""Frames per second of ``thead drive-audio`` on the embedded ``warp`` backend at 512x512: whole and per stage.

Stages, each timed on its own over the same speech: audio analysis (``analyze_speech``: voice
activity, phone recognition, features, visemes), motion (``speech_motion``: mouth, blinks, head,
brows), render (``WarpBackend.render``; the one-off ``prepare_source`` is reported apart) and encode
(H.264 + AAC through ``VideoWriter``); then the whole command through its Python API. Issue 11's
goals: >= 60 fps end to end for an image source, audio analysis >= 20x real time. Inputs:
``../shared/media/speech/jfk.flac`` and ``../shared/media/portraits/lp_s42.jpg`` when present,
else speech synthesised with espeak-ng and scikit-image's astronaut.

    python benchmarks/drive_audio.py [--repeats 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _timing import best_time, markdown_table


def inputs(folder: Path) -> tuple[Path, Path]:
    shared = Path(os.environ.get("THEAD_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    portrait, speech = shared / "media/portraits/lp_s42.jpg", shared / "media/speech/jfk.flac"
    if portrait.is_file() and speech.is_file():
        return portrait, speech
    import skimage.data

    from thead.audio.tts import synthesize
    from thead.io.image import write_image
    from thead.pipelines.drive_audio import _write_wav

    write_image(folder / "astronaut.png", skimage.data.astronaut())
    spoken = synthesize("We choose to go to the Moon in this decade and do the other things, not because they "
                        "are easy, but because they are hard.")
    _write_wav(folder / "speech.wav", spoken.samples, spoken.sample_rate)
    return folder / "astronaut.png", folder / "speech.wav"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs per stage; the fastest counts")
    parser.add_argument("--threads", type=int, default=2, help="torch and OpenCV threads")
    args = parser.parse_args()

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    from thead.audio.articulation import analyze_speech
    from thead.backends.base import DriveOptions
    from thead.backends.warp import WarpBackend
    from thead.io.audio import read_audio
    from thead.io.image import read_image
    from thead.io.video import VideoWriter
    from thead.motion.talking import speech_motion
    from thead.pipelines.drive_audio import drive_audio

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        portrait, speech = inputs(folder)
        samples = read_audio(speech, 16000)
        seconds = len(samples) / 16000
        analyze_speech(samples[:16000], 16000, 25.0)  # one-off warm-up (numba, model loading): not counted
        times: dict[str, float] = {}
        times["audio analysis"], articulation = best_time(lambda: analyze_speech(samples, 16000, 25.0), args.repeats)
        count = len(articulation)
        backend = WarpBackend(torch.device("cpu"))
        prepare, source = best_time(lambda: backend.prepare_source(read_image(portrait)), args.repeats)
        base = backend.source_motion(source)
        times["motion"], track = best_time(lambda: speech_motion(articulation, base, backend.space), args.repeats)
        times["render"], frames = best_time(
            lambda: [backend.render(source, track.frame(i), base, DriveOptions()) for i in range(count)], args.repeats)

        def encode() -> None:
            with VideoWriter(folder / "encoded.mp4", 25.0, audio_from=speech) as writer:
                for frame in frames:
                    writer.write(frame)

        times["encode"], _ = best_time(encode, args.repeats)
        whole, _ = best_time(lambda: drive_audio(portrait, speech, folder / "whole.mp4", force=True), args.repeats)

    print(f"{portrait.name} speaking {speech.name} ({seconds:.1f} s, {count} frames at 25 fps), "
          f"{args.threads} threads, best of {args.repeats}")
    rows = [(name, f"{1000 * spent / count:.1f}", f"{count / spent:.0f}")
            for name, spent in [*times.items(), ("whole command", whole)]]
    print("\n" + markdown_table(("stage", "ms / frame", "fps"), rows))
    print(f"\nprepare_source (once): {1000 * prepare:.0f} ms; audio analysis {seconds / times['audio analysis']:.1f}x "
          f"real time (goal >= 20x); end to end {count / whole:.1f} fps (goal >= 60)")


if __name__ == "__main__":
    main()
