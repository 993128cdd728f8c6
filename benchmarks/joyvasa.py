"""Seconds of CPU compute per second of audio for JoyVASA at official size (random weights).

Stages, for ``--seconds`` of audio (default 10, three 4-second windows):

- HuBERT: the audio front end per window (HuBERT-base + feature map);
- sampling: DDPM with classifier-free guidance at ``--steps`` (50) steps, two ways:
  "official computation" runs PyTorch's ``nn.TransformerDecoder`` with the alignment mask on
  every step, as the official code does (its cond/uncond batch included); "thead" is this port:
  cross-attention reduced to its value rows (the alignment mask lets query i see memory row i
  only) and computed once per window, under ``torch.inference_mode``;
- rendering: LivePortrait warp + SPADE decode per frame at 25 fps through the port (skip with
  ``--no-render``; the official networks at random weights take a while to build).

The official code takes about 11 s for 10 s of audio on the reference 2-core machine (1.8 s
HuBERT, 8.8 s denoiser). Each stage keeps its fastest of ``--repeats`` runs (a shared machine is noisy).

    python benchmarks/joyvasa.py [--seconds 10] [--steps 50] [--repeats 2] [--threads N] [--no-render]
"""

from __future__ import annotations

import argparse
import os

import torch
from _timing import best_time, markdown_table

from thead.backends.joyvasa.config import JoyVASAConfig
from thead.backends.joyvasa.denoiser import MotionGenerator
from thead.backends.joyvasa.sampler import Sampler, generator_draw, plan_windows

OFFICIAL_SECONDS_PER_10S = {"HuBERT": 1.8, "sampling": 8.8}


def hubert_features(model: MotionGenerator, windows: list[torch.Tensor]) -> list[torch.Tensor]:
    with torch.inference_mode():
        return [model.audio_features(window) for window in windows]


def official_sampling(model: MotionGenerator, sampler: Sampler, features: list[torch.Tensor]) -> None:
    """Every step through ``nn.TransformerDecoder`` with the memory mask: the official computation."""
    net, config = model.denoising_net, model.config
    draw = generator_draw(0, torch.device("cpu"))
    x_T = draw((1, config.n_motions, config.motion_feat_dim))
    prev_motion, prev_audio = model.start_motion_feat, model.start_audio_feat
    with torch.no_grad():
        for audio_feat in features:
            null = model.null_audio_feat.expand(1, config.n_motions, -1)
            memory = torch.cat([torch.cat([prev_audio, null], 1), torch.cat([prev_audio, audio_feat], 1)])
            prev_in, x_t = torch.cat([prev_motion, prev_motion]), x_T
            for t in range(config.n_diff_steps, 0, -1):
                z = draw(tuple(x_t.shape)) if t > 1 else torch.zeros_like(x_t)
                step = torch.full((2,), t, dtype=torch.long)
                queries = net.queries(torch.cat([x_t, x_t]), prev_in, step)
                out = net.motion_dec(net.transformer(queries, memory, memory_mask=net.alignment_mask))
                out = out[:, -config.n_motions:]
                x0 = out[:1] + sampler.guidance * (out[1:] - out[:1])
                c0, c1, sigma = sampler._coefficients(t, t - 1)
                x_t = c0 * x_t + c1 * x0 + sigma * z
            prev_motion, prev_audio = x_t[:, -config.n_prev_motions:], audio_feat[:, -config.n_prev_motions:]


def thead_sampling(model: MotionGenerator, sampler: Sampler, features: list[torch.Tensor]) -> None:
    config = model.config
    draw = generator_draw(0, torch.device("cpu"))
    x_T = draw((1, config.n_motions, config.motion_feat_dim))
    prev_motion, prev_audio = model.start_motion_feat, model.start_audio_feat
    with torch.inference_mode():
        for audio_feat in features:
            motion = sampler.window(audio_feat, prev_motion, prev_audio, x_T, draw)
            prev_motion, prev_audio = motion[:, -config.n_prev_motions:], audio_feat[:, -config.n_prev_motions:]


def render_seconds_per_frame(repeats: int) -> float:
    """Warp + decode of one frame through the LivePortrait port (official sizes, random weights)."""
    from thead.backends.liveportrait.networks import LivePortraitNetworks
    from thead.backends.liveportrait.pipeline import LivePortraitPipeline

    networks = LivePortraitNetworks.build().optimize_for_inference(winograd=True)
    pipeline = LivePortraitPipeline(networks, torch.device("cpu"))
    source = pipeline.prepare_source(torch.rand(1, 3, 256, 256))
    x_d = source.x_s + 0.01 * torch.randn_like(source.x_s)
    return best_time(lambda: pipeline.warp_decode(source.f_s, source.x_s, x_d), repeats)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-render", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = MotionGenerator(JoyVASAConfig())
    config = model.config
    audio = 0.1 * torch.randn(int(args.seconds * 16000))
    plan = plan_windows(audio.shape[0], config.n_motions)
    windows = [torch.cat([torch.zeros(1280), audio, torch.zeros(plan.windows * config.window_samples)])
               [i * config.window_samples:(i + 1) * config.window_samples][None] for i in range(plan.windows)]
    with torch.inference_mode():
        features = [model.audio_features(window) for window in windows]
    sampler = Sampler(model, 2.8, args.steps)
    stages = {"hubert": lambda: hubert_features(model, windows),
              "ours": lambda: thead_sampling(model, sampler, features)}
    if args.steps == config.n_diff_steps:
        stages["official"] = lambda: official_sampling(model, sampler, features)
    best = dict.fromkeys(stages, float("inf"))
    for _ in range(args.repeats):  # interleaved, so that a busy spell hurts every stage alike
        for name, run in stages.items():
            best[name] = min(best[name], best_time(run, 1)[0])
    hubert, ours, official = best["hubert"], best["ours"], best.get("official")
    per = args.seconds
    rows = [("HuBERT (per-window front end)", hubert)]
    if official is not None:
        rows.append(("sampling, official computation", official))
    rows.append((f"sampling, thead ({args.steps} steps)", ours))
    rows.append(("motion total, thead", hubert + ours))
    if not args.no_render:
        rows.append(("LivePortrait render (25 fps)", render_seconds_per_frame(args.repeats) * 25 * per))
    print(f"JoyVASA on CPU, {args.threads} thread(s), {per:g} s of audio, {plan.windows} window(s), "
          f"fastest of {args.repeats}")
    print(markdown_table(("stage", "s", "s per s audio"),
                         [(name, f"{seconds:.2f}", f"{seconds / per:.3f}") for name, seconds in rows]))
    official_total = sum(OFFICIAL_SECONDS_PER_10S.values()) * per / 10
    print(f"goal: motion total <= 0.7 x official {official_total:.1f} s = {0.7 * official_total:.1f} s "
          f"(measured here: {hubert + ours:.2f} s)")


if __name__ == "__main__":
    main()
