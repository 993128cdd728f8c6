"""`thead.eval(...)`: the Python API of `thead eval`, and what a folder or manifest with a bad file does
(the bad row is reported with its error, the good rows are kept, the command exits 3 at the end)."""

from __future__ import annotations

import csv
import html
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import thead
from thead.errors import BadInputError
from thead.io.video import write_video
from _cli import run_cli


def clip(seed: int, count: int = 6, size: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = np.kron(rng.integers(0, 256, (size // 8, size // 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    return [np.roll(base, 2 * k, axis=1) for k in range(count)]


class Recorder:
    """Notes that remember what they were told."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.progress_total: int | None = None

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def progress(self, items, total, description):
        self.progress_total = total
        return iter(items)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    """results/{a,b,c}.mp4 against refs/; c.mp4 is not a video (a corrupt file in the batch)."""
    root = tmp_path_factory.mktemp("eval")
    (root / "results").mkdir()
    (root / "refs").mkdir()
    for name, seed in (("a", 1), ("b", 2)):
        write_video(root / "results" / f"{name}.mp4", clip(seed), 25)
        write_video(root / "refs" / f"{name}.mp4", clip(0), 25)
    (root / "results" / "c.mp4").write_bytes(b"not a video at all")
    write_video(root / "refs" / "c.mp4", clip(0), 25)
    return root


def test_python_api_measures_and_reports_through_notes(folders):
    notes = Recorder()
    gen, ref = folders / "results" / "a.mp4", folders / "refs" / "a.mp4"
    result = thead.eval(gen, ref=ref, metrics=["psnr", "ssim", "lpips"], weights_dir=folders, reporter=notes)
    assert [m.name for m in result.metrics] == ["psnr", "ssim"] and result.mean is None and not result.failed
    assert notes.warnings == ["skipped lpips: weights 'lpips-alex' not in --weights-dir — run: thead fetch-weights "
                              "lpips-alex"] and notes.progress_total == 1
    same = thead.eval(gen, ref=gen, metrics="ssim,psnr")
    assert same.value("a.mp4", "ssim") == 1.0 and same.value("a.mp4", "psnr") == np.inf
    assert result.value("a.mp4", "ssim") < 1.0 and result.payload()["rows"][0]["metrics"]["ssim"]["value"] < 1.0


def test_a_bad_file_in_a_folder_fails_its_row_and_keeps_the_others(folders, tmp_path):
    table, page = tmp_path / "t.csv", tmp_path / "r.html"
    result = thead.eval(folders / "results", ref_dir=folders / "refs", metrics="psnr", csv=table, report=page)
    a, b, c = result.rows
    assert (a.name, b.name, c.name) == ("a.mp4", "b.mp4", "c.mp4") and not a.error and not b.error
    assert "c.mp4 is not a media file" in c.error
    assert result.mean.results["psnr"].value == pytest.approx((a.results["psnr"].value + b.results["psnr"].value) / 2)
    assert result.mean.notes == ["2 videos"] and result.written == [str(table), str(page)]
    rows = list(csv.DictReader(table.open()))
    assert [r["video"] for r in rows] == ["a.mp4", "b.mp4", "c.mp4", "mean"]
    assert rows[0]["psnr"] and rows[0]["error"] == "" and rows[2]["psnr"] == "" and rows[2]["error"] == c.error
    text = page.read_text()
    assert "<td>c.mp4</td><td class='failed' colspan='1'>failed</td>" in text
    assert f"<p class='failed'>failed: {html.escape(c.error)}</p>" in text
    with pytest.raises(BadInputError, match=r"^1 of 3 inputs could not be evaluated — c\.mp4: ") as info:
        result.raise_for_failures()
    assert info.value.exit_code == 3


def test_cli_prints_the_good_rows_then_exits_3(capsys, monkeypatch, folders, tmp_path):
    code, out, err = run_cli(capsys, monkeypatch, "eval", folders / "results", "--ref-dir", folders / "refs",
                             "--metrics", "psnr", "--json", "--csv", tmp_path / "t.csv")
    assert code == 3 and err.strip().splitlines()[-1].startswith("error: 1 of 3 inputs could not be evaluated — c.mp4")
    payload = json.loads(out)
    assert [r["name"] for r in payload["rows"]] == ["a.mp4", "b.mp4", "c.mp4"] and payload["failed"] == ["c.mp4"]
    assert payload["rows"][0]["metrics"]["psnr"]["value"] > 0 and "error" not in payload["rows"][0]
    assert payload["rows"][2]["error"] and payload["mean"]["metrics"]["psnr"]["value"] > 0
    assert (tmp_path / "t.csv").is_file()
    code, out, err = run_cli(capsys, monkeypatch, "eval", folders / "results", "--ref-dir", folders / "refs",
                             "--metrics", "psnr")
    assert code == 3 and "a.mp4" in out and "failed (c.mp4): " in out


def test_manifest_row_naming_a_missing_file_fails_alone(capsys, monkeypatch, folders, tmp_path):
    manifest = tmp_path / "runs.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in [
        {"generated": str(folders / "results" / "a.mp4"), "ref": str(folders / "refs" / "a.mp4")},
        {"generated": "nowhere.mp4"}]))
    code, out, err = run_cli(capsys, monkeypatch, "eval", "unused", "--manifest", manifest, "--metrics", "psnr", "--json")
    assert code == 3 and "nowhere.mp4 does not exist" in err
    rows = json.loads(out)["rows"]
    assert rows[0]["metrics"]["psnr"]["value"] > 0 and "nowhere.mp4 does not exist" in rows[1]["error"]


@pytest.mark.parametrize("content,message", [
    (b'[{"generated": "a.mp4"}]', "a JSON array, not an object"),
    (b"7", "a JSON number, not an object"),
])
def test_malformed_manifest_exits_3_with_one_line(capsys, monkeypatch, tmp_path, content, message):
    manifest = tmp_path / "runs.json"
    manifest.write_bytes(content)
    code, out, err = run_cli(capsys, monkeypatch, "eval", "unused", "--manifest", manifest)
    assert code == 3 and out == "" and err.count("\n") == 1 and err.startswith(f"error: manifest {manifest} line 1: ")
    assert message in err


def test_non_utf8_manifest_exits_3_through_the_installed_command(tmp_path):
    manifest = tmp_path / "runs.csv"
    manifest.write_bytes("generated\nvidéo.mp4\n".encode("latin-1"))
    done = subprocess.run([str(Path(sys.executable).with_name("thead")), "eval", "x", "--manifest", str(manifest)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and f"manifest {manifest} is not UTF-8 text (byte 13)" in done.stderr


def test_library_does_not_import_the_cli(folders):
    code = ("import sys, thead; r = thead.eval(sys.argv[1], ref=sys.argv[1], metrics='psnr'); "
            "assert 'thead.cli' not in sys.modules and not any(m.startswith('thead.cli.') for m in sys.modules); "
            "print(type(r).__name__)")
    done = subprocess.run([sys.executable, "-c", code, str(folders / "results" / "a.mp4")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "EvalResult", done.stderr
