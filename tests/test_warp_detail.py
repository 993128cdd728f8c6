"""Fine detail survives the warp: a textured image moved by a sub-pixel motion keeps its Laplacian variance."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial import Delaunay

from thead.backends.warp.warp import MeshWarp

SIZE = 160


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the luma (the sharpness metric's focus measure)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F, ksize=1).var())


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    """Skin-like fine texture: seeded noise, lightly low-passed, in three channels."""
    rng = np.random.default_rng(0)
    noise = rng.normal(128, 40, (SIZE, SIZE, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 1.2), 0, 255).astype(np.uint8)


def grid_warp(step: float) -> tuple[MeshWarp, np.ndarray, np.ndarray]:
    """A 7x7 vertex grid over the image, all of it drawn as 'face' triangles; interior vertices flagged."""
    ticks = np.linspace(0, SIZE - 1, 7)
    xy = np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2)
    vertices = np.concatenate([xy, np.zeros((len(xy), 1))], 1).astype(np.float32)
    triangles = Delaunay(xy).simplices.astype(np.int32)
    inner = (xy > 0).all(1) & (xy < SIZE - 1).all(1)
    return MeshWarp((SIZE, SIZE), vertices, np.zeros((0, 3), np.int32), triangles, step=step), vertices, inner


@pytest.mark.parametrize("shift", [(0.5, 0.5), (0.3, -0.4), (2.5, 1.5)])
def test_sub_pixel_motion_keeps_the_detail(texture, shift):
    warp, vertices, inner = grid_warp(step=2.0)
    target = vertices.copy()
    target[inner, :2] += shift
    out = warp.apply(texture, target, target[:, 2])
    middle = (slice(40, 120), slice(40, 120))  # moved rigidly by ``shift``
    ratio = laplacian_variance(out[middle]) / laplacian_variance(texture[middle])
    assert 0.9 <= ratio <= 1.3  # as sharp as the source, at most lightly over-sharpened
    # ... and it is the texture moved, not noise: it matches the exactly shifted texture.
    exact = cv2.warpAffine(texture, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (SIZE, SIZE),
                           flags=cv2.INTER_LANCZOS4)
    error = np.abs(out[middle].astype(float) - exact[middle]).mean()
    assert error < 0.25 * np.abs(texture[middle].astype(float) - exact[middle]).mean() + 1.0


def test_pixels_the_mesh_does_not_move_are_untouched(texture):
    warp, vertices, _ = grid_warp(step=2.0)
    target = vertices.copy()
    corner = np.argmin(np.abs(vertices[:, 0] - 79.5) + np.abs(vertices[:, 1] - 79.5))
    target[corner, :2] += (1.3, 0.7)  # one vertex in the middle: its ring of triangles moves
    out = warp.apply(texture, target, target[:, 2])
    assert np.array_equal(out[:40], texture[:40]) and np.array_equal(out[:, :40], texture[:, :40])
    assert not np.array_equal(out[60:100, 60:100], texture[60:100, 60:100])
    assert np.array_equal(warp.apply(texture, vertices, vertices[:, 2]), texture)
