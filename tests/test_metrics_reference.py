"""SSIM, PSNR, CPBD, the FID / IS / SyncNet formulas and the MFCC front end against
../shared/reference/metrics_reference.json (to 1e-6), plus scikit-image cross-checks."""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest
import skimage.data
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from thead.metrics.base import Sample, luma_pil
from thead.metrics.cpbd import cpbd_frames, cpbd_gray
from thead.metrics.fid import feature_statistics, fid_from_features, frechet_distance
from thead.metrics.inception_score import inception_score, softmax
from thead.metrics.mfcc import mfcc
from thead.metrics.psnr import mse_frames, psnr_from_mse
from thead.metrics.ssim import ssim_frames
from thead.metrics.syncnet import sync_offsets

TOL = 1e-6


def sha16(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


@pytest.fixture(scope="module")
def reference(shared):
    return json.loads((shared / "reference" / "metrics_reference.json").read_text())


def build_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """The four image pairs exactly as reference/README.md describes them."""
    ref = skimage.data.astronaut()
    noisy = np.clip(np.rint(ref + np.random.default_rng(0).normal(0, 15, ref.shape)), 0, 255).astype(np.uint8)
    r = ref.astype(np.int64)
    blocks = (r[0::2, 0::2] + r[1::2, 0::2] + r[0::2, 1::2] + r[1::2, 1::2] + 2) // 4
    pixelated = np.repeat(np.repeat(blocks, 2, axis=0), 2, axis=1).astype(np.uint8)
    brighter = np.clip(ref.astype(np.int64) + 20, 0, 255).astype(np.uint8)
    i, j = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    synthetic = np.stack([(i + 2 * j) % 256, (3 * i + j) % 256, (i * j) % 256], axis=-1).astype(np.uint8)
    return [(ref, noisy), (ref, pixelated), (ref, brighter), (synthetic, np.roll(synthetic, 3, axis=1))]


@pytest.fixture(scope="module")
def pairs(reference):
    built = build_pairs()
    for (ref, dist), expected in zip(built, reference["pairs"]):
        assert sha16(ref) == expected["sha_ref"] and sha16(dist) == expected["sha_dist"], expected["pair"]
    return list(zip(built, reference["pairs"]))


@pytest.mark.parametrize("variant,key", [
    ("wang", "ssim_sk_wang_rgb"), ("gray", "ssim_sk_wang_gray"),
    ("skimage-legacy", "ssim_sk_legacy_default_rgb"), ("downsample", "ssim_piq_default(downsample)"),
])
def test_ssim_matches_reference(pairs, variant, key):
    for (ref, dist), expected in pairs:
        assert ssim_frames([dist], [ref], variant)[0] == pytest.approx(expected[key], abs=TOL), expected["pair"]


def test_psnr_matches_reference(pairs):
    for (ref, dist), expected in pairs:
        assert psnr_from_mse(mse_frames([dist], [ref]))[0] == pytest.approx(expected["psnr_sk_uint8"], abs=TOL)


def test_cpbd_matches_reference(pairs, reference):
    for (ref, dist), expected in pairs:
        assert cpbd_gray(luma_pil(ref)) == pytest.approx(expected["cpbd_ref_L"], abs=TOL)
        assert cpbd_frames([dist])[0] == pytest.approx(expected["cpbd_dist_L"], abs=TOL)
    camera = skimage.data.camera()
    assert sha16(camera) == reference["formula_vectors"]["sha_camera"]
    assert cpbd_gray(camera) == pytest.approx(reference["formula_vectors"]["cpbd_camera"], abs=TOL)


def test_fid_formula(reference):
    vectors = reference["formula_vectors"]
    i, k = np.arange(200)[:, None], np.arange(16)[None, :]
    f1 = np.sin(0.37 * i + 1.3 * k) + 0.01 * k
    f2 = 1.2 * np.cos(0.29 * i + 0.7 * k) + 0.05
    assert fid_from_features(f1, f2) == pytest.approx(vectors["fid_formula_pytorch_fid"], abs=TOL)
    eye = np.eye(2048)
    assert frechet_distance(np.zeros(2048), eye, np.ones(2048), eye) == pytest.approx(vectors["fid_formula_equal_cov_identity"], abs=TOL)


def test_low_rank_fid_equals_pytorch_fid_formula():
    rng = np.random.default_rng(0)
    generated, reference = rng.normal(size=(40, 64)), rng.normal(0.3, 1.2, size=(50, 64))
    # sqrtm of the singular 64x64 product is itself only good to ~1e-6 here (the reason for the low-rank path)
    via_sqrtm = frechet_distance(*feature_statistics(generated), *feature_statistics(reference))
    assert fid_from_features(generated, reference) == pytest.approx(via_sqrtm, abs=1e-5)


def test_inception_score_formula(reference):
    vectors = reference["formula_vectors"]
    i, k = np.arange(1000)[:, None], np.arange(1008)[None, :]
    mean, std = inception_score(softmax(3 * np.sin(0.013 * i * (k % 7 + 1) + 0.1 * k)))
    assert mean == pytest.approx(vectors["is_formula_openai_mean"], abs=TOL)
    assert std == pytest.approx(vectors["is_formula_openai_std"], abs=TOL)


def test_syncnet_offset_formula(reference):
    vectors = reference["formula_vectors"]
    t, d = torch.arange(60, dtype=torch.float32)[:, None], torch.arange(1024, dtype=torch.float32)[None, :]
    video = torch.sin(0.05 * d + 0.3 * t)
    audio = torch.sin(0.05 * d + 0.3 * (t - 2)) + 0.1 * torch.cos(0.11 * d)
    scores = sync_offsets(video, audio)
    assert scores["offset"] == vectors["sync_formula_offset"]
    assert scores["LSE-D"] == pytest.approx(vectors["sync_formula_min_dist_LSE_D"], abs=TOL)
    assert scores["LSE-C"] == pytest.approx(vectors["sync_formula_conf_LSE_C"], abs=TOL)


def test_mfcc_front_end(reference):
    vectors = reference["formula_vectors"]
    t = np.arange(16000) / 16000
    chirp = np.rint(8000 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.int16)
    features = mfcc(chirp, 16000)
    assert list(features.shape) == vectors["mfcc_shape"]
    np.testing.assert_allclose(features[0, :3], vectors["mfcc_row0_first3"], atol=TOL)
    assert features.mean() == pytest.approx(vectors["mfcc_mean"], abs=TOL)


@pytest.mark.parametrize("shape", [(64, 48, 3), (101, 77, 3), (300, 200, 3)])
def test_ssim_psnr_agree_with_scikit_image(shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.normal(0, 25, shape), 0, 255).astype(np.uint8)
    expected_ssim = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                          data_range=255, channel_axis=2)
    assert ssim_frames([b], [a])[0] == pytest.approx(expected_ssim, abs=1e-12)
    legacy = structural_similarity(a, b, channel_axis=2)
    assert ssim_frames([b], [a], "skimage-legacy")[0] == pytest.approx(legacy, abs=1e-12)
    assert psnr_from_mse(mse_frames([b], [a]))[0] == pytest.approx(peak_signal_noise_ratio(a, b), abs=1e-12)


def _unequal_clip() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Three frames distorted by very different amounts: the mean of per-frame scores differs from
    their median and from the score of the pooled error."""
    rng = np.random.default_rng(1)
    reference = [rng.integers(0, 256, (40, 36, 3), dtype=np.uint8) for _ in range(3)]
    generated = [np.clip(np.rint(f + rng.normal(0, s, f.shape)), 0, 255).astype(np.uint8)
                 for f, s in zip(reference, (2, 6, 60))]
    return generated, reference


def test_psnr_of_a_clip_is_the_mean_of_per_frame_psnr():
    from thead.metrics.psnr import PSNR

    generated, reference = _unequal_clip()
    per_frame = [peak_signal_noise_ratio(r, g, data_range=255) for g, r in zip(generated, reference)]
    pooled = peak_signal_noise_ratio(np.stack(reference), np.stack(generated), data_range=255)
    result = PSNR().compute(Sample("clip", generated, 25.0, reference=reference))
    assert result.value == pytest.approx(np.mean(per_frame), abs=1e-9)
    assert abs(np.mean(per_frame) - pooled) > 1.0 and abs(np.mean(per_frame) - np.median(per_frame)) > 1.0
    np.testing.assert_allclose(result.per_frame, per_frame, atol=1e-9)
    assert not result.notes


def test_psnr_of_float_frames_matches_scikit_image():
    from skimage.metrics import mean_squared_error

    generated, reference = _unequal_clip()
    as_float = [g.astype(np.float64) for g in generated]
    expected = [mean_squared_error(r, g) for g, r in zip(generated, reference)]
    np.testing.assert_allclose(mse_frames(as_float, reference), expected, rtol=1e-12)
    np.testing.assert_allclose(mse_frames(generated, [r.astype(np.float32) for r in reference]), expected, rtol=1e-12)


def test_psnr_flags_identical_frames_as_infinite():
    from thead.metrics.psnr import PSNR

    generated, reference = _unequal_clip()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy divide-by-zero warning on the user's terminal
        result = PSNR().compute(Sample("clip", [reference[0], *generated[1:]], 25.0, reference=reference))
    assert result.value == np.inf and result.per_frame[0] == np.inf and np.isfinite(result.per_frame[1:]).all()
    assert result.notes == ["1 frame(s) identical to the reference: PSNR is infinite"]


@pytest.mark.parametrize("name,kwargs,prepare", [
    ("ssim", {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "channel_axis": 2}, None),
    ("ssim-skimage-legacy", {"channel_axis": 2}, None),
    ("ssim-gray", {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}, "gray"),
])
def test_ssim_of_a_clip_is_the_mean_of_per_frame_ssim(name, kwargs, prepare):
    from thead.metrics import get_metric_class
    from thead.metrics.ssim import to_gray

    generated, reference = _unequal_clip()
    convert = to_gray if prepare == "gray" else (lambda frame: frame)
    per_frame = [structural_similarity(convert(r), convert(g), data_range=255, **kwargs)
                 for g, r in zip(generated, reference)]
    result = get_metric_class(name)().compute(Sample("clip", generated, 25.0, reference=reference))
    assert result.value == pytest.approx(np.mean(per_frame), abs=1e-12)
    assert abs(np.mean(per_frame) - np.median(per_frame)) > 0.05
    np.testing.assert_allclose(result.per_frame, per_frame, atol=1e-12)
