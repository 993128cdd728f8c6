"""Blinks on the warp backend: a driver's (under-tracked) blink shuts both eyes fully; winks stay winks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thead.backends.base import DriveOptions
from thead.backends.warp import WarpBackend
from thead.backends.warp.eyes import blink_closure
from thead.face import analyze_image, geometry

SHUT = 0.35  # measured openness of a shut eye, relative to the source's (MediaPipe never reads 0)


@pytest.fixture(scope="module")
def rendered(astronaut):
    """Render the astronaut with its eye-openness channel (left, right of the subject) scaled per eye."""
    backend = WarpBackend(torch.device("cpu"))
    source = backend.prepare_source(astronaut)
    motion = backend.source_motion(source)
    before = np.array(geometry.eye_openness(analyze_image(astronaut).points))

    def render(left: float, right: float) -> np.ndarray:
        frame = {name: np.copy(value) for name, value in motion.items()}
        frame["eye_open"] = (frame["eye_open"] * np.array([left, right])).astype(np.float32)
        out = backend.render(source, frame, motion, DriveOptions())
        return np.array(geometry.eye_openness(analyze_image(out).points)) / before

    return render


def test_a_tracked_blink_shuts_both_eyes(rendered):
    # Landmarks of a real blink, smoothed over time, read about a third of the open eye.
    assert (rendered(0.35, 0.35) < SHUT).all()


def test_a_lopsided_blink_shuts_both_eyes(rendered):
    assert (rendered(0.25, 0.5) < SHUT).all()


def test_a_wink_stays_a_wink_and_a_squint_stays_open(rendered):
    left, right = rendered(0.1, 1.0)
    assert left < SHUT and right > 0.85
    assert (rendered(0.85, 0.85) > 0.7).all()


def test_blink_closure_eases_towards_shut():
    assert np.allclose(blink_closure(np.array([0.0, 0.0])), 0.0)
    assert np.allclose(blink_closure(np.array([-0.2, 0.1])), [-0.2, 0.1])  # wider and slight closures unchanged
    assert np.allclose(blink_closure(np.array([0.8, 0.8])), 1.0)
    assert np.allclose(blink_closure(np.array([0.55, 0.9])), 1.0)  # both closing: the lagging eye catches up
    wink = blink_closure(np.array([0.9, 0.0]))
    assert wink[0] == 1.0 and wink[1] == 0.0
    series = [blink_closure(np.array([c, c]))[0] for c in np.linspace(-0.3, 1.0, 53)]
    assert np.all(np.diff(series) >= 0)  # monotonic: a closing driver never opens the output


@pytest.mark.parametrize("side", [0, 1])
def test_a_shut_lid_keeps_the_skins_own_texture_and_loses_its_shadows(warp_source, side):
    """The unfolded upper lid is the source's own lid skin where it is as light as the smooth fill (a flat fill read
    as a painted patch), and the fill where the source is in shadow (the crease, which would draw a second line)."""
    import cv2

    from thead.backends.warp.eyes import SHADOW_RANGE
    from thead.backends.warp.tone import luminance

    eye = warp_source.eyes.eyes[side]
    _, _, unfold_mask, unfolded = eye.shut
    band = unfold_mask[..., 0] > 0.99
    assert band.sum() > 30
    lit = band & (luminance(eye.patch) >= np.median(luminance(eye.patch)[band]))  # the lighter half: skin, not crease

    def detail(image: np.ndarray) -> float:
        light = luminance(image)
        return float(np.std((light - cv2.GaussianBlur(light, (0, 0), 1.0))[lit]))

    assert detail(unfolded) > 0.6 * detail(eye.patch)  # its grain kept (the flat fill kept a fifth)
    dark = luminance(eye.patch)[band]
    lifted = luminance(unfolded)[band]
    shadows = dark < np.percentile(dark, 10)
    assert (lifted[shadows] > dark[shadows] + 0.5 * SHADOW_RANGE).mean() > 0.5  # the darkest tenth is lifted
