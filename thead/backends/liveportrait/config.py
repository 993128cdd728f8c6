"""Constructor arguments of the five LivePortrait networks, as frozen dataclasses.

The defaults are the official ``src/config/models.yaml`` of KwaiVGI/LivePortrait (plus the
constants its factories hard-code: ConvNeXt-V2-tiny depths/dims, 66 pose bins, SPADE output
width 64). :func:`load_models_yaml` reads a file laid out like that yaml; the golden tests use it
with a shrunk variant that also sets ``depths``/``dims`` and ``out_channels``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thead.errors import BadInputError


@dataclass(frozen=True)
class AppearanceConfig:
    """F: image -> 3D appearance feature volume."""

    image_channel: int = 3
    block_expansion: int = 64
    num_down_blocks: int = 2
    max_features: int = 512
    reshape_channel: int = 32
    reshape_depth: int = 16
    num_resblocks: int = 6


@dataclass(frozen=True)
class MotionExtractorConfig:
    """M: ConvNeXt-V2 predicting canonical keypoints, pose bins, translation, expression, scale."""

    num_kp: int = 21
    backbone: str = "convnextv2_tiny"
    depths: tuple[int, ...] = (3, 3, 9, 3)
    dims: tuple[int, ...] = (96, 192, 384, 768)
    num_bins: int = 66
    in_chans: int = 3


@dataclass(frozen=True)
class DenseMotionConfig:
    """The 3D hourglass inside W that predicts the dense deformation and occlusion."""

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    reshape_depth: int = 16
    compress: int = 4


@dataclass(frozen=True)
class WarpingConfig:
    """W: warps the feature volume from source to driving keypoints."""

    num_kp: int = 21
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    reshape_channel: int = 32
    estimate_occlusion_map: bool = True
    dense_motion_params: DenseMotionConfig = field(default_factory=DenseMotionConfig)

    @property
    def out_channels(self) -> int:
        return self.block_expansion * 2**self.num_down_blocks


@dataclass(frozen=True)
class SpadeConfig:
    """G: SPADE decoder from the warped 2D feature map to the image."""

    upscale: int = 2
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    out_channels: int = 64

    @property
    def input_channels(self) -> int:
        return min(self.max_features, self.block_expansion * 2**self.num_down_blocks)


@dataclass(frozen=True)
class MLPConfig:
    """One stitching/retargeting MLP: Linear, ReLU, ..., Linear."""

    input_size: int
    hidden_sizes: tuple[int, ...]
    output_size: int


@dataclass(frozen=True)
class StitchingConfig:
    """S (stitching) and the two retargeting MLPs R_lip and R_eye."""

    stitching: MLPConfig = MLPConfig(126, (128, 128, 64), 65)
    lip: MLPConfig = MLPConfig(65, (128, 128, 64), 63)
    eye: MLPConfig = MLPConfig(66, (256, 256, 128, 128, 64), 63)


@dataclass(frozen=True)
class LivePortraitConfig:
    """All five networks; the defaults are the released LivePortrait (human) models."""

    appearance_feature_extractor: AppearanceConfig = AppearanceConfig()
    motion_extractor: MotionExtractorConfig = MotionExtractorConfig()
    warping_module: WarpingConfig = WarpingConfig()
    spade_generator: SpadeConfig = SpadeConfig()
    stitching_retargeting_module: StitchingConfig = StitchingConfig()


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """Instantiate dataclass ``cls`` from a yaml mapping, converting lists and nested mappings."""
    if not isinstance(values, dict):
        raise BadInputError(f"{where} must be a mapping, got {type(values).__name__}", "compare with models.yaml")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise BadInputError(f"{where} has unknown keys {unknown}", f"expected some of {sorted(known)}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        default = known[name].default
        if default is dataclasses.MISSING and known[name].default_factory is not dataclasses.MISSING:
            default = known[name].default_factory()
        if dataclasses.is_dataclass(default):
            value = _build(type(default), value, f"{where}.{name}")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def config_from_model_params(model_params: dict[str, Any]) -> LivePortraitConfig:
    """Build the config from the ``model_params`` mapping of a models.yaml."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(LivePortraitConfig):
        key = f"{f.name}_params"
        if key not in model_params:
            continue
        section = model_params[key]
        if f.name == "stitching_retargeting_module":
            kwargs[f.name] = StitchingConfig(
                **{name: _build(MLPConfig, section[name], f"{key}.{name}") for name in ("stitching", "lip", "eye")}
            )
        else:
            kwargs[f.name] = _build(type(f.default), section, key)
    return LivePortraitConfig(**kwargs)


def load_models_yaml(path: str | os.PathLike) -> LivePortraitConfig:
    """Read a LivePortrait ``models.yaml`` (official layout) into a :class:`LivePortraitConfig`."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BadInputError(f"cannot read {path} ({exc})", "pass a models.yaml in LivePortrait's layout") from exc
    if not isinstance(data, dict) or "model_params" not in data:
        raise BadInputError(f"{path} has no model_params section", "pass a models.yaml in LivePortrait's layout")
    return config_from_model_params(data["model_params"])


def tiny_config() -> LivePortraitConfig:
    """The five networks at toy widths: every layer of the official layout, for tests and demos of code paths."""
    return LivePortraitConfig(
        appearance_feature_extractor=AppearanceConfig(block_expansion=4, max_features=32, reshape_channel=2,
                                                      num_resblocks=1),
        motion_extractor=MotionExtractorConfig(depths=(1, 1, 1, 1), dims=(8, 8, 16, 16)),
        warping_module=WarpingConfig(block_expansion=2, max_features=32, reshape_channel=2,
                                     dense_motion_params=DenseMotionConfig(block_expansion=2, max_features=8,
                                                                           num_blocks=3, compress=1)),
        spade_generator=SpadeConfig(block_expansion=2, max_features=8, out_channels=4),
        stitching_retargeting_module=StitchingConfig(MLPConfig(126, (8,), 65), MLPConfig(65, (8,), 63),
                                                     MLPConfig(66, (8,), 63)),
    )
