"""The motion track: thead's intermediate representation between driving and rendering.

A track is a set of per-frame channels (numpy arrays whose first axis is time) with a frame
rate, a *space* naming the representation the channels live in, and a format version. It is
stored as safetensors (tensors + string metadata) or as an ``.npz`` read without pickle.

Channels shared by every space (all float32, T = number of frames):

=================  ===========  ==================================================
``yaw``            [T]          head yaw in degrees (positive: subject turns to image left)
``pitch``          [T]          head pitch in degrees (positive: looks up)
``roll``           [T]          head roll in degrees (positive: in-plane, clockwise on screen)
``translation``    [T, 3]       head centre: x, y in pixels of the analysed frame, z relative
``scale``          [T]          head size in pixels (inter-ocular based)
``eye_open``       [T, 2]       eye openness, left and right (lid gap / eye width)
``gaze``           [T, 2]       iris offset inside the eye, x and y, roughly in [-1, 1]
``mouth_open``     [T]          inner-lip gap / mouth width
``valid``          [T]          1 where a face was measured, 0 where values were held/interpolated
=================  ===========  ==================================================

Space-specific channels: ``landmarks`` space adds ``expression`` [T, 478, 3], the pose-free
canonical landmarks; ``liveportrait`` space adds ``lp_exp`` [T, 21, 3], ``lp_t`` [T, 3],
``lp_scale`` [T], ``lp_pitch``/``lp_yaw``/``lp_roll`` [T] (degrees), ``lp_eye_ratio`` [T, 2],
``lp_lip_ratio`` [T] and ``lp_retarget`` [T, 2] (weights of eye and lip retargeting: 0 as
measured, set by edits).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thead.errors import BadInputError

FORMAT = "thead.motion"
VERSION = 1
COMMON_CHANNELS = ("yaw", "pitch", "roll", "translation", "scale", "eye_open", "gaze", "mouth_open", "valid")
SUFFIXES = (".motion.safetensors", ".safetensors", ".npz")


@dataclass
class MotionTrack:
    """Per-frame motion channels with a frame rate and the space they live in."""

    fps: float
    space: str
    channels: dict[str, np.ndarray]
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {name: len(value) for name, value in self.channels.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"motion channels differ in length: {lengths}")
        if self.fps <= 0:
            raise ValueError(f"motion track fps must be positive, got {self.fps}")

    def __len__(self) -> int:
        return len(next(iter(self.channels.values()))) if self.channels else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.channels[name]

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    def frame(self, index: int) -> dict[str, np.ndarray]:
        """All channels at one frame."""
        return {name: value[index] for name, value in self.channels.items()}

    def save(self, path: str | os.PathLike) -> None:
        """Write as safetensors (``.safetensors``) or pickle-free npz (``.npz``)."""
        path = Path(path)
        tensors = {name: np.ascontiguousarray(value) for name, value in self.channels.items()}
        header = {"format": FORMAT, "version": str(VERSION), "fps": repr(float(self.fps)), "space": self.space}
        header["metadata"] = json.dumps(self.metadata, sort_keys=True)
        if path.suffix == ".npz":
            with open(path, "wb") as handle:  # np.savez would append .npz to a temporary name
                np.savez(handle, **tensors, __header__=np.array(json.dumps(header)))
        else:
            from safetensors.numpy import save_file

            save_file(tensors, str(path), metadata=header)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MotionTrack:
        """Read a track written by :meth:`save`; never unpickles."""
        path = Path(path)
        try:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as data:
                    if "__header__" not in data.files:
                        raise BadInputError(f"{path} is not a thead motion track", "write one with --motion-out")
                    header = json.loads(str(data["__header__"]))
                    tensors = {k: data[k] for k in data.files if k != "__header__"}
            else:
                from safetensors import safe_open

                with safe_open(str(path), framework="numpy") as handle:
                    header = dict(handle.metadata() or {})
                    tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise BadInputError(f"{path} is not a readable motion track ({exc})", "write one with --motion-out") from exc
        if header.get("format") != FORMAT:
            raise BadInputError(f"{path} is not a thead motion track", "write one with --motion-out")
        version = int(header.get("version", "0"))
        if version > VERSION:
            raise BadInputError(f"{path} has motion format version {version}; this thead reads up to {VERSION}", "upgrade thead")
        return cls(
            fps=float(header["fps"]),
            space=header["space"],
            channels=tensors,
            metadata=json.loads(header.get("metadata", "{}")),
        )


def is_motion_path(path: str | os.PathLike) -> bool:
    """True when ``path`` names a motion track by its extension."""
    name = str(path).lower()
    return name.endswith(SUFFIXES)
