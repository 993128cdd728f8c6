"""Eye and lip closure ratios in LivePortrait's definitions, and the retargeting MLP inputs.

The official ratios are measured on a 203-point landmark scheme: left eye |p6-p18| / |p0-p12|,
right eye |p30-p42| / |p24-p36|, lip |p90-p102| / |p48-p66|. :data:`LANDMARK_PAIRS_203` names the
pairs so that other landmark schemes can supply the same distances (see :mod:`.crop`).
"""

from __future__ import annotations

import numpy as np
import torch

EPS = 1e-6
# ratio name -> (numerator pair, denominator pair) in the 203-point scheme
LANDMARK_PAIRS_203 = {
    "left_eye": ((6, 18), (0, 12)),
    "right_eye": ((30, 42), (24, 36)),
    "lip": ((90, 102), (48, 66)),
}
LIP_NORMALIZE_THRESHOLD = 0.03


def distance_ratio(landmarks: np.ndarray, numerator: tuple[int, int], denominator: tuple[int, int]) -> np.ndarray:
    """|p_a - p_b| / (|p_c - p_d| + 1e-6) for landmarks [B, N, 2] -> [B, 1]."""
    top = np.linalg.norm(landmarks[:, numerator[0]] - landmarks[:, numerator[1]], axis=1, keepdims=True)
    bottom = np.linalg.norm(landmarks[:, denominator[0]] - landmarks[:, denominator[1]], axis=1, keepdims=True)
    return top / (bottom + EPS)


def eye_close_ratio(landmarks: np.ndarray) -> np.ndarray:
    """203-point landmarks [B, 203, 2] -> [B, 2] (left, right) eye opening ratios."""
    return np.concatenate(
        [distance_ratio(landmarks, *LANDMARK_PAIRS_203["left_eye"]), distance_ratio(landmarks, *LANDMARK_PAIRS_203["right_eye"])],
        axis=1,
    )


def lip_close_ratio(landmarks: np.ndarray) -> np.ndarray:
    """203-point landmarks [B, 203, 2] -> [B, 1] lip opening ratio."""
    return distance_ratio(landmarks, *LANDMARK_PAIRS_203["lip"])


def combined_eye_ratio(source_eyes: np.ndarray | torch.Tensor, driving_left_eye: float, device: torch.device) -> torch.Tensor:
    """Eye MLP condition [1, 3]: the source's two eye ratios and the driving *left*-eye ratio (as upstream)."""
    source = torch.as_tensor(np.asarray(source_eyes, dtype=np.float32).reshape(1, 2), device=device)
    return torch.cat([source, torch.tensor([[float(driving_left_eye)]], device=device)], dim=1)


def combined_lip_ratio(source_lip: np.ndarray | torch.Tensor | float, driving_lip: float, device: torch.device) -> torch.Tensor:
    """Lip MLP condition [1, 2]: source lip ratio, driving lip ratio."""
    source = torch.as_tensor(np.asarray(source_lip, dtype=np.float32).reshape(1, 1), device=device)
    return torch.cat([source, torch.tensor([[float(driving_lip)]], device=device)], dim=1)
