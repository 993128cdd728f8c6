"""CSIM: identity similarity of the generated frames to the source portrait (ArcFace cosine).

insightface ``buffalo_l`` recognition (``w600k_r50.onnx``) on onnxruntime: five points per face
(eye centres, nose tip, mouth corners), a least-squares similarity (Umeyama, as insightface's
``norm_crop``) onto the standard ArcFace 112x112 template, RGB (x - 127.5) / 127.5, the 512-d
embedding L2-normalised; CSIM = mean over frames of the cosine with the source's embedding.
insightface detects the five points with SCRFD; thead takes them from its embedded face mesh
(iris centres 468/473, nose tip 1, mouth corners 61/291) — stated in the protocol.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from thead.errors import NoFaceError
from thead.metrics.base import Metric, MetricResult, Sample, file_sha256, resolve_weight_files
from thead.metrics.landmarks import sample_mesh

WEIGHTS = {"arcface-buffalo-l": {"recognition": "w600k_r50.onnx"}}
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)
MESH_FIVE = (468, 473, 1, 61, 291)  # image-left eye, image-right eye, nose tip, mouth corners
SIZE = 112
BATCH = 32


def umeyama_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity (rotation, uniform scale, translation) taking ``src`` onto ``dst``."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    sc, dc = src - mu_s, dst - mu_d
    cov = dc.T @ sc / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ d @ vt
    scale = np.trace(np.diag(sigma) @ d) / sc.var(axis=0).sum()
    return np.hstack([scale * rotation, (mu_d - scale * rotation @ mu_s)[:, None]])


def align_face(rgb: np.ndarray, five: np.ndarray) -> np.ndarray:
    """112x112 ArcFace crop of ``rgb`` from its five points."""
    return cv2.warpAffine(rgb, umeyama_similarity(five, ARCFACE_TEMPLATE), (SIZE, SIZE), borderValue=0.0)


def five_points(points: np.ndarray) -> np.ndarray:
    return np.asarray(points)[list(MESH_FIVE), :2]


@lru_cache(maxsize=2)
def load_arcface(path: Path, device: str):
    """An onnxruntime session for the ArcFace ONNX (CUDA provider when the device is CUDA)."""
    import onnxruntime

    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return onnxruntime.InferenceSession(str(path), providers=providers)


def embed(session, crops: np.ndarray) -> np.ndarray:
    """[N, 512] L2-normalised embeddings of [N, 112, 112, 3] RGB uint8 crops."""
    name = session.get_inputs()[0].name
    out = []
    for start in range(0, len(crops), BATCH):
        blob = (crops[start:start + BATCH].astype(np.float32) - 127.5) / 127.5
        out.append(session.run(None, {name: np.ascontiguousarray(blob.transpose(0, 3, 1, 2))})[0])
    features = np.concatenate(out).astype(np.float64)
    return features / np.linalg.norm(features, axis=1, keepdims=True)


def identity_similarity(source: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Cosine of each normalised frame embedding with the normalised source embedding."""
    return frames @ source


class CSIM(Metric):
    name = "csim"
    higher_is_better = True
    needs = frozenset({"source"})
    weights = WEIGHTS
    protocol = {
        "reference": "ArcFace cosine (Zakharov et al. 2019) with insightface buffalo_l w600k_r50",
        "alignment": "5 points -> ArcFace 112x112 template, Umeyama similarity (insightface norm_crop)",
        "five_points": "embedded face mesh (iris centres, nose tip, mouth corners), NOT SCRFD",
        "input": "RGB (x - 127.5) / 127.5", "score": "mean cosine of frames vs the source image",
    }

    def compute(self, sample: Sample) -> MetricResult:
        from thead.face import analyze_image

        files = resolve_weight_files("arcface-buffalo-l", WEIGHTS["arcface-buffalo-l"], sample.weights_dir)
        session = load_arcface(files["recognition"], str(sample.device))
        source_face = analyze_image(sample.source, name="source image")
        source = embed(session, align_face(sample.source, five_points(source_face.points))[None])[0]
        points, found = sample_mesh(sample)
        if not found.any():
            raise NoFaceError(f"no face found in any frame of {sample.name}", "check the video shows a face")
        index = np.flatnonzero(found)
        crops = np.stack([align_face(sample.frames[i], five_points(points[i])) for i in index])
        per_frame = np.full(len(sample.frames), np.nan)
        per_frame[index] = identity_similarity(source, embed(session, crops))
        notes = [f"{len(sample.frames) - len(index)} frames without a face skipped"] if len(index) < len(found) else []
        return MetricResult(float(np.nanmean(per_frame)), per_frame=per_frame, notes=notes)

    def describe(self, sample: Sample | None = None) -> dict[str, str]:
        if sample is None:
            return dict(self.protocol)
        path = resolve_weight_files("arcface-buffalo-l", WEIGHTS["arcface-buffalo-l"], sample.weights_dir)["recognition"]
        return {**self.protocol, "weights_sha256": file_sha256(path)[:16]}
