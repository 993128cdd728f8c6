"""Head pose driving on the ``warp`` backend: a driver that shifts, rolls and scales its face moves the source's
face and hair the same way (relative mode); the background far from the head stays, and hair follows out-of-plane
turns only partly (a turn slides the face across the skull)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from thead.backends.base import DriveOptions
from thead.backends.warp import WarpBackend
from thead.backends.warp.mesh import TURN_FADE_FLOOR, Anchors
from thead.face import analyze_image, geometry
from thead.motion.extract import face_motion

ROLL = 8.0  # degrees, clockwise on screen
SCALE = 1.06
SHIFT = (26.0, 12.0)  # pixels: about 0.45 inter-ocular spans, beyond the shift the renderer used to damp


def _affine(points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The driver's transform: roll and scale about ``centre``, then shift (cv2 convention, [2, 3])."""
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), -ROLL, SCALE)
    matrix[:, 2] += SHIFT
    return matrix


@pytest.fixture(scope="module")
def driven(astronaut):
    """(source points, driver points, output points, transform, source image, output image)."""
    source_points = analyze_image(astronaut).points
    centre = source_points[:, :2].mean(axis=0)
    matrix = _affine(source_points, centre)
    driver = cv2.warpAffine(astronaut, matrix, astronaut.shape[1::-1], borderMode=cv2.BORDER_REFLECT_101)
    driver_points = analyze_image(driver).points
    backend = WarpBackend(torch.device("cpu"))
    source = backend.prepare_source(astronaut)
    output = backend.render(source, face_motion(driver_points), backend.source_motion(source), DriveOptions())
    return source_points, driver_points, analyze_image(output).points, matrix, astronaut, output


def test_face_follows_the_drivers_shift_roll_and_scale(driven):
    source_points, driver_points, out_points, _, _, _ = driven
    iod = geometry.estimate_head_pose(source_points).scale
    error = np.linalg.norm(out_points[:, :2] - driver_points[:, :2], axis=1).mean() / iod
    still = np.linalg.norm(source_points[:, :2] - driver_points[:, :2], axis=1).mean() / iod
    assert still > 0.4, "the fixture must move the face"
    assert error < 0.06
    out, drv = geometry.estimate_head_pose(out_points), geometry.estimate_head_pose(driver_points)
    assert abs(out.roll - drv.roll) < 1.5
    assert out.scale / drv.scale == pytest.approx(1.0, abs=0.03)


def _patch_shift(before: np.ndarray, after: np.ndarray, at: np.ndarray, half: int = 12, reach: int = 40) -> np.ndarray:
    """Where the patch of ``before`` around ``at`` went in ``after`` (best normalised match), as a shift."""
    x, y = np.round(at).astype(int)
    patch = cv2.cvtColor(before[y - half : y + half, x - half : x + half], cv2.COLOR_RGB2GRAY)
    window = cv2.cvtColor(after[y - half - reach : y + half + reach, x - half - reach : x + half + reach],
                          cv2.COLOR_RGB2GRAY)
    score = cv2.matchTemplate(window, patch, cv2.TM_CCOEFF_NORMED)
    _, _, _, best = cv2.minMaxLoc(score)
    return np.array(best, np.float64) - reach


def test_hair_moves_with_the_head_and_the_far_background_stays(driven):
    source_points, _, _, matrix, image, output = driven
    top, chin = source_points[10, :2], source_points[152, :2]
    hair = top + 0.12 * (top - chin)  # above the forehead, below the top of the head
    expected = matrix[:, :2] @ hair + matrix[:, 2] - hair
    moved = _patch_shift(image, output, hair)
    share = float(moved @ expected) / float(expected @ expected)
    assert share > 0.3, f"hair moved {moved}, the driver's head {expected}"
    corner = (slice(0, 40), slice(0, 40))  # far from the face: outside the working crop, untouched
    assert np.array_equal(output[corner], image[corner])



@pytest.mark.parametrize(("yaw", "pitch", "roll", "share"), [
    (0.0, 0.0, 0.0, 1.0), (0.0, 0.0, 25.0, 1.0), (5.0, 0.0, 10.0, 0.5), (0.0, -5.0, 0.0, 0.5),
    (20.0, 0.0, 0.0, TURN_FADE_FLOOR),
])
def test_hair_follows_roll_fully_and_fades_with_out_of_plane_turns(yaw, pitch, roll, share):
    change = geometry.angles_to_rotation(yaw, pitch, roll)
    assert Anchors.turn_share(change) == pytest.approx(share, abs=0.02)
