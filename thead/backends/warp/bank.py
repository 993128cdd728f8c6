"""The shipped bank of real mouth interiors, one per mouth opening, for renders without a driving picture.

``data/mouth_bank.npz`` holds small crops of GRID corpus speakers (CC BY 4.0, see ``data/NOTICE``),
each turned so that its mouth corners sit level at fixed places, with its inner-lip chains and
its opening (inner-lip gap over mouth width). ``benchmarks/build_mouth_bank.py`` rebuilds it.
A render blends the two entries whose openings bracket its own, weighted by distance, so the
interior changes continuously with the opening and never flickers between entries.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

from thead.backends.warp.interior import MouthPicture, lip_contour, ring_lab

BANK_FILE = "mouth_bank.npz"


@dataclass(frozen=True)
class MouthBank:
    """Mouth pictures sorted by opening."""

    pictures: tuple[MouthPicture, ...]
    openness: np.ndarray  # [K], increasing

    def choose(self, openness: float) -> list[tuple[MouthPicture, float]]:
        """The (one or two) entries to blend for a mouth this open, with weights summing to 1."""
        k = int(np.searchsorted(self.openness, openness))
        if k == 0:
            return [(self.pictures[0], 1.0)]
        if k == len(self.openness):
            return [(self.pictures[-1], 1.0)]
        lo, hi = float(self.openness[k - 1]), float(self.openness[k])
        share = (openness - lo) / max(hi - lo, 1e-6)
        return [(self.pictures[k - 1], 1.0 - share), (self.pictures[k], share)]


def data_file(name: str):
    """A file of the backend's package data (a :class:`importlib.resources` traversable)."""
    return resources.files("thead.backends.warp") / "data" / name


@functools.cache
def mouth_bank() -> MouthBank:
    """The shipped bank (loaded once)."""
    with data_file(BANK_FILE).open("rb") as handle, np.load(handle, allow_pickle=False) as data:
        images, upper, lower, openness = data["images"], data["upper"], data["lower"], data["openness"]
    order = np.argsort(openness)
    pictures = tuple(MouthPicture(images[i], upper[i], lower[i], ring_lab(images[i], lip_contour(upper[i], lower[i])))
                     for i in order)
    return MouthBank(pictures, openness[order].astype(np.float64))
