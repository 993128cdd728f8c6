"""Expression presets: names and strengths checked, and each preset measured on the rendered face."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _cli import run_cli

from thead.backends.base import DriveOptions
from thead.backends.liveportrait import edits as lp_edits
from thead.backends.warp import WarpBackend
from thead.face import analyze_image, geometry
from thead.io.image import write_image
from thead.motion import edits, expressions
from thead.motion.frame_edit import FrameEdit

BROWS = [70, 63, 105, 66, 107, 300, 293, 334, 296, 336]
EYE_CORNERS = [33, 133, 362, 263]


def face_shape(image: np.ndarray, pose: geometry.HeadPose | None = None) -> dict[str, float]:
    """Expression measures on the landmarks of ``image`` with ``pose`` (default: its own) removed (inter-ocular units).

    Renders of a preset are measured in the source's pose: the presets do not turn the head, and a pose
    re-estimated on each render moves with the mouth's shape (closing a smile tilts it by a few degrees).
    """
    points = analyze_image(image).points
    p = geometry.canonicalize(points, pose or geometry.estimate_head_pose(points)).astype(np.float64)
    return {
        "corner_lift": p[[13, 14], 1].mean() - p[[61, 291], 1].mean(),  # corners above the lips' centre
        "brow_height": p[EYE_CORNERS, 1].mean() - p[BROWS, 1].mean(),
        "brow_gap": p[285, 0] - p[55, 0],  # between the inner brow ends
        "mouth": geometry.mouth_openness(p),
        "lip_to_nose": p[0, 1] - p[2, 1],  # upper lip top below the nose base
    }


@pytest.fixture(scope="module")
def rendered(astronaut) -> dict[str, dict[str, float]]:
    """Face measures of the source and of each preset at full strength, on the warp backend."""
    engine = WarpBackend(torch.device("cpu"))
    source = engine.prepare_source(astronaut)
    base = engine.source_motion(source)
    pose = geometry.estimate_head_pose(analyze_image(astronaut).points)
    shapes = {"source": face_shape(astronaut, pose)}
    for name in expressions.PRESETS:
        frame = engine.apply_edit(base, FrameEdit(expressions=((name, 1.0),)))
        shapes[name] = face_shape(engine.render(source, frame, base, DriveOptions()), pose)
    return shapes


def change(rendered, preset: str, measure: str) -> float:
    return rendered[preset][measure] - rendered["source"][measure]


def test_happy_lifts_the_mouth_corners(rendered):
    assert change(rendered, "happy", "corner_lift") > 0.04


def test_sad_lowers_the_mouth_corners(rendered):
    assert change(rendered, "sad", "corner_lift") < -0.015


def test_surprised_raises_the_brows_and_opens_the_mouth(rendered):
    assert change(rendered, "surprised", "brow_height") > 0.04
    assert change(rendered, "surprised", "mouth") > 0.08


def test_angry_lowers_the_brows_and_draws_them_together(rendered):
    assert change(rendered, "angry", "brow_height") < -0.025
    assert change(rendered, "angry", "brow_gap") < -0.005  # MediaPipe reads a third of the sideways pull


def test_disgusted_raises_the_upper_lip(rendered):
    assert change(rendered, "disgusted", "lip_to_nose") < -0.02


def test_neutral_closes_a_smiling_mouth(rendered):
    assert rendered["source"]["mouth"] > 0.1  # the astronaut smiles with her teeth showing
    assert change(rendered, "neutral", "mouth") < -0.03
    assert abs(rendered["neutral"]["corner_lift"]) < abs(rendered["source"]["corner_lift"])


def test_each_space_implements_exactly_its_declared_names():
    assert tuple(edits.PRESETS) == expressions.NAMES["landmarks"]
    assert tuple(lp_edits.EXPRESSIONS) == expressions.NAMES["liveportrait"]


# LivePortrait's 21 expression keypoints: (keypoint, axis) -> sign of the change each preset makes.
# Keypoints 1, 2 carry the eyebrow slider, 19 the mouth opening, 20 and 14 the upper lip and corners.
LP_EXPECTED = {
    "happy": {(20, 1): -1, (14, 1): -1, (17, 1): 1, (17, 2): 1, (13, 1): -1, (16, 1): -1, (3, 1): -1, (7, 1): -1},
    "surprised": {(1, 1): 1, (2, 1): -1, (19, 1): 1, (19, 2): 1, (17, 1): -1},
    "angry": {(1, 0): 1, (2, 0): -1, (1, 1): -1, (2, 1): 1, (19, 1): -1, (19, 2): -1, (17, 1): 1},
    "disgusted": {(20, 1): -1, (20, 2): -1, (14, 1): -1, (1, 0): 1, (2, 0): -1, (1, 1): -1, (2, 1): 1},
    "sad": {(20, 1): 1, (14, 1): 1, (17, 1): -1, (17, 2): -1, (13, 1): 1, (16, 1): 1, (3, 1): 1, (7, 1): 1,
            (1, 1): 1, (2, 1): -1},
}


@pytest.fixture(scope="module")
def liveportrait(astronaut):
    from test_liveportrait_backend import TINY

    from thead.backends.liveportrait import LivePortraitBackend, LivePortraitNetworks

    torch.manual_seed(0)
    engine = LivePortraitBackend(torch.device("cpu"), networks=LivePortraitNetworks.build(TINY))
    return engine, engine.source_motion(engine.prepare_source(astronaut))


@pytest.mark.parametrize("preset", sorted(LP_EXPECTED))
def test_liveportrait_presets_move_their_keypoints(liveportrait, preset):
    engine, base = liveportrait
    edited = engine.apply_edit(base, FrameEdit(expressions=((preset, 0.5),)))
    delta = edited["lp_exp"] - base["lp_exp"]
    for (keypoint, axis), sign in LP_EXPECTED[preset].items():
        assert sign * delta[keypoint, axis] > 0, (keypoint, axis)
    untouched = np.ones(delta.shape, bool)
    untouched[tuple(np.array(list(LP_EXPECTED[preset])).T)] = False
    assert np.all(delta[untouched] == 0)


def test_liveportrait_neutral_relaxes_the_expression(liveportrait):
    _, base = liveportrait
    edited = lp_edits.apply_frame_edit(base, FrameEdit(expressions=(("neutral", 0.75),)))
    assert np.abs(base["lp_exp"]).max() > 0
    np.testing.assert_allclose(edited["lp_exp"], 0.25 * base["lp_exp"], rtol=1e-6)


@pytest.mark.parametrize("request_, message", [
    ("zzzunknown:0.5", "unknown expression 'zzzunknown'"),
    ("happy:1.5", "from 0 to 1"),
    ("smile:-2", "from -1 to 1"),
    ("angry:-0.2", "from 0 to 1"),
])
def test_unknown_names_and_strengths_out_of_range_are_usage_errors(capsys, monkeypatch, tmp_path, astronaut,
                                                                   request_, message):
    portrait = tmp_path / "p.png"
    write_image(portrait, astronaut)
    out = tmp_path / "out.png"
    code, _, err = run_cli(capsys, monkeypatch, "edit", portrait, "--expression", request_, "-o", out)
    assert code == 2 and message in err and not out.exists()
    if "unknown" in message:
        assert all(name in err for name in expressions.NAMES["landmarks"])
