"""G: the SPADE decoder, warped 2D features [B, C, 64, 64] to an RGB image in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thead.backends.liveportrait.config import SpadeConfig

SPADE_HIDDEN = 128  # hard-coded in the official SPADE layer


class SpectralNormConv2d(nn.Module):
    """Conv2d whose weight is ``weight_orig / sigma`` with sigma = u . (W v) from the stored vectors.

    This is eval-mode spectral normalisation (no power iteration); :meth:`freeze` turns it into a
    plain :class:`nn.Conv2d` once the weights are loaded.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_orig = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.register_buffer("weight_u", torch.zeros(out_channels))
        self.register_buffer("weight_v", torch.zeros(in_channels * kernel_size * kernel_size))

    def weight(self) -> torch.Tensor:
        matrix = self.weight_orig.reshape(self.weight_orig.shape[0], -1)
        sigma = torch.dot(self.weight_u, torch.mv(matrix, self.weight_v))
        return self.weight_orig / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)

    @torch.no_grad()
    def freeze(self) -> nn.Conv2d:
        """A plain convolution with the normalised weight."""
        out_channels, in_channels, k, _ = self.weight_orig.shape
        conv = nn.Conv2d(in_channels, out_channels, k, padding=self.padding, bias=self.bias is not None)
        conv = conv.to(self.weight_orig.device, self.weight_orig.dtype)
        conv.weight.copy_(self.weight())
        if self.bias is not None:
            conv.bias.copy_(self.bias)
        return conv


class SPADE(nn.Module):
    """Spatially adaptive norm: instance-normalised x times (1 + gamma) plus beta, both from the segmentation map."""

    def __init__(self, norm_channels: int, label_channels: int) -> None:
        super().__init__()
        self.param_free_norm = nn.InstanceNorm2d(norm_channels, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_channels, SPADE_HIDDEN, kernel_size=3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(SPADE_HIDDEN, norm_channels, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(SPADE_HIDDEN, norm_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        segmap = F.interpolate(segmap, size=x.shape[2:], mode="nearest")
        actv = self.mlp_shared(segmap)
        return self.param_free_norm(x) * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResnetBlock(nn.Module):
    """Two SPADE -> LeakyReLU(0.2) -> spectral-norm conv steps plus a (learned when widths differ) shortcut."""

    def __init__(self, fin: int, fout: int, label_channels: int) -> None:
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        self.conv_0 = SpectralNormConv2d(fin, fmiddle, kernel_size=3, padding=1)
        self.conv_1 = SpectralNormConv2d(fmiddle, fout, kernel_size=3, padding=1)
        if self.learned_shortcut:
            self.conv_s = SpectralNormConv2d(fin, fout, kernel_size=1, bias=False)
        self.norm_0 = SPADE(fin, label_channels)
        self.norm_1 = SPADE(fmiddle, label_channels)
        if self.learned_shortcut:
            self.norm_s = SPADE(fin, label_channels)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, segmap)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, segmap), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, segmap), 0.2))
        return shortcut + dx

    def freeze_spectral_norm(self) -> None:
        for name in ("conv_0", "conv_1", "conv_s"):
            module = getattr(self, name, None)
            if isinstance(module, SpectralNormConv2d):
                setattr(self, name, module.freeze())


class SPADEDecoder(nn.Module):
    """conv, six SPADE residual blocks, two (nearest x2 + block) upsamplings, conv to RGB (+ PixelShuffle)."""

    NUM_MIDDLE_BLOCKS = 6

    def __init__(self, config: SpadeConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.input_channels
        self.fc = nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1)
        for i in range(self.NUM_MIDDLE_BLOCKS):
            self.add_module(f"G_middle_{i}", SPADEResnetBlock(2 * channels, 2 * channels, channels))
        self.up_0 = SPADEResnetBlock(2 * channels, channels, channels)
        self.up_1 = SPADEResnetBlock(channels, config.out_channels, channels)
        self.up = nn.Upsample(scale_factor=2)
        if config.upscale is None or config.upscale <= 1:
            self.conv_img = nn.Conv2d(config.out_channels, 3, kernel_size=3, padding=1)
        else:
            self.conv_img = nn.Sequential(
                nn.Conv2d(config.out_channels, 3 * 2 * 2, kernel_size=3, padding=1), nn.PixelShuffle(upscale_factor=2)
            )

    def middle_blocks(self) -> list[SPADEResnetBlock]:
        return [getattr(self, f"G_middle_{i}") for i in range(self.NUM_MIDDLE_BLOCKS)]

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        """[B, C, 64, 64] -> [B, 3, 512, 512] (``upscale`` 2) with values in (0, 1)."""
        x = self.fc(feature)
        for block in self.middle_blocks():
            x = block(x, feature)
        x = self.up_0(self.up(x), feature)
        x = self.up_1(self.up(x), feature)
        return torch.sigmoid(self.conv_img(F.leaky_relu(x, 0.2)))

    def freeze_spectral_norm(self) -> None:
        """Replace every spectral-norm conv by a plain conv holding its normalised weight (eval only)."""
        for module in self.modules():
            if isinstance(module, SPADEResnetBlock):
                module.freeze_spectral_norm()
