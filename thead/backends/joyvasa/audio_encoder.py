"""JoyVASA's audio front end: a sampler window of 16 kHz speech -> one feature per motion frame.

transformers' ``HubertModel`` supplies the layers (built from a config, weights from the JoyVASA
checkpoint, which fine-tuned them); the forward is JoyVASA's own: pad the window to whole 20 ms
units, run the CNN, stretch its frames to exactly two per motion frame, project, encode, average
each pair and map to the generator's width. Everything is per window: the CNN's group norm and the
encoder's attention see only that window, so the official per-window call is what is reproduced.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

HUBERT_UNIT = 320  # samples per HuBERT frame (20 ms at 16 kHz)
PAD_THRESHOLD = 80


def build_hubert(config) -> nn.Module:
    """An untrained ``HubertModel`` of ``config`` (a transformers ``HubertConfig``) in eval mode."""
    from transformers import HubertModel

    return HubertModel(config).eval()


def pad_window(audio: torch.Tensor) -> torch.Tensor:
    """[B, L] -> [B, L'] padded towards whole HuBERT units plus 80 samples (40 per side for whole units).

    The side length is split into a reflect pad applied twice (not one pad of twice the length)
    and, when odd, one replicated sample per end.
    """
    length = audio.shape[1]
    side = math.ceil((HUBERT_UNIT * (length // HUBERT_UNIT) + PAD_THRESHOLD - length) / 2)
    if side < 0:
        return audio
    reflect = side // 2
    if reflect > 0:
        audio = F.pad(audio, (reflect, reflect), mode="reflect")
        audio = F.pad(audio, (reflect, reflect), mode="reflect")
    if side % 2:
        audio = F.pad(audio[:, None], (1, 1), mode="replicate")[:, 0]
    return audio


def stretch(frames: torch.Tensor, count: int) -> torch.Tensor:
    """[B, C, F] -> [B, C, count] by linear interpolation (align_corners False); unchanged when F == count."""
    if frames.shape[-1] == count:
        return frames
    return F.interpolate(frames, size=count, mode="linear", align_corners=False)


def hubert_hidden(hubert: nn.Module, audio: torch.Tensor, frame_num: int,
                  trace: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Last hidden state [B, 2 * frame_num, H] of one window; ``trace`` collects the intermediates."""
    padded = pad_window(audio)
    cnn = hubert.feature_extractor(padded)  # [B, C, F]
    stretched = stretch(cnn, 2 * frame_num).transpose(1, 2)
    projected = hubert.feature_projection(stretched)
    if isinstance(projected, tuple):  # older transformers also return the normed features
        projected = projected[0]
    hidden = hubert.encoder(projected).last_hidden_state
    if trace is not None:
        trace.update(padded=padded, cnn=cnn, stretched=stretched, projected=projected, hidden=hidden)
    return hidden


def audio_features(hubert: nn.Module, feature_map: nn.Linear, audio: torch.Tensor, frame_num: int,
                   trace: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """[B, L] window samples -> [B, frame_num, feature_dim]: HuBERT, two frames averaged into one, mapped."""
    hidden = hubert_hidden(hubert, audio, frame_num, trace)
    per_frame = F.interpolate(hidden.transpose(1, 2), size=frame_num, mode="linear", align_corners=False)
    return feature_map(per_frame.transpose(1, 2))
