"""The metric runner: per-row results, never-silent skips, the mean row and its JSON form."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from thead.errors import NoFaceError
from thead.metrics.base import Metric, MetricResult, Sample
from thead.metrics.psnr import PSNR
from thead.metrics.runner import Row, cell, column_title, columns, evaluate, mean_row, plan_metrics, row_payload
from thead.metrics.ssim import SSIM


def frames(seed: int, count: int = 2, size: int = 24) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


class Faceless(Metric):
    """A metric that finds no face: its row records NaN and the reason."""

    name = "faceless"
    higher_is_better = False
    protocol = {"reference": "test"}

    def compute(self, sample: Sample) -> MetricResult:
        raise NoFaceError(f"no face found in {sample.name}", "check the video")


def test_plain_mean_ignores_rows_that_could_not_be_measured():
    results = [MetricResult(1.0, {"x": 4.0}), MetricResult(math.nan, {"x": math.nan}), MetricResult(4.0, {"x": 10.0})]
    mean = PSNR().aggregate(results)
    assert mean.value == 2.5 and mean.extras == {"x": 7.0}
    assert math.isnan(PSNR().aggregate([MetricResult(math.nan)]).value)


def test_mean_of_nothing_measurable_is_nan_without_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # users saw numpy's "mean of empty slice" under -q
        all_nan = PSNR().aggregate([MetricResult(math.nan, {"x": math.nan}), MetricResult(math.nan, {"x": math.nan})])
        empty = PSNR().aggregate([])
    assert math.isnan(all_nan.value) and math.isnan(all_nan.extras["x"])
    assert math.isnan(empty.value) and empty.extras == {}


def test_mean_of_an_extra_some_rows_lack():
    mean = PSNR().aggregate([MetricResult(1.0, {"lag": 2.0}), MetricResult(3.0, {})])
    assert mean.value == 2.0 and mean.extras == {"lag": 2.0}


def test_mean_row_averages_each_metric_over_the_rows_that_have_it():
    metrics = [PSNR(), SSIM()]
    rows = [Row("a", {"psnr": MetricResult(10.0), "ssim": MetricResult(0.5)}),
            Row("b", {"psnr": MetricResult(math.nan), "ssim": MetricResult(0.9)}),
            Row("c", {"psnr": MetricResult(30.0)})]
    mean = mean_row(metrics, rows)
    assert mean.name == "mean" and mean.notes == ["3 videos"]
    assert mean.results["psnr"].value == 20.0 and mean.results["ssim"].value == pytest.approx(0.7)
    assert "psnr" not in mean_row(metrics, rows[1:2]).results  # nothing measurable: no cell, not NaN


def test_evaluate_records_why_a_metric_could_not_run_on_a_row():
    sample = Sample("clip.mp4", frames(0), 25.0)
    row = evaluate(sample, [PSNR(), Faceless()], ["aligned"])
    assert math.isnan(row.results["psnr"].value) and row.results["psnr"].notes == ["skipped: needs --ref/--ref-dir"]
    assert math.isnan(row.results["faceless"].value)
    assert row.results["faceless"].notes == ["no face found in clip.mp4 — check the video"]
    assert (row.name, row.notes, row.frames, row.fps) == ("clip.mp4", ["aligned"], 2, 25.0)
    assert set(row.thumbnails) == {"generated"}


def test_evaluate_computes_every_runnable_metric():
    gen, ref = frames(1), frames(2)
    row = evaluate(Sample("x", gen, 25.0, reference=ref), [PSNR(), SSIM()], [])
    for metric in (PSNR(), SSIM()):
        alone = metric.compute(Sample("x", gen, 25.0, reference=ref))
        assert row.results[metric.name].value == alone.value and np.isfinite(alone.value)
    assert set(row.thumbnails) == {"generated", "reference"}


def test_plan_names_the_flag_a_skipped_metric_needs(tmp_path):
    planned, skipped = plan_metrics(["psnr", "cpbd", "csim", "lpips"], tmp_path, {"ref"})
    assert [m.name for m in planned] == ["psnr", "cpbd"]
    assert skipped["lpips"].startswith("weights 'lpips-alex' not in --weights-dir — run: thead fetch-weights")
    assert skipped["csim"].startswith("weights") or skipped["csim"].startswith("onnxruntime")
    planned, skipped = plan_metrics(["psnr", "ssim"], None, set())
    assert planned == [] and skipped == {"psnr": "needs --ref/--ref-dir", "ssim": "needs --ref/--ref-dir"}


def test_audio_is_never_missing_at_plan_time():
    """A video's own sound can serve, so audio metrics are planned and each row says if it had none."""
    planned, skipped = plan_metrics(["lipsync"], None, set())
    assert [m.name for m in planned] == ["lipsync"] and skipped == {}


def test_weights_are_looked_up_in_weights_dir_or_the_cache(tmp_path, monkeypatch):
    from thead.metrics.lpips import ALEXNET_FILE, LINEAR_FILE

    monkeypatch.setenv("THEAD_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    planned, skipped = plan_metrics(["lpips"], None, {"ref"})
    assert planned == [] and skipped == {"lpips": "weights 'lpips-alex' not installed — run: thead fetch-weights lpips-alex"}
    for name in (ALEXNET_FILE, LINEAR_FILE):
        (tmp_path / name).write_bytes(b"")
    planned, skipped = plan_metrics(["lpips"], tmp_path, {"ref"})
    assert [m.name for m in planned] == ["lpips"] and skipped == {}


def test_columns_titles_cells_and_json_payload():
    from thead.metrics.inception_score import InceptionScore
    from thead.metrics.syncnet import SyncNetScore

    metrics = [PSNR(), SyncNetScore(), InceptionScore()]
    assert columns(metrics) == [("psnr", "", True), ("sync", "", False), ("sync", "LSE-C", True),
                                ("sync", "offset", None), ("is", "", True), ("is", "IS_std", None)]
    assert [column_title(m, "", m.higher_is_better) for m in metrics] == ["PSNR ↑", "LSE-D ↓", "IS ↑"]
    assert column_title(metrics[1], "offset", None) == "offset"
    row = Row("a.mp4", {"psnr": MetricResult(math.inf, notes=["identical"]),
                        "sync": MetricResult(7.5, {"LSE-C": 2.0, "offset": -1})}, ["resized"], 25.0, 10)
    assert cell(row, "sync", "") == 7.5 and cell(row, "sync", "LSE-C") == 2.0 and cell(row, "is", "") is None and math.isnan(cell(row, "sync", "x"))
    assert row_payload(row, metrics) == {
        "name": "a.mp4", "frames": 10, "fps": 25.0, "notes": ["resized"],
        "metrics": {"psnr": {"value": None, "notes": ["identical"]},
                    "sync": {"value": 7.5, "LSE-C": 2.0, "offset": -1.0}}}
    assert row_payload(Row("mean", {}), metrics) == {"name": "mean", "metrics": {}}
    later_only = Row("b.mp4", {"is": MetricResult(2.0, {"IS_std": 0.5})})
    assert row_payload(later_only, metrics)["metrics"] == {"is": {"value": 2.0, "IS_std": 0.5}}


def test_sample_knows_which_inputs_it_has():
    frame = frames(3, 1)[0]
    bare = Sample("x", [frame], 25.0)
    full = Sample("x", [frame], 25.0, reference=[frame], source=frame, audio=np.zeros(160, np.float32))
    assert [bare.has(n) for n in ("ref", "source", "audio")] == [False, False, False]
    assert [full.has(n) for n in ("ref", "source", "audio")] == [True, True, True]


def test_report_thumbnails_span_the_clip_and_are_shrunk():
    gen = [np.full((320, 200, 3), i, np.uint8) for i in range(10)]
    ref = [np.full((320, 200, 3), 100 + i, np.uint8) for i in range(10)]
    source = np.full((480, 300, 3), 7, np.uint8)
    row = evaluate(Sample("x", gen, 25.0, reference=ref, source=source), [], [])
    assert [int(t[0, 0, 0]) for t in row.thumbnails["generated"]] == [0, 3, 6, 9]
    assert [int(t[0, 0, 0]) for t in row.thumbnails["reference"]] == [100, 103, 106, 109]
    assert [t.shape for t in row.thumbnails["generated"]] == [(160, 100, 3)] * 4
    assert [t.shape for t in row.thumbnails["source"]] == [(160, 100, 3)] and row.thumbnails["source"][0][0, 0, 0] == 7
    small = evaluate(Sample("y", [np.zeros((90, 60, 3), np.uint8)] * 2, 25.0), [], [])
    assert [t.shape for t in small.thumbnails["generated"]] == [(90, 60, 3)] * 2
