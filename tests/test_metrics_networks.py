"""The weight-needing metrics: canonical key/shape layouts (fixtures written from the official
definitions), strict loading, and the whole code path with random weights via --weights-dir."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from thead.errors import WeightsError
from thead.metrics.base import Sample, load_network, resolve_weight_files
from thead.metrics.inception import FID_WEIGHTS, FIDInception
from thead.metrics.lpips import ALEXNET_FILE, LINEAR_FILE, LPIPSAlex, lpips_state_dict
from thead.metrics.syncnet import SyncNet, face_crops, resample_nearest, syncnet_scores

FIXTURES = Path(__file__).parent / "fixtures"


def layout(module: torch.nn.Module, ignored: tuple[str, ...] = ("num_batches_tracked",)) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items() if not k.endswith(ignored)}


def test_fid_inception_layout_is_canonical():
    fixture = json.loads((FIXTURES / "fid_inception_keys_shapes.json").read_text())
    assert layout(FIDInception()) == fixture["keys"]
    # the canonical checkpoint holds float32 tensors: its size in weights.toml (95,628,359 bytes) is the
    # parameter bytes plus pickle overhead of a few hundred bytes per tensor
    params = sum(int(np.prod(s)) for s in fixture["keys"].values())
    assert 0 < 95_628_359 - 4 * params < 300 * len(fixture["keys"])


def test_lpips_layout_is_canonical():
    fixture = json.loads((FIXTURES / "lpips_alex_keys_shapes.json").read_text())
    alexnet = {k: torch.zeros(s) for k, s in fixture["alexnet"].items()}
    linear = {k: torch.zeros(s) for k, s in fixture["linear"].items()}
    state = lpips_state_dict(alexnet, linear, "fixture")
    assert {k: list(v.shape) for k, v in state.items()} == layout(LPIPSAlex())


def test_syncnet_layout_is_canonical():
    fixture = json.loads((FIXTURES / "syncnet_keys_shapes.json").read_text())
    assert layout(SyncNet()) == fixture["keys"]


def test_arcface_fixture_describes_iresnet50():
    fixture = json.loads((FIXTURES / "arcface_w600k_r50_keys_shapes.json").read_text())
    assert sum(item["count"] for item in fixture["conv_weight_shapes"]) == fixture["num_convs"] == 53
    assert fixture["input"]["shape"][1:] == [3, 112, 112] and fixture["output"]["shape"][1:] == [512]


def test_real_arcface_onnx_matches_fixture():
    """Runs when `thead fetch-weights arcface-buffalo-l` has installed the real file."""
    onnx = pytest.importorskip("onnx", reason="the real ArcFace check reads the model with onnx, not installed")
    try:
        path = resolve_weight_files("arcface-buffalo-l", {"recognition": "w600k_r50.onnx"})["recognition"]
    except WeightsError:
        pytest.skip("real ArcFace (w600k_r50.onnx) layout check not run: the arcface-buffalo-l weights are not "
                    "installed (run `thead fetch-weights arcface-buffalo-l`; the tiny stand-in tests still run)")
    fixture = json.loads((FIXTURES / "arcface_w600k_r50_keys_shapes.json").read_text())
    model = onnx.load(str(path))
    shapes: dict[tuple, int] = {}
    for init in model.graph.initializer:
        if len(init.dims) == 4:
            shapes[tuple(init.dims)] = shapes.get(tuple(init.dims), 0) + 1
    assert shapes == {tuple(item["shape"]): item["count"] for item in fixture["conv_weight_shapes"]}


def test_strict_loading_names_the_wrong_keys(tmp_path):
    from safetensors.torch import save_file

    state = {k: v for k, v in SyncNet().state_dict().items() if not k.endswith("num_batches_tracked")}
    state["netfcaud.3.weight"] = torch.zeros(7, 7)
    state.pop("netcnnlip.0.bias")
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    with pytest.raises(WeightsError, match=r"missing: netcnnlip\.0\.bias.*shape mismatch: netfcaud\.3\.weight"):
        load_network(SyncNet(), path, torch.device("cpu"))


def test_missing_weights_name_the_fetch_command(tmp_path):
    with pytest.raises(WeightsError) as info:
        resolve_weight_files("syncnet", {"syncnet": "syncnet_v2.model"}, tmp_path)
    assert "thead fetch-weights syncnet" in info.value.hint


def _random_state(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """He-initialised weights and identity batch norms, so features still depend on the input."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in module.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue  # like the pre-0.4.1 canonical checkpoints
        if key.endswith(("running_var", "bn.weight")) or (value.dim() == 1 and key.endswith("weight")):
            out[key] = torch.ones(value.shape)
        elif value.dim() == 1:
            out[key] = torch.zeros(value.shape)
        else:
            fan_in = int(np.prod(value.shape[1:]))
            out[key] = torch.randn(value.shape, generator=generator) * (2.0 / fan_in) ** 0.5
    return out


def write_tiny_weights(folder: Path) -> Path:
    """Random weights for FID/IS, LPIPS and SyncNet under their canonical file names (pickled state
    dicts, loaded with weights_only=True) in ``folder``."""
    torch.save(_random_state(FIDInception(), 1), folder / FID_WEIGHTS)
    lpips = _random_state(LPIPSAlex(), 2)
    alexnet = {k: v for k, v in lpips.items() if k.startswith("features.")}
    fixture = json.loads((FIXTURES / "lpips_alex_keys_shapes.json").read_text())
    # the (unused) classifier only has to have AlexNet's keys and shapes: stride-0 views keep the file tiny
    alexnet.update({k: torch.zeros(1).expand(s) for k, s in fixture["alexnet"].items() if k.startswith("classifier.")})
    torch.save(alexnet, folder / ALEXNET_FILE)
    torch.save({f"lin{k[5:]}": v.abs() for k, v in lpips.items() if k.startswith("lins.")}, folder / LINEAR_FILE)
    torch.save(_random_state(SyncNet(), 3), folder / "syncnet_v2.model")
    return folder


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    return write_tiny_weights(tmp_path_factory.mktemp("weights"))


def _frames(count: int, seed: int, size: int = 96) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return [np.roll(base, k, axis=1) for k in range(count)]


def test_fid_and_is_code_path(weights_dir):
    from thead.metrics.fid import FID, fid_from_features
    from thead.metrics.inception_score import InceptionScore

    sample = Sample("x", _frames(5, 0), 25.0, reference=_frames(5, 1), weights_dir=weights_dir)
    fid = FID().compute(sample)
    assert np.isfinite(fid.value) and fid.value > 0 and fid.notes  # notes: fewer than 2048 frames
    generated, reference = fid.state
    assert generated.shape == (5, 2048) and fid_from_features(generated, generated) == pytest.approx(0.0, abs=1e-9)
    score = InceptionScore().compute(sample)  # reuses the sample's cached pool3 features
    assert score.value >= 1.0 and "IS_std" in score.extras and score.notes  # 5 frames -> 5 splits
    assert FID().aggregate([fid, fid]).value == pytest.approx(fid_from_features(np.vstack([generated] * 2),
                                                                              np.vstack([reference] * 2)))
    assert FID().describe(sample)["weights_sha256"]


def test_lpips_code_path(weights_dir):
    from thead.metrics.lpips import LPIPS

    frames = _frames(3, 0, 64)
    assert LPIPS().compute(Sample("x", frames, 25.0, reference=frames, weights_dir=weights_dir)).value == 0.0
    other = LPIPS().compute(Sample("x", frames, 25.0, reference=_frames(3, 5, 64), weights_dir=weights_dir))
    assert other.value > 0 and other.per_frame.shape == (3,)


def test_syncnet_scores_pair_each_5_frame_window_with_its_20_mfcc_columns(weights_dir):
    from thead.metrics.mfcc import mfcc
    from thead.metrics.syncnet import load_syncnet, sync_offsets

    model = load_syncnet(weights_dir / "syncnet_v2.model", "cpu")
    crops = np.stack(_frames(12, 2, 224))
    audio = (np.random.default_rng(0).normal(0, 3000, 12 * 640)).astype(np.int16)
    scores = syncnet_scores(model, crops, audio, torch.device("cpu"))
    # the windowing written out independently: video frames t..t+4 against MFCC columns 4t..4t+19
    cepstra = torch.from_numpy(mfcc(audio, 16000).T.copy()).float()
    video = torch.from_numpy(crops).float().permute(3, 0, 1, 2)
    with torch.no_grad():
        lips = torch.cat([model.forward_lip(video[None, :, t:t + 5]) for t in range(7)])
        sound = torch.cat([model.forward_audio(cepstra[None, None, :, 4 * t:4 * t + 20]) for t in range(7)])
    expected = sync_offsets(lips, sound)
    assert scores["offset"] == expected["offset"] and scores["LSE-D"] == pytest.approx(expected["LSE-D"], rel=1e-5)
    assert scores["LSE-C"] == pytest.approx(expected["LSE-C"], rel=1e-4, abs=1e-6)
    np.testing.assert_allclose(scores["mean_distances"], expected["mean_distances"], rtol=1e-5)
    shifted = syncnet_scores(model, crops[::-1].copy(), audio, torch.device("cpu"))
    assert shifted["LSE-D"] != pytest.approx(scores["LSE-D"], rel=1e-6)  # the video content matters


def test_syncnet_crop_geometry_and_resampling():
    frames = [np.full((200, 300, 3), 50, np.uint8) for _ in range(3)]
    boxes = np.tile([100.0, 50.0, 160.0, 130.0], (3, 1))  # w 60, h 80 -> half-size 40
    crops = face_crops(frames, boxes)
    assert crops.shape == (3, 224, 224, 3)
    assert resample_nearest(60, 30.0, 25.0).tolist()[:6] == [0, 1, 2, 4, 5, 6]
    assert len(resample_nearest(50, 25.0, 25.0)) == 50


def _tiny_arcface(path: Path) -> None:
    """A stand-in ONNX with w600k_r50's signature: [N, 3, 112, 112] -> [N, 512]."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(3 * 16, 512)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("AveragePool", ["input.1"], ["pooled"], kernel_shape=[28, 28], strides=[28, 28]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("MatMul", ["flat", "w"], ["683"])],
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["N", 512])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_csim_code_path(tmp_path, astronaut):
    from thead.metrics.csim import CSIM

    _tiny_arcface(tmp_path / "w600k_r50.onnx")
    frames = [astronaut, np.ascontiguousarray(astronaut[:, ::-1])]
    result = CSIM().compute(Sample("x", frames, 25.0, source=astronaut, weights_dir=tmp_path))
    assert result.per_frame[0] == pytest.approx(1.0, abs=1e-6)  # the source itself
    assert result.per_frame[1] < 0.999  # the mirrored face is another embedding
    assert result.value == pytest.approx(result.per_frame.mean(), abs=1e-12)
