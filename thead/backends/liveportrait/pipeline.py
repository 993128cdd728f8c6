"""LivePortrait's animation steps on 256x256 crops: features, keypoints, motion transfer, stitching, warp + decode.

This is the numeric core that the golden tests pin down; face cropping, paste-back and smoothing
live in :mod:`.crop` and :mod:`.backend`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from thead.backends.liveportrait.keypoints import KeypointInfo, driven_keypoints, motion_multiplier
from thead.backends.liveportrait.networks import LivePortraitNetworks
from thead.backends.liveportrait.retargeting import LIP_NORMALIZE_THRESHOLD, combined_lip_ratio

DRIVING_OPTIONS = ("expression-friendly", "pose-friendly")


@dataclass(frozen=True)
class AnimationOptions:
    """How driving keypoints are put onto the source (LivePortrait's ``inference.py`` defaults).

    Lip normalisation belongs to the source: see :meth:`LivePortraitPipeline.prepare_source`.
    """

    relative: bool = True
    region: str = "all"
    stitching: bool = True
    driving_option: str = "expression-friendly"
    driving_multiplier: float = 1.0


@dataclass
class SourceState:
    """Everything computed once per source crop."""

    info: KeypointInfo
    x_s: torch.Tensor
    f_s: torch.Tensor
    lip_normalization: torch.Tensor | None = None


@dataclass
class DrivingReference:
    """The reference frame of relative driving, and the expression-friendly rescaling derived from it."""

    info: KeypointInfo
    x_new: torch.Tensor | None = None
    multiplier: float | None = None


def images_to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """RGB uint8 [H, W, 3] or [B, H, W, 3] -> float32 [B, 3, H, W] in [0, 1] (no mean/std normalisation)."""
    batch = images[None] if images.ndim == 3 else images
    tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(device)
    return (tensor.float() / 255.0).clamp(0, 1).permute(0, 3, 1, 2).contiguous()


def tensor_to_images(image: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [0, 1] -> RGB uint8 [B, H, W, 3] (clip, x255, truncate: as upstream)."""
    array = image.detach().float().permute(0, 2, 3, 1).cpu().numpy()
    return np.clip(np.clip(array, 0, 1) * 255, 0, 255).astype(np.uint8)


class LivePortraitPipeline:
    """Runs the networks with float32 keypoint math; CUDA may use float16 for the convolutions."""

    def __init__(self, networks: LivePortraitNetworks, device: torch.device, half: bool = False) -> None:
        self.networks = networks.to(device)
        self.device = device
        self.half = half and device.type == "cuda"

    def _autocast(self) -> AbstractContextManager:
        if self.half:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return nullcontext()

    @torch.inference_mode()
    def appearance_features(self, image: torch.Tensor) -> torch.Tensor:
        """f_s [B, C, D, 64, 64] of [B, 3, 256, 256] images."""
        with self._autocast():
            return self.networks.appearance_feature_extractor(image).float()

    @torch.inference_mode()
    def keypoint_info(self, image: torch.Tensor) -> KeypointInfo:
        """Processed motion-extractor output (degrees, [B, K, 3] keypoints) in float32."""
        with self._autocast():
            raw = self.networks.motion_extractor(image)
        return KeypointInfo.from_raw(raw)

    def prepare_source(self, image: torch.Tensor, source_lip_ratio: np.ndarray | None = None,
                       normalize_lip: bool = False) -> SourceState:
        """Keypoints, transformed keypoints and features of one source crop; optional lip normalisation."""
        info = self.keypoint_info(image)
        source = SourceState(info=info, x_s=info.transformed(), f_s=self.appearance_features(image))
        if normalize_lip and source_lip_ratio is not None:
            condition = combined_lip_ratio(source_lip_ratio, 0.0, self.device)
            if condition[0, 0] >= LIP_NORMALIZE_THRESHOLD:
                source.lip_normalization = self.lip_delta(source.x_s, condition)
        return source

    def reference(self, source: SourceState, info: KeypointInfo, options: AnimationOptions,
                  expression_friendly: bool = True) -> DrivingReference:
        """Reference for relative driving; expression-friendly rescaling applies to driving videos only."""
        reference = DrivingReference(info=info)
        if options.relative and expression_friendly and options.driving_option == "expression-friendly":
            reference.x_new = driven_keypoints(source.info, info, info, options.region)
            reference.multiplier = motion_multiplier(source.x_s, reference.x_new)
        return reference

    @torch.inference_mode()
    def stitch_delta(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        """Stitching MLP output [B, 3K + 2] for flattened source and driving keypoints."""
        return self.networks.stitching_retargeting_module.stitching(torch.cat([x_s.flatten(1), x_d.flatten(1)], dim=1))

    def stitch(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        """x_d plus the per-keypoint stitching delta, plus the shared (tx, ty) shift."""
        delta = self.stitch_delta(x_s, x_d)
        b, k = x_d.shape[:2]
        per_point = delta[:, : 3 * k].reshape(b, k, 3)
        shift = delta[:, 3 * k : 3 * k + 2].reshape(b, 1, 2)
        out = x_d + per_point
        return torch.cat([out[..., :2] + shift, out[..., 2:]], dim=-1)

    @torch.inference_mode()
    def eye_delta(self, x_s: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Eye retargeting delta [B, K, 3]; ``condition`` = [source left, source right, driving left] ratios."""
        out = self.networks.stitching_retargeting_module.eye(torch.cat([x_s.flatten(1), condition], dim=1))
        return out.reshape(x_s.shape)

    @torch.inference_mode()
    def lip_delta(self, x_s: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Lip retargeting delta [B, K, 3]; ``condition`` = [source lip, driving lip] ratios."""
        out = self.networks.stitching_retargeting_module.lip(torch.cat([x_s.flatten(1), condition], dim=1))
        return out.reshape(x_s.shape)

    def animate_keypoints(
        self,
        source: SourceState,
        driving: KeypointInfo,
        reference: DrivingReference | None,
        options: AnimationOptions,
        retarget_delta: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Driving keypoints for the warp: motion transfer, expression-friendly rescaling, retargeting, stitching.

        ``retarget_delta`` (eye and/or lip deltas) is added before stitching; the lip normalisation
        delta after it, as upstream. Returns ``before_stitching``, ``after_stitching`` and ``final``.
        """
        x_s = source.x_s
        ref_info = reference.info if (reference is not None and options.relative) else None
        x_d = driven_keypoints(source.info, driving, ref_info, options.region)
        if reference is not None and reference.multiplier is not None and options.relative:
            x_d = (x_d - reference.x_new) * reference.multiplier + x_s
        if retarget_delta is not None:
            x_d = x_d + retarget_delta
        before = x_d
        if options.stitching:
            x_d = self.stitch(x_s, x_d)
        after = x_d
        if source.lip_normalization is not None:
            x_d = x_d + source.lip_normalization
        final = x_s + (x_d - x_s) * options.driving_multiplier
        return {"before_stitching": before, "after_stitching": after, "final": final}

    @torch.inference_mode()
    def warp_decode(self, f_s: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> dict[str, torch.Tensor]:
        """Warp f_s from x_s to x_d and decode: ``out`` [B, 3, 512, 512] in [0, 1], the warped ``feature``,
        ``deformation``, ``mask`` and ``occlusion_map``."""
        with self._autocast():
            warped = self.networks.warping_module(f_s, x_d, x_s)
            image = self.networks.spade_generator(warped["out"])
        intermediates = {"feature": warped["out"], "deformation": warped["deformation"], "mask": warped["mask"]}
        if warped["occlusion_map"] is not None:
            intermediates["occlusion_map"] = warped["occlusion_map"]
        return {**{k: v.float() for k, v in intermediates.items()}, "out": image.float()}
