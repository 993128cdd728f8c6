"""Delivered head pose of ``thead edit`` on the warp backend, measured independently of the renderer.

The output's 468 MediaPipe mesh points are aligned to the source's by a rigid 3D fit (Kabsch,
with a uniform scale); the fitted rotation, composed with the source's head rotation, gives the
delivered yaw, pitch and roll, which are compared with what was asked.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thead.backends.base import DriveOptions
from thead.backends.warp import WarpBackend
from thead.face import analyze_image, geometry
from thead.motion.frame_edit import FrameEdit

MESH = 468


def rigid_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation R of the least-squares fit target ≈ s R source + t (Kabsch / Umeyama), 3x3."""
    a = source - source.mean(axis=0)
    b = target - target.mean(axis=0)
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def delivered_angles(source_points: np.ndarray, output_points: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) change in degrees from the source mesh to the output mesh, by a rigid fit."""
    src = np.asarray(source_points, np.float64)[:MESH]
    out = np.asarray(output_points, np.float64)[:MESH]
    turn = rigid_fit(src, out)
    before = geometry.head_rotation(src)
    return np.subtract(geometry.rotation_to_angles(turn @ before), geometry.rotation_to_angles(before))


def test_rigid_fit_recovers_a_known_rotation(astronaut):
    points = analyze_image(astronaut).points[:MESH].astype(np.float64)
    centre = points.mean(axis=0)
    for angles in ((12.0, 0.0, 0.0), (0.0, -9.0, 0.0), (0.0, 0.0, 15.0), (18.0, 7.0, -5.0)):
        before = geometry.head_rotation(points)
        turn = geometry.angles_to_rotation(*np.add(geometry.rotation_to_angles(before), angles)) @ before.T
        moved = 1.3 * (points - centre) @ turn.T + centre + [5.0, -3.0, 2.0]
        assert np.allclose(delivered_angles(points, moved), angles, atol=1e-6)


@pytest.fixture(scope="module")
def frontal(shared):
    """A frontal shared portrait, prepared for the warp backend, with its mesh and motion."""
    from thead.io.image import read_image

    path = shared / "media/portraits/lp_s1.jpg"
    if not path.is_file():
        pytest.skip("lp_s1.jpg missing from ../shared/media/portraits")
    image = read_image(path)
    engine = WarpBackend(torch.device("cpu"))
    source = engine.prepare_source(image)
    return engine, source, engine.source_motion(source), analyze_image(image).points


@pytest.mark.media
@pytest.mark.parametrize("axis, degrees", [("yaw", 10), ("yaw", -10), ("yaw", 20), ("yaw", -20), ("pitch", 10),
                                           ("pitch", -10), ("roll", 15), ("roll", -15)])
def test_delivered_pose_matches_the_request(frontal, axis, degrees):
    engine, source, motion, before = frontal
    out = engine.render(source, engine.apply_edit(motion, FrameEdit(**{axis: degrees})), motion, DriveOptions())
    delivered = dict(zip(("yaw", "pitch", "roll"), delivered_angles(before, analyze_image(out).points)))
    assert delivered[axis] == pytest.approx(degrees, abs=3.0)
    assert all(abs(value) < 3.0 for name, value in delivered.items() if name != axis)  # no other turn
