"""JoyVASA's motion generator: the conditional diffusion transformer and the modules around it.

:class:`MotionGenerator` mirrors the official ``DitTalkingHead`` state dict key for key (HuBERT,
audio map, start/null embeddings, denoiser, diffusion schedule). The denoiser is eight post-norm
decoder layers over [previous frames; noisy frames] with cross-attention to [previous audio;
audio]. Its alignment mask lets query i see memory position i only, so cross-attention reduces
exactly to the value projection of that memory row: :meth:`DenoisingNetwork.cross_values` computes
it once per window and every diffusion step reuses it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from thead.backends.joyvasa.audio_encoder import audio_features, build_hubert
from thead.backends.joyvasa.config import JoyVASAConfig


def sinusoid_table(rows: int, dim: int) -> torch.Tensor:
    """[1, rows, dim] sinusoids, base 10000: sin on even channels, cos on odd ones (float32)."""
    position = torch.arange(rows, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
    table = torch.zeros(rows, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table[None]


def alignment_mask(frames: int) -> torch.Tensor:
    """[T, T] bool, True = blocked: query i sees memory position i only."""
    return ~torch.eye(frames, dtype=torch.bool)


class SinusoidTable(nn.Module):
    """A fixed sinusoid table (``pe``), rebuilt rather than loaded: the loader checks a stored copy against it."""

    def __init__(self, rows: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoid_table(rows, dim), persistent=False)


class DiffusionSchedule(nn.Module):
    """Cosine schedule (s = 0.008, beta in [1e-4, 0.999], beta_0 = 0 prepended) as float32 buffers.

    The buffers are part of the checkpoint; they are computed here for networks built without one.
    """

    def __init__(self, steps: int, s: float = 0.008) -> None:
        super().__init__()
        x = torch.linspace(0, steps, steps + 1)
        bars = torch.cos(((x / steps) + s) / (1 + s) * torch.pi * 0.5) ** 2
        bars = bars / bars[0]
        betas = torch.cat([torch.zeros(1), torch.clip(1 - bars[1:] / bars[:-1], 0.0001, 0.999)])
        alphas = 1 - betas
        alpha_bars = torch.cumsum(torch.log(alphas), 0).exp()
        inflex = torch.zeros_like(betas)
        inflex[1:] = torch.sqrt((1 - alpha_bars[:-1]) / (1 - alpha_bars[1:]) * betas[1:])
        for name, value in (("betas", betas), ("alphas", alphas), ("alpha_bars", alpha_bars),
                            ("sigmas_flex", torch.sqrt(betas)), ("sigmas_inflex", inflex)):
            self.register_buffer(name, value)

    @property
    def steps(self) -> int:
        return self.betas.shape[0] - 1


class DenoisingNetwork(nn.Module):
    """Predicts clean motion [N, P + L, D] for [previous; noisy] frames at diffusion step ``step``."""

    def __init__(self, config: JoyVASAConfig) -> None:
        super().__init__()
        width, frames = config.feature_dim, config.n_prev_motions + config.n_motions
        self.legacy_pe = config.pe == "legacy"
        self.TE = SinusoidTable(config.step_table_rows, width)
        self.PE = SinusoidTable(config.position_table_rows, width)
        self.diff_step_map = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))
        self.feature_proj = nn.Linear(config.motion_feat_dim, width)
        layer = nn.TransformerDecoderLayer(width, config.n_heads, config.mlp_ratio * width, dropout=0.0,
                                           activation="gelu", batch_first=True)
        self.transformer = nn.TransformerDecoder(layer, config.n_layers)
        self.motion_dec = nn.Sequential(nn.Linear(width, width // 2), nn.GELU(),
                                        nn.Linear(width // 2, config.motion_feat_dim))
        self.register_buffer("alignment_mask", alignment_mask(frames))

    def cross_values(self, memory: torch.Tensor) -> list[torch.Tensor]:
        """Per layer, the cross-attention output for ``memory`` [N, P + L, W] (independent of the query)."""
        width = memory.shape[-1]
        outputs = []
        for layer in self.transformer.layers:
            attention = layer.multihead_attn
            values = F.linear(memory, attention.in_proj_weight[2 * width:], attention.in_proj_bias[2 * width:])
            outputs.append(attention.out_proj(values))
        return outputs

    def step_embedding(self, step: torch.Tensor) -> torch.Tensor:
        """[N] integer steps -> [N, W]."""
        return self.diff_step_map(self.TE.pe[0, step])

    def queries(self, motion: torch.Tensor, prev_motion: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """The decoder input [N, P + L, W]: projected frames + positions + step embedding."""
        feats = self.feature_proj(torch.cat([prev_motion, motion], dim=1))
        frames = feats.shape[1]
        position = self.PE.pe[:, frames:frames + 1] if self.legacy_pe else self.PE.pe[:, :frames]
        return feats + position + self.step_embedding(step)[:, None]

    def denoise(self, motion: torch.Tensor, prev_motion: torch.Tensor, step: torch.Tensor,
                cross: list[torch.Tensor], trace: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Clean-motion prediction from precomputed :meth:`cross_values`.

        Inputs of batch 1 against ``cross`` of batch N stand for N rows with the same input: the first
        self-attention runs once and broadcasting makes the N rows (classifier-free guidance uses this).
        """
        x = self.queries(motion, prev_motion, step)
        if trace is not None:
            trace["transformer_in"] = x
        for index, (layer, values) in enumerate(zip(self.transformer.layers, cross)):
            x = layer.norm1(x + layer.self_attn(x, x, x, need_weights=False)[0])
            x = layer.norm2(x + values)
            x = layer.norm3(x + layer.linear2(F.gelu(layer.linear1(x))))
            if trace is not None and index == 0:
                trace["layer0_out"] = x
        if trace is not None:
            trace["transformer_out"] = x
        return self.motion_dec(x)

    def forward(self, motion: torch.Tensor, audio: torch.Tensor, prev_motion: torch.Tensor,
                prev_audio: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """The official call: noisy motion [N, L, D], audio features [N, L, W], previous frames, steps [N]."""
        return self.denoise(motion, prev_motion, step, self.cross_values(torch.cat([prev_audio, audio], dim=1)))


class MotionGenerator(nn.Module):
    """Audio encoder + audio map + learned start/null embeddings + denoiser + schedule (``DitTalkingHead``)."""

    def __init__(self, config: JoyVASAConfig) -> None:
        super().__init__()
        self.config = config
        hubert_config = config.hubert_config()
        width = config.feature_dim
        self.audio_encoder = build_hubert(hubert_config)
        self.audio_feature_map = nn.Linear(hubert_config.hidden_size, width)
        self.start_audio_feat = nn.Parameter(torch.randn(1, config.n_prev_motions, width))
        self.start_motion_feat = nn.Parameter(torch.randn(1, config.n_prev_motions, config.motion_feat_dim))
        self.null_audio_feat = nn.Parameter(torch.randn(1, 1, width))
        self.denoising_net = DenoisingNetwork(config)
        self.diffusion_sched = DiffusionSchedule(config.n_diff_steps)
        self.eval()

    def use_pe(self, pe: str) -> None:
        """Switch the denoiser's positional encoding (``legacy`` or ``fixed``; see :class:`JoyVASAConfig`)."""
        self.config = replace(self.config, pe=pe)
        self.denoising_net.legacy_pe = pe == "legacy"

    def audio_features(self, audio: torch.Tensor, frame_num: int | None = None,
                       trace: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """[B, samples] of one window -> [B, frame_num, feature_dim] (frame_num: the window's n_motions)."""
        return audio_features(self.audio_encoder, self.audio_feature_map, audio,
                              frame_num or self.config.n_motions, trace)
