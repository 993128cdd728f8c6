"""The warp backend's jaw: the rendered mouth opens as far as asked, small openings show, the lips keep their fullness."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from thead.backends import DriveOptions, get_backend_class
from thead.face import analyze_image, geometry
from thead.motion.frame_edit import FrameEdit


def _prepared(image):
    engine = get_backend_class("warp")("cpu")
    source = engine.prepare_source(image)
    return engine, source, engine.source_motion(source)


def _render(engine, source, base, openness):
    frame = engine.apply_edit(base, FrameEdit(mouth=openness))
    return engine.render(source, frame, base, DriveOptions()), source.retargeter.target(frame, base, "all")


@pytest.fixture(scope="module")
def astronaut_engine(astronaut):
    return _prepared(astronaut)


@pytest.mark.parametrize("request_", [0.2, 0.3, 0.4, 0.5])
def test_delivered_opening_tracks_the_request(astronaut_engine, request_):
    """The rendered landmarks open exactly as asked; a face analysis of the picture reads about as much (it reads the
    lens-shaped opening of real lips some 20 % narrower than its landmarks, as it did not a box-shaped one)."""
    engine, source, base = astronaut_engine
    out, target = _render(engine, source, base, request_)
    assert geometry.mouth_openness(target.points) == pytest.approx(request_, abs=0.01)
    delivered = geometry.mouth_openness(analyze_image(out).points)
    assert delivered == pytest.approx(request_, rel=0.3)


def test_opened_lips_part_as_a_lens(astronaut_engine):
    """Asked open, the inner lips part least by the corners (no box-shaped opening with vertical ends)."""
    engine, source, base = astronaut_engine
    _, target = _render(engine, source, base, 0.4)
    points = target.points
    upper, lower = [191, 80, 81, 82, 13], [95, 88, 178, 87, 14]  # from the left corner to the centre, paired
    gaps = points[lower, 1] - points[upper, 1]
    assert np.all(np.diff(gaps) > 0)  # wider towards the centre
    assert gaps[0] < 0.5 * gaps[-1]  # next to the corner, under half the centre's gap


def test_an_open_mouth_keeps_both_lips_full(astronaut_engine):
    engine, source, base = astronaut_engine
    _, target = _render(engine, source, base, 0.5)
    wide, rest = source.box.to_crop(target.points), source.points
    for inner, outer in ((14, 17), (87, 84), (317, 314), (13, 0), (82, 37), (312, 267)):  # lower lip, upper lip
        assert abs(wide[outer, 1] - wide[inner, 1]) >= 0.55 * abs(rest[outer, 1] - rest[inner, 1])


def test_a_small_request_opens_a_shut_mouth_visibly(shared):
    image = iio.imread(shared / "media" / "portraits" / "lp_s0.jpg")[..., :3]
    engine, source, base = _prepared(image)
    assert geometry.mouth_openness(source.points) < 0.02  # the portrait's mouth is shut

    def darkest_run(openness):
        """Pixels of the longest dark run down the middle of the rendered mouth (darker than 0.6 of the lips)."""
        out, target = _render(engine, source, base, openness)
        x = round(float(target.points[[13, 14], 0].mean()))
        top, bottom = int(target.points[0, 1]), int(target.points[17, 1]) + 1
        column = out[top:bottom, x - 1 : x + 2].astype(np.float32).mean(axis=(1, 2))
        dark = column < 0.6 * np.median(column)
        runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], dark.astype(int), [0]]))))[::2]
        return int(runs.max()) if len(runs) else 0, float(target.points[14, 1] - target.points[13, 1])

    shut_run, _ = darkest_run(0.0)
    open_run, gap = darkest_run(0.08)
    assert shut_run <= 1
    assert open_run >= max(2, 0.5 * gap)


@pytest.fixture(scope="module")
def open_mouth_engine(shared):
    """HDTF frame 0: the mouth wide open (openness 0.42) with the head pitched about 18 degrees."""
    from thead.io.video import read_frames

    return _prepared(read_frames(shared / "media" / "talking" / "hdtf_aoc.mp4", 1)[0])


@pytest.mark.parametrize("request_", [0.0, 0.1, 0.2, 0.3])
def test_the_jaw_reaches_the_requested_opening_from_a_wide_open_source(open_mouth_engine, request_):
    """Shutting a wide-open mouth is a large turn of the jaw: one linear step stopped at 0.035 when asked for 0.1."""
    _, source, _ = open_mouth_engine
    jaw = source.retargeter.jaw
    assert jaw.openness(jaw.set_openness(source.retargeter.canonical, request_)) == pytest.approx(request_, abs=0.005)


@pytest.mark.parametrize("request_", [0.1, 0.2])
def test_a_pitched_open_source_opens_as_far_in_the_image_as_asked(open_mouth_engine, request_):
    """The rendered gap over the mouth width matches the request: the jaw's change is projected at the lips' true
    depth (a pitched head used to show a 0.1 opening as lips pressed 2.8 px together)."""
    _, source, base = open_mouth_engine
    points = source.box.to_crop(source.retargeter.target(dict(base, mouth_open=np.float32(request_)), base, "all").points)
    width = float(np.linalg.norm(points[291, :2] - points[61, :2]))
    assert source.mouth.gap(points) / width == pytest.approx(request_, abs=0.02)


def test_shut_lips_meet_in_the_image_at_any_pitch(open_mouth_engine):
    """A shut mouth's inner lips meet in depth too, so the pitched head shows them touching: no slit, no overlap."""
    _, source, base = open_mouth_engine
    points = source.box.to_crop(source.retargeter.target(dict(base, mouth_open=np.float32(0.0)), base, "all").points)
    assert abs(source.mouth.gap(points)) < 0.5
