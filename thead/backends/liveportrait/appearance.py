"""F: the appearance feature extractor, a 256x256 image to a [C, D, 64, 64] feature volume."""

from __future__ import annotations

import torch
from torch import nn

from thead.backends.liveportrait.config import AppearanceConfig
from thead.backends.liveportrait.layers import DownBlock2d, ResBlock3d, SameBlock2d


class AppearanceFeatureExtractor(nn.Module):
    """2D encoder, a 1x1 conv to ``reshape_channel * reshape_depth`` channels, then 3D residual blocks."""

    def __init__(self, config: AppearanceConfig) -> None:
        super().__init__()
        if config.max_features != config.reshape_channel * config.reshape_depth:
            raise ValueError("appearance max_features must equal reshape_channel * reshape_depth")
        self.config = config
        widths = [min(config.max_features, config.block_expansion * 2**i) for i in range(config.num_down_blocks + 1)]
        self.first = SameBlock2d(config.image_channel, config.block_expansion)
        self.down_blocks = nn.ModuleList(DownBlock2d(widths[i], widths[i + 1]) for i in range(config.num_down_blocks))
        self.second = nn.Conv2d(widths[-1], config.max_features, kernel_size=1)
        self.resblocks_3d = nn.Sequential()
        for i in range(config.num_resblocks):
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock3d(config.reshape_channel))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [0, 1] -> [B, reshape_channel, reshape_depth, H/4, W/4]."""
        out = self.first(image)
        for block in self.down_blocks:
            out = block(out)
        out = self.second(out)
        b, _, h, w = out.shape
        return self.resblocks_3d(out.view(b, self.config.reshape_channel, self.config.reshape_depth, h, w))
