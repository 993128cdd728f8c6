"""The Python API of the README: drive, re-render an edited motion track, edit with a schedule."""

from __future__ import annotations

import numpy as np

import thead
from thead.face import analyze_image
from thead.io.image import write_image
from thead.io.video import open_video
from thead.motion.extract import face_motion
from thead.motion.procedural import animate, blink_curve, head_sway


def test_readme_api_round_trip(tmp_path, astronaut):
    portrait = tmp_path / "portrait.png"
    write_image(portrait, astronaut)
    base = face_motion(analyze_image(astronaut).points)
    animate(base, 25.0, head_sway(25, 25.0, 10.0), blink_curve(25, 25.0, 0.0)).save(tmp_path / "d.motion.safetensors")

    result = thead.drive_video(portrait, tmp_path / "d.motion.safetensors", tmp_path / "out.mp4", device="cpu",
                               motion_out=tmp_path / "again.motion.safetensors")
    assert result.frames == 25 and set(result.timings) >= {"motion", "render", "write"}
    track = thead.MotionTrack.load(tmp_path / "again.motion.safetensors")
    track.channels["yaw"] *= 0.5
    track.save(tmp_path / "calm.motion.safetensors")
    assert thead.drive_video(portrait, tmp_path / "calm.motion.safetensors", tmp_path / "calm.mp4").frames == 25

    schedule = thead.EditSchedule(thead.FrameEdit(yaw=15, smile=0.5), start=1.0, end=2.0, blinks=(0.5,))
    edited = thead.edit(portrait, tmp_path / "edited.mp4", schedule, duration=3.0)
    assert edited.frames == 75 and open_video(tmp_path / "edited.mp4").frame_count == 75
    assert np.isclose(thead.MotionTrack.load(tmp_path / "calm.motion.safetensors")["yaw"], track["yaw"]).all()
