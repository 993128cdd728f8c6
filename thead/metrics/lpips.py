"""LPIPS v0.1 (Zhang et al. 2018) with the AlexNet backbone, as our own module.

Frames in [-1, 1] (x / 127.5 - 1), the v0.1 scaling layer ((x - shift) / scale with shift
(-0.030, -0.088, -0.188), scale (0.458, 0.448, 0.450)), torchvision AlexNet features after each of
its five ReLUs, each unit-normalised over channels (eps 1e-10), squared differences weighted by the
v0.1 1x1 linear layers, spatial mean, summed over layers. Native resolution, per frame, then mean.

Weights: torchvision's ``alexnet-owt-7be5be79.pth`` (features loaded strictly; its classifier keys
must be exactly AlexNet's) and the 6 kB linear layers ``LPIPS_v0.1_alex-df73285e.pth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from thead.errors import WeightsError
from thead.metrics.base import Metric, MetricResult, Sample, file_sha256, frames_to_tensor, resolve_weight_files

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
LINEAR_FILE = "LPIPS_v0.1_alex-df73285e.pth"
WEIGHTS = {"lpips-alex": {"alexnet": ALEXNET_FILE, "linear": LINEAR_FILE}}
CHANNELS = (64, 192, 384, 256, 256)
SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))  # torchvision feature indices ending at each ReLU
ALEXNET_CLASSIFIER = {"classifier.1.weight": (4096, 9216), "classifier.1.bias": (4096,),
                      "classifier.4.weight": (4096, 4096), "classifier.4.bias": (4096,),
                      "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,)}
BATCH = 8


def alexnet_features() -> nn.Sequential:
    """torchvision's ``alexnet().features`` layer for layer (same indices, so keys match)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    )


class NetLinLayer(nn.Module):
    """LPIPS's 1x1 linear layer; ``model.0`` is the (inactive) dropout, ``model.1`` the weights."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))


class LPIPSAlex(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = alexnet_features()
        self.lins = nn.ModuleList(NetLinLayer(c) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        taps = []
        for start, end in SLICES:
            for index in range(start, end):
                x = self.features[index](x)
            taps.append(x)
        return taps

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """[N] LPIPS distances of [N, 3, H, W] images in [-1, 1]."""
        total = torch.zeros(len(x), device=x.device)
        for lin, fx, fy in zip(self.lins, self._taps(x), self._taps(y)):
            fx = fx / (fx.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            fy = fy / (fy.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total = total + lin.model((fx - fy) ** 2).mean(dim=(1, 2, 3))
        return total


def lpips_state_dict(alexnet: dict[str, torch.Tensor], linear: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Combine the two checkpoints into LPIPSAlex's keys; the AlexNet classifier must be AlexNet's."""
    classifier = {k: tuple(v.shape) for k, v in alexnet.items() if not k.startswith("features.")}
    if classifier != ALEXNET_CLASSIFIER:
        raise WeightsError(f"{source} is not torchvision's AlexNet (unexpected keys {sorted(classifier)[:4]})",
                           f"use {ALEXNET_FILE}")
    state = {k: v for k, v in alexnet.items() if k.startswith("features.")}
    state.update({f"lins.{k[3:]}" if k.startswith("lin") else k: v for k, v in linear.items()})
    return state


@lru_cache(maxsize=2)
def load_lpips(alexnet_path: Path, linear_path: Path, device: str) -> LPIPSAlex:
    from thead.weights.load import load_checkpoint, load_strict

    model = LPIPSAlex()
    state = lpips_state_dict(load_checkpoint(alexnet_path), load_checkpoint(linear_path), str(alexnet_path))
    load_strict(model, state, f"{alexnet_path} + {linear_path}")
    return model.to(device).eval()


@torch.no_grad()
def lpips_frames(model: LPIPSAlex, generated: Sequence[np.ndarray], reference: Sequence[np.ndarray],
                 device: torch.device) -> np.ndarray:
    """Per-frame LPIPS of aligned uint8 RGB frames."""
    out = []
    for start in range(0, len(generated), BATCH):
        x = frames_to_tensor(generated[start:start + BATCH], torch.float32, device) / 127.5 - 1
        y = frames_to_tensor(reference[start:start + BATCH], torch.float32, device) / 127.5 - 1
        out.append(model(x, y).cpu().numpy())
    return np.concatenate(out).astype(np.float64)


class LPIPS(Metric):
    name = "lpips"
    higher_is_better = False
    needs = frozenset({"ref"})
    weights = WEIGHTS
    protocol = {
        "reference": "lpips 0.1 (Zhang et al. 2018), net='alex', version='0.1'",
        "input": "RGB / 127.5 - 1, v0.1 scaling layer", "features": "AlexNet relu1-5, unit-normalised",
        "pooling": "spatial mean, sum over layers", "resolution": "native", "frames": "per frame, then mean",
    }

    def compute(self, sample: Sample) -> MetricResult:
        files = resolve_weight_files("lpips-alex", WEIGHTS["lpips-alex"], sample.weights_dir)
        model = load_lpips(files["alexnet"], files["linear"], str(sample.device))
        per_frame = lpips_frames(model, sample.frames, sample.reference, sample.device)
        return MetricResult(float(per_frame.mean()), per_frame=per_frame)

    def describe(self, sample: Sample | None = None) -> dict[str, str]:
        if sample is None:
            return dict(self.protocol)
        files = resolve_weight_files("lpips-alex", WEIGHTS["lpips-alex"], sample.weights_dir)
        return {**self.protocol, **{f"{role}_sha256": file_sha256(p)[:16] for role, p in files.items()}}
