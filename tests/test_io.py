"""Media I/O: images, video reading/writing through the bundled ffmpeg, audio decoding, and every bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thead.errors import BadInputError, OutputError
from thead.io.audio import has_audio, read_audio
from thead.io.image import ImageDownscaledWarning, read_image, write_image
from thead.io.probe import AudioStream, ffmpeg_exe, parse_ffmpeg_info, probe
from thead.io.video import VideoWriter, open_video, read_frames, write_video

# ---------------------------------------------------------------- helpers


def clip(count: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """Smooth frames with a moving bright square: compressible, and each frame is distinct."""
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for index in range(count):
        frame = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 96)], axis=-1).astype(np.uint8)
        left = (index * 2) % (width - 12)
        frame[10:22, left : left + 12] = 255
        frames.append(frame)
    return frames


def write_wav(path: Path, seconds: float, rate: int = 48000, channels: int = 1, tone_from: float = 0.0) -> Path:
    """A 440 Hz sine at amplitude 0.5 starting at ``tone_from`` seconds (silence before), 16-bit PCM."""
    t = np.arange(int(seconds * rate)) / rate
    signal = np.where(t >= tone_from, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)
    pcm = (np.repeat(signal[:, None], channels, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def ffmpeg_report(path: Path) -> str:
    """What ``ffmpeg -i`` says about a file, checked independently of thead's parser."""
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True)


def no_leftovers(folder: Path) -> bool:
    return not any(".partial" in item.name for item in folder.iterdir())


# ---------------------------------------------------------------- video round trips


@pytest.mark.parametrize("fps", [25, 30, 29.97])
def test_roundtrip_keeps_frames_fps_and_pixels(tmp_path, fps):
    frames = clip(30)
    out = tmp_path / "clip.mp4"
    assert write_video(out, frames, fps) == 30
    video = open_video(out)
    assert video.fps == pytest.approx(fps, abs=1e-3)
    assert (video.frame_count, video.size, video.rotation, video.has_audio) == (30, (64, 48), 0, False)
    assert abs(probe(out).duration - 30 / fps) <= 1 / fps
    back = read_frames(out)
    assert len(back) == 30 and back[0].shape == (48, 64, 3) and back[0].dtype == np.uint8
    error = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(frames, back)])
    assert error < 3.0  # crf 18 on smooth content


def test_ntsc_rate_is_written_as_given(tmp_path):
    out = tmp_path / "ntsc.mp4"
    write_video(out, clip(10), 30000 / 1001)
    assert "29.97 fps" in ffmpeg_report(out)
    assert open_video(out).fps == pytest.approx(30000 / 1001, abs=1e-9)


def test_odd_size_is_padded_to_even_by_repeating_the_edge(tmp_path):
    frames = clip(5, width=63, height=47)
    out = tmp_path / "odd.mp4"
    write_video(out, frames, 25)
    video = open_video(out)
    assert video.size == (64, 48)
    last = read_frames(out)[0]
    assert np.abs(last[:, 63].astype(int) - last[:, 62]).mean() < 4  # a repeated column, not a black bar
    assert np.abs(last[47].astype(int) - last[46]).mean() < 4


def test_output_is_h264_yuv420p_aac_with_metadata_tags(tmp_path):
    audio = write_wav(tmp_path / "tone.wav", 2.0)
    out = tmp_path / "tagged.mp4"
    write_video(out, clip(25), 25, audio_from=audio, metadata={"comment": "made by a test", "backend": "embedded"})
    report = ffmpeg_report(out)
    assert "Video: h264" in report and "yuv420p" in report and "Audio: aac" in report
    tags = probe(out).tags
    assert tags["synthetic"] == "true" and tags["comment"] == "made by a test" and tags["backend"] == "embedded"
    atoms = top_level_atoms(out)
    assert "moov" in atoms and "mdat" in atoms
    assert atoms.index("moov") < atoms.index("mdat")  # +faststart: the index comes first, so browsers stream it


def top_level_atoms(path) -> list[str]:
    """The types of an MP4 file's top-level boxes, in file order."""
    atoms, data = [], path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        kind = data[offset + 4:offset + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[offset + 8:offset + 16], "big")
        atoms.append(kind)
        if size < 8:
            break
        offset += size
    return atoms


ANNOUNCED = pytest.mark.parametrize("announced", [{}, {"frame_count": 50}], ids=["two-passes", "one-pass"])


@ANNOUNCED
@pytest.mark.parametrize("audio_seconds", [5.0, 0.5], ids=["audio-longer", "audio-shorter"])
def test_audio_is_cut_or_padded_to_the_video_length(tmp_path, audio_seconds, announced):
    audio = write_wav(tmp_path / "tone.wav", audio_seconds)
    out = tmp_path / "talk.mp4"
    write_video(out, clip(50), 25, audio_from=audio, **announced)  # 2.0 s of video
    video = open_video(out)
    assert video.has_audio and video.frame_count == 50
    assert abs(probe(out).duration - 2.0) <= 1 / 25
    samples = read_audio(out)
    assert abs(samples.size / 16000 - 2.0) <= 1 / 25
    if audio_seconds < 2.0:  # the tone, then silence up to the end of the video
        assert np.abs(samples[1600:6400]).max() > 0.3 and np.abs(samples[16000:]).max() < 0.01


@ANNOUNCED
@pytest.mark.parametrize(("offset", "loud_start"), [(1.0, True), (-0.5, False)])
def test_audio_offset_skips_or_delays_the_sound(tmp_path, offset, loud_start, announced):
    audio = write_wav(tmp_path / "late.wav", 3.0, tone_from=1.0 if offset > 0 else 0.0)
    out = tmp_path / "offset.mp4"
    write_video(out, clip(50), 25, audio_from=audio, audio_offset=offset, **announced)
    head = np.abs(read_audio(out)[800:6400]).max()  # 0.05-0.4 s
    assert (head > 0.3) if loud_start else (head < 0.01)


def test_announced_frame_count_is_kept_or_nothing_is_written(tmp_path):
    audio = write_wav(tmp_path / "tone.wav", 2.0)
    out = tmp_path / "short.mp4"
    with pytest.raises(OutputError, match="49 of the 50 frames announced"):
        write_video(out, clip(49), 25, audio_from=audio, frame_count=50)
    assert list(tmp_path.iterdir()) == [audio]


def test_writer_without_audio_has_no_audio_stream(tmp_path):
    out = tmp_path / "silent.mp4"
    write_video(out, clip(5), 25)
    assert "Audio:" not in ffmpeg_report(out) and not has_audio(out)


def test_exception_inside_writer_leaves_nothing_behind(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="renderer crashed"):
        with VideoWriter(out, 25) as writer:
            for frame in clip(5):
                writer.write(frame)
            raise RuntimeError("renderer crashed")
    assert not out.exists() and no_leftovers(tmp_path)


def test_writer_rejects_no_frames_and_wrong_frames(tmp_path):
    out = tmp_path / "empty.mp4"
    with pytest.raises(OutputError, match="no frames"):
        with VideoWriter(out, 25):
            pass
    with pytest.raises(ValueError, match="48x32"):
        with VideoWriter(out, 25, size=(64, 48)) as writer:
            writer.write(np.zeros((32, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        with VideoWriter(out, 25) as writer:
            writer.write(np.zeros((48, 64, 3), np.float32))
    assert not out.exists() and no_leftovers(tmp_path)
    silent = tmp_path / "silent.mp4"
    write_video(silent, clip(3), 25)
    with pytest.raises(BadInputError, match="no audio stream"):
        VideoWriter(out, 25, audio_from=silent)


def test_rotation_metadata_is_applied(tmp_path):
    plain, rotated = tmp_path / "plain.mp4", tmp_path / "rotated.mp4"
    frames = clip(5)
    write_video(plain, frames, 25)
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(rotated))  # 90 degrees counter-clockwise
    video = open_video(rotated)
    assert (video.rotation, video.size, video.frame_count) == (270, (48, 64), 5)
    frame = read_frames(rotated, max_frames=1)[0]
    assert np.abs(frame.astype(int) - np.rot90(frames[0])).mean() < 3.0


def test_iteration_can_stop_early_and_restart(tmp_path):
    out = tmp_path / "clip.mp4"
    write_video(out, clip(40), 25)
    video = open_video(out)
    assert len(read_frames(out, max_frames=3)) == 3
    for index, _ in enumerate(video):
        if index == 4:
            break
    assert sum(1 for _ in video) == 40


def test_probe_parses_older_ffmpeg_reports():
    report = textwrap.dedent(
        """\
        Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'phone.mov':
          Metadata:
            major_brand     : qt
            comment         : hello
          Duration: 00:01:02.50, start: 0.000000, bitrate: 9000 kb/s
          Stream #0:0(eng): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 128 kb/s (default)
          Stream #0:1(eng): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709), 1920x1080, 8000 kb/s, 29.97 fps, 29.97 tbr, 600 tbn (default)
            Metadata:
              handler_name    : Core Media Video
            Side data:
              displaymatrix: rotation of -90.00 degrees
          Stream #0:2: Video: mjpeg (Baseline), yuvj420p(pc), 300x300, 90k tbr, 90k tbn (attached pic)
        """
    )
    info = parse_ffmpeg_info(Path("phone.mov"), report)
    assert info.duration == 62.5 and info.tags == {"major_brand": "qt", "comment": "hello"}
    assert info.audio == AudioStream("aac", 48000, "stereo")
    assert (info.video.codec, info.video.pix_fmt, info.video.width, info.video.height) == ("h264", "yuv420p", 1920, 1080)
    assert info.video.fps == pytest.approx(30000 / 1001, abs=1e-9) and info.video.rotation == 90


# ---------------------------------------------------------------- bad video inputs


def test_bad_video_inputs_give_one_line_errors(tmp_path):
    (tmp_path / "zero.mp4").touch()
    (tmp_path / "notes.mp4").write_text("not a video\n")
    tone = write_wav(tmp_path / "tone.wav", 0.5)
    ffmpeg("-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "aac", str(tmp_path / "voice.m4a"))
    Image.fromarray(clip(1)[0]).save(tmp_path / "still.png")
    cases = {
        tmp_path / "missing.mp4": "does not exist",
        tmp_path / "zero.mp4": "empty",
        tmp_path / "notes.mp4": "not a media file",
        tone: "has no video stream",
        tmp_path / "voice.m4a": "has no video stream",
        tmp_path / "still.png": "still image",
    }
    for path, message in cases.items():
        with pytest.raises(BadInputError, match=message) as caught:
            open_video(path)
        line = caught.value.one_line()
        assert "\n" not in line and path.name in line and " — " in line


@pytest.mark.media
def test_truncated_mp4_is_reported(shared, tmp_path):
    data = (shared / "media/driving/lp_d0.mp4").read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="truncated"):
        open_video(half)


# ---------------------------------------------------------------- real media


@pytest.mark.media
@pytest.mark.parametrize(
    ("name", "fps", "size", "frames", "sound"),
    [
        ("driving/lp_d0.mp4", 25, (512, 512), 78, False),
        ("driving/lp_d9.mp4", 30, (512, 480), 587, True),
        ("talking/grid_swwp2s.mpg", 25, (360, 288), 75, True),
    ],
)
def test_real_videos(shared, name, fps, size, frames, sound):
    video = open_video(shared / "media" / name)
    assert (video.fps, video.size, video.frame_count, video.has_audio) == (fps, size, frames, sound)
    assert video.duration == pytest.approx(frames / fps)
    first = read_frames(video.path, max_frames=2)
    assert len(first) == 2 and first[0].shape == (size[1], size[0], 3) and first[0].std() > 10


@pytest.mark.media
def test_grid_decodes_every_frame_and_its_mp2_audio(shared):
    path = shared / "media/talking/grid_swwp2s.mpg"
    assert sum(1 for _ in open_video(path)) == 75
    samples = read_audio(path)
    assert samples.size / 16000 == pytest.approx(2.98, abs=0.05) and np.abs(samples).max() > 0.1


@pytest.mark.media
def test_audio_muxed_from_a_real_video_and_from_mpeg1(shared, tmp_path):
    for source in ("driving/lp_d9.mp4", "talking/grid_swwp2s.mpg"):
        out = tmp_path / f"{Path(source).stem}.mp4"
        write_video(out, clip(50), 25, audio_from=shared / "media" / source)
        assert "Audio: aac" in ffmpeg_report(out)
        assert abs(probe(out).duration - 2.0) <= 1 / 25


# ---------------------------------------------------------------- audio


def test_read_audio_resamples_and_averages_channels(tmp_path):
    stereo = write_wav(tmp_path / "stereo.wav", 1.0, rate=48000, channels=2)
    samples = read_audio(stereo, sample_rate=16000)
    assert samples.dtype == np.float32 and samples.shape == (16000,)
    assert np.abs(samples).max() == pytest.approx(0.5, abs=0.01)  # averaged, not summed
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    assert np.corrcoef(samples[100:-100], expected[100:-100])[0, 1] > 0.999


@pytest.mark.media
def test_read_audio_matches_librosa_on_flac(shared):
    import librosa

    path = shared / "media/speech/jfk.flac"
    samples = read_audio(path)
    reference, _ = librosa.load(path, sr=16000, mono=True)
    assert samples.shape == reference.shape == (176000,)
    assert np.corrcoef(samples, reference)[0, 1] > 0.999


def test_bad_audio_inputs(tmp_path):
    silent_video = tmp_path / "silent.mp4"
    write_video(silent_video, clip(3), 25)
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
    (tmp_path / "zero.wav").touch()
    cases = {
        silent_video: "no audio stream",
        empty: "empty audio",
        tmp_path / "zero.wav": "empty",
        tmp_path / "missing.wav": "does not exist",
    }
    for path, message in cases.items():
        with pytest.raises(BadInputError, match=message):
            read_audio(path)
    assert has_audio(write_wav(tmp_path / "t.wav", 0.2)) and not has_audio(silent_video)


# ---------------------------------------------------------------- images


def test_image_conversions(tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((40, 50), 77, np.uint8)).save(gray)
    assert read_image(gray).shape == (40, 50, 3) and read_image(gray)[0, 0].tolist() == [77, 77, 77]
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[:, :20] = (200, 10, 10, 255)  # opaque red left half, transparent right half
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    flat = read_image(tmp_path / "rgba.png")
    assert flat[0, 0].tolist() == [200, 10, 10] and flat[0, 39].tolist() == [255, 255, 255]
    Image.fromarray(np.full((40, 40), 40000, np.uint16)).save(tmp_path / "deep.png")
    assert read_image(tmp_path / "deep.png")[0, 0].tolist() == [156, 156, 156]  # 40000 >> 8, not clipped to 255


def test_exif_orientation_is_applied(tmp_path):
    picture = np.zeros((40, 80, 3), np.uint8)
    picture[:, :40] = 255  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(picture).save(tmp_path / "phone.jpg", exif=exif)
    upright = read_image(tmp_path / "phone.jpg")
    assert upright.shape == (80, 40, 3)
    assert upright[:30].mean() > 240 and upright[50:].mean() < 15  # the white half is now on top


def test_write_image_roundtrip_and_metadata(tmp_path):
    rgb = clip(1, width=64, height=48)[0]
    write_image(tmp_path / "a.png", rgb, metadata={"backend": "embedded"})
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)
    assert Image.open(tmp_path / "a.png").text == {"synthetic": "true", "backend": "embedded"}
    write_image(tmp_path / "a.jpg", rgb)
    assert np.abs(read_image(tmp_path / "a.jpg").astype(int) - rgb).mean() < 3
    assert b"synthetic=true" in Image.open(tmp_path / "a.jpg").info["comment"]
    with pytest.raises(OutputError, match="unknown extension"):
        write_image(tmp_path / "a.gif", rgb)
    assert no_leftovers(tmp_path)


def test_bad_image_inputs_give_one_line_errors(tmp_path):
    (tmp_path / "zero.jpg").touch()
    (tmp_path / "text.jpg").write_text("this is a text file\n")
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    Image.new("RGB", (500, 20)).save(tmp_path / "strip.png")
    good = tmp_path / "good.jpg"
    Image.fromarray(clip(1, 256, 256)[0]).save(good)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases = {
        tmp_path / "missing.jpg": "does not exist",
        tmp_path / "zero.jpg": "empty",
        tmp_path / "text.jpg": "not an image",
        tmp_path / "dot.png": "too small for a face",
        tmp_path / "strip.png": "too small for a face",
        cut: "truncated or corrupt",
    }
    for path, message in cases.items():
        with pytest.raises(BadInputError, match=message) as caught:
            read_image(path)
        line = caught.value.one_line()
        assert "\n" not in line and path.name in line and " — " in line


@pytest.mark.parametrize("with_exif", [False, True], ids=["plain", "exif"])
def test_truncated_png_is_bad_input_at_every_cut(tmp_path, with_exif):
    """A PNG cut anywhere reads whole or is exit 3 naming the file, never another error.

    Without an eXIf chunk before the pixels, reading the orientation decodes the pixels: a cut
    there raised Pillow's "image file is truncated" outside the guarded block (exit 1).
    """
    exif = Image.Exif()
    exif[0x0112] = 6
    whole = tmp_path / "whole.png"
    options = {"exif": exif.tobytes()} if with_exif else {}
    Image.fromarray(clip(1, 128, 128)[0]).save(whole, **options)
    data = whole.read_bytes()
    refused = 0
    for cut in range(40, len(data) - 12, max(1, len(data) // 60)):
        partial = tmp_path / f"cut{cut}.png"
        partial.write_bytes(data[:cut])
        try:
            assert read_image(partial).shape[2] == 3  # only the trailer was lost
        except BadInputError as error:
            assert partial.name in error.one_line()
            refused += 1
    assert refused >= 50


def test_large_image_is_downscaled_with_a_warning(tmp_path):
    Image.new("RGB", (3000, 2000), (10, 200, 30)).save(tmp_path / "big.jpg")
    with pytest.warns(ImageDownscaledWarning, match="3000x2000"):
        small = read_image(tmp_path / "big.jpg", max_pixels=1_000_000)
    assert small.shape == (666, 1000, 3) and np.abs(small[0, 0].astype(int) - (10, 200, 30)).max() <= 3


def _write_blank_png(path: Path, width: int, height: int) -> None:
    """A single-colour RGB PNG written row by row, so the test itself never holds the pixels."""
    import struct
    import zlib

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    row, packer = b"\x00" + bytes((90, 120, 150)) * width, zlib.compressobj(1)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_12000px_png_is_downscaled_within_bounded_memory(tmp_path):
    huge = tmp_path / "huge.png"
    _write_blank_png(huge, 12000, 12000)
    script = textwrap.dedent(
        f"""
        import resource, warnings
        from thead.io.image import read_image
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            image = read_image({str(huge)!r})
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(image.shape[0], image.shape[1], *image[0, 0], (after - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()  # fmt: skip
    height, width, red, green, blue, grown_mb = map(int, out)
    assert (height, width, red, green, blue) == (6000, 6000, 90, 120, 150)
    assert grown_mb < 1024, f"peak memory grew by {grown_mb} MB"
