"""LSE-D / LSE-C (Prajwal et al. 2020) with SyncNet (Chung & Zisserman 2016), syncnet_python's protocol.

Video at 25 fps (nearest-time resampled otherwise), audio at 16 kHz mono on the int16 scale, MFCC
13 x 100 Hz (``mfcc.py``); each 5-frame window of 224x224 BGR face crops (0..255) and its 20 MFCC
columns give one lip and one audio embedding. For offsets within +-15 frames (audio features
zero-padded) the per-offset mean pairwise distance is taken over windows: LSE-D is the minimum,
LSE-C the median minus the minimum, and the AV offset = 15 - argmin (frames; positive: audio leads).

Face crop: syncnet_python tracks S3FD boxes; thead uses the embedded face analysis (the box of the
478-point mesh), then the same geometry: half-size = max(w, h) / 2, centre and size median-filtered
over 13 frames, crop y in [cy - s, cy + 1.8 s), x in [cx - 1.4 s, cx + 1.4 s) from the frame padded
with grey 110, resized to 224x224 bilinearly. The protocol string says so with every number.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.signal import medfilt
from torch import nn

from thead.errors import BadInputError
from thead.metrics.base import Metric, MetricResult, Sample, file_sha256, load_network, resolve_weight_files
from thead.metrics.landmarks import face_boxes
from thead.metrics.mfcc import mfcc

WEIGHTS = {"syncnet": {"syncnet": "syncnet_v2.model"}}
FPS, SAMPLE_RATE, WINDOW, VSHIFT, CROP_SCALE, CROP_SIZE, SMOOTHING = 25.0, 16000, 5, 15, 0.4, 224, 13
BATCH = 20


def _conv_bn(conv: nn.Module, channels: int, bn: type[nn.Module]) -> list[nn.Module]:
    return [conv, bn(channels), nn.ReLU(inplace=True)]


class SyncNet(nn.Module):
    """syncnet_python's ``S``: module names and shapes match ``syncnet_v2.model``."""

    def __init__(self, embedding: int = 1024) -> None:
        super().__init__()
        b2, b3 = nn.BatchNorm2d, nn.BatchNorm3d
        self.netcnnaud = nn.Sequential(
            *_conv_bn(nn.Conv2d(1, 64, 3, padding=1), 64, b2), nn.MaxPool2d(1, 1),
            *_conv_bn(nn.Conv2d(64, 192, 3, padding=1), 192, b2), nn.MaxPool2d(3, (1, 2)),
            *_conv_bn(nn.Conv2d(192, 384, 3, padding=1), 384, b2),
            *_conv_bn(nn.Conv2d(384, 256, 3, padding=1), 256, b2),
            *_conv_bn(nn.Conv2d(256, 256, 3, padding=1), 256, b2), nn.MaxPool2d(3, 2),
            *_conv_bn(nn.Conv2d(256, 512, (5, 4)), 512, b2),
        )
        self.netfcaud = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))
        self.netfclip = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))
        self.netcnnlip = nn.Sequential(
            *_conv_bn(nn.Conv3d(3, 96, (5, 7, 7), stride=(1, 2, 2)), 96, b3), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_conv_bn(nn.Conv3d(96, 256, (1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)), 256, b3),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), padding=(0, 1, 1)),
            *_conv_bn(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, b3),
            *_conv_bn(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, b3),
            *_conv_bn(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, b3), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_conv_bn(nn.Conv3d(256, 512, (1, 6, 6)), 512, b3),
        )

    def forward_audio(self, mfcc_windows: torch.Tensor) -> torch.Tensor:
        """[N, 1, 13, 20] MFCC windows -> [N, embedding]."""
        return self.netfcaud(self.netcnnaud(mfcc_windows).flatten(1))

    def forward_lip(self, clips: torch.Tensor) -> torch.Tensor:
        """[N, 3, 5, 224, 224] BGR clips in 0..255 -> [N, embedding]."""
        return self.netfclip(self.netcnnlip(clips).flatten(1))


def sync_offsets(video_features: torch.Tensor, audio_features: torch.Tensor, vshift: int = VSHIFT) -> dict[str, float]:
    """syncnet_python's offset search: offset, LSE-D (min mean distance), LSE-C (median - min).

    ``mean_distances[k]`` is the mean over windows of ||v_t - a_{t + k - vshift} + 1e-6|| (torch's
    ``pairwise_distance``), with zero audio features outside the clip.
    """
    video_features, audio_features = video_features.float(), audio_features.float()
    window = 2 * vshift + 1
    padded = torch.nn.functional.pad(audio_features, (0, 0, vshift, vshift))
    distances = torch.stack([
        torch.nn.functional.pairwise_distance(video_features[[t]].repeat(window, 1), padded[t:t + window])
        for t in range(len(video_features))
    ], dim=1)
    mean_distances = distances.mean(dim=1)
    min_dist, argmin = torch.min(mean_distances, 0)
    return {"offset": int(vshift - argmin), "LSE-D": float(min_dist),
            "LSE-C": float(torch.median(mean_distances) - min_dist), "mean_distances": mean_distances.numpy()}


def resample_nearest(count: int, fps: float, target_fps: float) -> np.ndarray:
    """Indices of the source frames nearest in time to each frame of a ``target_fps`` timeline."""
    n = int(np.floor(count * target_fps / fps + 1e-9))
    return np.minimum(np.rint(np.arange(n) * fps / target_fps).astype(int), count - 1)


def face_crops(frames: list[np.ndarray], boxes: np.ndarray) -> np.ndarray:
    """[T, 224, 224, 3] BGR uint8 crops with syncnet_python's geometry around smoothed boxes."""
    kernel = min(SMOOTHING, len(boxes) - 1 + len(boxes) % 2)  # odd; clips under 13 frames use what they have
    half = medfilt(np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2, kernel)
    cy = medfilt((boxes[:, 1] + boxes[:, 3]) / 2, kernel)
    cx = medfilt((boxes[:, 0] + boxes[:, 2]) / 2, kernel)
    crops = []
    for frame, s, x, y in zip(frames, half, cx, cy):
        pad = int(s * (1 + 2 * CROP_SCALE))
        padded = np.pad(frame[..., ::-1], ((pad, pad), (pad, pad), (0, 0)), constant_values=110)
        my, mx = y + pad, x + pad
        face = padded[int(my - s):int(my + s * (1 + 2 * CROP_SCALE)),
                      int(mx - s * (1 + CROP_SCALE)):int(mx + s * (1 + CROP_SCALE))]
        crops.append(cv2.resize(face, (CROP_SIZE, CROP_SIZE)))
    return np.stack(crops)


@lru_cache(maxsize=2)
def load_syncnet(path: Path, device: str) -> SyncNet:
    return load_network(SyncNet(), path, torch.device(device))


@torch.no_grad()
def syncnet_scores(model: SyncNet, crops: np.ndarray, audio_int16: np.ndarray, device: torch.device) -> dict[str, float]:
    """LSE-D / LSE-C / offset of 25 fps BGR crops [T, 224, 224, 3] against 16 kHz int16-scale audio."""
    cepstra = torch.from_numpy(mfcc(audio_int16, SAMPLE_RATE).T.copy()).float()[None, None]  # [1, 1, 13, M]
    length = min(len(crops), len(audio_int16) // 640)
    last = length - WINDOW
    if last < 1:
        raise BadInputError(f"clip too short for SyncNet ({length} frames at 25 fps)", "give at least 6 frames with audio")
    video = torch.from_numpy(crops).float().permute(3, 0, 1, 2)[None]  # [1, 3, T, H, W]
    lip, aud = [], []
    for start in range(0, last, BATCH):
        idx = range(start, min(last, start + BATCH))
        lip.append(model.forward_lip(torch.cat([video[:, :, v:v + WINDOW] for v in idx]).to(device)).cpu())
        aud.append(model.forward_audio(torch.cat([cepstra[..., 4 * v:4 * v + 20] for v in idx]).to(device)).cpu())
    return sync_offsets(torch.cat(lip), torch.cat(aud))


class SyncNetScore(Metric):
    name = "sync"
    label = "LSE-D"
    higher_is_better = False
    extra_higher_is_better = {"LSE-C": True, "offset": None}
    needs = frozenset({"audio"})
    weights = WEIGHTS
    protocol = {
        "reference": "syncnet_python (Chung & Zisserman 2016) SyncNetInstance.evaluate; Wav2Lip scores_LSE",
        "video": "25 fps (nearest-time resampled), 5-frame windows, 224x224 BGR 0..255",
        "audio": "16 kHz mono int16 scale, MFCC 13 @ 100 Hz (python_speech_features defaults)",
        "offsets": f"+-{VSHIFT} frames, zero-padded; LSE-D = min mean distance, LSE-C = median - min",
        "face_crop": "embedded face analysis (478-point mesh box), NOT S3FD; syncnet_python crop geometry "
                     "(scale 0.4, 13-frame median smoothing, pad 110)",
    }

    def compute(self, sample: Sample) -> MetricResult:
        files = resolve_weight_files("syncnet", WEIGHTS["syncnet"], sample.weights_dir)
        model = load_syncnet(files["syncnet"], str(sample.device))
        index = resample_nearest(len(sample.frames), sample.fps, FPS)
        boxes, found = face_boxes(sample, "generated")
        keep = [i for i in index if found[i]]
        notes = [f"{len(index) - len(keep)} of {len(index)} frames without a face held the nearest box"] \
            if len(keep) < len(index) else []
        crops = face_crops([sample.frames[i] for i in index], boxes[index])
        audio = sample.audio if sample.audio_rate == SAMPLE_RATE else None
        if audio is None:
            raise BadInputError(f"audio for {sample.name} is not at {SAMPLE_RATE} Hz", "read it with read_audio(..., 16000)")
        audio_int16 = np.clip(np.rint(audio * 32768.0), -32768, 32767).astype(np.int16)
        scores = syncnet_scores(model, crops, audio_int16, sample.device)
        return MetricResult(scores["LSE-D"], extras={"LSE-C": scores["LSE-C"], "offset": scores["offset"]},
                            per_frame=scores["mean_distances"], notes=notes)

    def describe(self, sample: Sample | None = None) -> dict[str, str]:
        if sample is None:
            return dict(self.protocol)
        path = resolve_weight_files("syncnet", WEIGHTS["syncnet"], sample.weights_dir)["syncnet"]
        return {**self.protocol, "weights_sha256": file_sha256(path)[:16]}
