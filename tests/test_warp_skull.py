"""The driver's skull motion: measured on the driving frames' hair (``skull`` channel), carried onto the source's hair."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from thead.backends.base import DriveOptions
from thead.backends.warp.mesh import face_topology
from thead.backends.warp.skull import SkullTracker, relative_move, similarity_about, similarity_matrix
from thead.errors import BadInputError
from thead.motion.spaces import get_space
from thead.motion.track import MotionTrack

MOVE = np.array([0.05, -0.04, 1.5, np.log(1.02)])  # shift x, y (inter-ocular spans), roll (degrees), log size


@pytest.fixture(scope="module")
def face_points(astronaut) -> np.ndarray:
    from thead.face import analyze_image

    return analyze_image(astronaut).points


def _centre_and_span(points: np.ndarray) -> tuple[np.ndarray, float]:
    return points[face_topology().oval, :2].mean(axis=0), float(np.linalg.norm(points[263, :2] - points[33, :2]))


def _moved(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(image, matrix, image.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def test_a_move_and_its_matrix_convert_both_ways():
    centre = np.array([120.0, 90.0])
    matrix = similarity_matrix(MOVE, centre, 40.0)
    back = similarity_about(matrix, centre)
    np.testing.assert_allclose(back, [MOVE[0] * 40.0, MOVE[1] * 40.0, MOVE[2], MOVE[3]], atol=1e-9)
    np.testing.assert_allclose(matrix[:, :2] @ centre + matrix[:, 2], centre + MOVE[:2] * 40.0)  # the centre's shift


def test_the_move_since_a_reference_composes_onto_the_reference():
    """Applied about the head's centre at the reference, the relative move takes the reference's hair to the driving
    frame's: T(driving) = T(relative, about the moved centre) o T(reference)."""
    centre, span = np.array([200.0, 150.0]), 50.0
    reference, driving = np.array([0.1, 0.03, -2.0, 0.04]), np.array([-0.05, 0.08, 1.0, -0.02])
    relative = relative_move(driving, reference)
    moved_centre = centre + reference[:2] * span
    step = similarity_matrix(relative, moved_centre, span * np.exp(reference[3]))
    first = similarity_matrix(reference, centre, span)
    composed = step[:, :2] @ first[:, :2], step[:, :2] @ first[:, 2] + step[:, 2]
    expected = similarity_matrix(driving, centre, span)
    np.testing.assert_allclose(composed[0], expected[:, :2], atol=1e-9)
    np.testing.assert_allclose(composed[1], expected[:, 2], atol=1e-9)


def test_the_tracker_measures_a_head_move_from_the_hair(astronaut, face_points):
    centre, span = _centre_and_span(face_points)
    tracker = SkullTracker()
    for step in (0.0, 0.5, 1.0):
        tracker.observe(_moved(astronaut, similarity_matrix(step * MOVE, centre, span)), face_points)
    moves = tracker.moves()
    assert moves.shape == (3, 4) and moves.dtype == np.float32
    np.testing.assert_allclose(moves[0], 0.0, atol=1e-3)
    for measured, step in zip(moves[1:], (0.5, 1.0)):
        np.testing.assert_allclose(measured[:2] * span, step * MOVE[:2] * span, atol=0.3)  # pixels
        assert measured[2] == pytest.approx(step * MOVE[2], abs=0.15)  # degrees
        assert measured[3] == pytest.approx(step * MOVE[3], abs=0.004)


def test_without_hair_to_follow_there_is_no_skull_motion(astronaut, face_points):
    bald = astronaut.copy()
    bald[: int(face_points[[33, 263], 1].mean())] = 128  # nothing to follow above the eyes
    tracker = SkullTracker()
    for _ in range(3):
        tracker.observe(bald, face_points)
    assert tracker.moves() is None
    never = SkullTracker()
    never.observe(astronaut, None)  # no face at all
    assert never.moves() is None
    assert SkullTracker().moves() is None


def test_frames_where_the_hair_is_lost_are_filled_from_their_neighbours(astronaut, face_points):
    centre, span = _centre_and_span(face_points)
    tracker = SkullTracker()
    frames = [_moved(astronaut, similarity_matrix(step * MOVE, centre, span)) for step in np.linspace(0, 1, 6)]
    frames[3] = np.zeros_like(astronaut)  # a black frame: nothing followed
    for frame in frames:
        tracker.observe(frame, face_points)
    moves = tracker.moves()
    np.testing.assert_allclose(moves[3], (moves[2] + moves[4]) / 2, atol=1e-6)
    np.testing.assert_allclose(moves[3, 2], 0.6 * MOVE[2], atol=0.15)


def test_driving_frames_give_a_skull_channel_that_validates(warp_backend, astronaut, face_points):
    centre, span = _centre_and_span(face_points)
    frames = [_moved(astronaut, similarity_matrix(step * MOVE, centre, span)) for step in np.linspace(0.0, 1.0, 6)]
    track = warp_backend.extract_motion(frames, 25.0, smooth=0.0)
    skull = track.channels["skull"]
    assert skull.shape == (6, 4) and skull.dtype == np.float32
    assert skull[-1, 2] == pytest.approx(MOVE[2], abs=0.15) and skull[-1, 3] == pytest.approx(MOVE[3], abs=0.004)
    get_space("landmarks").validate(track)
    frame = {name: np.asarray(value, np.float32)[None] for name, value in warp_backend.source_motion(
        warp_backend.prepare_source(astronaut)).items()}
    space = get_space("landmarks")
    space.validate(MotionTrack(25.0, "landmarks", frame))  # optional: tracks without it still load
    with pytest.raises(BadInputError, match="channel 'skull' has shape"):
        space.validate(MotionTrack(25.0, "landmarks", dict(frame, skull=np.zeros((1, 3), np.float32))))


def test_hair_anchors_follow_the_skull_move_and_fixed_ones_stay(warp_backend, warp_source):
    from thead.backends.warp.backend import _anchor_targets, _skull_move

    motion = warp_backend.source_motion(warp_source)
    reference = dict(motion, skull=np.zeros(4, np.float32))
    driving = dict(motion, skull=MOVE.astype(np.float32))
    target = warp_source.retargeter.target(driving, reference, "all")  # the landmarks hold still
    skull = _skull_move(driving, reference)
    moved = _anchor_targets(warp_source, target, np.zeros(2), skull)
    anchors, box = warp_source.anchors, warp_source.box
    centre = warp_source.points[face_topology().oval, :2].mean(axis=0)  # where the tracker measures the move
    matrix = similarity_matrix(MOVE, centre, warp_source.retargeter.pose.scale * box.scale)
    carried = anchors.points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    hair = (anchors.weight == 1.0) & ~anchors.torso
    assert hair.sum() > 10
    np.testing.assert_allclose(moved[hair, :2], carried[hair], atol=1e-4)
    fixed = anchors.weight == 0.0
    np.testing.assert_array_equal(moved[fixed & ~anchors.torso], anchors.points[fixed & ~anchors.torso])
    # the move is relative: none without a reference (absolute mode), nor when a frame has no skull channel
    assert _skull_move(driving, None) is None and _skull_move(motion, reference) is None
    still = warp_backend.render(warp_source, motion, motion, DriveOptions())
    np.testing.assert_array_equal(warp_backend.render(warp_source, driving, None, DriveOptions()),
                                  warp_backend.render(warp_source, motion, None, DriveOptions()))
    assert not np.array_equal(warp_backend.render(warp_source, driving, reference, DriveOptions()), still)
    # pose-free regions keep the head and its hair where they are
    np.testing.assert_array_equal(warp_backend.render(warp_source, driving, reference, DriveOptions(region="exp")),
                                  warp_backend.render(warp_source, motion, motion, DriveOptions(region="exp")))


def test_a_speaker_holding_still_keeps_the_hair_as_still_as_the_real_one(shared, tmp_path):
    """Self-reenactment of a GRID speaker whose head barely moves: landmark jitter and the mesh's jaw-pitch coupling
    used to shake the hair, which then matched the real frames worse than the still first frame did (hair SSIM
    0.903 against 0.912); following the hair itself keeps it within the real frames' own noise."""
    import thead
    from thead.face import analyze_image
    from thead.io.image import write_image
    from thead.io.video import read_frames
    from thead.metrics.ssim import ssim_plane

    clip = shared / "media/talking/grid_pwij3p.mpg"
    truth = read_frames(clip)
    write_image(tmp_path / "first.png", truth[0])
    thead.drive_video(tmp_path / "first.png", clip, tmp_path / "out.mp4", audio="none", paste_back=True)
    output = read_frames(tmp_path / "out.mp4")
    points = analyze_image(truth[0]).points
    brows = int(points[[70, 300, 105, 334], 1].mean())
    x0, x1 = int(points[:, 0].min()) - 40, int(points[:, 0].max()) + 40
    top = max(int(points[:, 1].min()) - 80, 0)
    face = np.zeros(truth[0].shape[:2], np.uint8)
    cv2.fillConvexPoly(face, cv2.convexHull(points[:, :2].astype(np.int32)), 1)
    hair = np.zeros_like(face)
    hair[top:brows, max(x0, 0):x1] = 1
    hair &= 1 - face

    def score(frame: np.ndarray, real: np.ndarray) -> float:
        grey = [cv2.cvtColor(np.where(hair[..., None] > 0, image, 0).astype(np.uint8), cv2.COLOR_RGB2GRAY)
                for image in (frame, real)]
        return ssim_plane(grey[0][top:brows, x0:x1], grey[1][top:brows, x0:x1])

    frames = range(5, min(len(truth), len(output)), 5)
    ours = np.mean([score(output[i], truth[i]) for i in frames])
    still = np.mean([score(truth[0], truth[i]) for i in frames])
    assert ours > still + 0.005, (ours, still)


def test_a_driver_leaving_its_place_moves_the_hair_no_further_than_the_face():
    from thead.backends.warp.backend import _skull_move
    from thead.backends.warp.retarget import MAX_SHIFT, MAX_TURN_DEG, SCALE_RANGE

    reference = {"skull": np.zeros(4, np.float32)}
    walked = {"skull": np.array([3.0, -1.0, 50.0, np.log(1.6)], np.float32)}  # across the frame, tilted, leaning in
    move = _skull_move(walked, reference)
    assert np.linalg.norm(move[:2]) <= MAX_SHIFT + 1e-9
    np.testing.assert_allclose(move[:2] / np.linalg.norm(move[:2]), np.array([3.0, -1.0]) / np.hypot(3.0, 1.0))
    assert move[2] == MAX_TURN_DEG and move[3] == pytest.approx(np.log(SCALE_RANGE[1]))
    sway = {"skull": np.array([0.05, 0.02, 1.0, 0.01], np.float32)}
    np.testing.assert_allclose(_skull_move(sway, reference), sway["skull"], atol=1e-7)  # small moves exactly


def test_a_roll_edit_of_a_tracked_frame_rolls_its_hair_with_the_head():
    from thead.motion.edits import apply_edit
    from thead.motion.frame_edit import FrameEdit

    frame = {"yaw": np.float32(3.0), "pitch": np.float32(-1.0), "roll": np.float32(2.0),
             "skull": np.array([0.01, -0.02, 0.5, 0.003], np.float32)}
    rolled = apply_edit(frame, FrameEdit(roll=10.0))
    assert float(rolled["roll"]) == 12.0
    np.testing.assert_allclose(rolled["skull"], [0.01, -0.02, 10.5, 0.003], atol=1e-6)
    assert frame["skull"][2] == np.float32(0.5)  # the input frame is not modified
    turned = apply_edit(frame, FrameEdit(yaw=10.0, pitch=5.0))  # a turn slides the face across a skull that stays
    np.testing.assert_array_equal(turned["skull"], frame["skull"])


def test_frames_before_the_face_appears_do_not_count_against_the_hair(astronaut, face_points):
    """A clip that opens on a title card: the hair is measured from the first face on, and the frames before it
    hold the first face's place (the previous version counted them as failures and dropped the whole channel)."""
    centre, span = _centre_and_span(face_points)
    tracker = SkullTracker()
    for _ in range(5):
        tracker.observe(np.zeros_like(astronaut), None)
    for step in (0.0, 0.5, 1.0):
        tracker.observe(_moved(astronaut, similarity_matrix(step * MOVE, centre, span)), face_points)
    moves = tracker.moves()
    assert moves is not None and moves.shape == (8, 4)
    np.testing.assert_allclose(moves[:6], 0.0, atol=1e-3)
    assert moves[-1, 2] == pytest.approx(MOVE[2], abs=0.15)


def _hair_layer(span: float = 10.0):
    """A synthetic hair layer: a head and its hair (a disc of radius 30 samples about (40, 40)) on a wall, one crop
    pixel per field sample, and a face in the disc's lower middle (eyes at row 40, chin at row 58)."""
    from thead.backends.warp.body import HairLayer

    ys, xs = np.mgrid[0:80, 0:80].astype(np.float32)
    person = (np.hypot(xs - 40, ys - 40) < 30).astype(np.float32)
    face = np.random.default_rng(0).uniform([30.0, 36.0, 0.0], [50.0, 58.0, 1.0], (478, 3)).astype(np.float32)
    face[[33, 263]] = [[33.0, 40.0, 0.0], [47.0, 40.0, 0.0]]
    face[[10, 152]] = [[40.0, 36.0, 0.0], [40.0, 58.0, 0.0]]
    layer = HairLayer(person, np.ones_like(person), np.array([1.0, 1.0], np.float32), span)
    return layer, face


def test_the_hair_layer_moves_hair_with_the_skull_and_leaves_wall_face_and_neck_to_the_mesh():
    layer, face = _hair_layer()
    mesh = np.full((80, 80, 2), 0.5, np.float32)  # the mesh drags everything by half a pixel
    shift = np.array([3.0, -2.0])
    matrix = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
    out = layer.apply(mesh, matrix, face, np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(out[16, 40], -shift, atol=0.05)  # hair above the head: the skull's move, backwards
    np.testing.assert_allclose(out[30, 17], -shift, atol=0.15)  # hair beside the temple
    np.testing.assert_array_equal(out[3, 3], mesh[3, 3])  # the wall keeps the mesh's motion
    np.testing.assert_array_equal(out[48, 40], mesh[48, 40])  # so does the face
    np.testing.assert_array_equal(out[76, 40], mesh[76, 40])  # and what lies below the chin
    roll = cv2.getRotationMatrix2D((40.0, 45.0), 4.0, 1.0)  # a roll about the face: hair further out moves more
    rolled = layer.apply(mesh, roll, face, np.array([0.0, 1.0, 0.0]))
    source = cv2.invertAffineTransform(roll) @ np.array([40.0, 16.0, 1.0])
    np.testing.assert_allclose(rolled[16, 40], source - [40.0, 16.0], atol=0.05)


def test_hair_that_moves_over_the_wall_covers_it_and_the_wall_it_leaves_closes():
    layer, face = _hair_layer()
    mesh = np.zeros((80, 80, 2), np.float32)
    matrix = np.array([[1.0, 0.0, 4.0], [0.0, 1.0, 0.0]])  # four samples to the right
    out = layer.apply(mesh, matrix, face, np.array([0.0, 1.0, 0.0]))
    assert out[25, 68, 0] < -3.0  # past the hair's old right edge (x 66 on row 25): it samples the hair now
    assert out[25, 16, 0] < -3.0  # inside its old left edge (x 14): it samples the wall the hair left
    assert abs(out[25, 76, 0]) < 0.1 and abs(out[25, 6, 0]) < 0.1  # the wall further out stays


def test_the_skull_move_turns_about_the_face_the_tracker_measured(warp_source):
    """The skull channel's roll and size are about the driver's face-oval centre; on the source they turn about its
    face-oval centre too (the head-pose centre lies a fifth of the face higher up on the astronaut, and turning
    about it shifted the hair by a pixel per few degrees)."""
    from thead.backends.warp.backend import _skull_matrix

    roll = np.array([0.0, 0.0, 3.0, 0.0])
    centre = warp_source.points[face_topology().oval, :2].mean(axis=0)
    matrix = _skull_matrix(warp_source, roll)
    np.testing.assert_allclose(matrix[:, :2] @ centre + matrix[:, 2], centre, atol=1e-4)


def test_long_hair_follows_the_real_speakers_head_closer_with_the_hair_layer(warp_backend, shared):
    """Self-reenactment of the GRID speaker with long curly hair (every 5th frame, unencoded): full-frame SSIM with the
    hair layer against the same source without it, where the mesh alone carries the hair."""
    from dataclasses import replace

    from thead.io.video import read_frames
    from thead.metrics.ssim import ssim_plane

    truth = read_frames(shared / "media/talking/grid_lwbsza.mpg")
    track = warp_backend.extract_motion(truth, 25.0)
    source = warp_backend.prepare_source(truth[0])
    assert source.hair is not None and "skull" in track.channels

    def grey(image: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)

    def score(src) -> float:
        frames = range(5, len(truth), 5)
        options = DriveOptions(paste_back=True)
        return float(np.mean([ssim_plane(grey(warp_backend.render(src, track.frame(i), track.frame(0), options)),
                                         grey(truth[i])) for i in frames]))

    with_layer, without = score(source), score(replace(source, hair=None))
    assert with_layer > without + 0.001, (with_layer, without)  # measured +0.0018


def test_the_hair_layers_typical_move_is_the_person_weighted_rms_of_its_displacement():
    """The layer eases its silhouette by how far the skull moves the hair; it reads that from the hair's moments."""
    layer, _ = _hair_layer()
    xs, ys = np.mgrid[0:80, 0:80].astype(np.float64)[::-1]
    for matrix in (np.array([[1.0, 0.0, 3.0], [0.0, 1.0, -2.0]]), cv2.getRotationMatrix2D((40.0, 45.0), 6.0, 1.05)):
        inverse = cv2.invertAffineTransform(matrix)
        back = np.stack([inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2] - xs,
                         inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2] - ys], axis=-1)
        weights = layer.person + 1e-6
        expected = np.sqrt(np.sum(weights * np.sum(back**2, axis=-1)) / np.sum(weights))
        assert layer._typical_move(inverse) == pytest.approx(expected, rel=1e-6)
