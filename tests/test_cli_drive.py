"""drive-video from the command line: outputs users rely on, and every bad input of issue 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from thead.face import analyze_image
from thead.io.image import write_image
from thead.io.video import open_video
from thead.motion.extract import face_motion
from thead.motion.procedural import animate, blink_curve, head_sway
from thead.motion.spaces import get_space
from thead.motion.track import MotionTrack
from _cli import run_cli


def probe(path: Path) -> str:
    """ffmpeg's description of a media file (imageio-ffmpeg's bundled binary)."""
    import imageio_ffmpeg

    done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return done.stderr


@pytest.fixture(scope="module")
def motion(tmp_path_factory, astronaut) -> Path:
    base = face_motion(analyze_image(astronaut).points)
    track = animate(base, 25.0, head_sway(20, 25.0, 10.0), blink_curve(20, 25.0, 60.0))
    path = tmp_path_factory.mktemp("inputs") / "idle.motion.safetensors"
    track.save(path)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


def test_drive_from_motion_track(capsys, monkeypatch, tmp_path, portrait, motion):
    out = tmp_path / "out.mp4"
    code, stdout, _ = run_cli(capsys, monkeypatch, "drive-video", portrait, motion, "-o", out, "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["frames"] == 20 and result["fps"] == 25.0 and result["audio"] is False
    info = probe(out)
    assert "h264" in info and "yuv420p" in info and "512x512" in info and "Audio" not in info


def test_refuses_existing_output_without_force(capsys, monkeypatch, tmp_path, portrait, motion):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    code, _, err = run_cli(capsys, monkeypatch, "drive-video", portrait, motion, "-o", out)
    assert code == 3 and "--force" in err and out.read_bytes() == b"keep me"


def _bad(capsys, monkeypatch, tmp_path, source, driving, out=None, code=3, needle=None, extra=()):
    out = out or tmp_path / "out.mp4"
    got, stdout, err = run_cli(capsys, monkeypatch, "drive-video", source, driving, "-o", out, *extra)
    lines = [line for line in err.splitlines() if line.strip()]
    assert got == code, err
    assert lines and lines[-1].startswith("error: ") and len(lines) == 1, err
    if needle:
        assert needle in lines[-1]
    assert not Path(out).exists() or Path(out) in (Path(source), Path(driving))
    assert leftovers(Path(out).parent if Path(out).parent.exists() else tmp_path) == []
    return lines[-1]


def test_missing_file(capsys, monkeypatch, tmp_path, motion):
    _bad(capsys, monkeypatch, tmp_path, tmp_path / "nope.jpg", motion, needle="nope.jpg")


def test_text_file_named_jpg(capsys, monkeypatch, tmp_path, motion):
    fake = tmp_path / "fake.jpg"
    fake.write_text("hello")
    _bad(capsys, monkeypatch, tmp_path, fake, motion, needle="fake.jpg")


def test_zero_byte_file(capsys, monkeypatch, tmp_path, motion):
    empty = tmp_path / "empty.png"
    empty.touch()
    _bad(capsys, monkeypatch, tmp_path, empty, motion, needle="empty.png")


def test_image_without_face(capsys, monkeypatch, tmp_path, motion):
    noise = tmp_path / "noise.png"
    write_image(noise, np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    _bad(capsys, monkeypatch, tmp_path, noise, motion, needle="noise.png")


def test_one_pixel_image(capsys, monkeypatch, tmp_path, motion):
    tiny = tmp_path / "tiny.png"
    write_image(tiny, np.zeros((1, 1, 3), np.uint8))
    _bad(capsys, monkeypatch, tmp_path, tiny, motion, needle="tiny.png")


def test_output_in_missing_directory(capsys, monkeypatch, tmp_path, portrait, motion):
    _bad(capsys, monkeypatch, tmp_path, portrait, motion, out=tmp_path / "no" / "such" / "out.mp4", needle="mkdir")


def test_output_in_read_only_directory(capsys, monkeypatch, tmp_path, portrait, motion):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: make the check see what a user would
        real_access = os.access
        monkeypatch.setattr("thead.io.atomic.os.access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    try:
        _bad(capsys, monkeypatch, tmp_path, portrait, motion, out=locked / "out.mp4", needle="not writable")
    finally:
        locked.chmod(0o700)


def test_output_equal_to_input(capsys, monkeypatch, tmp_path, portrait, motion):
    copy = tmp_path / "p.png"
    copy.write_bytes(portrait.read_bytes())
    before = copy.read_bytes()
    _bad(capsys, monkeypatch, tmp_path, copy, motion, out=copy, needle="also an input")
    assert copy.read_bytes() == before


def test_unknown_backend_is_usage_error(capsys, monkeypatch, tmp_path, portrait, motion):
    _bad(capsys, monkeypatch, tmp_path, portrait, motion, code=2, needle="unknown backend", extra=("--backend", "nope"))


def test_cuda_unavailable_is_exit_5(capsys, monkeypatch, tmp_path, portrait, motion):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run_cli(capsys, monkeypatch, "drive-video", portrait, motion, "-o", tmp_path / "o.mp4", "--device", "cuda")
    assert code == 5 and err.startswith("error: ")


@pytest.fixture(scope="module")
def driving_clip(tmp_path_factory, astronaut) -> Path:
    """A 1.6 s driving clip of the astronaut nodding, with a tone as audio; frames 12-17 show no face."""
    import wave

    from thead.io.video import VideoWriter

    folder = tmp_path_factory.mktemp("clip")
    tone = folder / "tone.wav"
    with wave.open(str(tone), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        samples = (3000 * np.sin(2 * np.pi * 220 * np.arange(16000 * 2) / 16000)).astype(np.int16)
        handle.writeframes(samples.tobytes())
    clip = folder / "driving.mp4"
    with VideoWriter(clip, 25.0, audio_from=tone) as writer:
        for index in range(40):
            frame = np.roll(astronaut, int(6 * np.sin(index / 4)), axis=0)
            writer.write(np.full_like(frame, 128) if 12 <= index < 18 else frame)
    return clip


def test_face_disappearing_warns_and_keeps_going(capsys, monkeypatch, tmp_path, portrait, driving_clip):
    out, motion_out = tmp_path / "out.mp4", tmp_path / "d.motion.safetensors"
    code, stdout, err = run_cli(capsys, monkeypatch, "drive-video", portrait, driving_clip, "-o", out, "--json",
                                "--motion-out", motion_out)
    assert code == 0, err
    result = json.loads(stdout)
    assert result["frames"] == 40 and result["audio"] is True and result["motion"] == str(motion_out)
    assert "no face in 6 of 40" in err and "interpolated" in err
    track = MotionTrack.load(motion_out)
    assert len(track) == 40 and track.fps == 25.0 and track.space == "landmarks"
    assert np.flatnonzero(track["valid"] == 0).tolist() == list(range(12, 18))
    info = probe(out)
    assert "aac" in info and "h264" in info


def test_truncated_video(capsys, monkeypatch, tmp_path, portrait, driving_clip):
    broken = tmp_path / "broken.mp4"
    data = driving_clip.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    _bad(capsys, monkeypatch, tmp_path, portrait, broken, needle="broken.mp4")


def test_no_video_stream(capsys, monkeypatch, tmp_path, portrait, driving_clip):
    sound = driving_clip.parent / "tone.wav"
    _bad(capsys, monkeypatch, tmp_path, portrait, sound, needle="tone.wav")


def test_huge_image_is_handled_without_blowing_memory(tmp_path, motion):
    import os
    import sys

    from PIL import Image

    huge = tmp_path / "huge.png"
    Image.new("RGB", (12000, 12000), (120, 110, 100)).save(huge)
    thead = Path(sys.executable).with_name("thead")
    process = subprocess.Popen([str(thead), "drive-video", str(huge), str(motion), "-o", str(tmp_path / "o.mp4")],
                               stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)  # this process's own peak, not the test runner's
    err = process.stderr.read()
    assert os.waitstatus_to_exitcode(status) == 3 and "huge.png" in err  # plain colour: downscaled, no face found
    # MB, whole process: ~350 idle; 1,150-2,510 measured (thread pools vary); a full-size float copy adds 1,700
    assert usage.ru_maxrss / 1024 < 2900


def test_video_to_video_holds_the_face_where_the_source_loses_it(capsys, monkeypatch, tmp_path, motion, driving_clip):
    out = tmp_path / "v2v.mp4"
    code, stdout, err = run_cli(capsys, monkeypatch, "drive-video", driving_clip, motion, "-o", out, "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["frames"] == 20  # the shorter of source video (40) and motion (20)
    assert "no face in 6 of 20 frames of source" in err
    reader = open_video(out)
    assert reader.frame_count == 20 and reader.size == (512, 512)


def test_motion_track_of_another_space_is_refused(capsys, monkeypatch, tmp_path, portrait):
    foreign = tmp_path / "lp.motion.safetensors"
    get_space("liveportrait").rest_track(3, 25.0).save(foreign)  # valid, but in the other backend's space
    _bad(capsys, monkeypatch, tmp_path, portrait, foreign, needle="'liveportrait' motion track")
    code, _, err = run_cli(capsys, monkeypatch, "edit", foreign, "--mouth", "0", "-o", tmp_path / "e.motion.safetensors")
    assert code == 3 and "needs 'landmarks'" in err
