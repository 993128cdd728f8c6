"""Real mouth interiors in the warp backend: smooth contours, warping, colour matching, seamless blending, the bank."""

from __future__ import annotations

from importlib import resources

import cv2
import numpy as np
import pytest

from thead.backends.warp.bank import mouth_bank
from thead.backends.warp.interior import (
    MouthPicture,
    blend,
    carry_interior,
    contour_mask,
    lip_contour,
    match_colour,
    ring_lab,
    warp_opening,
)


def lips(centre: tuple[float, float], half_width: float, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Inner-lip chains (11 points, corner to corner, sharing the corners) of a lens-shaped opening."""
    t = np.linspace(-1.0, 1.0, 11)
    x = centre[0] + half_width * t
    bulge = gap / 2 * (1.0 - t**2)
    return np.stack([x, centre[1] - bulge], axis=1), np.stack([x, centre[1] + bulge], axis=1)


def ring_and_inside(shape, upper, lower, lip_rgb, inside_rgb) -> np.ndarray:
    """A picture with lip-coloured surroundings and a uniform interior inside the opening."""
    image = np.zeros((*shape, 3), np.uint8)
    image[:] = lip_rgb
    mask = contour_mask(lip_contour(upper, lower), (0, 0, shape[1], shape[0]), 0) > 0.5
    image[mask] = inside_rgb
    return image


def turning_angles(loop: np.ndarray) -> np.ndarray:
    """Absolute turning angle (degrees) at each vertex of a closed polyline."""
    d = np.diff(np.concatenate([loop[-1:], loop, loop[:1]]), axis=0)
    heading = np.arctan2(d[:, 1], d[:, 0])
    return np.degrees(np.abs(np.angle(np.exp(1j * np.diff(heading)))))


def test_lip_contour_passes_through_the_landmarks_without_corners_between_the_mouth_corners():
    # A hexagon-like opening: few landmarks, straight runs with sharp bends.
    upper = np.array([[0, 0], [10, -6], [20, -8], [30, -8], [40, -6], [50, 0]], np.float32)
    lower = np.array([[0, 0], [10, 6], [20, 8], [30, 8], [40, 6], [50, 0]], np.float32)
    loop = lip_contour(upper, lower)
    for point in np.concatenate([upper, lower]):
        assert np.min(np.linalg.norm(loop - point, axis=1)) < 1e-4
    corners = {0, int(np.argmin(np.linalg.norm(loop - upper[-1], axis=1)))}
    angles = turning_angles(loop)
    smooth = [a for i, a in enumerate(angles) if i not in corners]
    polygon = turning_angles(np.concatenate([upper, lower[::-1][1:-1]]))[1:5]  # bends at the upper landmarks
    assert max(smooth) < 0.5 * max(polygon)  # the turn is spread along the curve, not taken at the landmarks


def test_a_known_interior_lands_inside_the_target_contour_and_nowhere_else():
    lip = (150, 80, 80)
    up_src, lo_src = lips((40, 40), 25, 20)
    picture = MouthPicture(ring_and_inside((80, 80), up_src, lo_src, lip, (250, 250, 250)), up_src, lo_src)
    render = np.zeros((120, 160, 3), np.uint8)
    render[:] = lip
    up_dst, lo_dst = lips((90, 60), 40, 30)  # elsewhere, wider and taller
    target = lip_contour(up_dst, lo_dst)
    box = (40, 35, 140, 85)
    interior = carry_interior(picture, ring_lab(render, target), target, box)
    out = blend(render.copy(), interior, contour_mask(target, box), box)
    full = (0, 0, 160, 120)
    inside = cv2.erode((contour_mask(target, full, 0) > 0.5).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    outside = cv2.dilate((contour_mask(target, full, 0) > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) == 0
    assert out[inside].min() >= 240  # the white interior fills the target opening
    assert np.array_equal(out[outside], render[outside])  # and nothing outside it changes


def test_warp_maps_the_source_curve_onto_the_target_curve():
    up_src, lo_src = lips((30, 30), 20, 16)
    up_dst, lo_dst = lips((50, 40), 30, 10)
    source, target = lip_contour(up_src, lo_src), lip_contour(up_dst, lo_dst)
    yy, xx = np.mgrid[0:60, 0:60].astype(np.float32)
    coordinates = np.dstack([xx, yy, np.zeros_like(xx)])  # each pixel holds its own position
    warped = warp_opening(coordinates, source, target, (0, 0, 100, 80))
    for s, t in zip(source[::5], target[::5]):
        x, y = np.round(t).astype(int)
        assert np.allclose(warped[y, x, :2], s + (x, y) - t, atol=0.6)


def test_an_opening_taller_than_the_picture_shows_the_cavity_between_teeth_kept_at_their_size():
    lip, teeth = (150, 80, 80), (250, 250, 250)
    up_src, lo_src = lips((40, 40), 25, 20)  # a smile's opening filled by teeth
    picture = MouthPicture(ring_and_inside((80, 80), up_src, lo_src, lip, teeth), up_src, lo_src)
    render = np.zeros((120, 120, 3), np.uint8)
    render[:] = lip
    up_dst, lo_dst = lips((60, 60), 25, 60)  # as wide, three times as tall
    target = lip_contour(up_dst, lo_dst)
    box = (30, 25, 91, 96)
    interior = carry_interior(picture, ring_lab(render, target), target, box)
    column = interior[:, 60 - box[0]].mean(axis=1)  # the middle of the mouth, top to bottom
    top, bottom = 30 - box[1], 90 - box[1]  # the inner lips there
    bright = column > 200
    upper_teeth = np.argmin(bright[top + 1 :])  # rows of teeth hanging from the upper lip
    assert 0.35 * 20 <= upper_teeth <= 0.6 * 20  # the picture's upper half, not stretched over the opening
    assert column[(top + bottom) // 2] < 60  # the middle is the dark cavity
    assert bright[bottom - 4 : bottom].all()  # and the lower teeth stand on the lower lip


def test_colour_match_relights_the_interior_like_the_render():
    interior = np.full((10, 10, 3), 200.0, np.float32)
    bright = cv2.cvtColor(np.float32([[[0.8, 0.5, 0.45]]]), cv2.COLOR_RGB2Lab)[0, 0]
    dim = cv2.cvtColor(np.float32([[[0.55, 0.34, 0.3]]]), cv2.COLOR_RGB2Lab)[0, 0]
    grey = cv2.cvtColor(np.float32([[[0.4, 0.4, 0.4]]]), cv2.COLOR_RGB2Lab)[0, 0]
    lab = lambda rgb: cv2.cvtColor(np.float32(rgb)[None, None] / 255.0, cv2.COLOR_RGB2Lab)[0, 0]
    darker = match_colour(interior, bright, dim)
    assert lab(darker[0, 0])[0] == pytest.approx(lab(interior[0, 0])[0] * dim[0] / bright[0], rel=0.02)
    tinted = match_colour(np.full((4, 4, 3), (200.0, 150.0, 120.0), np.float32), bright, grey)
    assert np.ptp(tinted[0, 0]) < 1.0  # a greyscale render gets a greyscale interior


def test_the_blend_leaves_no_seam_on_the_contour():
    render = np.full((80, 120, 3), 100, np.uint8)
    interior = np.full((80, 120, 3), 200.0, np.float32)
    up, lo = lips((60, 40), 45, 40)
    contour = lip_contour(up, lo)
    box = (0, 0, 120, 80)

    def largest_step(alpha: np.ndarray) -> float:
        """The largest change between neighbouring pixels."""
        out = blend(render.copy(), interior, alpha, box)[..., 0].astype(np.float32)
        return float(max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max()))

    assert largest_step(contour_mask(contour, box, 0)) >= 95  # a hard paste: the whole 100-level jump at once
    assert largest_step(contour_mask(contour, box)) <= 65  # feathered: spread over the rim


def test_the_bank_ships_with_its_attribution():
    notice = (resources.files("thead.backends.warp") / "data" / "NOTICE").read_text(encoding="utf-8")
    assert "GRID audiovisual corpus, Cooke, Barker, Cunningham and Shao, 2006, CC BY 4.0" in notice
    bank = mouth_bank()
    assert len(bank.pictures) >= 5 and np.all(np.diff(bank.openness) > 0)
    assert all(p.image.dtype == np.uint8 and p.upper.shape == p.lower.shape == (11, 2) for p in bank.pictures)


def test_bank_choice_is_continuous_in_the_opening_so_interiors_do_not_flicker():
    bank = mouth_bank()
    grid = np.linspace(0.0, 0.7, 701)

    def weights(openness: float) -> np.ndarray:
        out = np.zeros(len(bank.pictures))
        for picture, weight in bank.choose(openness):
            out[next(i for i, p in enumerate(bank.pictures) if p is picture)] += weight
        return out

    table = np.array([weights(o) for o in grid])
    assert np.allclose(table.sum(axis=1), 1.0)
    step = 0.001 / np.diff(bank.openness).min()
    assert np.abs(np.diff(table, axis=0)).max() <= step + 1e-9


def test_on_a_real_clip_the_drivers_interior_beats_painted_and_bank_interiors(shared, monkeypatch):
    """Self-reenactment of a GRID clip: where the mouth is open, the mouth region is far closer to the truth
    with the driver's own interior than with a painted cavity or another speaker's interior from the bank."""
    import torch
    from skimage.metrics import structural_similarity

    import thead.backends.warp.mouth as mouth_module
    from thead.backends.base import DriveOptions
    from thead.backends.warp import WarpBackend
    from thead.io.video import open_video

    frames = list(open_video(shared / "media/talking/grid_lrwp9a.mpg"))[:30]  # frame 0 shut
    backend = WarpBackend(torch.device("cpu"))
    source = backend.prepare_source(frames[0])
    track = backend.extract_motion(frames, 25.0)
    reference = track.frame(0)
    opened = [i for i in range(1, len(frames)) if track.frame(i)["mouth_open"] > 0.2][::2]
    assert len(opened) >= 5

    def mouth_ssim(driver: bool = False) -> float:
        x0, y0, x1, y1 = 158, 198, 224, 244  # the speaker's lips and mouth
        scores = []
        for i in opened:
            out = backend.render(source, track.frame(i), reference, DriveOptions(),
                                 driving_image=frames[i] if driver else None)
            scores.append(structural_similarity(out[y0:y1, x0:x1], frames[i][y0:y1, x0:x1], channel_axis=2))
        return float(np.mean(scores))

    driver, bank = mouth_ssim(driver=True), mouth_ssim()
    # A painted interior: one dark cavity colour, shaped, relit and blended like the real ones.
    flat = MouthPicture(np.full((40, 60, 3), (70, 30, 30), np.uint8), *lips((30, 20), 20, 10))
    real = mouth_module.carry_interior
    monkeypatch.setattr(mouth_module, "carry_interior", lambda picture, *args: real(flat, *args))
    painted = mouth_ssim()
    assert driver > painted + 0.05
    assert driver > bank + 0.05


@pytest.mark.parametrize("name", ["st_sad.png", "lp_s8.jpg"])
def test_a_wide_bank_mouth_shows_a_dark_cavity_over_a_lip_red_tongue(shared, name):
    """Without a driver, a wide-open mouth is not a black box: below the upper teeth the cavity is dark, and towards
    the lower lip its shadow turns to the tongue's tone (the lips' colour, darker). Before, the floor of the mouth
    was as black as the cavity (RGB 12, 7, 4 on lp_s8)."""
    from thead.backends import DriveOptions, get_backend_class
    from thead.io.image import read_image
    from thead.motion.frame_edit import FrameEdit

    engine = get_backend_class("warp")("cpu")
    source = engine.prepare_source(read_image(shared / "media/portraits" / name))  # mouth shut: no own teeth
    base = engine.source_motion(source)
    frame = engine.apply_edit(base, FrameEdit(mouth=0.45))
    out = engine.render(source, frame, base, DriveOptions()).astype(float)
    points = source.retargeter.target(frame, base, "all").points
    x = round(float(points[[13, 14], 0].mean()))
    top, bottom = float(points[13, 1]), float(points[14, 1])

    def band(start: float, end: float) -> np.ndarray:
        """Mean RGB of a 3 px wide column between these shares of the opening, from the upper lip down."""
        y0, y1 = round(top + start * (bottom - top)), round(top + end * (bottom - top))
        return out[y0:y1, x - 1 : x + 2].reshape(-1, 3).mean(axis=0)

    cavity, tongue = band(0.25, 0.4), band(0.6, 0.75)
    assert cavity.mean() < 25  # dark
    assert tongue[0] > cavity[0] + 25  # lighter towards the lower lip ...
    assert tongue[0] > tongue[1] + 10 and tongue[0] > tongue[2] + 15  # ... and red, like lips
