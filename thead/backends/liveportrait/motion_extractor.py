"""M: the motion extractor, a ConvNeXt-V2 with heads for keypoints, pose bins, translation, expression, scale."""

from __future__ import annotations

import torch
from torch import nn

from thead.backends.liveportrait.config import MotionExtractorConfig

HEADS = ("kp", "scale", "pitch", "yaw", "roll", "t", "exp")


class ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channel axis of [B, C, H, W] (eps 1e-6), as ConvNeXt's downsampling layers use."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2 GRN on channels-last input: gamma * (x * N(x)) + beta + x."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial_norm = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)
        normalised = spatial_norm / (spatial_norm.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * normalised) + self.beta + x


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv, LayerNorm, 4x pointwise MLP with exact GELU and GRN, residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.grn = GlobalResponseNorm(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dwconv(x).permute(0, 2, 3, 1)
        out = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(out)))))
        return x + out.permute(0, 3, 1, 2)


class ConvNeXtV2(nn.Module):
    """ConvNeXt-V2 trunk (4 stages) with LivePortrait's seven linear heads on the pooled features."""

    def __init__(self, config: MotionExtractorConfig) -> None:
        super().__init__()
        dims, depths = config.dims, config.depths
        if len(dims) != 4 or len(depths) != 4:
            raise ValueError("ConvNeXt-V2 needs four depths and four dims")
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(config.in_chans, dims[0], kernel_size=4, stride=4), ChannelsFirstLayerNorm(dims[0]))]
        )
        for i in range(3):
            self.downsample_layers.append(
                nn.Sequential(ChannelsFirstLayerNorm(dims[i]), nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2))
            )
        self.stages = nn.ModuleList(nn.Sequential(*(ConvNeXtBlock(dims[i]) for _ in range(depths[i]))) for i in range(4))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        width, num_kp = dims[-1], config.num_kp
        self.fc_kp = nn.Linear(width, 3 * num_kp)
        self.fc_scale = nn.Linear(width, 1)
        self.fc_pitch = nn.Linear(width, config.num_bins)
        self.fc_yaw = nn.Linear(width, config.num_bins)
        self.fc_roll = nn.Linear(width, config.num_bins)
        self.fc_t = nn.Linear(width, 3)
        self.fc_exp = nn.Linear(width, 3 * num_kp)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled, normalised features [B, dims[-1]]."""
        for downsample, stage in zip(self.downsample_layers, self.stages):
            x = stage(downsample(x))
        return self.norm(x.mean(dim=(-2, -1)))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.forward_features(x)
        return {name: getattr(self, f"fc_{name}")(features) for name in HEADS}


class MotionExtractor(nn.Module):
    """Wraps the backbone as ``detector`` (the official key prefix)."""

    def __init__(self, config: MotionExtractorConfig) -> None:
        super().__init__()
        if config.backbone != "convnextv2_tiny":
            raise ValueError(f"unsupported motion extractor backbone {config.backbone!r}")
        self.config = config
        self.detector = ConvNeXtV2(config)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """[B, 3, 256, 256] in [0, 1] -> raw head outputs: pose logits [B, bins], kp/exp [B, 3K], t [B, 3], scale [B, 1]."""
        return self.detector(image)
