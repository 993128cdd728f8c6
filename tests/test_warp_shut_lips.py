"""Shut lips over an open source mouth: no teeth line between lips that close over the source's opening."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from thead.backends.warp.interior import contour_mask, lip_contour
from thead.backends.warp.lips import MIN_GAP, ShutLips

LIP = (190, 90, 100)
TEETH = (245, 245, 240)


def open_mouth(gap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 120x160 crop of skin with pink lips around a lens-shaped opening full of teeth; (crop, upper, lower, inside)."""
    crop = np.full((120, 160, 3), (200, 160, 140), np.uint8)
    t = np.linspace(-1.0, 1.0, 11)
    x = 80 + 40 * t
    bulge = gap / 2 * (1.0 - t**2)
    upper, lower = np.stack([x, 60 - bulge], 1), np.stack([x, 60 + bulge], 1)
    outer = contour_mask(lip_contour(upper - (0, 8), lower + (0, 10)), (0, 0, 160, 120), 0) > 0.5
    crop[outer] = LIP
    inside = contour_mask(lip_contour(upper, lower), (0, 0, 160, 120), 0) > 0.5
    crop[inside] = TEETH
    # Landmarks sit inside the visible opening: the teeth reach a pixel and a half past them.
    grown = contour_mask(lip_contour(upper - (0, 1.5), lower + (0, 1.5)), (0, 0, 160, 120), 0) > 0.5
    crop[grown] = TEETH
    return crop, upper, lower, grown


def test_a_shut_mouth_samples_lip_where_the_source_showed_teeth() -> None:
    crop, upper, lower, opening = open_mouth(gap=16.0)
    before = crop.copy()
    lips = ShutLips(crop, upper, lower, gap=16.0)
    shut = lips.texture(crop, gap=0.0)
    assert np.array_equal(crop, before)  # the texture passed in is never modified
    teeth_left = np.all(shut[opening] > 230, axis=1).mean()
    assert teeth_left == 0.0
    # What replaces the teeth is lip: red over green and blue, no brighter than the lips.
    red, green, blue = shut[opening].astype(float).mean(axis=0)
    assert red > green + 40 and red > blue + 40 and red <= LIP[0] + 5
    outside = np.ones(crop.shape[:2], bool)
    x0, y0, x1, y1 = lips.box
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(shut[outside], crop[outside])


def test_the_opening_turns_into_lip_only_as_the_mouth_closes() -> None:
    crop, upper, lower, opening = open_mouth(gap=16.0)
    lips = ShutLips(crop, upper, lower, gap=16.0)
    assert lips.texture(crop, gap=16.0) is crop  # as open as the source: its own teeth
    assert lips.texture(crop, gap=12.0) is crop  # a quarter closed: still its own teeth
    brightness = [lips.texture(crop, gap=g)[opening].mean() for g in (6.0, 4.0, 2.0, 0.0, -3.0)]
    assert all(a >= b for a, b in itertools.pairwise(brightness))
    assert brightness[0] > brightness[-1] + 20


@pytest.mark.parametrize("gap", [0.0, MIN_GAP / 2])
def test_a_source_with_shut_lips_is_left_alone(gap: float) -> None:
    crop, upper, lower, _ = open_mouth(gap=max(gap, 0.1))
    lips = ShutLips(crop, upper, lower, gap=gap)
    assert lips.texture(crop, gap=-2.0) is crop


def test_closing_a_real_open_mouth_shows_no_teeth_between_the_lips(shared) -> None:
    """HDTF frame 0 shows its teeth; closing its mouth must leave no white teeth line at the seam (before the
    shut-lips texture, 180 teeth-white pixels showed there, edged in black)."""
    import torch

    from thead.backends.base import DriveOptions
    from thead.backends.warp import WarpBackend
    from thead.backends.warp.mesh import face_topology
    from thead.backends.warp.retarget import SHUT_MOUTH
    from thead.io.video import read_frames

    frame = next(iter(read_frames(shared / "media/talking/hdtf_aoc.mp4")))
    backend = WarpBackend(torch.device("cpu"))
    source = backend.prepare_source(frame)
    motion = backend.source_motion(source)
    assert source.lips.usable  # the source mouth is open
    upper, lower = face_topology().mouth
    for opening in (0.0, SHUT_MOUTH):  # asked shut, and at the openness below which a mouth shuts
        closing = dict(motion, mouth_open=np.float32(opening))
        crop = source.box.cut(backend.render(source, closing, motion, DriveOptions(paste_back=True)))
        points = source.box.to_crop(source.retargeter.target(closing, motion, "all").points)
        assert source.mouth.gap(points) <= 0.0  # the lips meet
        left, right = int(points[upper, 0].min()) + 8, int(points[upper, 0].max()) - 8
        middle = int(points[np.r_[upper, lower], 1].mean())
        mouth = crop[middle - 15 : middle + 15, left:right].astype(float)
        teeth = (mouth.min(axis=2) > 170) & (mouth.max(axis=2) - mouth.min(axis=2) < 50)
        assert teeth.sum() < 10, opening


def test_the_lips_meet_in_a_gradient_from_the_upper_lips_tone_to_the_lower_lips() -> None:
    """The opening is filled by a membrane, not diffusion inpainting: down the middle the tone runs evenly from the
    darker upper lip to the lower one (TELEA held the upper tone for half the opening, then jumped by 10 levels)."""
    crop, upper, lower, opening = open_mouth(gap=16.0)
    top = np.zeros(crop.shape[:2], bool)
    top[:60] = True
    crop[top & np.all(crop == LIP, axis=2)] = (150, 60, 70)
    shut = ShutLips(crop, upper, lower, gap=16.0).texture(crop, gap=0.0)
    red = shut[opening[:, 80], 80, 0].astype(int)[2:-3]  # the opening's rows, but for its blended rims
    assert red[0] < red[len(red) // 2] < red[-1]
    assert np.abs(np.diff(red)).max() <= 4
