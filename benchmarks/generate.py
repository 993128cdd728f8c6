"""Seconds per 512x512 portrait of the sd-turbo backend on CPU, official-size networks with random weights.

The UNet, VAE and text encoder are built from SD-Turbo's official configs (thead.generate.sd_turbo),
saved as an fp16 diffusers snapshot in a temporary folder (as `thead fetch-weights sd-turbo` installs
it), loaded back the way thead loads it (float32 on CPU), and run through thead's generator at 1 and
4 steps. Random weights cost the same arithmetic as the real ones. Startup is reported apart: library
imports, and loading the snapshot from the local folder. The face check's cost per image is timed
on scikit-image's astronaut. Each row keeps the fastest of ``--repeats`` runs (a shared machine is noisy).

    python benchmarks/generate.py [--repeats 2] [--threads 2] [--size 512]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _timing import best_time, markdown_table

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def write_tokenizer(folder: Path) -> None:
    """A letters-only CLIP vocabulary (tokenising costs nothing next to the networks)."""
    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>", *LETTERS, *(c + "</w>" for c in LETTERS), ",</w>", "-</w>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def official_snapshot(folder: Path) -> None:
    """Save an SD-Turbo-shaped StableDiffusionPipeline with random weights as the fp16 variant."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from thead.generate.base import quiet_libraries
    from thead.generate.sd_turbo import OFFICIAL_TEXT_ENCODER, OFFICIAL_UNET, OFFICIAL_VAE

    torch.manual_seed(0)
    write_tokenizer(folder / "vocab")
    tokenizer = CLIPTokenizer(str(folder / "vocab/vocab.json"), str(folder / "vocab/merges.txt"), model_max_length=77)
    pipeline = StableDiffusionPipeline(
        unet=UNet2DConditionModel(**OFFICIAL_UNET), vae=AutoencoderKL(**OFFICIAL_VAE),
        text_encoder=CLIPTextModel(CLIPTextConfig(**OFFICIAL_TEXT_ENCODER)), tokenizer=tokenizer,
        scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                         timestep_spacing="trailing", steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    with quiet_libraries():
        pipeline.to(torch.float16).save_pretrained(folder / "snapshot", variant="fp16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    start = time.perf_counter()
    import diffusers
    import torch
    import transformers
    imports = time.perf_counter() - start
    torch.set_num_threads(args.threads)
    print(f"sd-turbo on CPU ({args.threads} threads; torch {torch.__version__}, diffusers {diffusers.__version__}, "
          f"transformers {transformers.__version__}), fastest of {args.repeats}:", flush=True)
    rows = [("import torch + diffusers + transformers", imports)]

    from thead.generate.base import load_pipeline_from
    from thead.generate.face_check import check_portrait
    from thead.generate.sd_turbo import SDTurboGenerator

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        official_snapshot(folder)
        start = time.perf_counter()
        pipeline = load_pipeline_from(folder / "snapshot", "StableDiffusionPipeline", torch.float32, "fp16")
        generator = SDTurboGenerator(torch.device("cpu"), pipeline=pipeline)
        rows.append(("load the fp16 snapshot from a local folder (float32)", time.perf_counter() - start))
        prompt, negative = generator.compose_prompt("studio portrait of an elderly fisherman", _no_attributes(), None)
        for steps in (1, 4):
            seconds, _ = best_time(lambda n=steps: generator.generate(prompt, negative, 0, args.size, n), args.repeats)
            rows.append((f"generate {args.size}x{args.size}, {steps} step{'s' if steps > 1 else ''}", seconds))

    import skimage.data

    astronaut = skimage.data.astronaut()
    check_portrait(astronaut)  # the first call builds the face models
    seconds, _ = best_time(lambda: check_portrait(astronaut), args.repeats)
    rows.append(("face check of one 512x512 image", seconds))
    print(markdown_table(("stage", "seconds"), [(name, f"{spent:.2f}") for name, spent in rows]))


def _no_attributes():
    from thead.generate.attributes import Attributes

    return Attributes({})


if __name__ == "__main__":
    main()
