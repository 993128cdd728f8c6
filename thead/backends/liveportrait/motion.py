"""LivePortrait motion frames <-> thead motion-track channels; stacking and temporal smoothing.

The ``liveportrait`` space itself (channels, shapes, units, bounds) is declared in
:mod:`thead.motion.spaces.liveportrait`; this module measures and converts its frames.
"""

from __future__ import annotations

import numpy as np
import torch

from thead.backends.liveportrait.crop import closure_ratios
from thead.backends.liveportrait.keypoints import KeypointInfo
from thead.motion.extract import fill_gaps
from thead.motion.smooth import smooth_track
from thead.motion.spaces import measure_face
from thead.motion.spaces.liveportrait import LP_CHANNELS

__all__ = ["LP_CHANNELS", "SMOOTHING_UNITS", "face_channels", "keypoint_channels", "keypoint_info", "smooth_channels",
           "stack_frames"]
# Typical size of a motion in each channel: smoothing works in these units, so one strength fits all.
SMOOTHING_UNITS = {
    "lp_pitch": 10.0, "lp_yaw": 10.0, "lp_roll": 10.0, "lp_t": 0.02, "lp_exp": 0.02, "lp_scale": 0.05,
    "lp_eye_ratio": 0.05, "lp_lip_ratio": 0.05, "yaw": 10.0, "pitch": 10.0, "roll": 10.0,
    "eye_open": 0.05, "gaze": 0.1, "mouth_open": 0.05,
}


def face_channels(points: np.ndarray) -> dict[str, np.ndarray]:
    """Shared channels (measured as in every space) and LivePortrait's ratios of one face's 478 landmarks."""
    shared, _ = measure_face(points)
    eye_ratio, lip_ratio = closure_ratios(points)
    return {**shared, "lp_eye_ratio": eye_ratio, "lp_lip_ratio": np.float32(lip_ratio),
            "lp_retarget": np.zeros(2, np.float32)}


def keypoint_channels(info: KeypointInfo) -> list[dict[str, np.ndarray]]:
    """Per batch entry, the ``lp_*`` channels of a motion-extractor output."""
    arrays = {name: value.detach().float().cpu().numpy() for name, value in info.as_dict().items()}
    return [
        {
            "lp_pitch": arrays["pitch"][i, 0], "lp_yaw": arrays["yaw"][i, 0], "lp_roll": arrays["roll"][i, 0],
            "lp_t": arrays["t"][i], "lp_exp": arrays["exp"][i], "lp_scale": arrays["scale"][i, 0],
        }
        for i in range(len(arrays["kp"]))
    ]


def keypoint_info(frame: dict[str, np.ndarray], kp: torch.Tensor) -> KeypointInfo:
    """A motion frame as a batch-of-one :class:`KeypointInfo` around canonical keypoints ``kp``."""

    def tensor(name: str, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.as_tensor(np.asarray(frame[name], np.float32), device=kp.device).reshape(shape)

    return KeypointInfo(
        pitch=tensor("lp_pitch", (1, 1)), yaw=tensor("lp_yaw", (1, 1)), roll=tensor("lp_roll", (1, 1)),
        t=tensor("lp_t", (1, 3)), exp=tensor("lp_exp", (1, -1, 3)), scale=tensor("lp_scale", (1, 1)), kp=kp,
    )


def stack_frames(frames: list[dict[str, np.ndarray] | None]) -> tuple[dict[str, np.ndarray], int]:
    """Stack per-frame channels into [T, ...] arrays, missing frames (None) filled by :func:`fill_gaps`.

    Returns the channels and the number of missing frames; ``valid`` is 0 where a frame was filled.
    """
    names = next(frame for frame in frames if frame is not None).keys()
    channels: dict[str, np.ndarray] = {}
    for name in names:
        channels[name], valid = fill_gaps([None if frame is None else np.asarray(frame[name]) for frame in frames])
    channels["valid"] = valid.astype(np.float32)
    return channels, int((~valid).sum())


def smooth_channels(channels: dict[str, np.ndarray], fps: float, strength: float) -> dict[str, np.ndarray]:
    """Zero-phase One Euro smoothing of every motion channel, each in its own units (see ``SMOOTHING_UNITS``).

    Translation and scale in pixels are measured in units of the median face size, so that the
    head-scale wobble and jitter of the crop are damped like the rest.
    """
    if strength <= 0:
        return channels
    face_size = float(np.median(channels["scale"])) if "scale" in channels else 1.0
    units = {**SMOOTHING_UNITS, "translation": 0.05 * face_size, "scale": 0.05 * face_size}
    return {
        name: smooth_track(values / units[name], fps, strength) * units[name] if name in units else values
        for name, values in channels.items()
    }
