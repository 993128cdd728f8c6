"""Seconds per driven frame of the official-size LivePortrait networks on CPU (random weights).

Per frame: motion extraction of the driving crop (M), keypoint transform + stitching, warping (W)
and SPADE decoding (G); the source's features and keypoints are cached, as when driving a video.
"reference" runs the networks as loaded (the official computation); "optimized" runs them after
``optimize_for_inference()`` (folded BatchNorms, precomputed spectral norms, fused SPADE blocks,
sub-pixel convolutions); "+ winograd" adds NNPACK's Winograd 3x3 convolutions (the backend's CPU default). Modes are interleaved and each stage keeps its fastest of ``--repeats``
runs, which damps the noise of a shared machine.

    python benchmarks/liveportrait.py [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections.abc import Callable

import torch
from _timing import markdown_table

from thead.backends.liveportrait.networks import LivePortraitNetworks
from thead.backends.liveportrait.pipeline import AnimationOptions, LivePortraitPipeline

STAGES = ("motion extraction (M)", "transform + stitching", "warping (W)", "SPADE decoder (G)")


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def frame_times(
    pipeline: LivePortraitPipeline, source_image: torch.Tensor, driving_image: torch.Tensor
) -> tuple[list[float], torch.Tensor]:
    """Seconds of each stage for one driven frame, and the decoded image."""
    options = AnimationOptions()
    source = pipeline.prepare_source(source_image)
    reference = pipeline.reference(source, pipeline.keypoint_info(driving_image), options)
    networks = pipeline.networks
    t_motion, driving = _timed(lambda: pipeline.keypoint_info(driving_image))
    t_transform, keypoints = _timed(lambda: pipeline.animate_keypoints(source, driving, reference, options))
    with torch.inference_mode():
        t_warp, warped = _timed(lambda: networks.warping_module(source.f_s, keypoints["final"], source.x_s))
        t_decode, image = _timed(lambda: networks.spade_generator(warped["out"]))
    return [t_motion, t_transform, t_warp, t_decode], image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode; the fastest is kept per stage")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reference = LivePortraitNetworks.build()
    pipelines = {
        "reference": LivePortraitPipeline(reference, torch.device("cpu")),
        "optimized": LivePortraitPipeline(copy.deepcopy(reference).optimize_for_inference(), torch.device("cpu")),
        "+ winograd": LivePortraitPipeline(copy.deepcopy(reference).optimize_for_inference(winograd=True),
                                           torch.device("cpu")),
    }
    source_image, driving_image = torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256)
    best = {mode: [float("inf")] * len(STAGES) for mode in pipelines}
    images = {}
    for mode, pipeline in pipelines.items():  # warm-up: oneDNN primitive creation, phase-kernel caches
        images[mode] = frame_times(pipeline, source_image, driving_image)[1]
    for _ in range(args.repeats):
        for mode, pipeline in pipelines.items():
            times = frame_times(pipeline, source_image, driving_image)[0]
            best[mode] = [min(a, b) for a, b in zip(best[mode], times)]

    print(f"LivePortrait, official-size networks, CPU float32, {args.threads} threads, "
          f"torch {torch.__version__}, best of {args.repeats}")
    modes = list(pipelines)
    columns = [best[mode] + [sum(best[mode])] for mode in modes]
    rows = []
    for row, stage in enumerate([*STAGES, "**total per frame**"]):
        values = [column[row] for column in columns]
        rows.append((stage, *(f"{v:.3f}" for v in values), *(f"{value / values[0]:.2f}x" for value in values[1:])))
    print(markdown_table(("stage", *(f"{mode} (s)" for mode in modes), *(f"{m} / reference" for m in modes[1:])),
                        rows))
    for mode in modes[1:]:
        difference = (images["reference"] - images[mode]).abs().max().item()
        print(f"max |{mode} - reference| on the decoded image (values in [0, 1]): {difference:.2e}")


if __name__ == "__main__":
    main()
