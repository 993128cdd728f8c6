"""G: the SPADE decoder, warped 2D features [B, C, 64, 64] to an RGB image in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thead.backends.liveportrait.config import SpadeConfig
from thead.backends.liveportrait.layers import NearestUpsampledConv, WinogradConv2d

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
        self.register_buffer("weight_u", torch.empty(out_channels))
        self.register_buffer("weight_v", torch.empty(in_channels * kernel_size * kernel_size))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random init like nn.Conv2d, with unit-norm u and v (checkpoints overwrite all four)."""
        if self.weight_orig.is_meta:
            return
        nn.init.kaiming_uniform_(self.weight_orig, a=5**0.5)
        if self.bias is not None:
            bound = 1 / (self.weight_orig[0].numel() ** 0.5)
            nn.init.uniform_(self.bias, -bound, bound)
        self.weight_u.copy_(F.normalize(torch.randn_like(self.weight_u), dim=0))
        self.weight_v.copy_(F.normalize(torch.randn_like(self.weight_v), dim=0))

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

    def fuse_for_inference(self, winograd: bool = False) -> None:
        """Replace every residual block by its :class:`FusedSPADEResnetBlock` (eval only)."""
        for name, module in list(self.named_children()):
            if isinstance(module, SPADEResnetBlock):
                setattr(self, name, FusedSPADEResnetBlock(module, winograd))


def _stack_convs(convs: list[nn.Conv2d]) -> nn.Conv2d:
    """One conv computing several same-input convs, their outputs concatenated along channels."""
    first = convs[0]
    out_channels = sum(conv.out_channels for conv in convs)
    stacked = nn.Conv2d(first.in_channels, out_channels, first.kernel_size, padding=first.padding)
    stacked = stacked.to(first.weight.device, first.weight.dtype).requires_grad_(False)
    stacked.weight.copy_(torch.cat([conv.weight for conv in convs]))
    stacked.bias.copy_(torch.cat([conv.bias for conv in convs]))
    return stacked


class FusedSPADEResnetBlock(nn.Module):
    """Inference form of a loaded :class:`SPADEResnetBlock`, computing the same function with less work.

    - spectral norms are applied once; with ``winograd`` the 3x3 convs run as :class:`WinogradConv2d`
      (the decoder's first and last convs stay direct: their rounding would reach every pixel);
    - the 2 or 3 ``mlp_shared`` convs, which all read the same segmentation map, run as one conv,
      at the map's own resolution when the block works on an upsampled grid (:class:`NearestUpsampledConv`);
    - each SPADE's gamma and beta convs run as one conv, and ``norm_0`` and ``norm_s`` share the
      instance normalisation of their common input;
    - the shortcut's beta conv is composed with the 1x1 ``conv_s`` (a linear map of a linear map):
      ``conv_s(x_hat * (1 + gamma_s) + beta_s) = conv_s(x_hat * (1 + gamma_s)) + (conv_s o beta_s)(actv_s)``.
    """

    @torch.no_grad()
    def __init__(self, block: SPADEResnetBlock, winograd: bool = False) -> None:
        super().__init__()
        self.learned_shortcut = block.learned_shortcut
        norms = [block.norm_0, block.norm_1] + ([block.norm_s] if self.learned_shortcut else [])
        fast = WinogradConv2d.from_conv if winograd else (lambda conv: conv)
        self.shared = NearestUpsampledConv(_stack_convs([norm.mlp_shared[0] for norm in norms]), winograd)
        self.conv_0, self.conv_1 = fast(block.conv_0.freeze()), fast(block.conv_1.freeze())
        self.gamma_beta_0 = fast(_stack_convs([block.norm_0.mlp_gamma, block.norm_0.mlp_beta]))
        self.gamma_beta_1 = fast(_stack_convs([block.norm_1.mlp_gamma, block.norm_1.mlp_beta]))
        if self.learned_shortcut:
            self.conv_s = block.conv_s.freeze()
            shortcut = self.conv_s.weight[:, :, 0, 0]
            beta = block.norm_s.mlp_beta
            composed = nn.Conv2d(beta.in_channels, shortcut.shape[0], 3, padding=1).to(shortcut.device, shortcut.dtype)
            composed.weight.copy_(torch.einsum("oc,cikl->oikl", shortcut, beta.weight))
            composed.bias.copy_(shortcut @ beta.bias)
            self.gamma_beta_s = fast(_stack_convs([block.norm_s.mlp_gamma, composed]))

    @staticmethod
    def _modulate(normalized: torch.Tensor, gamma_beta: torch.Tensor) -> torch.Tensor:
        gamma, beta = gamma_beta.chunk(2, dim=1)
        return torch.addcmul(beta, normalized, gamma + 1)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        scale = x.shape[-1] // segmap.shape[-1]
        if tuple(x.shape[-2:]) != (segmap.shape[-2] * scale, segmap.shape[-1] * scale):
            segmap, scale = F.interpolate(segmap, size=x.shape[2:], mode="nearest"), 1
        actv = F.relu_(self.shared(segmap, scale)).split(SPADE_HIDDEN, dim=1)
        normalized = F.instance_norm(x, eps=1e-5)
        dx = self.conv_0(F.leaky_relu_(self._modulate(normalized, self.gamma_beta_0(actv[0])), 0.2))
        dx = self.conv_1(F.leaky_relu_(self._modulate(F.instance_norm(dx, eps=1e-5), self.gamma_beta_1(actv[1])), 0.2))
        if not self.learned_shortcut:
            return dx.add_(x)
        gamma, beta = self.gamma_beta_s(actv[2]).split([x.shape[1], self.conv_s.out_channels], dim=1)
        return dx.add_(self.conv_s(normalized * (gamma + 1))).add_(beta)
