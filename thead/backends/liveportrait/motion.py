"""LivePortrait motion frames <-> thead motion-track channels; gap filling and temporal smoothing.

A frame in the ``liveportrait`` space holds the motion extractor's pose (``lp_pitch``/``lp_yaw``/
``lp_roll`` in degrees), translation ``lp_t`` [3], expression ``lp_exp`` [21, 3] and ``lp_scale``,
plus LivePortrait's eye and lip ratios and the shared channels measured on the MediaPipe mesh.
``lp_retarget`` [2] weighs eye and lip retargeting towards those ratios (0 as measured; edits set it).
"""

from __future__ import annotations

import numpy as np
import torch

from thead.backends.liveportrait.crop import closure_ratios
from thead.backends.liveportrait.keypoints import KeypointInfo
from thead.face import geometry
from thead.motion.smooth import smooth_track

LP_CHANNELS = ("lp_pitch", "lp_yaw", "lp_roll", "lp_t", "lp_exp", "lp_scale", "lp_eye_ratio", "lp_lip_ratio")
# Typical size of a motion in each channel: smoothing works in these units, so one strength fits all.
SMOOTHING_UNITS = {
    "lp_pitch": 10.0, "lp_yaw": 10.0, "lp_roll": 10.0, "lp_t": 0.02, "lp_exp": 0.02, "lp_scale": 0.05,
    "lp_eye_ratio": 0.05, "lp_lip_ratio": 0.05, "yaw": 10.0, "pitch": 10.0, "roll": 10.0,
    "eye_open": 0.05, "gaze": 0.1, "mouth_open": 0.05,
}


def face_channels(points: np.ndarray) -> dict[str, np.ndarray]:
    """Shared channels and LivePortrait ratios measured on one face's 478 landmarks."""
    pose = geometry.estimate_head_pose(points)
    eye_ratio, lip_ratio = closure_ratios(points)
    return {
        "yaw": np.float32(pose.yaw), "pitch": np.float32(pose.pitch), "roll": np.float32(pose.roll),
        "translation": np.asarray(pose.translation, np.float32), "scale": np.float32(pose.scale),
        "eye_open": np.array(geometry.eye_openness(points), np.float32),
        "gaze": np.array(geometry.gaze(points), np.float32),
        "mouth_open": np.float32(geometry.mouth_openness(points)),
        "lp_eye_ratio": eye_ratio, "lp_lip_ratio": np.float32(lip_ratio),
        "lp_retarget": np.zeros(2, np.float32), "valid": np.float32(1.0),
    }


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
    """Stack per-frame channels into [T, ...] arrays; missing frames (None) are interpolated or held.

    Returns the channels and the number of missing frames; ``valid`` is 0 where a frame was filled.
    """
    present = [i for i, frame in enumerate(frames) if frame is not None]
    template = frames[present[0]]
    channels: dict[str, np.ndarray] = {}
    for name, value in template.items():
        known = np.stack([np.asarray(frames[i][name], np.float32) for i in present])
        flat = known.reshape(len(present), -1)
        filled = np.stack([np.interp(np.arange(len(frames)), present, column) for column in flat.T], axis=1)
        channels[name] = filled.reshape(len(frames), *np.shape(value)).astype(np.float32)
    channels["valid"] = np.array([frame is not None for frame in frames], np.float32)
    return channels, len(frames) - len(present)


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
