"""The exit-code contract, tested as scripts meet it: the installed ``thead`` run as a subprocess.

0 success · 2 usage error · 3 bad input or unusable output · 130 SIGINT · 143 SIGTERM; one
``error:`` line on stderr, no output and no partial file left behind.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from thead.cli.app import app
from thead.io.image import write_image
from thead.io.video import open_video

THEAD = Path(sys.executable).with_name("thead")
COMMANDS = [info.name for info in app.registered_commands]


def thead(*args, cwd: Path | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(THEAD), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          **kwargs)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


@pytest.fixture(scope="module")
def talking(shared) -> Path:
    """A 3 s, 25 fps GRID clip of a speaker, with sound."""
    return shared / "media" / "talking" / "grid_bbaf2n.mpg"


# -- usage errors: exit 2 with one line, for every command -------------------------------------------------


def test_bare_thead_is_a_usage_error():
    done = thead()
    assert done.returncode == 2
    assert error_lines(done.stderr) == ["error: no command given — run `thead --help` to see the commands"]


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_option_is_exit_2_for_every_command(command):
    done = thead(command, "--bogus")
    assert done.returncode == 2, done.stderr
    assert len(error_lines(done.stderr)) == 1 and "--bogus" in done.stderr
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "fetch-weights"])  # fetch-weights NAME... is optional
def test_missing_argument_is_exit_2_for_every_command(command):
    done = thead(command)
    assert done.returncode == 2, done.stderr
    assert len(error_lines(done.stderr)) == 1 and "missing" in done.stderr.lower()


@pytest.mark.parametrize("command", COMMANDS)
def test_near_miss_command_name_suggests_the_right_one(command):
    done = thead(command[:-1] + "x")
    assert done.returncode == 2
    assert f"did you mean {command}?" in done.stderr


def test_near_miss_option_suggests_the_right_one(portrait):
    done = thead("drive-video", portrait, portrait, "-o", "x.mp4", "--sourse-face", "1")
    assert done.returncode == 2 and "did you mean --source-face?" in done.stderr


def test_eval_has_no_output_option(tmp_path):
    done = thead("eval", "out.mp4", "-o", tmp_path / "x.json")
    assert done.returncode == 2 and error_lines(done.stderr) == [
        "error: no such option: -o — run `thead eval --help` for usage"]


def test_bad_option_value_is_exit_2(portrait):
    done = thead("edit", portrait, "--yaw", "abc", "-o", "x.png")
    assert done.returncode == 2 and "--yaw" in done.stderr


def test_version_and_help_exit_0(capsys):
    from thead.cli.app import run

    assert thead("--version").returncode == 0 and thead("--help").returncode == 0
    for command in COMMANDS:  # in-process: each start of the CLI costs seconds
        assert run([command, "--help"]) == 0
        assert "Examples" in capsys.readouterr().out


# -- interruptions: 130 / 143, one line, nothing left -------------------------------------------------------


def _interrupt(args: list, cwd: Path, signum: int, when) -> subprocess.CompletedProcess:
    process = subprocess.Popen([str(THEAD), *map(str, args)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while not when() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the command ended before it could be interrupted"
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_drive_video_exits_128_plus_signal_and_leaves_nothing(tmp_path, portrait, talking, signum, code):
    args = ["drive-video", portrait, talking, "-o", "out.mp4", "--motion-out", "out.motion.safetensors"]
    done = _interrupt(args, tmp_path, signum, lambda: leftovers(tmp_path))  # once encoding has begun
    assert done.returncode == code, done.stderr
    assert error_lines(done.stderr) == ["error: interrupted"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_edit_exits_128_plus_signal_and_leaves_nothing(tmp_path, portrait, signum, code):
    args = ["edit", portrait, "--yaw", "10", "--duration", "30", "-o", "turn.mp4"]
    done = _interrupt(args, tmp_path, signum, lambda: leftovers(tmp_path))
    assert done.returncode == code, done.stderr
    assert error_lines(done.stderr) == ["error: interrupted"]
    assert list(tmp_path.iterdir()) == []


def test_interrupted_eval_exits_130_and_writes_no_table(tmp_path, tmp_path_factory, talking):
    from imageio_ffmpeg import get_ffmpeg_exe

    long = tmp_path_factory.mktemp("inputs") / "long.mpg"  # 12 s: still running when the signal comes, on any machine
    subprocess.run([get_ffmpeg_exe(), "-v", "error", "-stream_loop", "3", "-i", str(talking), "-c", "copy", str(long)],
                   check=True)
    args = ["eval", long, "--ref", long, "--metrics", "lmd,akd,blink,jitter", "--csv", "table.csv"]
    started = time.monotonic()
    done = _interrupt(args, tmp_path, signal.SIGINT, lambda: time.monotonic() - started > 2.5)
    assert done.returncode == 130, done.stderr
    assert error_lines(done.stderr) == ["error: interrupted"]
    assert list(tmp_path.iterdir()) == []


def test_partials_of_a_killed_run_are_removed_by_the_next_run(tmp_path, portrait, talking):
    args = ["drive-video", portrait, talking, "-o", "out.mp4"]
    killed = _interrupt(args, tmp_path, signal.SIGKILL, lambda: leftovers(tmp_path))
    assert killed.returncode == -signal.SIGKILL
    assert leftovers(tmp_path), "SIGKILL cannot clean up: the partial file is expected here"
    done = thead("drive-video", portrait, talking, "-o", "short.mp4", "--max-frames", "3", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.mp4"]


# -- outputs: only regular files are replaced; formats checked before any work ------------------------------


def test_fifo_output_is_refused_even_with_force(tmp_path, portrait):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    done = thead("drive-video", portrait, portrait, "-o", fifo, "--force")
    assert done.returncode == 3 and "not a regular file" in done.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_device_node_output_is_refused_even_with_force(tmp_path, portrait):
    node = tmp_path / "full.mp4"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # a private copy of /dev/full
    except PermissionError:
        pytest.skip("creating a device node needs root (CI runs as root)")
    done = thead("drive-video", portrait, portrait, "-o", node, "--force")
    assert done.returncode == 3 and str(node) in done.stderr
    assert stat.S_ISCHR(os.lstat(node).st_mode)


@pytest.mark.parametrize("name", ["out.gif", "out.avi"])  # the full list is checked in-process (test_atomic)
def test_unsupported_output_format_fails_before_any_work(tmp_path, name):
    done = thead("drive-video", tmp_path / "missing.jpg", tmp_path / "missing.mp4", "-o", tmp_path / name)
    assert done.returncode == 2, done.stderr  # 2, not 3: the output was checked before the (missing) inputs
    assert "unsupported output format" in done.stderr and ".mp4" in done.stderr


def test_directory_output_is_exit_3(tmp_path, portrait):
    (tmp_path / "out.mp4").mkdir()
    done = thead("drive-video", portrait, portrait, "-o", tmp_path / "out.mp4", "--force")
    assert done.returncode == 3 and "is a directory" in done.stderr


def test_output_directory_that_is_a_symlink_loop_is_exit_3(tmp_path, portrait):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    done = thead("drive-video", portrait, portrait, "-o", tmp_path / "loop" / "out.png")
    assert done.returncode == 3 and len(error_lines(done.stderr)) == 1


def test_longest_output_name_is_accepted(tmp_path, portrait):
    out = tmp_path / ("n" * 251 + ".png")
    done = thead("drive-video", portrait, portrait, "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.is_file()


def test_a_successful_command_prints_no_native_log_lines(tmp_path, portrait):
    # MediaPipe's C++ and TFLite log to fd 2 while their graphs start and run their first inference; those lines
    # are noise in a user's terminal and in a CI log. stderr carries thead's own messages only.
    done = thead("edit", portrait, "--smile", "0.3", "-o", tmp_path / "smile.png")
    assert done.returncode == 0, done.stderr
    native = [line for line in done.stderr.splitlines()
              if re.match(r"[IWEF]\d{4} |INFO: |WARNING: All log messages", line)]
    assert native == []


def test_markup_in_file_names_is_printed_as_is(tmp_path, portrait):
    missing = tmp_path / "[/b]x[bold].jpg"
    done = thead("drive-video", missing, portrait, "-o", tmp_path / "o.png")
    assert done.returncode == 3 and "[/b]x[bold].jpg" in done.stderr


# -- a full disk: exit 3 naming the output, nothing left -----------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 96 KiB tmpfs (root), else an output folder under a 96 KiB file-size limit."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    limit = None
    if not mounted:
        import resource

        def limit():  # writes past 96 KiB fail with EFBIG, as a full disk fails with ENOSPC
            resource.setrlimit(resource.RLIMIT_FSIZE, (96 * 1024, 96 * 1024))
    yield folder, limit
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)


def test_full_disk_while_writing_the_video_is_exit_3_naming_the_output(small_disk, portrait, talking):
    folder, limit = small_disk
    out = folder / "out.mp4"
    done = thead("drive-video", portrait, talking, "-o", out, preexec_fn=limit)
    assert done.returncode == 3, done.stderr
    assert error_lines(done.stderr)[0].startswith(f"error: ffmpeg failed to write {out}") or \
        f"cannot write {out}" in done.stderr
    assert str(portrait) not in done.stderr
    assert list(folder.iterdir()) == []


def test_full_disk_while_writing_the_motion_track_is_exit_3_naming_it(small_disk, tmp_path, portrait, talking):
    folder, limit = small_disk
    track = folder / "big.motion.safetensors"
    done = thead("drive-video", portrait, talking, "-o", tmp_path / "out.mp4", "--motion-out", track,
                 preexec_fn=limit)
    assert done.returncode == 3, done.stderr
    assert f"cannot write {track}" in done.stderr
    assert list(folder.iterdir()) == [] and not (tmp_path / "out.mp4").exists()


def test_motion_out_is_not_written_when_the_render_fails(tmp_path, talking):
    faceless = tmp_path / "wall.png"
    write_image(faceless, np.full((256, 256, 3), 128, np.uint8))
    done = thead("drive-video", faceless, talking, "-o", tmp_path / "o.mp4", "--motion-out", tmp_path / "m.npz")
    assert done.returncode == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wall.png"]


# -- video-to-video: the driving clip's timeline, and its sound -------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory, talking) -> dict[str, Path]:
    """The speaker as a 25 fps source (2 s, with sound) and as a 30 fps silent driving clip (3 s)."""
    import imageio_ffmpeg

    folder = tmp_path_factory.mktemp("clips")
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    source, driving = folder / "source25.mp4", folder / "driving30.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(talking), "-t", "2", "-c:v", "libx264", "-c:a", "aac",
                    str(source)], check=True)
    subprocess.run([ffmpeg, "-v", "error", "-i", str(talking), "-t", "3", "-an", "-r", "30", "-c:v", "libx264",
                    str(driving)], check=True)
    return {"source": source, "driving": driving}


def test_video_to_video_follows_the_driving_timeline(tmp_path, clips):
    out = tmp_path / "v2v.mp4"
    done = thead("drive-video", clips["source"], clips["driving"], "-o", out, "--json", "--crop-only")
    assert done.returncode == 0, done.stderr
    result, written, driving = json.loads(done.stdout), open_video(out), open_video(clips["driving"])
    assert written.fps == pytest.approx(30.0) and written.frame_count == driving.frame_count == 90
    assert written.duration == pytest.approx(3.0, abs=1 / 30)
    assert "held its last frame" in done.stderr  # the 2 s source ran out after 60 of the 90 frames
    assert "--audio source" in done.stderr and result["audio"] is False  # the source's speech was not kept


def test_audio_source_keeps_the_source_sound_cut_to_the_video(tmp_path, clips):
    from thead.io.probe import probe

    out = tmp_path / "v2v.mp4"
    done = thead("drive-video", clips["source"], clips["driving"], "-o", out, "--audio", "source", "--max-frames", "30")
    assert done.returncode == 0, done.stderr
    info = probe(out)
    assert info.audio is not None and info.duration == pytest.approx(1.0, abs=0.05)


def test_audio_none_and_audio_file(tmp_path, clips, talking):
    from thead.io.probe import probe

    silent, dubbed = tmp_path / "silent.mp4", tmp_path / "dubbed.mp4"
    assert thead("drive-video", clips["source"], talking, "-o", silent, "--audio", "none", "--max-frames", "10",
                 "-q").returncode == 0
    assert probe(silent).audio is None
    assert thead("drive-video", clips["source"], clips["driving"], "-o", dubbed, "--audio", talking,
                 "--max-frames", "10", "-q").returncode == 0
    assert probe(dubbed).audio is not None
    bad = thead("drive-video", clips["source"], talking, "-o", tmp_path / "x.mp4", "--audio", "sorce")
    assert bad.returncode == 2 and "driving, source, none" in bad.stderr


def test_source_face_and_driving_face_are_separate(tmp_path, astronaut, talking):
    pair = tmp_path / "two.png"
    write_image(pair, np.concatenate([astronaut, astronaut[:, ::-1]], axis=1))
    out = tmp_path / "second.mp4"
    done = thead("drive-video", pair, talking, "-o", out, "--source-face", "1", "--max-frames", "5")
    assert done.returncode == 0, done.stderr  # the one-person driving clip still uses its face 0
    done = thead("drive-video", pair, talking, "-o", tmp_path / "x.mp4", "--driving-face", "1", "--max-frames", "5")
    assert done.returncode == 3 and "face" in done.stderr


def test_source_frames_are_sampled_at_the_output_times():
    from thead.pipelines.media import source_at_times

    short = []
    frames = iter([(index, None, True) for index in range(10)])
    sampled = [item[0] for item in itertools.islice(source_at_times(frames, 25.0, 30.0, lambda: short.append(1)), 12)]
    assert sampled == [0, 0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9] and short == []
    frames = iter([(index, None, True) for index in range(4)])
    held = [item[0] for item in itertools.islice(source_at_times(frames, 30.0, 15.0, lambda: short.append(1)), 4)]
    assert held == [0, 2, 3, 3] and short == [1]


def test_demo_reports_the_video_length(tmp_path):
    done = subprocess.run([sys.executable, str(Path(__file__).parents[1] / "examples" / "demo.py"), str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": f"{THEAD.parent}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    assert "6.00 s of video" in done.stdout
    video = open_video(tmp_path / "d" / "demo.mp4")
    assert video.frame_count == 150 and video.fps == 25


def test_gitignore_covers_the_demo_folder():
    assert "demo/" in (Path(__file__).parents[1] / ".gitignore").read_text().split()
