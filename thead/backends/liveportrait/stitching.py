"""S and R: the stitching MLP and the lip/eye retargeting MLPs, and their checkpoint layout.

The official ``stitching_retargeting_module.pth`` is a dict of three state dicts,
``retarget_shoulder`` (stitching), ``retarget_mouth`` (lip) and ``retarget_eye`` (eye), whose keys
carry the DDP prefix ``module.``. Flat files join group and key with a dot
(``retarget_eye.module.mlp.4.weight``), or with an underscore as in the Kijai/LivePortrait_safetensors
conversion (``retarget_eye_module.mlp.4.weight``). All load through :func:`split_stitching_state`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from thead.backends.liveportrait.config import MLPConfig, StitchingConfig
from thead.errors import WeightsError

# network name in models.yaml -> group name in the official checkpoint
CHECKPOINT_GROUPS = {"stitching": "retarget_shoulder", "lip": "retarget_mouth", "eye": "retarget_eye"}
DDP_PREFIX = "module."


class StitchingRetargetingNetwork(nn.Module):
    """Linear layers with ReLU between them (``mlp.0``, ``mlp.2``, ...), none after the last."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        sizes = [config.input_size, *config.hidden_sizes]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], config.output_size))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class StitchingRetargetingModule(nn.Module):
    """The three MLPs under their models.yaml names: ``stitching``, ``lip``, ``eye``."""

    def __init__(self, config: StitchingConfig) -> None:
        super().__init__()
        self.stitching = StitchingRetargetingNetwork(config.stitching)
        self.lip = StitchingRetargetingNetwork(config.lip)
        self.eye = StitchingRetargetingNetwork(config.eye)


def flatten_groups(state: Mapping[str, object]) -> dict[str, torch.Tensor]:
    """Official dict-of-state-dicts -> flat ``group.key`` dict; flat dicts pass through."""
    flat: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}.{inner}": tensor for inner, tensor in value.items()})
        else:
            flat[key] = value  # type: ignore[assignment]
    return flat


def split_stitching_state(state: Mapping[str, object], source: str) -> dict[str, torch.Tensor]:
    """Checkpoint (either layout) -> state dict of :class:`StitchingRetargetingModule` (``module.`` removed)."""
    groups = {group: name for name, group in CHECKPOINT_GROUPS.items()}
    out: dict[str, torch.Tensor] = {}
    for key, tensor in flatten_groups(state).items():
        group, _, inner = key.partition(".")
        group = group.removesuffix("_module")  # the safetensors conversion writes retarget_eye_module.mlp...
        if group not in groups:
            raise WeightsError(
                f"{source} has an unexpected group '{group}' (expected {sorted(groups)})",
                "re-fetch it with `thead fetch-weights liveportrait`",
            )
        out[f"{groups[group]}.{inner.replace(DDP_PREFIX, '')}"] = tensor
    return out
