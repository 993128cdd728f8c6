"""Rebuild the warp backend's bank of real mouth interiors from the GRID clips in ``../shared``.

For each opening level, the frame of the GRID clips whose mouth opening (inner-lip gap over mouth
width) is nearest that level and whose interior is most lit (teeth showing) is cut out, turned so
that the mouth corners sit level at fixed places, and stored with its inner-lip chains in
``thead/backends/warp/data/mouth_bank.npz``. The GRID audiovisual corpus (Cooke, Barker,
Cunningham and Shao, 2006) is CC BY 4.0; the attribution ships in ``data/NOTICE``.

    python benchmarks/build_mouth_bank.py [--shared ../shared] [--out thead/backends/warp/data/mouth_bank.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

SIZE = (96, 80)  # crop width, height
CORNERS = ((20.0, 30.0), (76.0, 30.0))  # where the mouth corners are put in the crop
LEVELS = (0.06, 0.12, 0.18, 0.24, 0.30, 0.38, 0.46)  # openings to cover (wider ones stretch the widest)
TOLERANCE = 0.035  # how far a frame's opening may be from its level


def opening(upper: np.ndarray, lower: np.ndarray) -> float:
    """Inner-lip gap at the centre over mouth width (the warp backend's measure)."""
    gap = float((lower[4:7, 1] - upper[4:7, 1]).mean())
    return gap / max(float(np.linalg.norm(upper[-1] - upper[0])), 1e-6)


def level_transform(upper: np.ndarray) -> np.ndarray:
    """Similarity [2, 3] putting the mouth corners at CORNERS."""
    src = np.float32([upper[0], upper[-1]])
    dst = np.float32(CORNERS)
    matrix, _ = cv2.estimateAffinePartial2D(src, dst)
    if matrix is None:  # two points always define a similarity; estimateAffinePartial2D can still give up
        d_src, d_dst = src[1] - src[0], dst[1] - dst[0]
        scale = np.linalg.norm(d_dst) / np.linalg.norm(d_src)
        angle = np.arctan2(d_dst[1], d_dst[0]) - np.arctan2(d_src[1], d_src[0])
        c, s = scale * np.cos(angle), scale * np.sin(angle)
        matrix = np.float32([[c, -s, 0], [s, c, 0]])
        matrix[:, 2] = dst[0] - matrix[:, :2] @ src[0]
    return matrix


def interior_light(image: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    """How lit the opening is: the 80th percentile of lightness inside the inner lips (teeth score high)."""
    from thead.backends.warp.interior import contour_mask, lip_contour

    contour = lip_contour(upper, lower)
    mask = contour_mask(contour, (0, 0, image.shape[1], image.shape[0]), 0) > 0.5
    if mask.sum() < 10:
        return 0.0
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[mask]
    return float(np.percentile(grey, 80))


def candidates(shared: Path):
    """(opening, light, crop, upper, lower, clip, frame) for every tracked frame of the GRID clips."""
    from thead.backends.warp.mesh import face_topology
    from thead.face.mesh import FaceTracker
    from thead.io.video import open_video

    upper_ids, lower_ids = face_topology().mouth
    for clip in sorted((shared / "media/talking").glob("grid_*.mpg")):
        with FaceTracker() as tracker:
            for index, frame in enumerate(open_video(clip)):
                face = tracker.track(frame)
                if face is None:
                    continue
                matrix = level_transform(face.points[upper_ids, :2])
                crop = cv2.warpAffine(frame, matrix, SIZE, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
                upper = face.points[upper_ids, :2] @ matrix[:, :2].T + matrix[:, 2]
                lower = face.points[lower_ids, :2] @ matrix[:, :2].T + matrix[:, 2]
                yield opening(upper, lower), interior_light(crop, upper, lower), crop, upper, lower, clip.name, index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--shared", type=Path, default=root.parent / "shared")
    parser.add_argument("--out", type=Path, default=root / "thead/backends/warp/data/mouth_bank.npz")
    args = parser.parse_args()

    frames = list(candidates(args.shared))
    chosen = []
    for level in LEVELS:
        near = [f for f in frames if abs(f[0] - level) <= TOLERANCE]
        if near:
            best = max(near, key=lambda f: f[1])
            chosen.append(best)
            print(f"opening {level:.2f}: {best[5]} frame {best[6]} (opening {best[0]:.3f}, light {best[1]:.0f})")
    np.savez_compressed(
        args.out,
        images=np.stack([c[2] for c in chosen]).astype(np.uint8),
        upper=np.stack([c[3] for c in chosen]).astype(np.float32),
        lower=np.stack([c[4] for c in chosen]).astype(np.float32),
        openness=np.array([c[0] for c in chosen], np.float32),
        source=np.array([f"{c[5]}#{c[6]}" for c in chosen]),
    )
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(chosen)} mouths)")


if __name__ == "__main__":
    main()
