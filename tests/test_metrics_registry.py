"""Every registered metric and variant, computed on a tiny face clip (tiny random weights where the
metric needs weights): the value is finite, and for metrics that compare with a reference or the source
portrait, a clip scores better against itself than against a perturbed copy, as ``higher_is_better`` says."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from thead.metrics import REGISTRY, get_metric_class
from thead.metrics.base import Sample
from test_metrics_networks import _tiny_arcface, write_tiny_weights

FRAMES = 12  # the audio metrics' lag search needs 10 paired frames
SHORT = 3  # frames for every other metric (FID's and IS's Inception is the slow part)


def zoom(frame: np.ndarray, factor: float) -> np.ndarray:
    height, width = frame.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 4.0, factor)
    return cv2.warpAffine(frame, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def clip(astronaut) -> list[np.ndarray]:
    """12 frames of the astronaut's face (scikit-image), drifting a pixel per frame."""
    face = cv2.resize(astronaut[10:330, 100:420], (192, 192), interpolation=cv2.INTER_AREA)
    return [np.roll(face, k, axis=0) for k in range(FRAMES)]


@pytest.fixture(scope="module")
def perturbed(clip) -> list[np.ndarray]:
    """The clip zoomed by 12 %, turned 4° and noised: another pose, mouth size and texture."""
    rng = np.random.default_rng(0)
    return [np.clip(zoom(f, 1.12) + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8) for f in clip]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = write_tiny_weights(tmp_path_factory.mktemp("registry-weights"))
    _tiny_arcface(folder / "w600k_r50.onnx")
    return folder


def speech(seconds: float) -> np.ndarray:
    """A 16 kHz amplitude-modulated tone: energy that rises and falls like syllables."""
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def sample(frames, weights, *, reference=None, source=None) -> Sample:
    return Sample("clip", list(frames), 25.0, reference=reference, source=source, audio=speech(FRAMES / 25.0),
                  weights_dir=weights)


@pytest.mark.parametrize("name", REGISTRY.names(extra=True))
def test_every_registered_metric_computes_and_points_the_declared_way(name, clip, perturbed, weights):
    metric = get_metric_class(name)()
    if (reason := metric.unavailable()) is not None:
        pytest.skip(f"{name} is unavailable on this installation: {reason}")
    assert metric.name == name and metric.needs <= {"ref", "source", "audio"} and metric.protocol
    if "ref" in metric.needs:
        same = metric.compute(sample(clip[:SHORT], weights, reference=clip[:SHORT]))
        other = metric.compute(sample(clip[:SHORT], weights, reference=perturbed[:SHORT]))
    elif "source" in metric.needs:
        same = metric.compute(sample(clip[:1] * SHORT, weights, source=clip[0]))
        other = metric.compute(sample(perturbed[:SHORT], weights, source=clip[0]))
    else:
        result = metric.compute(sample(clip if "audio" in metric.needs else clip[:SHORT], weights))
        assert math.isfinite(result.value), result.notes
        assert all(math.isfinite(v) for v in result.extras.values()), result.extras
        return
    assert math.isfinite(other.value), other.notes
    assert metric.higher_is_better is not None
    better, worse = (same.value, other.value) if metric.higher_is_better else (-same.value, -other.value)
    assert better > worse, (same.value, other.value)
