"""``sd-turbo``: Stability AI's SD-Turbo (adversarially distilled Stable Diffusion 2.1) through diffusers.

Text- and label-guided, 512x512, 1-4 steps, without classifier-free guidance as the model was
distilled for. A negative prompt switches guidance on at ``NEGATIVE_GUIDANCE`` (twice the UNet work).
Weights: set ``sd-turbo`` (the fp16 files; upcast to float32 on CPU). Licence: Stability AI
Community Licence, commercial use conditional on its terms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from thead.generate.attributes import Attributes
from thead.generate.base import Generator

if TYPE_CHECKING:
    import torch

FRAMING = "head-and-shoulders portrait, facing the camera, face centred"
DEFAULT_SUBJECT = "photo of a person"
NEGATIVE_GUIDANCE = 1.5

# The official architecture (stabilityai/sd-turbo unet/ and vae/ config.json: the SD 2.x layout), for
# the benchmark and the layout test; loading reads the configs of the installed snapshot itself.
OFFICIAL_UNET = {
    "sample_size": 64, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
    "block_out_channels": [320, 640, 1280, 1280], "attention_head_dim": [5, 10, 20, 20],
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "cross_attention_dim": 1024, "use_linear_projection": True,
}
OFFICIAL_VAE = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2,
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
    "sample_size": 768, "scaling_factor": 0.18215,
}
OFFICIAL_TEXT_ENCODER = {  # OpenCLIP ViT-H/14 text tower as transformers' CLIPTextModel
    "vocab_size": 49408, "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 23,
    "num_attention_heads": 16, "max_position_embeddings": 77, "hidden_act": "gelu", "projection_dim": 512,
}


class SDTurboGenerator(Generator):
    """Text-to-image with SD-Turbo (diffusers ``StableDiffusionPipeline``)."""

    name = "sd-turbo"
    weight_set = "sd-turbo"
    pipeline_class = "StableDiffusionPipeline"
    conditional = True
    default_steps = 1
    max_steps = 4
    variant = "fp16"

    @property
    def native_size(self) -> int:
        return int(self.pipeline.unet.config.sample_size * self.pipeline.vae_scale_factor)

    def compose_prompt(self, prompt: str | None, attributes: Attributes, negative: str | None) -> tuple[str, str]:
        """User prompt, then the attribute phrases, then the portrait framing; negatives joined likewise."""
        positive, attribute_negative = attributes.phrases()
        subject = prompt.strip() if prompt and prompt.strip() else "" if attributes.has_subject else DEFAULT_SUBJECT
        parts = [p for p in (subject, positive) if p]
        negatives = [n.strip() for n in (attribute_negative, negative) if n and n.strip()]
        return ", ".join([*parts, FRAMING]), ", ".join(negatives)

    def _run(self, prompt: str, negative: str, generator: torch.Generator, size: int, steps: int) -> np.ndarray:
        return self.pipeline(
            prompt=prompt, negative_prompt=negative or None, num_inference_steps=steps,
            guidance_scale=NEGATIVE_GUIDANCE if negative else 0.0, height=size, width=size,
            generator=generator, output_type="np",
        ).images
