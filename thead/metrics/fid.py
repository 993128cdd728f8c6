"""FID (Heusel et al. 2017) with pytorch-fid's conventions.

Features: 2048-d pool3 of the TF-Inception port (``inception.py``) on frames as RGB in [0, 1].
Statistics: mean and covariance with ddof 1. Distance: ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2)),
``scipy.linalg.sqrtm``; if that is not finite, 1e-6 is added to both diagonals; a small imaginary
part (diagonal within 1e-3) is dropped. The table's mean row pools the features of all videos,
as the survey's dataset-level FID does, instead of averaging per-video values.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy import linalg

from thead.metrics.base import Metric, MetricResult, Sample, file_sha256, frames_to_tensor, load_network, \
    resolve_weight_files
from thead.metrics.inception import FID_WEIGHTS, FIDInception

WEIGHTS = {"fid-inception": {"inception": FID_WEIGHTS}}
BATCH = 16


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """The Frechet distance between two Gaussians, exactly as pytorch-fid computes it."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: sqrtm has an imaginary component of {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (ddof 1) of [N, D] features."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fid_from_features(generated: np.ndarray, reference: np.ndarray) -> float:
    """FID of two feature sets [N, D].

    With at least D + 1 samples on each side this is pytorch-fid's computation. With fewer, the
    covariances are singular and ``sqrtm`` of their 2048x2048 product is both slow (~30 s) and
    inexact; the trace of sqrtm(S1 S2) is then computed exactly as the nuclear norm of A B^T, where
    S1 = A^T A and S2 = B^T B are the centred features scaled by 1 / sqrt(N - 1) (S1 S2 has the
    same nonzero eigenvalues as (A B^T)(A B^T)^T).
    """
    generated, reference = np.asarray(generated, np.float64), np.asarray(reference, np.float64)
    if min(len(generated), len(reference)) > generated.shape[1]:
        return frechet_distance(*feature_statistics(generated), *feature_statistics(reference))
    mu1, mu2 = generated.mean(axis=0), reference.mean(axis=0)
    a = (generated - mu1) / np.sqrt(len(generated) - 1)
    b = (reference - mu2) / np.sqrt(len(reference) - 1)
    trace_sqrt = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.sum(a * a) + np.sum(b * b) - 2 * trace_sqrt)


@lru_cache(maxsize=2)
def load_inception(path: Path, device: str) -> FIDInception:
    """The FID Inception with the canonical weights (cached per file and device)."""
    return load_network(FIDInception(), path, torch.device(device))


@torch.no_grad()
def inception_pool3(model: FIDInception, frames: Sequence[np.ndarray], device: torch.device) -> np.ndarray:
    """[N, 2048] float64 pool3 features of uint8 RGB frames."""
    out = []
    for start in range(0, len(frames), BATCH):
        batch = frames_to_tensor(frames[start:start + BATCH], torch.float32, device) / 255.0
        out.append(model.pool3(batch).double().cpu().numpy())
    return np.concatenate(out)


def sample_features(sample: Sample, which: str) -> np.ndarray:
    """pool3 features of the sample's generated or reference frames, shared by FID and IS."""
    def compute() -> np.ndarray:
        files = resolve_weight_files("fid-inception", WEIGHTS["fid-inception"], sample.weights_dir)
        model = load_inception(files["inception"], str(sample.device))
        frames = sample.frames if which == "generated" else sample.reference
        return inception_pool3(model, frames, sample.device)
    return sample.cached(f"inception:{which}", compute)


def inception_protocol(sample: Sample | None) -> dict[str, str]:
    if sample is None:
        return {}
    path = resolve_weight_files("fid-inception", WEIGHTS["fid-inception"], sample.weights_dir)["inception"]
    return {"weights_sha256": file_sha256(path)[:16]}


class FID(Metric):
    name = "fid"
    higher_is_better = False
    needs = frozenset({"ref"})
    weights = WEIGHTS
    protocol = {
        "reference": "pytorch-fid (TF-Inception 2015-12-05 port, pt_inception-2015-12-05-6726825d.pth)",
        "features": "2048-d pool3", "input": "RGB / 255, bilinear to 299x299 (no antialias), to [-1, 1]",
        "statistics": "mean, covariance ddof 1; scipy sqrtm, 1e-6 diagonal offset if not finite (pytorch-fid); "
                      "under 2049 frames the sqrtm trace is computed exactly as a nuclear norm",
        "frames": "all frames of the generated vs the reference video; mean row pools all videos' features",
    }

    def compute(self, sample: Sample) -> MetricResult:
        generated, reference = sample_features(sample, "generated"), sample_features(sample, "reference")
        notes = []
        if min(len(generated), len(reference)) < 2048:
            notes.append(f"{min(len(generated), len(reference))} frames < 2048 features: FID is biased upwards; "
                         "compare like with like or pool a folder")
        return MetricResult(fid_from_features(generated, reference), state=(generated, reference), notes=notes)

    def aggregate(self, results: Sequence[MetricResult]) -> MetricResult:
        generated = np.concatenate([r.state[0] for r in results])
        reference = np.concatenate([r.state[1] for r in results])
        return MetricResult(fid_from_features(generated, reference), notes=["pooled over all videos' frames"])

    def describe(self, sample: Sample | None = None) -> dict[str, str]:
        return {**self.protocol, **inception_protocol(sample)}
