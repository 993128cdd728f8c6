"""Render a demo video on the embedded backend, with inputs that need no download.

The portrait is scikit-image's public-domain ``astronaut``; the driving motion is made here:
head sway, natural blinks and a talking mouth, written as a thead motion track and then
rendered with the ``thead drive-video`` command, the same way a shell script would chain it.

    python examples/demo.py            # writes demo/astronaut.png, demo/demo.motion.safetensors, demo/demo.mp4
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import skimage.data

from thead.face import analyze_image
from thead.io.image import write_image
from thead.motion.extract import face_motion
from thead.motion.procedural import animate, blink_curve, head_sway

FPS = 25.0
SECONDS = 6.0


def talking_mouth(frames: int, fps: float, rest: float) -> np.ndarray:
    """Syllable-like mouth openness: smooth ~3 Hz openings (8 frames each) in phrases with pauses."""
    t = np.arange(frames) / fps
    syllables = 0.5 - 0.5 * np.cos(2 * np.pi * 3.1 * t)
    phrase = np.clip(1.5 * np.sin(2 * np.pi * 0.3 * t - 0.5) + 0.5, 0.0, 1.0)
    phrase = phrase * phrase * (3 - 2 * phrase)  # smoothstep: phrases fade in and out
    return rest + 0.25 * syllables * phrase


def thead_command() -> str:
    """The ``thead`` installed beside this Python (works without an activated venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("thead")
    return str(beside) if beside.is_file() else "thead"


def main(folder: str = "demo") -> None:
    out = Path(folder)
    out.mkdir(exist_ok=True)
    portrait = out / "astronaut.png"
    write_image(portrait, skimage.data.astronaut())
    base = face_motion(analyze_image(skimage.data.astronaut()).points)
    frames = int(SECONDS * FPS)
    track = animate(
        base, FPS, head_sway(frames, FPS, amplitude_deg=12.0, seed=3), blink_curve(frames, FPS, 18.0, seed=1),
        talking_mouth(frames, FPS, float(base["mouth_open"])),
    )
    motion = out / "demo.motion.safetensors"
    track.save(motion)
    command = [thead_command(), "drive-video", str(portrait), str(motion), "-o", str(out / "demo.mp4"), "--force"]
    print("+", " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main(*sys.argv[1:2])
