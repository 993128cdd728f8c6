"""Implicit-keypoint math: pose bins to degrees, rotation, the keypoint transform, relative motion.

Conventions (see the golden README): angles in degrees, 66 bins of 3 degrees centred on 0;
:func:`rotation_matrix` returns the *transpose* of Rz.Ry.Rx because keypoint rows are multiplied on
the right; x = scale * (kp . R + exp) + (tx, ty, 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F

NUM_BINS = 66
LIP_INDICES = (6, 12, 14, 17, 19, 20)
EYE_INDICES = (11, 13, 15, 16, 18)
# Absolute expression transfer copies these (keypoint, axes) entries from the driving frame.
ABSOLUTE_EXP_ENTRIES = (
    *((k, slice(None)) for k in (1, 2, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)),
    (3, 1), (4, 1), (5, 2), (8, 2), (9, slice(1, None)),
)


def headpose_to_degrees(pred: torch.Tensor) -> torch.Tensor:
    """[B, 66] bin logits -> [B] degrees (softmax expectation * 3 - 97.5); anything else passes through."""
    if pred.ndim > 1 and pred.shape[1] == NUM_BINS:
        bins = torch.arange(NUM_BINS, dtype=torch.float32, device=pred.device)
        return torch.sum(F.softmax(pred, dim=1) * bins, dim=1) * 3 - 97.5
    return pred


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Degrees [B] or [B, 1] -> [B, 3, 3] = (Rz(roll) Ry(yaw) Rx(pitch))^T, for row keypoints ``kp @ R``."""
    x, y, z = (angle.reshape(-1, 1) / 180 * math.pi for angle in (pitch, yaw, roll))
    ones, zeros = torch.ones_like(x), torch.zeros_like(x)
    rot_x = torch.cat([ones, zeros, zeros, zeros, torch.cos(x), -torch.sin(x), zeros, torch.sin(x), torch.cos(x)], 1)
    rot_y = torch.cat([torch.cos(y), zeros, torch.sin(y), zeros, ones, zeros, -torch.sin(y), zeros, torch.cos(y)], 1)
    rot_z = torch.cat([torch.cos(z), -torch.sin(z), zeros, torch.sin(z), torch.cos(z), zeros, zeros, zeros, ones], 1)
    rot = rot_z.view(-1, 3, 3) @ rot_y.view(-1, 3, 3) @ rot_x.view(-1, 3, 3)
    return rot.transpose(1, 2)


@dataclass(frozen=True)
class KeypointInfo:
    """Motion extractor output in processed form (the official ``x_info`` dict), batch first.

    ``pitch``/``yaw``/``roll`` are [B, 1] degrees (or raw [B, 66] logits), ``t`` [B, 3],
    ``exp`` and ``kp`` [B, K, 3], ``scale`` [B, 1].
    """

    pitch: torch.Tensor
    yaw: torch.Tensor
    roll: torch.Tensor
    t: torch.Tensor
    exp: torch.Tensor
    scale: torch.Tensor
    kp: torch.Tensor

    @classmethod
    def from_raw(cls, raw: dict[str, torch.Tensor]) -> KeypointInfo:
        """Network dict (logits, flat kp/exp) -> degrees [B, 1] and [B, K, 3] keypoints, all float32."""
        raw = {name: value.float() for name, value in raw.items()}
        b = raw["kp"].shape[0]
        angles = {name: headpose_to_degrees(raw[name])[:, None] for name in ("pitch", "yaw", "roll")}
        return cls(**angles, t=raw["t"], exp=raw["exp"].reshape(b, -1, 3), scale=raw["scale"], kp=raw["kp"].reshape(b, -1, 3))

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def frame(self, index: int) -> KeypointInfo:
        """Batch entry ``index`` as a batch of one."""
        return KeypointInfo(**{name: value[index : index + 1] for name, value in self.as_dict().items()})

    def with_exp(self, exp: torch.Tensor) -> KeypointInfo:
        return replace(self, exp=exp)

    def rotation(self) -> torch.Tensor:
        return rotation_matrix(
            headpose_to_degrees(self.pitch), headpose_to_degrees(self.yaw), headpose_to_degrees(self.roll)
        )

    def transformed(self) -> torch.Tensor:
        """x = scale * (kp . R + exp) + (tx, ty, 0): [B, K, 3]."""
        return transform_keypoints(self.kp, self.rotation(), self.exp, self.scale, self.t)


def transform_keypoints(
    kp: torch.Tensor, rotation: torch.Tensor, exp: torch.Tensor, scale: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """scale * (kp @ rotation + exp) + t with tz dropped; kp/exp [B, K*3] or [B, K, 3]."""
    b = kp.shape[0]
    kp, exp = kp.reshape(b, -1, 3), exp.reshape(b, -1, 3)
    out = (kp @ rotation + exp) * scale.reshape(b, 1, 1)
    return torch.cat([out[..., :2] + t[:, None, :2], out[..., 2:]], dim=-1)


def driven_keypoints(
    source: KeypointInfo,
    driving: KeypointInfo,
    reference: KeypointInfo | None,
    region: str = "all",
) -> torch.Tensor:
    """Source keypoints moved by ``driving``: relative to ``reference`` if given, else absolute.

    Relative: R = R_d R_ref^T R_s, exp = exp_s + (exp_d - exp_ref), scale = s_s s_d / s_ref,
    t = t_s + (t_d - t_ref). ``region`` limits the transfer to ``pose``, ``exp``, ``eyes`` or ``lips``.
    """
    pose = region in ("all", "pose")
    rot_s = source.rotation()
    if reference is not None:
        rot = driving.rotation() @ reference.rotation().transpose(1, 2) @ rot_s if pose else rot_s
        exp = _relative_expression(source.exp, driving.exp - reference.exp, region)
        scale = source.scale * (driving.scale / reference.scale) if region == "all" else source.scale
        t = source.t + (driving.t - reference.t) if pose else source.t
    else:
        rot = driving.rotation() if pose else rot_s
        exp = _absolute_expression(source.exp, driving.exp, region)
        scale = source.scale
        t = driving.t if pose else source.t
    t = torch.cat([t[:, :2], torch.zeros_like(t[:, 2:])], dim=1)
    b = source.kp.shape[0]
    return scale.reshape(b, 1, 1) * (source.kp @ rot + exp) + t[:, None, :]


def _relative_expression(exp_s: torch.Tensor, exp_change: torch.Tensor, region: str) -> torch.Tensor:
    if region in ("all", "exp"):
        return exp_s + exp_change
    out = exp_s.clone()
    indices = {"lips": LIP_INDICES, "eyes": EYE_INDICES}.get(region, ())
    for k in indices:
        out[:, k] = exp_s[:, k] + exp_change[:, k]
    return out


def _absolute_expression(exp_s: torch.Tensor, exp_d: torch.Tensor, region: str) -> torch.Tensor:
    out = exp_s.clone()
    if region in ("all", "exp"):
        for k, axes in ABSOLUTE_EXP_ENTRIES:
            out[:, k, axes] = exp_d[:, k, axes]
    else:
        for k in {"lips": LIP_INDICES, "eyes": EYE_INDICES}.get(region, ()):
            out[:, k] = exp_d[:, k]
    return out


def motion_multiplier(x_source: torch.Tensor, x_reference: torch.Tensor) -> float:
    """Expression-friendly scale: sqrt(V(x_s)) / sqrt(V(x_ref)), V the 3D convex-hull volume (Qhull, float64)."""
    from scipy.spatial import ConvexHull

    def volume(points: torch.Tensor) -> float:
        return ConvexHull(points.detach().cpu().double().numpy().reshape(-1, 3)).volume

    return float(np.sqrt(volume(x_source)) / np.sqrt(volume(x_reference)))
