"""Convolution blocks shared by LivePortrait's appearance extractor and warping module.

Attribute names follow the official checkpoints (``conv``, ``norm``, ``conv1``...), so state dicts
load strictly. Every block that ends in conv -> BatchNorm can fold the (eval-mode) norm into the
convolution with :meth:`fold_norm`; :func:`fold_batch_norms` applies it to a whole network.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d | nn.Conv3d, norm: nn.BatchNorm2d | nn.BatchNorm3d) -> None:
    """Fold an eval-mode BatchNorm that follows ``conv`` into the convolution's weight and bias."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    conv.weight.mul_(scale.reshape(-1, *([1] * (conv.weight.dim() - 1))))
    conv.bias = nn.Parameter((bias - norm.running_mean) * scale + norm.bias)


def fold_batch_norms(module: nn.Module) -> None:
    """Fold every conv -> BatchNorm pair of ``module`` (eval only; the state dict changes)."""
    for child in list(module.modules()):
        fold = getattr(child, "fold_norm", None)
        if callable(fold):
            fold()


@functools.lru_cache(maxsize=1)
def _nnpack_ready() -> bool:
    """NNPACK is compiled in and initialised (``_nnpack_available`` initialises it)."""
    return hasattr(torch, "_nnpack_spatial_convolution") and bool(torch._nnpack_available())


class WinogradConv2d(nn.Conv2d):
    """Conv2d whose 3x3, stride-1, batch-1 float32 CPU calls run NNPACK's Winograd kernels.

    About 3x faster than oneDNN's direct convolution here, with relative rounding near 1e-5 of the
    output range (oneDNN: 1e-7); everything else falls back to :func:`torch.nn.functional.conv2d`.
    """

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> nn.Conv2d:
        """A Winograd version of ``conv`` sharing its parameters (``conv`` itself when not a 3x3/stride-1 conv)."""
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1:
            return conv
        fast = cls.__new__(cls)
        fast.__dict__.update(conv.__dict__)
        return fast

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return winograd_conv2d(x, weight, bias, self.padding)


def winograd_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    padding: tuple[int, int]) -> torch.Tensor:
    """Stride-1 conv through NNPACK for batch-1 float32 CPU input (Winograd for 3x3 kernels); else oneDNN."""
    if x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4 and x.shape[0] == 1 and _nnpack_ready():
        bias = bias if bias is not None else weight.new_zeros(weight.shape[0])
        return torch._nnpack_spatial_convolution(x.contiguous(), weight, bias, list(padding), [1, 1])
    return F.conv2d(x, weight, bias, padding=padding)


def use_winograd(module: nn.Module) -> None:
    """Swap every plain 3x3 stride-1 ``nn.Conv2d`` inside ``module`` for a :class:`WinogradConv2d`."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv2d:
                setattr(parent, name, WinogradConv2d.from_conv(child))


class ConvNormBlock(nn.Module):
    """Base for ``conv -> norm -> ...`` blocks whose norm can be folded for inference."""

    conv: nn.Conv2d | nn.Conv3d
    norm: nn.Module

    def fold_norm(self) -> None:
        if isinstance(self.norm, nn.modules.batchnorm._BatchNorm):
            fold_conv_bn(self.conv, self.norm)
            self.norm = nn.Identity()


class SameBlock2d(ConvNormBlock):
    """conv -> BN -> ReLU (or LeakyReLU 0.01), resolution preserved."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, padding: int = 1,
                 lrelu: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.ac = nn.LeakyReLU() if lrelu else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ac(self.norm(self.conv(x)))


class DownBlock2d(ConvNormBlock):
    """conv -> BN -> ReLU -> 2x2 average pooling."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.pool = nn.AvgPool2d(kernel_size=(2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class DownBlock3d(ConvNormBlock):
    """3D conv -> BN -> ReLU -> average pooling over H and W only."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class UpBlock3d(ConvNormBlock):
    """Nearest x2 upsampling of H and W -> 3D conv -> BN -> ReLU.

    :meth:`fold_norm` also switches the conv to :class:`NearestUpsampledConv` (same result, fewer FLOPs).
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv: nn.Conv3d | NearestUpsampledConv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.conv, NearestUpsampledConv):
            return F.relu(self.norm(self.conv(x, 2)))
        return F.relu(self.norm(self.conv(F.interpolate(x, scale_factor=(1.0, 2.0, 2.0)))))

    def fold_norm(self) -> None:
        super().fold_norm()
        if isinstance(self.conv, nn.Conv3d):
            self.conv = NearestUpsampledConv(self.conv)


class ResBlock3d(nn.Module):
    """Pre-activation residual block: BN, ReLU, conv, BN, ReLU, conv, plus the input."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(features, features, kernel_size=3, padding=1)
        self.conv2 = nn.Conv3d(features, features, kernel_size=3, padding=1)
        self.norm1 = nn.BatchNorm3d(features, affine=True)
        self.norm2 = nn.BatchNorm3d(features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        return self.conv2(F.relu(self.norm2(out))) + x

    def fold_norm(self) -> None:
        """Fold ``norm2`` into ``conv1`` (``norm1`` acts on the residual input and stays)."""
        if isinstance(self.norm2, nn.BatchNorm3d):
            fold_conv_bn(self.conv1, self.norm2)
            self.norm2 = nn.Identity()


class Hourglass3d(nn.Module):
    """U-Net over a [B, C, D, H, W] volume that pools and upsamples only H and W.

    ``encoder.down_blocks`` and ``decoder.up_blocks``/``conv``/``norm`` match the official keys;
    the output has ``block_expansion + in_features`` channels (the input is concatenated last).
    """

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int) -> None:
        super().__init__()

        def width(level: int) -> int:
            return min(max_features, block_expansion * 2**level)

        self.encoder = nn.Module()
        self.encoder.down_blocks = nn.ModuleList(
            DownBlock3d(in_features if i == 0 else width(i), width(i + 1)) for i in range(num_blocks)
        )
        self.decoder = _HourglassDecoder(
            [UpBlock3d((1 if i == num_blocks - 1 else 2) * width(i + 1), width(i)) for i in reversed(range(num_blocks))],
            block_expansion + in_features,
        )
        self.out_filters = block_expansion + in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        for block in self.encoder.down_blocks:
            skips.append(block(skips[-1]))
        return self.decoder(skips)


class _HourglassDecoder(ConvNormBlock):
    def __init__(self, up_blocks: list[UpBlock3d], out_filters: int) -> None:
        super().__init__()
        self.up_blocks = nn.ModuleList(up_blocks)
        self.conv = nn.Conv3d(out_filters, out_filters, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_filters, affine=True)

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        out = skips[-1]
        for block, skip in zip(self.up_blocks, reversed(skips[:-1])):
            out = torch.cat([block(out), skip], dim=1)
        return F.relu(self.norm(self.conv(out)))


class NearestUpsampledConv(nn.Module):
    """``conv(nearest_upsample(x, s))`` for a kernel-3, padding-1 conv, computed at the input resolution.

    Upsampling repeats each input pixel s times along H and W. Counting output pixels from -1,
    pixel ``s*i + a - 1`` (phase ``a`` of cell ``i``) reads only input rows ``i-1`` and ``i``: each of
    the s*s phases is a 2x2 convolution of the small input, whose taps sum the 3x3 taps falling on
    the same input pixel. All phases run as one conv (s*s*C_out channels, ~0.45x the multiply-adds
    of the upsampled conv); a pixel shuffle and a one-pixel crop give the output. Leading spatial
    axes (D of a 3D conv) keep their kernel and padding. Phase kernels are cached per factor.
    With ``winograd`` (2D only) it upsamples and runs the 3x3 conv through :func:`winograd_conv2d`,
    which is faster still.
    """

    MIN_SIZE = 8  # below this the one-pixel padding of the phase conv outweighs its savings

    def __init__(self, conv: nn.Conv2d | nn.Conv3d, winograd: bool = False) -> None:
        super().__init__()
        if tuple(conv.kernel_size[-2:]) != (3, 3) or tuple(conv.padding[-2:]) != (1, 1) or conv.groups != 1:
            raise ValueError("NearestUpsampledConv needs a 3x3 (H, W) kernel with padding 1")
        self.winograd = winograd and isinstance(conv, nn.Conv2d)
        self.register_buffer("weight", conv.weight.detach().clone())
        self.register_buffer("bias", conv.bias.detach().clone() if conv.bias is not None else None)
        self.leading_padding = tuple(conv.padding[:-2])
        self._phases: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}

    @torch.no_grad()
    def _phase_kernels(self, scale: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if scale not in self._phases:
            taps = torch.zeros(scale, 2, 3, dtype=self.weight.dtype, device=self.weight.device)
            for phase in range(scale):
                for k in range(3):
                    taps[phase, (phase + k - 2) // scale + 1, k] = 1
            with torch.autocast(self.weight.device.type, enabled=False):  # keep the summed taps in full precision
                kernels = torch.einsum("ajk,blm,oi...km->oabi...jl", taps, taps, self.weight)
            kernels = kernels.reshape(self.weight.shape[0] * scale * scale, *kernels.shape[3:])
            bias = self.bias.repeat_interleave(scale * scale) if self.bias is not None else None
            self._phases[scale] = (kernels.contiguous(), bias)
        return self._phases[scale]

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        """``x`` [B, C, ..., h, w] -> conv of its nearest x``scale`` upsampling, [B, C_out, ..., s*h, s*w]."""
        if self.winograd:
            upsampled = F.interpolate(x, scale_factor=float(scale)) if scale > 1 else x
            return winograd_conv2d(upsampled, self.weight, self.bias, (1, 1))
        conv = F.conv3d if x.dim() == 5 else F.conv2d
        if scale > 1 and min(x.shape[-2:]) < self.MIN_SIZE:
            x = F.interpolate(x, scale_factor=(1.0,) * (x.dim() - 4) + (float(scale), float(scale)))
            scale = 1
        if scale == 1:
            return conv(x, self.weight, self.bias, padding=(*self.leading_padding, 1, 1))
        kernels, bias = self._phase_kernels(scale)
        phases = conv(F.pad(x, (1, 1, 1, 1)), kernels, bias, padding=(*self.leading_padding, 0, 0))
        b, out_channels, h, w = x.shape[0], self.weight.shape[0], x.shape[-2], x.shape[-1]
        leading = phases.shape[2:-2]
        n = len(leading)
        shuffled = phases.view(b, out_channels, scale, scale, *leading, h + 1, w + 1)
        shuffled = shuffled.permute(0, 1, *range(4, 4 + n), 4 + n, 2, 5 + n, 3)
        shuffled = shuffled.reshape(b, out_channels, *leading, (h + 1) * scale, (w + 1) * scale)
        return shuffled[..., 1 : 1 + h * scale, 1 : 1 + w * scale]
