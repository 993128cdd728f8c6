"""The warp's triangle rasteriser: coverage, no gaps between neighbours, painter's order."""

from __future__ import annotations

import numpy as np
import pytest

from thead.backends.warp.raster import REACH, rasterise

SIZE = (40, 30)


def covered_by(triangle: np.ndarray, size: tuple[int, int], reach: float = REACH) -> np.ndarray:
    """Reference coverage on the whole pixel grid: within ``reach`` of every edge line (inside is positive),
    and within the triangle's bounding box grown by ``reach``."""
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float64)
    (x0, y0), (x1, y1), (x2, y2) = triangle
    orientation = np.sign((x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)) or 1.0
    inside = np.ones(xs.shape, bool)
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y1)), ((x1, y1), (x2, y2)), ((x2, y2), (x0, y0))):
        distance = ((bx - ax) * (ys - ay) - (by - ay) * (xs - ax)) / np.hypot(bx - ax, by - ay) * orientation
        inside &= distance >= -reach - 1e-9
    low, high = triangle.min(axis=0) - reach, triangle.max(axis=0) + reach
    return inside & (xs >= low[0]) & (xs <= high[0]) & (ys >= low[1]) & (ys <= high[1])


@pytest.mark.parametrize("seed", range(20))
def test_a_triangle_covers_what_the_reference_covers(seed: int) -> None:
    rng = np.random.default_rng(seed)
    triangle = rng.uniform([-5, -5], [SIZE[0] + 5, SIZE[1] + 5], (3, 2))
    ids = rasterise(triangle[None], np.array([0]), SIZE)
    reference = covered_by(triangle, SIZE)
    # Pixel centres exactly on the reach boundary may fall either way by rounding; nothing else may differ.
    assert np.count_nonzero((ids == 0) != reference) <= 2
    strictly_inside = covered_by(triangle, SIZE, reach=0.0)
    assert (ids[strictly_inside] == 0).all()


def test_neighbours_leave_no_gaps_and_the_last_drawn_wins() -> None:
    # A square cut along its diagonal: every pixel of the square belongs to one of the two halves.
    square = np.array([[3.3, 2.7], [31.6, 2.7], [31.6, 24.2], [3.3, 24.2]])
    halves = np.stack([square[[0, 1, 2]], square[[0, 2, 3]]])
    ids = rasterise(halves, np.array([0, 1]), SIZE)
    inside = np.zeros(SIZE[::-1], bool)
    inside[3:25, 4:32] = True
    assert (ids[inside] >= 0).all()
    assert (ids[~covered_by(square[[0, 1, 2]], SIZE) & ~covered_by(square[[0, 2, 3]], SIZE)] == -1).all()
    on_diagonal = covered_by(halves[0], SIZE) & covered_by(halves[1], SIZE)
    assert on_diagonal.any()
    assert (ids[on_diagonal] == 1).all()
    assert (rasterise(halves, np.array([1, 0]), SIZE)[on_diagonal] == 0).all()


def test_only_the_triangles_in_the_order_are_drawn() -> None:
    triangles = np.array([[[2, 2], [12, 2], [2, 12]], [[20, 5], [35, 5], [20, 20]]], np.float64)
    ids = rasterise(triangles, np.array([1]), SIZE)
    assert set(np.unique(ids)) == {-1, 1}


def test_a_collapsed_triangle_covers_the_pixels_along_its_segment() -> None:
    sliver = np.array([[[5.0, 10.0], [25.0, 10.0], [15.0, 10.0]]])
    ids = rasterise(sliver, np.array([0]), SIZE)
    assert (ids[10, 5:26] == 0).all()
    assert (ids[8] == -1).all() and (ids[12] == -1).all()


def test_the_kernels_work_where_no_cache_folder_is_writable(monkeypatch) -> None:
    """A read-only install without a home folder: numba cannot cache, the kernels still compile and run."""
    import importlib

    import numba.core.caching

    import thead.backends.warp.raster as raster

    monkeypatch.setattr(numba.core.caching.CacheImpl, "_locator_classes", [])
    try:
        uncached = importlib.reload(raster)
        triangle = np.array([[[2.0, 2.0], [12.0, 2.0], [2.0, 12.0]]])
        assert (uncached.rasterise(triangle, np.array([0]), SIZE) == 0).sum() == (covered_by(triangle[0], SIZE)).sum()
    finally:
        monkeypatch.undo()
        importlib.reload(raster)
