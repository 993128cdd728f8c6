"""W: the warping module, 3D dense motion from implicit keypoints plus an occlusion map.

Conventions copied from the official code (see the golden README): coordinate grids span [-1, 1]
with step 2/(n-1) while every ``grid_sample`` uses ``align_corners=False``; the grid's last axis is
(x, y, z) for (W, H, D); heatmaps use variance 0.01; inputs are keypoint-major.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thead.backends.liveportrait.config import DenseMotionConfig, WarpingConfig
from thead.backends.liveportrait.layers import Hourglass3d, SameBlock2d, fold_conv_bn

KP_VARIANCE = 0.01


def coordinate_grid(depth: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """[D, H, W, 3] grid of (x, y, z) in [-1, 1], x to the right, y down, z into the image."""

    def axis(n: int) -> torch.Tensor:
        return 2 * (torch.arange(n, dtype=like.dtype, device=like.device) / (n - 1)) - 1

    z, y, x = torch.meshgrid(axis(depth), axis(height), axis(width), indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def grid_sample_3d(volume: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Trilinear ``grid_sample`` in float32 (zero padding, align_corners=False).

    Runs on the CPU for MPS, which lacks the 3D kernel; float32 also under CUDA half precision.
    """
    volume, grid = volume.float(), grid.float()
    if volume.device.type == "mps":
        return F.grid_sample(volume.cpu(), grid.cpu(), align_corners=False).to(volume.device)
    return F.grid_sample(volume, grid, align_corners=False)


def keypoint_heatmaps(grid: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
    """Gaussians exp(-|p - k|^2 / (2 * 0.01)) per keypoint: grid [D, H, W, 3], kp [B, K, 3] -> [B, K, D, H, W]."""
    diff = grid - keypoints[:, :, None, None, None, :]
    return torch.exp(-0.5 * (diff**2).sum(-1) / KP_VARIANCE)


class DenseMotionNetwork(nn.Module):
    """Predicts a per-voxel soft assignment to 1 + K translations, and an occlusion map."""

    def __init__(self, config: DenseMotionConfig, num_kp: int, feature_channel: int, estimate_occlusion_map: bool) -> None:
        super().__init__()
        self.num_kp = num_kp
        self.hourglass = Hourglass3d(
            block_expansion=config.block_expansion,
            in_features=(num_kp + 1) * (config.compress + 1),
            num_blocks=config.num_blocks,
            max_features=config.max_features,
        )
        self.mask = nn.Conv3d(self.hourglass.out_filters, num_kp + 1, kernel_size=7, padding=3)
        self.compress = nn.Conv3d(feature_channel, config.compress, kernel_size=1)
        self.norm = nn.BatchNorm3d(config.compress, affine=True)
        self.occlusion = (
            nn.Conv2d(self.hourglass.out_filters * config.reshape_depth, 1, kernel_size=7, padding=3)
            if estimate_occlusion_map
            else None
        )

    def fold_norm(self) -> None:
        if isinstance(self.norm, nn.BatchNorm3d):
            fold_conv_bn(self.compress, self.norm)
            self.norm = nn.Identity()

    def sparse_motions(self, grid: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> torch.Tensor:
        """[B, 1 + K, D, H, W, 3]: the identity (background) then grid - kp_driving + kp_source per keypoint."""
        shifted = grid - kp_driving[:, :, None, None, None, :] + kp_source[:, :, None, None, None, :]
        identity = grid.expand(kp_driving.shape[0], 1, *grid.shape)
        return torch.cat([identity, shifted], dim=1)

    def forward(self, feature: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> dict[str, torch.Tensor]:
        b, _, d, h, w = feature.shape
        entries = self.num_kp + 1
        compressed = F.relu(self.norm(self.compress(feature)))
        grid = coordinate_grid(d, h, w, like=kp_source)  # float32 keypoint space, also under half precision
        motions = self.sparse_motions(grid, kp_driving, kp_source)
        # One grid_sample for all entries: their grids are stacked along the output depth axis.
        deformed = grid_sample_3d(compressed, motions.reshape(b, entries * d, h, w, 3))
        deformed = deformed.view(b, -1, entries, d, h, w).transpose(1, 2)
        heatmaps = keypoint_heatmaps(grid, kp_driving) - keypoint_heatmaps(grid, kp_source)
        heatmaps = torch.cat([heatmaps.new_zeros(b, 1, d, h, w), heatmaps], dim=1)
        hourglass_input = torch.cat([heatmaps.unsqueeze(2), deformed], dim=2).reshape(b, -1, d, h, w)
        prediction = self.hourglass(hourglass_input)
        mask = F.softmax(self.mask(prediction), dim=1)
        out = {"mask": mask, "deformation": (mask.unsqueeze(-1) * motions).sum(dim=1)}
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(prediction.reshape(b, -1, h, w)))
        return out


class WarpingNetwork(nn.Module):
    """Warps the source feature volume with the dense motion, flattens depth into channels, masks occlusions."""

    def __init__(self, config: WarpingConfig) -> None:
        super().__init__()
        self.config = config
        self.dense_motion_network = DenseMotionNetwork(
            config.dense_motion_params, config.num_kp, config.reshape_channel, config.estimate_occlusion_map
        )
        width = config.out_channels
        self.third = SameBlock2d(config.max_features, width, lrelu=True)
        self.fourth = nn.Conv2d(width, width, kernel_size=1)

    def forward(self, feature_3d: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> dict[str, torch.Tensor]:
        """f_s [B, C, D, H, W], keypoints [B, K, 3] -> ``out`` [B, C', H, W], ``deformation``, ``occlusion_map``."""
        motion = self.dense_motion_network(feature_3d, kp_driving, kp_source)
        warped = grid_sample_3d(feature_3d, motion["deformation"])
        b, c, d, h, w = warped.shape
        out = self.fourth(self.third(warped.view(b, c * d, h, w)))
        occlusion = motion.get("occlusion_map")
        if occlusion is not None:
            out = out * occlusion
        return {"out": out, "deformation": motion["deformation"], "occlusion_map": occlusion, "mask": motion["mask"]}
