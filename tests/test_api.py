"""The Python API of the README: drive, re-render an edited motion track, edit with a schedule."""

from __future__ import annotations

import numpy as np

import thead
from thead.face import analyze_image
from thead.face.geometry import estimate_head_pose
from thead.io.image import write_image
from thead.io.video import open_video
from thead.motion.extract import face_motion
from thead.motion.procedural import animate, blink_curve, head_sway


def _yaw(path, index: int) -> float:
    """The head yaw measured on frame ``index`` of a rendered video."""
    from thead.io.video import read_frames

    return estimate_head_pose(analyze_image(read_frames(path, index + 1)[index]).points).yaw


def test_readme_api_round_trip(tmp_path, astronaut):
    portrait = tmp_path / "portrait.png"
    write_image(portrait, astronaut)
    base = face_motion(analyze_image(astronaut).points)
    sway = head_sway(25, 25.0, 20.0)
    animate(base, 25.0, sway, blink_curve(25, 25.0, 0.0)).save(tmp_path / "d.motion.safetensors")
    turned = int(np.argmax(np.abs(sway[:, 0] - sway[0, 0])))  # relative driving: the frame turned most from frame 0

    result = thead.drive_video(portrait, tmp_path / "d.motion.safetensors", tmp_path / "out.mp4", device="cpu",
                               motion_out=tmp_path / "again.motion.safetensors")
    assert result.frames == 25 and set(result.timings) >= {"motion", "render", "write"}
    track = thead.MotionTrack.load(tmp_path / "again.motion.safetensors")
    track.channels["yaw"] = track["yaw"] * 0.5
    track.save(tmp_path / "calm.motion.safetensors")
    assert thead.drive_video(portrait, tmp_path / "calm.motion.safetensors", tmp_path / "calm.mp4").frames == 25
    still = estimate_head_pose(analyze_image(astronaut).points).yaw
    full, calm = _yaw(tmp_path / "out.mp4", turned) - still, _yaw(tmp_path / "calm.mp4", turned) - still
    assert abs(full) > 3 and 0.25 < calm / full < 0.75  # halving the track's yaw halves the rendered turn

    schedule = thead.EditSchedule(thead.FrameEdit(yaw=15, smile=0.5), start=1.0, end=2.0, blinks=(0.5,))
    edited = thead.edit(portrait, tmp_path / "edited.mp4", schedule, duration=3.0)
    assert edited.frames == 75 and open_video(tmp_path / "edited.mp4").frame_count == 75
    assert abs(_yaw(tmp_path / "edited.mp4", 37) - still) > 8  # inside --from 1 --to 2: turned
    assert abs(_yaw(tmp_path / "edited.mp4", 70) - still) < 3  # after the ramp: back to the portrait's pose
