"""The warp renderer's tone helpers: BT.601 luminance and the darkest share's colour."""

from __future__ import annotations

import numpy as np

from thead.backends.warp.tone import darkest_tone, luminance


def test_luminance_is_bt601():
    pixels = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], np.float32)
    np.testing.assert_allclose(luminance(pixels), [76.245, 149.685, 29.07, 0.299 * 10 + 0.587 * 20 + 0.114 * 30],
                               rtol=1e-6)


def test_darkest_tone_is_the_median_colour_of_the_darkest_share():
    rng = np.random.default_rng(0)
    skin = rng.normal((200, 150, 130), 5, (80, 3))
    lashes = rng.normal((40, 30, 25), 3, (20, 3))  # a fifth of the pixels, much darker
    pixels = rng.permutation(np.concatenate([skin, lashes])).astype(np.float32)
    np.testing.assert_allclose(darkest_tone(pixels, 20), np.median(lashes, axis=0), atol=1e-4)
    assert np.all(darkest_tone(pixels, 50) > darkest_tone(pixels, 20))  # a larger share takes in skin
