"""The driver's torso sway: measured on the driving frames (``body`` channel), carried onto the source's torso."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thead.backends.base import DriveOptions
from thead.backends.warp.torso import TorsoTracker
from thead.errors import BadInputError
from thead.motion.spaces import get_space
from thead.motion.track import MotionTrack

SHIFT = np.array([4.0, 2.5])  # pixels


def _swayed(image: np.ndarray, below: int, shift: np.ndarray) -> np.ndarray:
    """``image`` whose rows from ``below`` down are moved by ``shift`` (x, y) pixels: a torso swaying, a head still."""
    moved = cv2.warpAffine(image, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), image.shape[1::-1],
                           borderMode=cv2.BORDER_REFLECT)
    out = image.copy()
    out[below:] = moved[below:]
    return out


@pytest.fixture(scope="module")
def face_points(astronaut) -> np.ndarray:
    from thead.face import analyze_image

    return analyze_image(astronaut).points


def test_the_tracker_measures_a_torso_sway_in_inter_ocular_spans(astronaut, face_points):
    below = int(face_points[152, 1]) + 20
    tracker = TorsoTracker()
    for step in (0.0, 0.5, 1.0):
        tracker.observe(_swayed(astronaut, below, step * SHIFT), face_points)
    span = np.linalg.norm(face_points[263, :2] - face_points[33, :2])
    np.testing.assert_allclose(tracker.shifts() * span, [[0, 0], 0.5 * SHIFT, SHIFT], atol=0.25)


def test_the_tracker_reads_zero_before_any_face_and_where_no_torso_shows(astronaut, face_points):
    tracker = TorsoTracker()
    tracker.observe(astronaut, None)  # no face yet: nothing to follow
    head_only = astronaut[: int(face_points[152, 1]) - 5]  # cut above the chin: no torso in the picture
    tracker.observe(head_only, face_points)
    tracker.observe(head_only, face_points)
    np.testing.assert_array_equal(tracker.shifts(), np.zeros((3, 2)))


def test_driving_frames_give_a_body_channel_that_validates(warp_backend, astronaut, face_points):
    below = int(face_points[152, 1]) + 20
    frames = [_swayed(astronaut, below, step * SHIFT) for step in np.linspace(0.0, 1.0, 6)]
    track = warp_backend.extract_motion(frames, 25.0, smooth=0.0)
    body = track.channels["body"]
    assert body.shape == (6, 2) and body.dtype == np.float32
    span = float(track.channels["scale"][0])
    np.testing.assert_allclose(body[-1] * span, SHIFT, atol=0.3)
    get_space("landmarks").validate(track)


def test_body_is_optional_in_landmark_tracks_but_checked_when_present(warp_backend, warp_source):
    frame = warp_backend.source_motion(warp_source)
    channels = {name: np.asarray(value, np.float32)[None] for name, value in frame.items()}
    space = get_space("landmarks")
    space.validate(MotionTrack(25.0, "landmarks", {k: v for k, v in channels.items() if k != "body"}))  # older files
    with pytest.raises(BadInputError, match="channel 'body' has shape"):
        space.validate(MotionTrack(25.0, "landmarks", dict(channels, body=np.zeros((1, 3), np.float32))))


def test_the_source_torso_follows_the_body_shift_and_the_head_stays(warp_backend, warp_source, astronaut):
    from thead.backends.warp.backend import _anchor_targets

    motion = warp_backend.source_motion(warp_source)
    shift = np.array([0.06, 0.04])  # inter-ocular spans
    driving = dict(motion, body=(motion["body"] + shift).astype(np.float32))
    target = warp_source.retargeter.target(driving, motion, "all")
    anchors = warp_source.anchors
    assert anchors.torso.sum() >= 3  # the astronaut's shoulders
    moved = _anchor_targets(warp_source, target, shift)
    pixels = shift * float(motion["scale"]) * warp_source.box.scale
    np.testing.assert_allclose(moved[anchors.torso, :2] - anchors.points[anchors.torso, :2],
                               np.broadcast_to(pixels, (int(anchors.torso.sum()), 2)), atol=1e-4)
    np.testing.assert_allclose(moved[~anchors.torso], anchors.points[~anchors.torso], atol=1e-9)  # no head motion asked

    out = warp_backend.render(warp_source, driving, motion, DriveOptions())
    chin = int(warp_source.points[152, 1] / warp_source.box.scale + warp_source.box.y0)
    face = slice(chin - 150, chin - 60)
    assert np.abs(out[face].astype(int) - astronaut[face]).max() == 0  # the head does not move
    absolute = warp_backend.render(warp_source, driving, None, DriveOptions())  # no reference: no sway to apply
    still = warp_backend.render(warp_source, motion, None, DriveOptions())
    np.testing.assert_array_equal(absolute, still)
    grey = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) for image in (astronaut, out)]
    box = warp_source.box
    at = anchors.points[anchors.torso, :2] / box.scale + [box.x0, box.y0]  # the torso anchors, image pixels
    (x0, y0), (x1, y1) = np.floor(at.min(axis=0)).astype(int), np.ceil(at.max(axis=0)).astype(int)
    seen, _ = cv2.phaseCorrelate(grey[0][y0:y1, x0:x1], grey[1][y0:y1, x0:x1])
    assert np.linalg.norm(np.array(seen) - pixels) < 0.5 * np.linalg.norm(pixels), (seen, pixels)


def test_a_driver_leaving_its_place_moves_the_torso_only_a_little_and_never_past_the_crop():
    from thead.backends.warp.backend import TORSO_FREE, TORSO_MAX, TORSO_ROOM, _torso_moves

    span, size = 100.0, (400, 300)
    points = np.array([[200.0, 150.0], [200.0, 290.0], [5.0, 150.0]])  # middle, near the bottom, near the left
    sway = np.array([0.05, 0.03])
    np.testing.assert_allclose(_torso_moves(points[:1], sway, span, size), [sway * span])  # a sway: exactly
    standing_up = np.array([-0.3, 1.5])  # the whole driver moved by one and a half eye spans (down on screen here)
    moves = _torso_moves(points, standing_up, span, size)
    assert np.linalg.norm(moves[0]) <= TORSO_MAX * span + 1e-9 and np.linalg.norm(moves[0]) > TORSO_FREE * span
    np.testing.assert_allclose(moves[0] / np.linalg.norm(moves[0]), standing_up / np.linalg.norm(standing_up))
    assert moves[1, 1] <= TORSO_ROOM * (size[1] - 1 - points[1, 1]) + 1e-9  # 9 px from the bottom edge: moves <= 4.5
    assert abs(moves[2, 0]) <= TORSO_ROOM * points[2, 0] + 1e-9


def test_a_whole_driver_moving_moves_the_head_with_its_torso_not_away_from_it(warp_backend, warp_source):
    from thead.backends.warp.backend import TORSO_FREE, TORSO_MAX, _without_drift

    motion = warp_backend.source_motion(warp_source)
    span = float(motion["scale"])
    sway = np.array([0.03, 0.05])  # the head and the torso sway together: followed as they are
    swayed = dict(motion, body=(motion["body"] + sway).astype(np.float32),
                  translation=(motion["translation"] + [*(sway * span), 0]).astype(np.float32))
    assert _without_drift(swayed, motion, sway) is swayed
    rise = np.array([0.0, -1.0])  # the whole driver moves up by an eye span (standing up, the camera tilting)
    risen = dict(motion, body=(motion["body"] + rise).astype(np.float32),
                 translation=(motion["translation"] + [*(rise * span), 0]).astype(np.float32))
    still = warp_source.retargeter.target(motion, motion, "all").points[:468, :2]

    def head_move(driving) -> float:
        return float(np.linalg.norm((warp_source.retargeter.target(driving, motion, "all").points[:468, :2] - still)
                                    .mean(axis=0)))

    assert head_move(risen) > 0.8 * span  # the landmarks alone would carry the head up and away from the shoulders
    assert TORSO_FREE * span < head_move(_without_drift(risen, motion, rise)) <= TORSO_MAX * span + 1e-3  # with them
    nodding = dict(risen, translation=(risen["translation"] + [0, 0.2 * span, 0]).astype(np.float32))
    head = _without_drift(nodding, motion, rise)
    np.testing.assert_allclose(head["translation"][1] - _without_drift(risen, motion, rise)["translation"][1],
                               0.2 * span, rtol=1e-5)  # the head's own move on the shoulders is kept
    still_image = warp_backend.render(warp_source, motion, motion, DriveOptions())
    risen_image = warp_backend.render(warp_source, risen, motion, DriveOptions())
    (cx, cy), r = np.round(warp_source.oval_centre).astype(int), int(0.6 * warp_source.oval_radius)
    grey = [cv2.cvtColor(image[cy - r : cy + r, cx - r : cx + r], cv2.COLOR_RGB2GRAY).astype(np.float32)
            for image in (still_image, risen_image)]
    (dx, dy), _ = cv2.phaseCorrelate(*grey)
    assert -TORSO_MAX * span - 1.0 <= dy < -0.5 * TORSO_FREE * span  # the rendered face rose with the torso only


def test_the_torso_layer_moves_clothes_by_the_sway_and_keeps_the_background_still():
    from thead.backends.warp.body import TorsoLayer

    zone = np.zeros((20, 30), np.float32)
    zone[8:] = 1.0  # below the neck
    person = np.zeros_like(zone)
    person[:, 10:20] = 1.0  # a torso ten samples wide
    layer = TorsoLayer(zone, person, np.array([2.0, 2.0], np.float32), span=50.0)  # two crop pixels per sample
    face = np.random.default_rng(0).uniform([15.0, -60.0, 0.0], [45.0, -40.0, 1.0], (478, 3))  # above the picture
    face[152] = [30.0, -40.0, 0.0]  # its chin
    down = np.array([0.0, 1.0, 0.0])
    mesh = np.full((20, 30, 2), 1.5, np.float32)  # the mesh drags everything by 1.5 px
    move = np.array([1.6, 0.0])  # a sway: 0.8 samples to the right
    out = layer.apply(mesh, move, face, down)
    np.testing.assert_allclose(out[:8], mesh[:8])  # above the neck the mesh decides
    np.testing.assert_allclose(out[8:, 10:20], np.broadcast_to(-move, (12, 10, 2)), atol=1e-6)  # clothes sway
    np.testing.assert_allclose(out[8:, 20], np.broadcast_to(-0.8 * move, (12, 2)), atol=0.03)  # covering the wall
    np.testing.assert_allclose(out[8:, :10], 0.0)  # the wall beside them stays, dragged by nothing
    np.testing.assert_allclose(out[8:, 21:], 0.0)
    rising = np.array([0.0, -12.0])  # a whole body rising by six samples: the silhouette eases into the wall
    edge = layer.apply(mesh, rising, face, down)[14, 15:27, 1] / -rising[1]  # middle to wall
    assert edge[0] > 0.8 and edge[-1] < 0.05 and np.all(np.diff(edge) <= 1e-6) and np.all(np.diff(edge) > -0.2)
    lowered = face + [0.0, 70.0, 0.0]  # a head moving down over the neck keeps the mesh's motion where it now is
    out = layer.apply(mesh, move, lowered, down)
    assert np.allclose(out[:10], mesh[:10]) and not np.allclose(out[8:10, 10:20], -move)


def test_a_swaying_torso_leaves_the_background_beside_it_untouched(warp_backend, shared):
    from thead.backends.warp.person import person_probability
    from thead.io.image import read_image

    portrait = read_image(shared / "media/portraits/lp_s12.jpg")  # a jacket against a mottled wall
    source = warp_backend.prepare_source(portrait)
    assert source.torso is not None
    motion = warp_backend.source_motion(source)
    shift = np.array([0.06, 0.04])  # inter-ocular spans
    out = warp_backend.render(source, dict(motion, body=(motion["body"] + shift).astype(np.float32)), motion,
                              DriveOptions())
    span = float(motion["scale"])
    pixels = shift * span
    box = source.box
    inside = np.zeros(portrait.shape[:2], bool)  # below the neck, in the crop less the band where the layer fades
    inside[int(source.points[152, 1] + box.y0 + 0.3 * span) : box.y1 - int(span), box.x0 : box.x1 - int(span)] = True
    probability = person_probability(portrait)
    wall = inside & (cv2.dilate((probability > 0.01).astype(np.uint8), np.ones((15, 15), np.uint8)) == 0)
    assert wall.sum() > 1000
    np.testing.assert_array_equal(out[wall], portrait[wall])  # the mesh used to drag it along with the shoulders
    clothes = inside & (cv2.erode((probability > 0.9).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0)
    assert clothes.sum() > 1000
    swayed = cv2.warpAffine(portrait, np.float32([[1, 0, pixels[0]], [0, 1, pixels[1]]]), portrait.shape[1::-1],
                            borderMode=cv2.BORDER_REPLICATE)
    error = [np.abs(out[clothes].astype(float) - image[clothes]).mean() for image in (swayed, portrait)]
    assert error[0] < 0.5 * error[1], error  # the clothes sit where the sway put them, not where they were
