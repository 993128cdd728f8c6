"""Frames per second of thead's SSIM, PSNR and CPBD against scikit-image and the ``cpbd`` package.

Same frames for both sides, values compared (the largest absolute difference is printed). Frames
come from ``../shared/media/talking/hdtf_aoc.mp4`` (512x512, generated = frame t, reference =
frame t + 1) when present, else from scikit-image's astronaut with noise. The ``cpbd`` package is
optional (``pip install cpbd``; its module imports ``scipy.ndimage.imread``, gone from SciPy, which
is shimmed here as it only serves its command-line entry point); without it the CPBD row compares
nothing and says so. Each side keeps its fastest of ``--repeats`` runs (a shared machine is noisy).

    python benchmarks/eval.py [--frames 32] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from _timing import best_time, markdown_table


def load_frames(count: int) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    shared = Path(os.environ.get("THEAD_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    clip = shared / "media" / "talking" / "hdtf_aoc.mp4"
    if clip.is_file():
        from thead.io.video import read_frames

        frames = read_frames(clip, count + 1)
        return frames[:-1], frames[1:], f"{clip.name} frames (512x512), reference = next frame"
    import skimage.data

    ref = skimage.data.astronaut()
    rng = np.random.default_rng(0)
    generated = [np.clip(ref + rng.normal(0, 10, ref.shape), 0, 255).astype(np.uint8) for _ in range(count)]
    return generated, [ref] * count, "astronaut (512x512) with noise"


def cpbd_package():
    try:
        import scipy.ndimage

        if not hasattr(scipy.ndimage, "imread"):
            scipy.ndimage.imread = None  # only cpbd's __main__ uses it
        import cpbd
    except ImportError:
        return None
    return cpbd.compute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import cv2
    import torch
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from thead.metrics.base import luma_pil
    from thead.metrics.cpbd import cpbd_frames
    from thead.metrics.psnr import mse_frames, psnr_from_mse
    from thead.metrics.ssim import ssim_frames

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    generated, reference, origin = load_frames(args.frames)
    n = len(generated)
    rows = []

    t_ours, ours = best_time(lambda: ssim_frames(generated, reference), args.repeats)
    t_ref, ref = best_time(lambda: np.array([
        structural_similarity(g, r, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
                              channel_axis=2) for g, r in zip(generated, reference)]), args.repeats)
    rows.append(("SSIM (Wang, RGB)", "scikit-image", n, t_ours, t_ref, np.abs(ours - ref).max()))

    t_ours, ours = best_time(lambda: psnr_from_mse(mse_frames(generated, reference)), args.repeats)
    t_ref, ref = best_time(lambda: np.array([peak_signal_noise_ratio(r, g, data_range=255)
                                             for g, r in zip(generated, reference)]), args.repeats)
    rows.append(("PSNR", "scikit-image", n, t_ours, t_ref, np.abs(ours - ref).max()))

    package = cpbd_package()
    few = generated[: max(2, n // 4)]  # the package loops per pixel in Python: fewer frames
    t_ours, ours = best_time(lambda: cpbd_frames(few), args.repeats)
    if package is not None:
        t_ref, ref = best_time(lambda: np.array([package(luma_pil(f)) for f in few]), 1)
        rows.append(("CPBD", "cpbd 1.0.7", len(few), t_ours, t_ref, np.abs(ours - ref).max()))
    else:
        rows.append(("CPBD", "cpbd not installed", len(few), t_ours, float("nan"), float("nan")))

    print(f"frames: {origin}; threads: {args.threads}; best of {args.repeats}")
    print(markdown_table(("metric", "baseline", "frames", "thead fps", "baseline fps", "speed-up", "max abs diff"),
                         [(name, baseline, count, f"{count / ours_s:.1f}", f"{count / ref_s:.1f}",
                           f"{ref_s / ours_s:.1f}x", f"{diff:.1e}")
                          for name, baseline, count, ours_s, ref_s, diff in rows]))


if __name__ == "__main__":
    main()
