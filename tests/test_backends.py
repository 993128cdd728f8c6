"""Every registered backend honours the contract; options parse from the command line."""

from __future__ import annotations

import numpy as np
import pytest

from thead.backends import BACKENDS, backend_options, get_backend_class, parse_options
from thead.errors import UsageError


@pytest.fixture(scope="module")
def talking_frames(shared) -> list:
    from thead.io.video import read_frames

    return read_frames(shared / "media" / "talking" / "grid_bbaf2n.mpg", 12)


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_registered_backend_renders_a_short_clip(name, talking_frames, astronaut, tmp_path):
    """Through the public pipeline: tiny weights, a real driving clip, a playable video out."""
    import torch

    import thead
    from thead.io.video import open_video, read_frames
    from thead.motion.spaces import get_space

    engine = get_backend_class(name).tiny(torch.device("cpu"))
    assert engine.name == name
    track = engine.extract_motion(talking_frames, fps=25.0)
    get_space(engine.space).validate(track)  # every channel of its space, finite, one length
    assert len(track) == 12 and track.space == engine.space
    motion = tmp_path / "clip.motion.safetensors"
    track.save(motion)
    portrait = tmp_path / "portrait.png"
    from thead.io.image import write_image

    write_image(portrait, astronaut)
    result = thead.drive_video(portrait, motion, tmp_path / "out.mp4", backend=engine)
    video = open_video(tmp_path / "out.mp4")
    assert result.frames == video.frame_count == 12 and video.size == (512, 512) and result.backend == name
    frames = read_frames(tmp_path / "out.mp4")
    change = max(np.abs(frame.astype(int) - frames[0]).mean() for frame in frames[1:])
    assert change > 0.01  # the driving motion reached the pixels (all frames equal would mean it was ignored)
    edited = thead.edit(portrait, tmp_path / "edit.png", thead.EditSchedule(thead.FrameEdit(yaw=10)), backend=engine)
    assert edited.frames == 1 and (tmp_path / "edit.png").is_file()


def test_a_built_backend_is_reused_across_calls(tmp_path, astronaut, monkeypatch):
    """Pipelines take an already-built backend: a batch of jobs loads models once."""
    import torch

    import thead
    import thead.backends as backends
    from thead.io.image import write_image

    engine = get_backend_class("warp").tiny(torch.device("cpu"))
    monkeypatch.setattr(backends, "create_backend", lambda *a, **k: pytest.fail("a new backend was built"))
    portrait = tmp_path / "p.png"
    write_image(portrait, astronaut)
    for index in range(2):
        schedule = thead.EditSchedule(thead.FrameEdit(smile=0.5))
        assert thead.edit(portrait, tmp_path / f"e{index}.png", schedule, backend=engine).backend == "warp"
    with pytest.raises(UsageError, match="backend options"):
        thead.edit(portrait, tmp_path / "x.png", schedule, backend=engine, backend_options={"a": 1})


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_backend_options_round_trip(name):
    for key, default in backend_options(name).items():
        text = str(default).lower() if isinstance(default, bool) else str(default)
        assert parse_options(name, [f"{key}={text}"]) == {key: default}
    with pytest.raises(UsageError, match="has no option"):
        parse_options(name, ["no_such_option=1"])


def test_liveportrait_options_are_typed():
    assert parse_options("liveportrait", ["stitching=false", "driving-option=pose-friendly"]) == {
        "stitching": False, "driving_option": "pose-friendly"}
    with pytest.raises(UsageError, match="true or false"):
        parse_options("liveportrait", ["stitching=maybe"])


def test_unknown_backend_suggests_the_nearest():
    with pytest.raises(UsageError, match="unknown backend 'wrap'") as refused:
        get_backend_class("wrap")
    assert "did you mean 'warp'?" in refused.value.one_line()


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_space_has_one_schema_with_the_common_channels(name):
    from thead.motion.spaces import get_space
    from thead.motion.track import COMMON_CHANNELS

    space = get_space(get_backend_class(name).space)
    assert space.name == get_backend_class(name).space
    assert set(COMMON_CHANNELS) <= set(space.names)
    if name == "warp":  # a neutral mesh depends on the face: the backend's source_motion gives it
        with pytest.raises(UsageError, match="has no rest frame"):
            space.rest_track(3, 25.0)
    else:
        space.validate(space.rest_track(3, 25.0))  # what an audio driver writes without a backend
