"""`thead eval` from the command line: table, JSON, CSV, report, folders, alignment, skips, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from thead.io.image import write_image
from thead.io.video import write_video
from thead.metrics.inputs import LoadedMedia, align_reference
from thead.metrics.lpips import ALEXNET_FILE, LINEAR_FILE, LPIPSAlex
from _cli import run_cli


def moving_frames(count: int, shift: int = 0, size: int = 96) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    base = np.kron(rng.integers(0, 256, (size // 8, size // 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    return [np.roll(base, 2 * k + shift, axis=1) for k in range(count)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    for folder in ("results", "refs"):
        (root / folder).mkdir()
    for name, shift in (("a", 0), ("b", 4)):
        write_video(root / "results" / f"{name}.mp4", moving_frames(10, shift), 25)
        write_video(root / "refs" / f"{name}.mp4", moving_frames(10), 25)
    write_video(root / "long.mp4", moving_frames(40), 25)
    return root


def test_single_video_json(capsys, monkeypatch, clips):
    gen = clips / "results" / "a.mp4"
    code, out, err = run_cli(capsys, monkeypatch, "eval", gen, "--ref", gen, "--metrics", "ssim,psnr,cpbd", "--json")
    assert code == 0, err
    payload = json.loads(out)
    metrics = payload["rows"][0]["metrics"]
    assert metrics["ssim"]["value"] == 1.0
    assert metrics["psnr"]["value"] is None and "infinite" in metrics["psnr"]["notes"][0]
    assert 0.0 <= metrics["cpbd"]["value"] <= 1.0
    assert set(payload["protocols"]) == {"ssim", "psnr", "cpbd"} and payload["mean"] is None


def test_table_output_and_weight_skips_are_never_silent(capsys, monkeypatch, clips, tmp_path):
    gen, ref = clips / "results" / "b.mp4", clips / "refs" / "b.mp4"
    code, out, err = run_cli(capsys, monkeypatch, "eval", gen, "--ref", ref, "--metrics", "ssim,psnr,fid,sync",
                             "--weights-dir", tmp_path)
    assert code == 0, err
    assert "SSIM ↑" in out and "PSNR ↑" in out and "protocol ssim:" in out
    assert "skipped fid" in err and "thead fetch-weights fid-inception" in err
    assert "skipped sync" in err and "thead fetch-weights syncnet" in err


def test_folder_mode_mean_row_csv_and_report(capsys, monkeypatch, clips, tmp_path):
    table, report = tmp_path / "table.csv", tmp_path / "report.html"
    code, out, err = run_cli(capsys, monkeypatch, "eval", clips / "results", "--ref-dir", clips / "refs",
                             "--metrics", "ssim,psnr", "--csv", table, "--report", report, "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert [r["name"] for r in payload["rows"]] == ["a.mp4", "b.mp4"]
    ssim_a, ssim_b = (r["metrics"]["ssim"]["value"] for r in payload["rows"])
    assert payload["mean"]["metrics"]["ssim"]["value"] == pytest.approx((ssim_a + ssim_b) / 2)
    rows = list(csv.DictReader(table.open()))
    assert [r["video"] for r in rows] == ["a.mp4", "b.mp4", "mean"] and float(rows[1]["ssim"]) == pytest.approx(ssim_b)
    page = report.read_text()
    assert "data:image/png;base64," in page and "<svg" in page and "protocol" in page.lower()
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_weights_dir_runs_lpips(capsys, monkeypatch, clips, tmp_path):
    state = LPIPSAlex().state_dict()
    features = {k: torch.randn(v.shape) * 0.05 for k, v in state.items() if k.startswith("features.")}
    features.update({"classifier.1.weight": torch.zeros(1).expand(4096, 9216), "classifier.1.bias": torch.zeros(4096),
                     "classifier.4.weight": torch.zeros(1).expand(4096, 4096), "classifier.4.bias": torch.zeros(4096),
                     "classifier.6.weight": torch.zeros(1).expand(1000, 4096), "classifier.6.bias": torch.zeros(1000)})
    torch.save(features, tmp_path / ALEXNET_FILE)
    torch.save({f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate((64, 192, 384, 256, 256))},
               tmp_path / LINEAR_FILE)
    gen = clips / "results" / "a.mp4"
    code, out, err = run_cli(capsys, monkeypatch, "eval", gen, "--ref", clips / "results" / "b.mp4", "--metrics", "lpips",
                             "--weights-dir", tmp_path, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["rows"][0]["metrics"]["lpips"]["value"] > 0
    assert result["protocols"]["lpips"]["alexnet_sha256"]


def test_images_compare_as_single_frames(capsys, monkeypatch, tmp_path, astronaut):
    write_image(tmp_path / "gen.png", astronaut)
    write_image(tmp_path / "ref.png", np.clip(astronaut.astype(int) + 20, 0, 255).astype(np.uint8))
    code, out, err = run_cli(capsys, monkeypatch, "eval", tmp_path / "gen.png", "--ref", tmp_path / "ref.png",
                             "--metrics", "ssim,psnr", "--json")
    assert code == 0, err
    metrics = json.loads(out)["rows"][0]["metrics"]
    assert metrics["ssim"]["value"] == pytest.approx(0.8340736699045496, abs=1e-9)  # reference pair C
    assert metrics["psnr"]["value"] == pytest.approx(22.183499073286587, abs=1e-9)


def test_mismatched_durations_are_refused(capsys, monkeypatch, clips):
    code, out, err = run_cli(capsys, monkeypatch, "eval", clips / "results" / "a.mp4", "--ref", clips / "long.mp4",
                             "--metrics", "ssim")
    assert code == 3 and err.startswith("error: a.mp4: generated lasts 0.40 s") and "trim" in err


def test_bad_inputs(capsys, monkeypatch, clips, tmp_path):
    code, _, err = run_cli(capsys, monkeypatch, "eval", tmp_path / "missing.mp4", "--metrics", "ssim")
    assert code == 3 and "does not exist" in err
    code, _, err = run_cli(capsys, monkeypatch, "eval", clips / "results" / "a.mp4", "--metrics", "nonsense")
    assert code == 2 and "unknown metric" in err
    gen = clips / "results" / "a.mp4"
    code, _, err = run_cli(capsys, monkeypatch, "eval", gen, "--ref", gen, "--csv", gen)
    assert code == 3 and "also an input" in err
    code, _, err = run_cli(capsys, monkeypatch, "eval", clips / "results", "--ref-dir", tmp_path, "--metrics", "ssim")
    assert code == 3 and "no reference for a.mp4" in err


def test_nearest_time_alignment_of_fps_and_counts():
    frames25 = [np.full((8, 8, 3), i, np.uint8) for i in range(25)]
    frames50 = [np.full((8, 8, 3), i // 2, np.uint8) for i in range(50)]
    gen, ref, notes = align_reference(LoadedMedia(frames25, 25.0), LoadedMedia(frames50, 50.0), "x")
    assert len(gen) == len(ref) == 25 and all((g == r).all() for g, r in zip(gen, ref))
    assert "resampled by nearest time" in notes[0]
    gen, ref, notes = align_reference(LoadedMedia(frames25, 25.0), LoadedMedia(frames25[:24], 25.0), "x")
    assert len(gen) == 24 and "past the reference's end" in notes[0]
    big = [np.zeros((16, 16, 3), np.uint8)] * 25
    _, ref, notes = align_reference(LoadedMedia(frames25, 25.0), LoadedMedia(big, 25.0), "x")
    assert ref[0].shape == (8, 8, 3) and "resized" in notes[-1]


@pytest.mark.media
@pytest.mark.parametrize("clip", ["grid_bbaf2n", "grid_lbbc2a", "grid_lrwp9a"])
def test_lipsync_finds_real_speech_in_step_and_another_sentence_not(capsys, monkeypatch, shared, clip):
    """Real GRID clips with their own sound: the best lag within 80 ms (levels of energy put these three 320-400 ms
    off); the same video with another speaker's sentence: no correlation in step."""
    talking = shared / "media" / "talking"
    code, out, err = run_cli(capsys, monkeypatch, "eval", talking / f"{clip}.mpg", "--metrics", "lipsync", "--json")
    assert code == 0, err
    own = json.loads(out)["rows"][0]["metrics"]["lipsync"]
    assert abs(own["lag_ms"]) <= 80 and own["corr_at_0"] > 0.3
    other = talking / "grid_pwij3p.mpg"
    code, out, err = run_cli(capsys, monkeypatch, "eval", talking / f"{clip}.mpg", "--audio", other,
                             "--metrics", "lipsync", "--json")
    assert code == 0, err
    assert json.loads(out)["rows"][0]["metrics"]["lipsync"]["corr_at_0"] < 0.15


@pytest.mark.media
def test_real_clip_against_itself_and_another(capsys, monkeypatch, shared, tmp_path):
    clip = shared / "media" / "talking" / "grid_swwp2s.mpg"
    code, out, err = run_cli(capsys, monkeypatch, "eval", clip, "--ref", clip, "--json",
                             "--metrics", "ssim,lmd,akd,lipsync,blink,headpose,jitter")
    assert code == 0, err
    m = json.loads(out)["rows"][0]["metrics"]
    assert m["ssim"]["value"] == 1.0 and m["lmd"]["value"] == 0.0 and m["akd"]["value"] == 0.0
    assert m["lipsync"]["value"] > 0.25 and abs(m["lipsync"]["lag_ms"]) <= 200  # real speech: mouth follows energy
    assert 20 < m["blink"]["value"] < 120 and m["blink"]["blinks"] == 3  # three blinks in this 3 s clip
    assert m["jitter"]["value"] < 2.0 and m["headpose"]["value"] < 10.0
    other = shared / "media" / "talking" / "grid_bbaf2n.mpg"
    code, out, err = run_cli(capsys, monkeypatch, "eval", clip, "--ref", other, "--json", "--metrics", "lmd,akd")
    different = json.loads(out)["rows"][0]["metrics"]
    assert different["lmd"]["value"] > 1.0 and different["akd"]["value"] > 1.0


@pytest.mark.media
def test_sync_path_on_a_real_clip(capsys, monkeypatch, shared, tmp_path):
    """LSE-D/C end to end (face crops from the embedded tracker, the clip's own audio) with random SyncNet weights."""
    from thead.metrics.syncnet import SyncNet

    generator = torch.Generator().manual_seed(0)
    state = {k: (torch.ones_like(v) if k.endswith("running_var") else torch.randn(v.shape, generator=generator) * 0.02)
             for k, v in SyncNet().state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "syncnet_v2.model")
    clip = shared / "media" / "talking" / "grid_swwp2s.mpg"
    code, out, err = run_cli(capsys, monkeypatch, "eval", clip, "--metrics", "sync", "--weights-dir", tmp_path,
                             "--max-frames", 30, "--json")
    assert code == 0, err
    sync = json.loads(out)["rows"][0]["metrics"]["sync"]
    assert sync["value"] > 0 and sync["LSE-C"] >= 0 and -15 <= sync["offset"] <= 15


def test_manifest_rows(capsys, monkeypatch, clips, tmp_path):
    manifest = tmp_path / "runs.csv"
    manifest.write_text(f"generated,ref\n{clips / 'results' / 'a.mp4'},{clips / 'refs' / 'a.mp4'}\n"
                        f"{clips / 'results' / 'b.mp4'},{clips / 'refs' / 'b.mp4'}\n")
    code, out, err = run_cli(capsys, monkeypatch, "eval", "unused", "--manifest", manifest, "--metrics", "ssim", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert len(payload["rows"]) == 2 and 0 < payload["mean"]["metrics"]["ssim"]["value"] <= 1
    bad = tmp_path / "bad.csv"
    bad.write_text("generated,ref\n,x.mp4\n")
    code, _, err = run_cli(capsys, monkeypatch, "eval", "unused", "--manifest", bad)
    assert code == 3 and "row 2 has no 'generated' path" in err
