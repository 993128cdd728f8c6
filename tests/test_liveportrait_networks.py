"""LivePortrait networks: official key/shape layout, checkpoint layouts, config loading, inference folding."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from thead.backends.liveportrait.config import (
    LivePortraitConfig,
    MLPConfig,
    StitchingConfig,
    config_from_model_params,
    load_models_yaml,
)
from thead.backends.liveportrait.networks import LivePortraitNetworks
from thead.backends.liveportrait.stitching import CHECKPOINT_GROUPS, StitchingRetargetingModule
from thead.errors import BadInputError, WeightsError


def _golden_dir() -> Path:
    env = os.environ.get("THEAD_SHARED")
    return (Path(env) if env else Path(__file__).resolve().parents[2] / "shared") / "golden" / "liveportrait"


@pytest.mark.golden
def test_official_size_networks_match_official_keys_shapes_and_dtypes() -> None:
    path = _golden_dir() / "official_keys_shapes.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    reference = json.loads(path.read_text())
    networks = LivePortraitNetworks.build(device="meta")  # default config = official models.yaml
    for name in ("appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator"):
        state = getattr(networks, name).state_dict()
        expected = reference[name]["tensors"]
        assert list(state) == list(expected), name
        for key, spec in expected.items():
            assert list(state[key].shape) == spec["shape"], key
            assert str(state[key].dtype).removeprefix("torch.") == spec["dtype"], key
        assert sum(t.numel() for t in state.values()) == reference[name]["num_elements"]
    mlps = networks.stitching_retargeting_module
    for group, spec in reference["stitching_retargeting_module"]["groups"].items():
        state = getattr(mlps, spec["model_params_key"]).state_dict()
        expected = {key.removeprefix("module."): value for key, value in spec["tensors"].items()}
        assert {k: list(v.shape) for k, v in state.items()} == {k: v["shape"] for k, v in expected.items()}, group


def test_default_config_is_the_official_models_yaml() -> None:
    official = {
        "appearance_feature_extractor_params": {"image_channel": 3, "block_expansion": 64, "num_down_blocks": 2,
                                                "max_features": 512, "reshape_channel": 32, "reshape_depth": 16,
                                                "num_resblocks": 6},
        "motion_extractor_params": {"num_kp": 21, "backbone": "convnextv2_tiny"},
        "warping_module_params": {"num_kp": 21, "block_expansion": 64, "max_features": 512, "num_down_blocks": 2,
                                  "reshape_channel": 32, "estimate_occlusion_map": True,
                                  "dense_motion_params": {"block_expansion": 32, "max_features": 1024, "num_blocks": 5,
                                                          "reshape_depth": 16, "compress": 4}},
        "spade_generator_params": {"upscale": 2, "block_expansion": 64, "max_features": 512, "num_down_blocks": 2},
        "stitching_retargeting_module_params": {
            "stitching": {"input_size": 126, "hidden_sizes": [128, 128, 64], "output_size": 65},
            "lip": {"input_size": 65, "hidden_sizes": [128, 128, 64], "output_size": 63},
            "eye": {"input_size": 66, "hidden_sizes": [256, 256, 128, 128, 64], "output_size": 63},
        },
    }
    assert config_from_model_params(official) == LivePortraitConfig()


def test_models_yaml_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("model_params:\n  spade_generator_params:\n    upscale: 2\n    widths: 3\n")
    with pytest.raises(BadInputError, match="unknown keys"):
        load_models_yaml(path)
    path.write_text("other: 1\n")
    with pytest.raises(BadInputError, match="model_params"):
        load_models_yaml(path)


TINY_MLPS = StitchingConfig(MLPConfig(126, (8,), 65), MLPConfig(65, (8,), 63), MLPConfig(66, (8, 4), 63))


def _networks_with_tiny_mlps() -> LivePortraitNetworks:
    """Official-size base networks on the meta device (no memory) with real, tiny MLPs."""
    networks = LivePortraitNetworks.build(LivePortraitConfig(stitching_retargeting_module=TINY_MLPS), device="meta")
    networks.stitching_retargeting_module = StitchingRetargetingModule(TINY_MLPS)
    return networks


def test_stitching_checkpoint_loads_from_official_nested_flat_and_converted_layouts() -> None:
    source = StitchingRetargetingModule(TINY_MLPS)
    nested = {
        group: {f"module.{key}": value for key, value in getattr(source, name).state_dict().items()}
        for name, group in CHECKPOINT_GROUPS.items()
    }
    flat = {f"{group}.{key}": value for group, inner in nested.items() for key, value in inner.items()}
    converted = {f"{group}_{key}": value for group, inner in nested.items() for key, value in inner.items()}
    for state in (nested, flat, converted):
        networks = _networks_with_tiny_mlps()
        networks.load_network("stitching_retargeting_module", state, "test.pth")
        x = torch.randn(2, 66)
        assert torch.equal(networks.stitching_retargeting_module.eye(x), source.eye(x))


def test_wrong_checkpoint_raises_weights_error_naming_the_file() -> None:
    networks = _networks_with_tiny_mlps()
    with pytest.raises(WeightsError, match="spade_generator.pth"):
        networks.load_network("spade_generator", {"fc.weight": torch.zeros(1)}, "spade_generator.pth")
    with pytest.raises(WeightsError, match="unexpected group"):
        networks.load_network("stitching_retargeting_module", {"retarget_nose.module.mlp.0.weight": torch.zeros(1)}, "s.pth")


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
@pytest.mark.parametrize("dims", [2, 3])
def test_nearest_upsampled_conv_equals_conv_of_upsampled_input(scale: int, dims: int) -> None:
    from thead.backends.liveportrait.layers import NearestUpsampledConv

    torch.manual_seed(scale)
    conv = (torch.nn.Conv2d(5, 7, 3, padding=1) if dims == 2 else torch.nn.Conv3d(5, 7, 3, padding=1)).double()
    x = torch.randn(2, 5, *((3,) if dims == 3 else ()), 9, 10, dtype=torch.float64)
    factors = (1.0,) * (dims - 2) + (float(scale), float(scale))
    expected = conv(torch.nn.functional.interpolate(x, scale_factor=factors))
    assert torch.allclose(NearestUpsampledConv(conv)(x, scale), expected, atol=1e-12)
