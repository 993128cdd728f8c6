"""Triangles rasterised into a map of triangle ids, in painter's order.

A pixel belongs to a triangle when its centre lies inside it or within ``REACH`` pixels of its
edges (clipped to the triangle's bounding box grown by as much): neighbouring triangles then
overlap by a thin band instead of leaving gaps between them, and a sliver still covers the pixels
it passes through. Where triangles overlap, the one drawn last wins.

The scan runs in a numba kernel (numba comes with librosa): drawing ~1,000 triangles one
``cv2.fillConvexPoly`` call at a time cost about 2.5 ms per frame in Python overhead alone; the
kernel takes a tenth of that. It is compiled on first use and cached on disk (in the package's
``__pycache__``, else numba's user cache folder); where neither is writable (a read-only install
without a home folder) it is compiled once per process instead.
"""

from __future__ import annotations

import numba
import numpy as np

REACH = 0.5  # pixels beyond a triangle's edges that it still covers


def _compiled(function):
    """``function`` compiled by numba, cached on disk when some cache folder is writable."""
    try:
        return numba.njit(cache=True)(function)
    except RuntimeError:  # numba found no writable cache location
        return numba.njit(function)


@_compiled
def _scan(polygons: np.ndarray, order: np.ndarray, ids: np.ndarray, reach: float) -> None:
    height, width = ids.shape
    for index in order:
        p = polygons[index]
        area = (p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[1, 1] - p[0, 1]) * (p[2, 0] - p[0, 0])
        orientation = -1.0 if area < 0.0 else 1.0
        # Inward edge normals a x + b y + c >= 0, scaled so that the value is a distance in pixels.
        a = np.empty(3)
        b = np.empty(3)
        c = np.empty(3)
        for k in range(3):
            x0, y0 = p[k, 0], p[k, 1]
            x1, y1 = p[(k + 1) % 3, 0], p[(k + 1) % 3, 1]
            length = max(np.hypot(x1 - x0, y1 - y0), 1e-12) * orientation
            a[k], b[k] = -(y1 - y0) / length, (x1 - x0) / length
            c[k] = -(a[k] * x0 + b[k] * y0) + reach
        left = max(np.ceil(min(p[0, 0], p[1, 0], p[2, 0]) - reach), 0.0)
        right = min(np.floor(max(p[0, 0], p[1, 0], p[2, 0]) + reach), width - 1.0)
        top = int(max(np.ceil(min(p[0, 1], p[1, 1], p[2, 1]) - reach), 0.0))
        bottom = int(min(np.floor(max(p[0, 1], p[1, 1], p[2, 1]) + reach), height - 1.0))
        for y in range(top, bottom + 1):
            lo, hi, empty = left, right, False
            for k in range(3):
                rest = b[k] * y + c[k]
                if a[k] > 1e-12:
                    lo = max(lo, np.ceil(-rest / a[k]))
                elif a[k] < -1e-12:
                    hi = min(hi, np.floor(-rest / a[k]))
                elif rest < 0.0:
                    empty = True
            if not empty:
                for x in range(int(lo), int(hi) + 1):
                    ids[y, x] = index


def rasterise(polygons: np.ndarray, order: np.ndarray, size: tuple[int, int], reach: float = REACH) -> np.ndarray:
    """Map [h, w] of the index (into ``polygons`` [K, 3, 2], pixel coordinates) of the last triangle of
    ``order`` covering each pixel, -1 where none does; ``size`` is (w, h)."""
    ids = np.full((size[1], size[0]), -1, np.int32)
    _scan(np.ascontiguousarray(polygons, np.float64), np.ascontiguousarray(order, np.int64), ids, float(reach))
    return ids


@_compiled
def _backward(ids: np.ndarray, target: np.ndarray, source: np.ndarray, grid_x: np.ndarray, grid_y: np.ndarray,
              field: np.ndarray) -> None:
    height, width = ids.shape
    for y in range(height):
        for x in range(width):
            k = ids[y, x]
            if k < 0:
                continue
            t, s = target[k], source[k]
            ax, ay = t[1, 0] - t[0, 0], t[1, 1] - t[0, 1]
            bx, by = t[2, 0] - t[0, 0], t[2, 1] - t[0, 1]
            det = ax * by - ay * bx
            if abs(det) > 1e-12:
                px, py = x - t[0, 0], y - t[0, 1]
                w1, w2 = (px * by - py * bx) / det, (ax * py - ay * px) / det
            else:  # a collapsed triangle: its source centroid, wherever the pixel
                w1 = w2 = 1.0 / 3.0
            w0 = 1.0 - w1 - w2
            for axis, grid in ((0, grid_x[x]), (1, grid_y[y])):
                value = w0 * s[0, axis] + w1 * s[1, axis] + w2 * s[2, axis]
                # A pixel near a sliver's edge must not extrapolate beyond its source triangle.
                low = min(s[0, axis], s[1, axis], s[2, axis]) - 1.0
                high = max(s[0, axis], s[1, axis], s[2, axis]) + 1.0
                field[y, x, axis] = min(max(value, low), high) - grid


def backward_field(target: np.ndarray, source: np.ndarray, order: np.ndarray, grid_x: np.ndarray,
                   grid_y: np.ndarray) -> np.ndarray:
    """Piecewise-affine backward displacement [h, w, 2] on a grid of pixel centres.

    ``target`` [K, 3, 2] are the triangles where they are drawn, in grid pixels (rasterised in
    ``order``, see :func:`rasterise`); ``source`` [K, 3, 2] the same triangles in the image being
    warped, whose coordinates ``grid_x`` [w] and ``grid_y`` [h] give for each grid pixel. Each covered
    pixel gets its triangle's source position (by barycentric coordinates, which an axis-aligned
    rescaling between the two frames keeps) minus its own; uncovered pixels get zero.
    """
    size = (len(grid_x), len(grid_y))
    target = np.ascontiguousarray(target, np.float64)
    ids = rasterise(target, order, size)
    field = np.zeros((size[1], size[0], 2), np.float32)
    _backward(ids, target, np.ascontiguousarray(source, np.float64), np.asarray(grid_x, np.float64),
              np.asarray(grid_y, np.float64), field)
    return field
