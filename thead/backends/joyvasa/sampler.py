"""DDPM sampling of JoyVASA motion: classifier-free guidance, windows chained through previous frames.

Audio gets 1280 zero samples in front and 640 behind; it is cut into windows of ``n_motions``
frames (640 samples each) without overlap, the last zero-padded. Per window, the uncond (null
audio) and cond rows run as one batch of two; x̂0 = out_null + s * (out_audio - out_null) on the
window's frames, then one ancestral DDPM step. Window 0 starts from the learned start embeddings,
later windows from the last ``n_prev_motions`` frames of motion and audio features before them.
The same x_T starts every window. Frame k of the result shows audio time (k - 2) * 40 ms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from thead.backends.joyvasa.config import AUDIO_UNIT
from thead.backends.joyvasa.denoiser import MotionGenerator
from thead.errors import UsageError

LEAD_IN = 2 * AUDIO_UNIT  # zero samples before the audio
TAIL = AUDIO_UNIT  # zero samples after it
LEAD_IN_FRAMES = LEAD_IN // AUDIO_UNIT

Draw = Callable[[tuple[int, ...]], torch.Tensor]


@dataclass(frozen=True)
class WindowPlan:
    """How a clip is cut: padded length, output frames, windows and the frames cut from the last one."""

    padded: int
    frames: int
    windows: int
    cut: int


def plan_windows(samples: int, n_motions: int) -> WindowPlan:
    """The windowing of ``samples`` audio samples (before the lead-in and tail are added)."""
    padded = samples + LEAD_IN + TAIL
    frames = padded // AUDIO_UNIT
    windows = max(1, math.ceil(frames / n_motions))
    extra = windows * n_motions * AUDIO_UNIT - padded
    return WindowPlan(padded, frames, windows, max(0, math.ceil(extra / AUDIO_UNIT)))


def step_schedule(total: int, steps: int) -> list[int]:
    """Diffusion steps visited, from ``total`` down to 0: every one when ``steps == total``, else evenly spread."""
    if not 1 <= steps <= total:
        raise UsageError(f"--steps {steps} is out of range", f"give 1..{total} denoising steps (trained with {total})")
    return sorted({int(v) for v in np.rint(np.linspace(total, 0, steps + 1))}, reverse=True)


class Sampler:
    """Runs :class:`MotionGenerator` over a clip window by window (memory does not grow with length)."""

    def __init__(self, model: MotionGenerator, guidance: float, steps: int | None = None) -> None:
        self.model = model
        self.guidance = float(guidance)
        sched = model.diffusion_sched
        self.timesteps = step_schedule(sched.steps, steps if steps is not None else sched.steps)

    def _coefficients(self, t: int, s: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """c0, c1, sigma of the DDPM posterior step x_t -> x_s given x̂0 (s = t - 1: the trained chain)."""
        sched = self.model.diffusion_sched
        bar_t, bar_s = sched.alpha_bars[t], sched.alpha_bars[s]
        alpha = sched.alphas[t] if s == t - 1 else bar_t / bar_s
        c0 = (1 - bar_s) * torch.sqrt(alpha) / (1 - bar_t)
        c1 = (1 - alpha) * torch.sqrt(bar_s) / (1 - bar_t)
        sigma = sched.sigmas_inflex[t] if s == t - 1 else torch.sqrt((1 - alpha) * (1 - bar_s) / (1 - bar_t))
        return c0, c1, sigma

    def window(self, audio_feat: torch.Tensor, prev_motion: torch.Tensor, prev_audio: torch.Tensor,
               x_t: torch.Tensor, draw: Draw, trajectory: list[torch.Tensor] | None = None) -> torch.Tensor:
        """One window: [1, L, W] audio features and [1, P, .] previous frames -> clean motion [1, L, D]."""
        net, frames = self.model.denoising_net, audio_feat.shape[1]
        null = self.model.null_audio_feat.expand(1, frames, -1)
        memory = torch.cat([torch.cat([prev_audio, null], dim=1), torch.cat([prev_audio, audio_feat], dim=1)])
        cross = net.cross_values(memory)
        if trajectory is not None:
            trajectory.append(x_t[0])
        for t, s in zip(self.timesteps[:-1], self.timesteps[1:]):
            z = draw(tuple(x_t.shape)) if s > 0 else torch.zeros_like(x_t)
            step = torch.full((1,), t, dtype=torch.long, device=x_t.device)
            # both rows share their input: one row goes in and meets the two rows of ``cross`` after self-attention
            out = net.denoise(x_t, prev_motion, step, cross)[:, -frames:]
            x0 = out[:1] + self.guidance * (out[1:] - out[:1])
            c0, c1, sigma = self._coefficients(t, s)
            x_t = c0 * x_t + c1 * x0 + sigma * z
            if trajectory is not None:
                trajectory.append(x_t[0])
        return x_t

    def windows(self, audio: torch.Tensor, draw: Draw, x_T: torch.Tensor | None = None,
                record: dict[str, list[torch.Tensor]] | None = None) -> Iterator[torch.Tensor]:
        """Clean motion of each window in turn ([1, n_motions, D]; the last one with its padded frames cut).

        ``audio`` is the 1-D 16 kHz clip; ``draw(shape)`` gives standard normal noise (x_T first unless
        given, then one draw per step but the last); ``record`` collects per-window inputs for tests.
        """
        model, config = self.model, self.model.config
        plan = plan_windows(audio.shape[0], config.n_motions)
        size = config.window_samples
        zeros = audio.new_zeros
        total = plan.windows * size
        padded = torch.cat([zeros(LEAD_IN), audio, zeros(TAIL + max(0, total - plan.padded))])[:total]
        x_T = draw((1, config.n_motions, config.motion_feat_dim)) if x_T is None else x_T
        prev_motion, prev_audio = model.start_motion_feat, model.start_audio_feat
        for index in range(plan.windows):
            window = padded[index * size:(index + 1) * size][None]
            audio_feat = model.audio_features(window)
            trajectory = [] if record is not None else None
            motion = self.window(audio_feat, prev_motion, prev_audio, x_T, draw, trajectory)
            if record is not None:
                for name, value in (("audio_in", window[0]), ("audio_feat", audio_feat[0]), ("prev_motion", prev_motion[0]),
                                    ("prev_audio", prev_audio[0]), ("motion", motion[0]),
                                    ("trajectory", torch.stack(trajectory))):
                    record.setdefault(name, []).append(value)
            prev_motion = motion[:, -config.n_prev_motions:]
            prev_audio = audio_feat[:, -config.n_prev_motions:]
            yield motion[:, :config.n_motions - plan.cut] if index == plan.windows - 1 else motion


def generator_draw(seed: int, device: torch.device) -> Draw:
    """Standard normal draws from a generator seeded with ``seed`` (on the CPU, so results match across devices)."""
    generator = torch.Generator().manual_seed(seed)
    return lambda shape: torch.randn(shape, generator=generator).to(device)
