"""Membrane fill: image holes replaced by the smoothest surface that meets the pixels around them.

Inside the hole every pixel is the mean of its four neighbours (Laplace's equation), with the
pixels around the hole as the boundary and no flow across the image border. The fill meets its
surroundings without a seam and carries their gradients across the hole (a lid that is darker under
the brow than at the lashes stays so), where diffusion inpainting (``cv2.INPAINT_TELEA``) spreads
the nearest boundary tone into flat plateaus. The sparse system is factorised once for all channels.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation, label
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import splu

NEIGHBOURS = ((0, 1), (0, -1), (1, 0), (-1, 0))
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)


def membrane_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``image`` [H, W, C] as float32 with the pixels where ``hole`` is true replaced by the membrane.

    A part of the hole that touches no pixel outside it (a hole covering the whole image) becomes its own mean.
    """
    out = image.astype(np.float32)
    hole = np.asarray(hole, bool).copy()
    parts, count = label(hole, structure=CROSS)
    touching = np.unique(parts[binary_dilation(~hole, structure=CROSS) & hole])
    for part in set(range(1, count + 1)) - set(touching.tolist()):
        inside = parts == part
        out[inside] = out[inside].mean(axis=0)
        hole[inside] = False
    ys, xs = np.nonzero(hole)
    if len(ys) == 0:
        return out
    height, width = hole.shape
    index = np.full(hole.shape, -1, np.int64)
    index[ys, xs] = np.arange(len(ys))
    degree = np.zeros(len(ys))
    rhs = np.zeros((len(ys), out.shape[2]), np.float64)
    rows, cols = [], []
    for dy, dx in NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        degree += inside
        unknown = np.zeros_like(inside)
        unknown[inside] = hole[ny[inside], nx[inside]]
        rows.append(np.flatnonzero(unknown))
        cols.append(index[ny[unknown], nx[unknown]])
        known = inside & ~unknown
        rhs[known] += out[ny[known], nx[known]]
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    diagonal = np.arange(len(ys))
    matrix = coo_matrix((np.concatenate([degree, -np.ones(len(rows))]),
                         (np.concatenate([diagonal, rows]), np.concatenate([diagonal, cols]))),
                        shape=(len(ys), len(ys))).tocsc()
    out[ys, xs] = splu(matrix).solve(rhs).astype(np.float32)
    return out
