"""The portrait guarantee: a generated image is kept only if it can be driven right away.

It must show exactly one face, well sized (its landmark box 12-80 % of the image height and at
least ``MIN_FACE_PX`` tall) and near-frontal (|yaw| and |pitch| within ``MAX_TURN`` degrees).
Rejected images are regenerated with the next seed, up to a bounded number of tries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from thead.errors import NoFaceError
from thead.generate import DEFAULT_TRIES

MIN_FACE_FRACTION, MAX_FACE_FRACTION = 0.12, 0.80
MIN_FACE_PX = 48
MAX_TURN = 25.0  # degrees of yaw or pitch


@dataclass(frozen=True)
class PortraitCheck:
    """Whether an image passes, and why not."""

    ok: bool
    reason: str = ""


def check_portrait(rgb: np.ndarray) -> PortraitCheck:
    """Exactly one well-sized, near-frontal face (thead's MediaPipe face analysis)."""
    from thead.face import detect_faces
    from thead.face.geometry import estimate_head_pose

    faces = detect_faces(rgb)
    if len(faces) != 1:
        return PortraitCheck(False, "no face" if not faces else f"{len(faces)} faces")
    face = faces[0]
    height = face.box[3] - face.box[1]
    fraction = height / rgb.shape[0]
    if not MIN_FACE_FRACTION <= fraction <= MAX_FACE_FRACTION or height < MIN_FACE_PX:
        return PortraitCheck(False, f"face {height:.0f} px tall ({fraction:.0%} of the image)")
    pose = estimate_head_pose(face.points)
    if abs(pose.yaw) > MAX_TURN or abs(pose.pitch) > MAX_TURN:
        return PortraitCheck(False, f"face turned (yaw {pose.yaw:.0f}°, pitch {pose.pitch:.0f}°)")
    return PortraitCheck(True)


@dataclass(frozen=True)
class Rejection:
    """A seed whose image failed the check."""

    seed: int
    reason: str


def first_portrait(render: Callable[[int], np.ndarray], seeds: Iterator[int], tries: int = DEFAULT_TRIES,
                   check: Callable[[np.ndarray], PortraitCheck] = check_portrait,
                   ) -> tuple[np.ndarray, int, list[Rejection]]:
    """Render ``next(seeds)`` until an image passes ``check``, at most ``tries`` times.

    Returns the image, its seed and the rejected seeds; NoFaceError (exit 3) after ``tries`` failures.
    """
    rejected: list[Rejection] = []
    for _ in range(tries):
        seed = next(seeds)
        image = render(seed)
        verdict = check(image)
        if verdict.ok:
            return image, seed, rejected
        rejected.append(Rejection(seed, verdict.reason))
    reasons = "; ".join(f"seed {r.seed}: {r.reason}" for r in rejected)
    raise NoFaceError(f"no usable portrait in {tries} tries ({reasons})",
                      "try another --seed or prompt, more --tries, or --no-face-check to keep any image")
