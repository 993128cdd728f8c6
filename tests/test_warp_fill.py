"""Membrane fill: the discrete harmonic interpolation of a hole from the pixels around it."""

from __future__ import annotations

import cv2
import numpy as np

from thead.backends.warp.fill import membrane_fill

HEIGHT, WIDTH = 40, 50


def plane(ax: float, ay: float, c: float) -> np.ndarray:
    """A linear image a x + b y + c per channel: harmonic, so a membrane fill must reproduce it exactly."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return np.stack([ax * xx + ay * yy + c, -ay * xx + ax * yy + 2 * c, 0.5 * xx + c], axis=-1)


def disk(cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def test_a_linear_image_is_filled_back_exactly_and_known_pixels_are_untouched():
    image = plane(1.5, -0.7, 60.0)
    hole = disk(24, 18, 11)
    damaged = image.copy()
    damaged[hole] = 0.0
    filled = membrane_fill(damaged, hole)
    np.testing.assert_allclose(filled[hole], image[hole], atol=1e-3)
    np.testing.assert_array_equal(filled[~hole], image[~hole])


def test_a_hole_on_the_image_border_has_no_flow_across_it():
    # A ramp along x is harmonic with zero flow across the top border: a hole touching that border keeps it.
    image = np.repeat(plane(2.0, 0.0, 10.0)[..., :1], 3, axis=2)
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[:12, 10:30] = True
    damaged = image.copy()
    damaged[hole] = 255.0
    np.testing.assert_allclose(membrane_fill(damaged, hole)[hole], image[hole], atol=1e-3)


def test_the_fill_carries_a_gradient_where_diffusion_inpainting_leaves_plateaus():
    # Dark above (a brow), light below (a lower lid): the membrane runs smoothly from one to the other,
    # monotone down every column; TELEA's fill floods the middle from the nearest edge.
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[: HEIGHT // 2] = 60
    image[HEIGHT // 2 :] = 200
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[8:32, 5:45] = True
    filled = membrane_fill(image, hole)[8:32, 25, 0]
    assert np.all(np.diff(filled) > 0.5), filled  # strictly rising across the whole hole
    telea = cv2.inpaint(image, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)[8:32, 25, 0].astype(np.float32)
    assert np.sum(np.diff(telea) > 0.5) < len(telea) // 2  # the baseline it replaces: mostly flat


def test_a_hole_with_no_surroundings_becomes_its_own_mean():
    image = np.random.default_rng(0).uniform(0, 255, (6, 7, 3)).astype(np.float32)
    filled = membrane_fill(image, np.ones((6, 7), bool))
    np.testing.assert_allclose(filled, np.broadcast_to(image.mean(axis=(0, 1)), image.shape), atol=1e-2)


def test_an_empty_hole_returns_the_image_as_float():
    image = np.full((4, 4, 3), 7, np.uint8)
    filled = membrane_fill(image, np.zeros((4, 4), bool))
    assert filled.dtype == np.float32
    np.testing.assert_array_equal(filled, 7.0)
