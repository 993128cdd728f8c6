"""``ldm-celebahq``: CompVis' latent diffusion model trained on CelebA-HQ, unconditional 256x256 faces.

diffusers' ``LDMPipeline`` (VQ autoencoder + UNet + DDIM). No prompt: every seed is a new face.
Weights: set ``ldm-celebahq`` (pickled .bin files, read by diffusers with ``weights_only=True``).
Licence: Apache-2.0. Runs in float32 on every device (the pipeline makes float32 latents).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from thead.errors import UsageError
from thead.generate.base import Generator

if TYPE_CHECKING:
    import torch


class LDMCelebAHQGenerator(Generator):
    """Unconditional face generation with LDM CelebA-HQ (diffusers ``LDMPipeline``)."""

    name = "ldm-celebahq"
    weight_set = "ldm-celebahq"
    pipeline_class = "LDMPipeline"
    conditional = False
    default_steps = 50
    max_steps = 1000
    half_on_cuda = False

    @property
    def native_size(self) -> int:
        factor = 2 ** (len(self.pipeline.vqvae.config.block_out_channels) - 1)
        return int(self.pipeline.unet.config.sample_size * factor)

    def output_size(self, size: int | None) -> int:
        if size is not None and size != self.native_size:
            raise UsageError(f"--size {size}: '{self.name}' makes {self.native_size}x{self.native_size} images only",
                             f"drop --size, or use --size {self.native_size}")
        return self.native_size

    def _run(self, prompt: str, negative: str, generator: torch.Generator, size: int, steps: int) -> np.ndarray:
        return self.pipeline(batch_size=1, generator=generator, num_inference_steps=steps, output_type="np").images
