"""The five LivePortrait networks together: build from a config, load checkpoints strictly, optimise for inference."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from thead.backends.liveportrait.appearance import AppearanceFeatureExtractor
from thead.backends.liveportrait.config import LivePortraitConfig
from thead.backends.liveportrait.layers import fold_batch_norms, use_winograd
from thead.backends.liveportrait.motion_extractor import MotionExtractor
from thead.backends.liveportrait.spade import SPADEDecoder
from thead.backends.liveportrait.stitching import StitchingRetargetingModule, split_stitching_state
from thead.backends.liveportrait.warping import WarpingNetwork
from thead.weights.load import load_checkpoint, load_strict

NETWORK_NAMES = (
    "appearance_feature_extractor",
    "motion_extractor",
    "warping_module",
    "spade_generator",
    "stitching_retargeting_module",
)
# network name -> file key in the weights manifest (its path in the KwaiVGI/LivePortrait HF repo)
OFFICIAL_CHECKPOINTS = {
    "appearance_feature_extractor": "liveportrait/base_models/appearance_feature_extractor.pth",
    "motion_extractor": "liveportrait/base_models/motion_extractor.pth",
    "warping_module": "liveportrait/base_models/warping_module.pth",
    "spade_generator": "liveportrait/base_models/spade_generator.pth",
    "stitching_retargeting_module": "liveportrait/retargeting_models/stitching_retargeting_module.pth",
}
# the same networks in the Kijai/LivePortrait_safetensors conversion (weight set "liveportrait-safetensors")
SAFETENSORS_CHECKPOINTS = {name: f"{name}.safetensors" for name in NETWORK_NAMES}


@dataclass
class LivePortraitNetworks:
    """F, M, W, G and the stitching/retargeting MLPs, in eval mode."""

    appearance_feature_extractor: AppearanceFeatureExtractor
    motion_extractor: MotionExtractor
    warping_module: WarpingNetwork
    spade_generator: SPADEDecoder
    stitching_retargeting_module: StitchingRetargetingModule

    @classmethod
    def build(cls, config: LivePortraitConfig | None = None, device: torch.device | str = "cpu") -> LivePortraitNetworks:
        """Randomly initialised networks (``device="meta"`` builds them without allocating)."""
        config = config or LivePortraitConfig()
        with torch.device(device):
            networks = cls(
                AppearanceFeatureExtractor(config.appearance_feature_extractor),
                MotionExtractor(config.motion_extractor),
                WarpingNetwork(config.warping_module),
                SPADEDecoder(config.spade_generator),
                StitchingRetargetingModule(config.stitching_retargeting_module),
            )
        for module in networks.modules():
            module.eval().requires_grad_(False)
        return networks

    @classmethod
    def from_files(
        cls, files: Mapping[str, str | os.PathLike], config: LivePortraitConfig | None = None
    ) -> LivePortraitNetworks:
        """Build and load strictly from ``{network name: checkpoint path}`` (.pth or .safetensors)."""
        networks = cls.build(config)
        for name in NETWORK_NAMES:
            networks.load_network(name, load_checkpoint(files[name]), str(files[name]))
        return networks

    def load_network(self, name: str, state: Mapping[str, object], source: str) -> None:
        """Load one network's checkpoint; the stitching one in either official or flat layout."""
        module = getattr(self, name)
        if name == "stitching_retargeting_module":
            state = split_stitching_state(state, source)
        load_strict(module, dict(state), source)

    def modules(self) -> list[nn.Module]:
        return [getattr(self, name) for name in NETWORK_NAMES]

    def to(self, device: torch.device | str) -> LivePortraitNetworks:
        for module in self.modules():
            module.to(device)
        return self

    def optimize_for_inference(self, winograd: bool = False) -> LivePortraitNetworks:
        """Fold BatchNorms, precompute spectral norms, fuse SPADE blocks (eval only; same results up to rounding).

        ``winograd`` also runs the decoder's and warper's 3x3 convs through NNPACK's Winograd kernels
        (CPU): about 1.7x faster per frame, with rounding near 1e-5 of each conv's range (goldens: 3e-5
        on the image, within the README's 1e-4; random official-size weights: up to 3e-4).
        """
        for module in (self.appearance_feature_extractor, self.warping_module):
            fold_batch_norms(module)
        if winograd:
            use_winograd(self.warping_module)
        self.spade_generator.fuse_for_inference(winograd)
        return self
