"""``--crop-only`` where the 512x512 face crop reaches past the frame: mirrored, marked padding, no edge stripes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thead.backends.base import DriveOptions
from thead.backends.warp import WarpBackend
from thead.backends.warp.paste import CROP_ONLY_REACH, CROP_ONLY_SIDE, face_crop


def stripe_share(band: np.ndarray, axis: int) -> float:
    """Share of lines across ``band`` that are constant along ``axis`` (edge pixels stretched into stripes)."""
    spread = band.astype(np.float32).std(axis=axis).max(axis=-1)
    return float(np.mean(spread < 1.0))


@pytest.fixture(scope="module")
def near_bottom(astronaut):
    """The astronaut cut just below the chin and left of the face: the crop leaves the frame at the bottom."""
    return np.ascontiguousarray(astronaut[:195, 130:])


def test_crop_only_pads_beyond_the_frame_without_stripes(near_bottom):
    backend = WarpBackend(torch.device("cpu"))
    source = backend.prepare_source(near_bottom)
    motion = backend.source_motion(source)
    out = backend.render(source, motion, motion, DriveOptions(paste_back=False))
    assert out.shape == (CROP_ONLY_SIDE, CROP_ONLY_SIDE, 3)
    scale = CROP_ONLY_SIDE / (2 * CROP_ONLY_REACH * source.oval_radius)
    edge = int(np.ceil(CROP_ONLY_SIDE / 2 + scale * (near_bottom.shape[0] - source.oval_centre[1])))
    assert edge < CROP_ONLY_SIDE - 40, "the fixture must reach past the frame"
    padding = out[edge + 2 :]
    # Replicated edge pixels make every column of the padding constant; a mirror does not.
    assert stripe_share(padding, axis=0) < 0.05
    # The padding is marked: dimmer than the frame it mirrors.
    mirrored = out[2 * edge - CROP_ONLY_SIDE : edge]
    assert padding.mean() < 0.95 * mirrored.mean()


def test_face_crop_stripes_appear_with_edge_replication_only(astronaut):
    """The stripe measure itself: a crop reaching past the left edge, mirrored vs replicated."""
    import cv2

    centre, radius = np.array([60.0, 256.0]), 100.0
    crop = face_crop(astronaut, centre, radius)
    scale = CROP_ONLY_SIDE / (2 * CROP_ONLY_REACH * radius)
    edge = int(CROP_ONLY_SIDE / 2 - scale * (centre[0] + 0.5))  # first crop column inside the frame
    affine = np.array([[scale, 0, CROP_ONLY_SIDE / 2 - scale * centre[0]], [0, scale, CROP_ONLY_SIDE / 2 - scale * centre[1]]])
    replicated = cv2.warpAffine(astronaut, affine, (CROP_ONLY_SIDE, CROP_ONLY_SIDE), borderMode=cv2.BORDER_REPLICATE)
    assert stripe_share(replicated[:, : edge - 2], axis=1) > 0.95
    assert stripe_share(crop[:, : edge - 2], axis=1) < 0.05
    assert np.array_equal(crop[:, edge + 2 :], replicated[:, edge + 2 :])  # the frame itself untouched
