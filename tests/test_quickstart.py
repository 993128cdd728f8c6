"""The README's quick start: its two commands are what CI runs and what the demo renders."""

from __future__ import annotations

import re
import subprocess
import sys

from thead.io.video import open_video

from conftest import REPO


def _quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_has_two_commands_and_ci_runs_the_second():
    install_demo, install_test = _quick_start_commands()
    assert install_demo == "pip install . && python examples/demo.py"
    test_command = install_test.split("&&")[-1].strip()
    ci = (REPO / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_demo_renders_a_playable_video(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "examples" / "demo.py"), str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    video = open_video(tmp_path / "demo" / "demo.mp4")
    assert video.frame_count == 150 and video.fps == 25.0 and video.size == (512, 512)
