"""JoyVASA motion coefficients -> LivePortrait motion relative to a source portrait.

A coefficient row holds 63 normalised expression values, then scale, translation (3), pitch, yaw
and roll scaled to [0, 1] over the motion template's ranges (three trailing values are unused).
Denormalised motion is smoothed (an exponential average with weight 0.01 on each new frame, on
scale, translation and angles only) and put onto the source relative to the generated frame 0:
R = R_i R_0^T R_s, exp = exp_s + exp_i - exp_0 except the lip keypoints, which take exp_i itself,
scale = s_s s_i / s_0, t = t_s + t_i - t_0 with tz = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from thead.backends.liveportrait.keypoints import LIP_INDICES, motion_multiplier, rotation_matrix
from thead.errors import WeightsError

TEMPLATE_FIELDS = ("mean_exp", "std_exp", "min_scale", "max_scale", "min_t", "max_t", "min_pitch", "max_pitch",
                   "min_yaw", "max_yaw", "min_roll", "max_roll")
POSE = ("scale", "t", "pitch", "yaw", "roll")
EMA_WEIGHT = np.float32(0.01)
CLI_MULTIPLIER = 1.1  # the official inference script's driving multiplier (stitching off)


@dataclass(frozen=True)
class MotionTemplate:
    """Per-coefficient statistics of the training motion (float32 arrays, angles in degrees)."""

    arrays: dict[str, np.ndarray]

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str = "the motion template") -> MotionTemplate:
        missing = [name for name in TEMPLATE_FIELDS if name not in arrays]
        if missing:
            raise WeightsError(f"{source} lacks {', '.join(missing)}", "re-fetch it with `thead fetch-weights joyvasa`")
        return cls({name: np.asarray(arrays[name], np.float32).reshape(-1) for name in TEMPLATE_FIELDS})

    def _ranged(self, values: np.ndarray, name: str) -> np.ndarray:
        low, high = self.arrays[f"min_{name}"], self.arrays[f"max_{name}"]
        return values * (high - low) + low

    def denormalise(self, coef: np.ndarray) -> dict[str, np.ndarray]:
        """[N, >=70] coefficients -> exp [N, 21, 3], scale [N, 1], t [N, 3], pitch/yaw/roll [N, 1] degrees."""
        coef = np.asarray(coef, np.float32)
        exp = coef[:, :63] * self.arrays["std_exp"] + self.arrays["mean_exp"]
        return {"exp": exp.reshape(-1, 21, 3), "scale": self._ranged(coef[:, 63:64], "scale"),
                "t": self._ranged(coef[:, 64:67], "t"), "pitch": self._ranged(coef[:, 67:68], "pitch"),
                "yaw": self._ranged(coef[:, 68:69], "yaw"), "roll": self._ranged(coef[:, 69:70], "roll")}


def smooth_pose(motion: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Exponential average over frames of scale, translation and angles (s_k = 0.01 v_k + 0.99 s_k-1, float32)."""
    out = dict(motion)
    keep = np.float32(1) - EMA_WEIGHT
    for name in POSE:
        values = np.asarray(motion[name], np.float32)
        smoothed = np.empty_like(values)
        smoothed[0] = values[0]
        for index in range(1, len(values)):
            smoothed[index] = EMA_WEIGHT * values[index] + keep * smoothed[index - 1]
        out[name] = smoothed
    return out


def rotations(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """[N, 3, 3] LivePortrait rotations (the transposed Rz Ry Rx) of degrees [N] or [N, 1]."""
    angles = (torch.as_tensor(np.asarray(a, np.float32).reshape(-1)) for a in (pitch, yaw, roll))
    return rotation_matrix(*angles).numpy()


def angles_of(rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitch, yaw, roll) degrees [N] of LivePortrait rotations [N, 3, 3] (inverse of :func:`rotations`, |yaw| < 90)."""
    m = np.transpose(np.asarray(rotation, np.float64), (0, 2, 1))  # Rz Ry Rx
    yaw = np.arcsin(np.clip(-m[:, 2, 0], -1.0, 1.0))
    pitch = np.arctan2(m[:, 2, 1], m[:, 2, 2])
    roll = np.arctan2(m[:, 1, 0], m[:, 0, 0])
    return tuple(np.degrees(a).astype(np.float32) for a in (pitch, yaw, roll))


@dataclass(frozen=True)
class SourcePose:
    """The source portrait's LivePortrait keypoint info (batch of one): degrees [1, 1], t [1, 3], exp/kp [1, 21, 3],
    scale [1, 1]."""

    pitch: np.ndarray
    yaw: np.ndarray
    roll: np.ndarray
    t: np.ndarray
    exp: np.ndarray
    scale: np.ndarray
    kp: np.ndarray | None = None  # canonical keypoints: only :meth:`keypoints` needs them

    @property
    def rotation(self) -> np.ndarray:
        return rotations(self.pitch, self.yaw, self.roll)

    def keypoints(self) -> np.ndarray:
        """x_s = s (kp R + exp) + (tx, ty, 0): [1, 21, 3]."""
        return place(self.kp, self.rotation, self.exp, self.scale, self.t)


def place(kp: np.ndarray, rotation: np.ndarray, exp: np.ndarray, scale: np.ndarray, t: np.ndarray) -> np.ndarray:
    """scale (kp R + exp) + t with tz dropped, float32, broadcast over frames."""
    out = np.asarray(scale, np.float32).reshape(-1, 1, 1) * (np.asarray(kp, np.float32) @ rotation + exp)
    shift = np.asarray(t, np.float32).reshape(-1, 1, 3) * np.array([1, 1, 0], np.float32)
    return (out + shift).astype(np.float32)


def relative_motion(motion: dict[str, np.ndarray], source: SourcePose) -> dict[str, np.ndarray]:
    """Per frame R_new [N, 3, 3], exp (delta) [N, 21, 3], scale [N, 1], t [N, 3] (tz = 0) on the source."""
    rot = rotations(motion["pitch"], motion["yaw"], motion["roll"])
    rot_new = rot @ np.transpose(rot[:1], (0, 2, 1)) @ source.rotation
    exp = np.asarray(motion["exp"], np.float32)
    delta = source.exp + (exp - exp[:1])
    lips = list(LIP_INDICES)
    delta[:, lips] = exp[:, lips]
    scale = source.scale * (motion["scale"] / motion["scale"][:1])
    t = source.t + (motion["t"] - motion["t"][:1])
    t[:, 2] = 0
    return {"R": rot_new.astype(np.float32), "exp": delta.astype(np.float32), "scale": scale.astype(np.float32),
            "t": t.astype(np.float32)}


def keypoints(relative: dict[str, np.ndarray], source: SourcePose) -> np.ndarray:
    """The driven keypoints x_i [N, 21, 3] of :func:`relative_motion`."""
    return place(source.kp, relative["R"], relative["exp"], relative["scale"], relative["t"])


def cli_driving(x_s: np.ndarray, x: np.ndarray, multiplier: float = CLI_MULTIPLIER) -> np.ndarray:
    """The official inference script: x_s + (x_i - x_s) * multiplier (no stitching)."""
    return (x_s + (x - x_s) * np.float32(multiplier)).astype(np.float32)


def app_driving(x_s: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """The official app (expression-friendly relative motion): (x_i - x_0) m + x_s with m = sqrt V(x_s) / sqrt V(x_0),
    and m; stitching comes after, in the renderer."""
    multiplier = motion_multiplier(torch.as_tensor(x_s), torch.as_tensor(x[:1]))
    return ((x - x[:1]) * np.float32(multiplier) + x_s).astype(np.float32), multiplier
