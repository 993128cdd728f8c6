"""Contact sheets: several images on one canvas, row by row."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

GAP = 8  # pixels of white between and around the cells


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) of the most nearly square grid that holds ``count`` cells, wider than tall."""
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def contact_sheet(images: Sequence[np.ndarray], gap: int = GAP) -> np.ndarray:
    """Equal-sized RGB uint8 images laid out in reading order on a white canvas."""
    rows, columns = grid_shape(len(images))
    height, width = images[0].shape[:2]
    sheet = np.full((rows * (height + gap) + gap, columns * (width + gap) + gap, 3), 255, np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = gap + row * (height + gap), gap + column * (width + gap)
        sheet[top:top + height, left:left + width] = image
    return sheet
