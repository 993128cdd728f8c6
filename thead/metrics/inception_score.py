"""Inception Score (Salimans et al. 2016) with improved-gan's formula on the FID Inception.

p(y|x) = softmax of the 1008-way logits *without* the bias (as improved-gan reads the TF graph);
the frames are cut into 10 contiguous splits, each scoring exp(mean_x KL(p(y|x) || p(y))) with
p(y) that split's marginal; the result is the mean and the standard deviation over splits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.fid import WEIGHTS, inception_protocol, load_inception, resolve_weight_files, sample_features

SPLITS = 10


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits, axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def inception_score(probabilities: np.ndarray, splits: int = SPLITS) -> tuple[float, float]:
    """Mean and std over ``splits`` contiguous splits of exp(E KL(p(y|x) || p(y)))."""
    n = len(probabilities)
    scores = []
    for i in range(splits):
        part = probabilities[i * n // splits:(i + 1) * n // splits]
        kl = part * (np.log(part) - np.log(part.mean(axis=0, keepdims=True)))
        scores.append(np.exp(kl.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def sample_probabilities(sample: Sample, features: np.ndarray) -> np.ndarray:
    files = resolve_weight_files("fid-inception", WEIGHTS["fid-inception"], sample.weights_dir)
    model = load_inception(files["inception"], str(sample.device))
    with torch.no_grad():
        logits = model.logits(torch.from_numpy(features).float().to(sample.device)).double().cpu().numpy()
    return softmax(logits)


class InceptionScore(Metric):
    name = "is"
    higher_is_better = True
    weights = WEIGHTS
    protocol = {
        "reference": "improved-gan Inception Score on pytorch-fid's TF-Inception port",
        "logits": "1008-way, without bias", "splits": f"{SPLITS} contiguous", "output": "mean (std in IS_std)",
        "input": "RGB / 255, bilinear to 299x299 (no antialias), to [-1, 1]",
        "frames": "all generated frames; mean row pools all videos' frames",
    }

    def compute(self, sample: Sample) -> MetricResult:
        probabilities = sample_probabilities(sample, sample_features(sample, "generated"))
        return self._score(probabilities)

    def aggregate(self, results: Sequence[MetricResult]) -> MetricResult:
        result = self._score(np.concatenate([r.state for r in results]))
        result.notes.append("pooled over all videos' frames")
        return result

    @staticmethod
    def _score(probabilities: np.ndarray) -> MetricResult:
        splits = min(SPLITS, len(probabilities))
        mean, std = inception_score(probabilities, splits)
        notes = [f"only {len(probabilities)} frames: {splits} splits"] if splits < SPLITS else []
        return MetricResult(mean, extras={"IS_std": std}, state=probabilities, notes=notes)

    def describe(self, sample: Sample | None = None) -> dict[str, str]:
        return {**self.protocol, **inception_protocol(sample)}
