"""The self-reenactment benchmark's measurements: region SSIM and the sharpness measure against
scikit-image on synthetic images, the mouth box, and one short end-to-end run on a real GRID clip."""

from __future__ import annotations

import importlib.util
import json
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO
from skimage.filters import laplace
from skimage.metrics import structural_similarity

from thead.metrics.regions import (
    MIN_SIDE,
    MOUTH_MARGIN,
    fill_nearest,
    laplacian_variance,
    mouth_boxes,
    pixel_box,
    region_ssim,
    sharpness_ratio,
)

BT601 = np.array([0.299, 0.587, 0.114])


def texture(seed: int, size: tuple[int, int] = (96, 128)) -> np.ndarray:
    """Smooth random colour texture, uint8 RGB."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (*size, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 1.2) * 1.8 - 100, 0, 255).astype(np.uint8)


def test_region_ssim_equals_scikit_image_on_the_cropped_box():
    a = texture(0)
    b = np.clip(a.astype(int) + np.random.default_rng(1).normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    box = np.array([20.3, 10.6, 90.2, 70.0])
    expected = structural_similarity(a[10:70, 20:91], b[10:70, 20:91], gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255, channel_axis=2)
    assert region_ssim(a, b, box) == pytest.approx(expected, abs=1e-9)
    assert region_ssim(a, a, box) == pytest.approx(1.0)
    assert np.isnan(region_ssim(a, b, np.full(4, np.nan)))


def test_region_ssim_sees_only_the_box():
    a = texture(2)
    b = a.copy()
    b[:, 100:] = 255 - b[:, 100:]  # change everything right of x = 100
    assert region_ssim(a, b, np.array([10, 10, 80, 80])) == pytest.approx(1.0)
    assert region_ssim(a, b, np.array([90, 10, 128, 80])) < 0.5


def test_laplacian_variance_equals_scikit_image_laplace():
    image = texture(3)
    box = np.array([8, 5, 100, 90])
    gray = image[5:90, 8:100].astype(np.float64) @ BT601
    assert laplacian_variance(image, box) == pytest.approx(laplace(gray)[1:-1, 1:-1].var(), rel=1e-10)


def test_sharpness_ratio_is_one_for_the_same_frames_and_drops_with_blur():
    frames = [texture(4), texture(5)]
    boxes = np.array([[10, 10, 110, 80]] * 2, dtype=float)
    same, per_frame = sharpness_ratio(frames, boxes, frames, boxes)
    assert same == pytest.approx(1.0) and np.allclose(per_frame, 1.0)
    blurred = [cv2.GaussianBlur(f, (0, 0), 1.5) for f in frames]
    assert sharpness_ratio(blurred, boxes, frames, boxes)[0] < 0.5


def test_mouth_box_is_the_mouth_points_widened_by_the_margin():
    points = np.zeros((2, 68, 2))
    points[:, 48:68] = np.array([[100, 200], [140, 210]])[np.arange(20) % 2]  # mouth 40 px wide, 10 px high
    points[1] = np.nan
    box = mouth_boxes(points)
    pad = MOUTH_MARGIN * 40
    np.testing.assert_allclose(box[0], [100 - pad, 200 - pad, 140 + pad, 210 + pad])
    np.testing.assert_allclose(fill_nearest(box)[1], box[0])


def test_pixel_box_is_clipped_to_the_frame_and_never_smaller_than_the_window():
    assert pixel_box(np.array([-5.0, 3.2, 40.5, 30.0]), 32, 24) == (0, 3, 32, 24)
    x0, y0, x1, y1 = pixel_box(np.array([30.0, 20.0, 31.0, 21.0]), 32, 24)
    assert x1 - x0 == MIN_SIDE and y1 - y0 == MIN_SIDE and x1 <= 32 and y1 <= 24


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("self_reenactment_benchmark", REPO / "benchmarks/self_reenactment.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_end_to_end_on_a_grid_clip(benchmark, shared, tmp_path, capsys):
    clip = shared / "media/talking/grid_bbaf2n.mpg"
    result = benchmark.main([str(clip), "--frames", "10", "--json", str(tmp_path / "r.json"),
                             "--contact-sheet", str(tmp_path / "sheets")])
    written = json.loads((tmp_path / "r.json").read_text())
    row = written["clips"][clip.name]
    assert row["frames"] == 10 and 1 <= row["widest_mouth_frame"] <= 9
    for which in ("output", "still"):
        assert set(row[which]) == {"ssim", "psnr", "ssim-mouth", "ssim-face", "lmd", "akd", "sharpness"}
        assert all(np.isfinite(v) for v in row[which].values())
    assert written["mean"] == result["mean"]
    # the output follows the real face: its landmarks are closer to the truth than the still frame 0's
    assert row["output"]["akd"] < row["still"]["akd"]
    sheet = cv2.imread(str(tmp_path / "sheets" / "grid_bbaf2n.png"))
    assert sheet.shape == (288, 3 * 360, 3)
    capsys.readouterr()
    benchmark.print_tables(result, written)  # a baseline shows as extra columns and a difference
    printed = capsys.readouterr().out
    assert "SSIM mouth prev out" in printed and "| SSIM mouth ↑ |" in printed and "+0.000" in printed
    with pytest.raises(SystemExit, match="was measured with --frames 10"):
        benchmark.main([str(clip), "--frames", "5", "--baseline", str(tmp_path / "r.json")])
