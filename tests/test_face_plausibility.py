"""Non-human faces are refused (exit 3) before anything is rendered; human portraits of every kind
(photos, paintings, a statue, a cartoon, the astronaut) are accepted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _cli import run_cli

from thead.errors import NoFaceError
from thead.face import analyze_image, detect_faces
from thead.face.plausibility import MIN_EVIDENCE, plausibility, upright_crop
from thead.io.image import read_image

HUMANS = ["lp_s0.jpg", "lp_s1.jpg", "lp_s10.jpg", "lp_s12.jpg", "lp_s2.jpg", "lp_s3.jpg", "lp_s4.jpg", "lp_s42.jpg",
          "lp_s5.jpg", "lp_s6.jpg", "lp_s7.jpg", "lp_s8.jpg", "lp_s9.jpg", "st_happy.png", "st_sad.png"]
#: a monkey, four dogs, two alpacas: MediaPipe fits a human mesh to each of them.
ANIMALS_WITH_A_MESH = ["lp_s22.jpg", "lp_s25.jpg", "lp_s30.jpg", "lp_s31.jpg", "lp_s32.jpg", "lp_s36.jpg",
                       "lp_s38.jpg"]
CATS = ["lp_s39.jpg", "lp_s40.jpg"]


def test_every_human_portrait_and_the_astronaut_are_accepted(shared, astronaut):
    for name, image in [("astronaut", astronaut)] + [(n, read_image(shared / "media/portraits" / n)) for n in HUMANS]:
        assert plausibility(image, detect_faces(image)[0]).evidence >= MIN_EVIDENCE + 0.1, name
    analyze_image(astronaut)  # the check is part of the analysis of a source portrait


@pytest.mark.parametrize("name", ANIMALS_WITH_A_MESH + CATS)
def test_animals_and_the_cats_are_refused(shared, name):
    with pytest.raises(NoFaceError) as caught:
        analyze_image(read_image(shared / "media/portraits" / name), name=name)
    assert caught.value.exit_code == 3
    if name in ANIMALS_WITH_A_MESH:
        assert "does not look human" in str(caught.value)


def test_a_face_too_small_to_confirm_is_called_too_small_not_inhuman(astronaut):
    """At 48x48 the astronaut's face is 8 px wide: the detectors cannot confirm it, and the error says why."""
    tiny = cv2.resize(astronaut, (48, 48), interpolation=cv2.INTER_AREA)
    with pytest.raises(NoFaceError, match="only 8 px wide") as caught:
        analyze_image(tiny, name="tiny.png")
    assert caught.value.exit_code == 3 and "does not look human" not in str(caught.value)
    assert "40 px" in caught.value.hint


def test_the_cat_at_512_px_gets_a_human_mesh_and_is_refused(shared):
    cat = read_image(shared / "media/portraits/lp_s39.jpg")
    cat = cv2.resize(cat, (512, round(cat.shape[0] * 512 / cat.shape[1])), interpolation=cv2.INTER_AREA)
    assert detect_faces(cat)  # MediaPipe fits a human mesh to it at this size
    with pytest.raises(NoFaceError, match="does not look human"):
        analyze_image(cat, name="cat")


def test_the_command_line_refuses_a_dog_with_exit_3_and_writes_nothing(shared, tmp_path, capsys, monkeypatch):
    out = tmp_path / "dog.png"
    code, _, err = run_cli(capsys, monkeypatch, "edit", shared / "media/portraits/lp_s30.jpg", "--mouth", "0.5", "-o", out)
    assert code == 3
    assert err.strip().splitlines()[-1].startswith("error: ") and "does not look human" in err
    assert not out.exists()


def test_a_dog_video_as_the_source_is_refused_too(shared, tmp_path, capsys, monkeypatch):
    """Video sources are tracked, not analysed per frame: the first face found is checked once."""
    from thead.io.video import VideoWriter

    dog = read_image(shared / "media/portraits/lp_s30.jpg")
    dog = dog[: dog.shape[0] // 2 * 2, : dog.shape[1] // 2 * 2]
    clip = tmp_path / "dog.mp4"
    with VideoWriter(clip, 25.0) as writer:
        for _ in range(3):
            writer.write(dog)
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, monkeypatch, "drive-video", clip, clip, "-o", out)
    assert code == 3 and "does not look human" in err and "source video" in err
    assert not out.exists()


def test_upright_crop_levels_the_eye_line_and_frames_the_mesh_box():
    image = np.zeros((300, 300, 3), np.uint8)
    points = np.full((478, 2), 150.0)
    points[0], points[1] = (90, 80), (210, 220)  # the mesh box: 120 x 140
    points[[33, 133]] = (100, 100)  # the subject's right eye (image left)
    points[[263, 362]] = (200, 160)  # left eye, lower: a roll of about 31 degrees
    for (x, y), colour in (((100, 100), (255, 0, 0)), ((200, 160), (0, 255, 0))):
        cv2.circle(image, (x, y), 4, colour, -1)
    crop = upright_crop(image, points, margin=1.5, side=256)
    red = np.argwhere(crop[..., 0] > 128).mean(axis=0)
    green = np.argwhere(crop[..., 1] > 128).mean(axis=0)
    assert abs(red[0] - green[0]) < 1.5  # same row
    eye_distance = np.hypot(100, 60) * 256 / (1.5 * 140)
    assert abs(green[1] - red[1]) == pytest.approx(eye_distance, rel=0.05)
