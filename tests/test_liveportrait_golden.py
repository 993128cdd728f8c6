"""LivePortrait port vs golden tensors made with the official code (steps (a)-(g) of the golden README).

Golden folders: ``<shared>/golden/liveportrait`` plus every folder in ``THEAD_LIVEPORTRAIT_GOLDENS``
(os.pathsep-separated, same layout). Each step runs on the networks as loaded ("reference"), after
:meth:`LivePortraitNetworks.optimize_for_inference` ("optimized", README tolerances) and with its
Winograd convolutions the backend uses on CPU ("winograd", warp/decoder tolerances x5).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from thead.backends.liveportrait.config import load_models_yaml
from thead.backends.liveportrait.keypoints import KeypointInfo, headpose_to_degrees, rotation_matrix
from thead.backends.liveportrait.networks import NETWORK_NAMES, LivePortraitNetworks
from thead.backends.liveportrait.pipeline import AnimationOptions, LivePortraitPipeline, images_to_tensor, tensor_to_images
from thead.backends.liveportrait.retargeting import (
    combined_eye_ratio,
    combined_lip_ratio,
    eye_close_ratio,
    lip_close_ratio,
)

pytestmark = pytest.mark.golden

CPU = torch.device("cpu")
# README tolerances (max abs; "rel" adds rel * |expected|)
TOL_MLP = 1e-6
TOL_KEYPOINTS = 1e-5
TOL_LOGITS = 1e-4
TOL_DEGREES = 1e-3
TOL_FEATURES = 1e-4
TOL_IMAGE = 5e-4


def _shared_dir() -> Path:
    env = os.environ.get("THEAD_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def _golden_dirs() -> list[tuple[Path, bool]]:
    """(folder, listed explicitly in THEAD_LIVEPORTRAIT_GOLDENS)."""
    dirs = [(_shared_dir() / "golden" / "liveportrait", False)]
    extra = os.environ.get("THEAD_LIVEPORTRAIT_GOLDENS", "")
    dirs += [(Path(part), True) for part in extra.split(os.pathsep) if part.strip()]
    return dirs


GOLDEN_PARAMS = [pytest.param(entry, id=str(entry[0])) for entry in _golden_dirs()]


def assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float = 0.0, name: str = "") -> None:
    actual = torch.as_tensor(actual).detach().double().cpu()
    expected = torch.as_tensor(expected).double()
    assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    excess = (actual - expected).abs() - (atol + rtol * expected.abs())
    worst = (actual - expected).abs().max().item()
    assert excess.max().item() <= 0, f"{name}: max abs diff {worst:.3g} exceeds atol {atol} (+ rtol {rtol})"


@pytest.fixture(scope="module", params=GOLDEN_PARAMS)
def golden_dir(request: pytest.FixtureRequest) -> Path:
    path, explicit = request.param
    if not (path / "small_models.yaml").is_file():
        if explicit:
            pytest.fail(f"THEAD_LIVEPORTRAIT_GOLDENS lists {path}, which has no small_models.yaml")
        pytest.skip(f"no LivePortrait goldens at {path}")
    return path


# network variant -> multiplier of the warp/decoder tolerances (Winograd rounds ~1e-5 per conv)
VARIANT_SLACK = {"reference": 1.0, "optimized": 1.0, "winograd": 5.0}


@pytest.fixture(scope="module", params=list(VARIANT_SLACK))
def pipeline(request: pytest.FixtureRequest, golden_dir: Path) -> LivePortraitPipeline:
    """The networks as loaded, after ``optimize_for_inference()``, and with its Winograd convs."""
    torch.set_num_threads(2)
    files = {name: golden_dir / f"small_{name}.safetensors" for name in NETWORK_NAMES}
    networks = LivePortraitNetworks.from_files(files, load_models_yaml(golden_dir / "small_models.yaml"))
    if request.param != "reference":
        networks.optimize_for_inference(winograd=request.param == "winograd")
    return LivePortraitPipeline(networks, CPU)


@pytest.fixture
def slack(request: pytest.FixtureRequest) -> float:
    return VARIANT_SLACK[request.node.callspec.params["pipeline"]]


def _io(golden_dir: Path, step: str) -> dict[str, torch.Tensor]:
    return load_file(str(golden_dir / f"io_{step}.safetensors"))


def _info(io: dict[str, torch.Tensor], prefix: str) -> KeypointInfo:
    return KeypointInfo(**{name: io[f"{prefix}{name}"] for name in ("pitch", "yaw", "roll", "t", "exp", "scale", "kp")})


def _assert_info(actual: KeypointInfo, io: dict[str, torch.Tensor], prefix: str) -> None:
    for name, value in actual.as_dict().items():
        atol = TOL_DEGREES if name in ("pitch", "yaw", "roll") else TOL_KEYPOINTS
        assert_close(value, io[f"{prefix}{name}"], atol, name=f"{prefix}{name}")


def test_a_appearance_features(golden_dir: Path, pipeline: LivePortraitPipeline) -> None:
    io = _io(golden_dir, "a_appearance")
    f_s = pipeline.appearance_features(images_to_tensor(io["image_uint8"].numpy(), CPU))
    assert_close(f_s, io["f_s"], TOL_FEATURES, 1e-5, "f_s")


def test_b_motion_extractor(golden_dir: Path, pipeline: LivePortraitPipeline) -> None:
    io = _io(golden_dir, "b_motion")
    image = images_to_tensor(io["image_uint8"].numpy(), CPU)
    detector = pipeline.networks.motion_extractor.detector
    with torch.inference_mode():
        features = detector.forward_features(image)
        raw = pipeline.networks.motion_extractor(image)
    if "debug_features" in io:
        assert_close(features, io["debug_features"], TOL_FEATURES, 1e-5, "debug_features")
    for name, value in raw.items():
        atol = TOL_LOGITS if name in ("pitch", "yaw", "roll") else TOL_KEYPOINTS
        assert_close(value, io[f"raw_{name}"], atol, name=f"raw_{name}")
    _assert_info(pipeline.keypoint_info(image), io, "info_")


def test_c_keypoint_transform(golden_dir: Path) -> None:
    io = _io(golden_dir, "c_transform")
    info = _info(io, "in_info_")
    assert_close(info.rotation(), io["out_R"], TOL_KEYPOINTS, name="out_R")
    assert_close(info.transformed(), io["out_kp_transformed"], TOL_KEYPOINTS, name="out_kp_transformed")
    logits = _info(io, "in_logits_")
    assert_close(logits.transformed(), io["out_logits_kp_transformed"], TOL_KEYPOINTS, name="out_logits_kp_transformed")
    for name in ("pitch", "yaw", "roll"):
        degrees = headpose_to_degrees(io[f"in_logits_{name}"])
        assert_close(degrees, io[f"out_logits_degrees_{name}"], TOL_DEGREES, name=f"degrees_{name}")
    angles = io["in_angles_pyr_deg"]
    assert_close(rotation_matrix(angles[:, 0], angles[:, 1], angles[:, 2]), io["out_angles_R"], TOL_KEYPOINTS, name="angles_R")


def test_d_warping(golden_dir: Path, pipeline: LivePortraitPipeline, slack: float) -> None:
    io = _io(golden_dir, "d_warping")
    with torch.inference_mode():
        out = pipeline.networks.warping_module(io["f_s"], io["kp_driving"], io["kp_source"])
    for name in ("out", "occlusion_map", "deformation"):
        if name in io:
            assert_close(out[name], io[name], TOL_FEATURES * slack, 1e-5, name)
    for key in io:
        match = re.fullmatch(r"debug_mask_depth(\d+)", key)
        if match:
            assert_close(out["mask"][:, :, int(match.group(1))], io[key], TOL_FEATURES * slack, 1e-5, key)


def test_e_spade_decoder(golden_dir: Path, pipeline: LivePortraitPipeline, slack: float) -> None:
    io = _io(golden_dir, "e_spade")
    decoder = pipeline.networks.spade_generator
    captured: dict[str, torch.Tensor] = {}
    handles = [
        getattr(decoder, key.removeprefix("debug_")).register_forward_hook(
            lambda _m, _i, output, key=key: captured.__setitem__(key, output)
        )
        for key in io
        if key.startswith("debug_")
    ]
    try:
        with torch.inference_mode():
            image = decoder(io["feature"])
    finally:
        for handle in handles:
            handle.remove()
    assert_close(image, io["out"], 1e-4 * slack, name="out")
    for key, value in captured.items():
        assert_close(value, io[key], TOL_FEATURES * slack, 1e-5, key)


def test_f_stitching_and_retargeting(golden_dir: Path, pipeline: LivePortraitPipeline) -> None:
    io = _io(golden_dir, "f_stitching_retargeting")
    module = pipeline.networks.stitching_retargeting_module
    with torch.inference_mode():
        for name in ("stitching", "lip", "eye"):
            assert_close(getattr(module, name)(io[f"net_{name}_in"]), io[f"net_{name}_out"], TOL_MLP, name=name)
    x_s, x_d = io["kp_source"], io["kp_driving"]
    assert_close(pipeline.stitch_delta(x_s, x_d), io["stitch_delta"], TOL_MLP, name="stitch_delta")
    assert_close(pipeline.stitch(x_s, x_d), io["stitching_out"], TOL_KEYPOINTS, name="stitching_out")
    source_lmk, driving_lmk = io["lmk_source"].numpy()[None], io["lmk_driving"].numpy()[None]
    driving_eyes, driving_lip = eye_close_ratio(driving_lmk), lip_close_ratio(driving_lmk)
    assert_close(torch.from_numpy(driving_eyes), io["driving_eye_close_ratio"], TOL_MLP, name="eye ratio")
    assert_close(torch.from_numpy(driving_lip), io["driving_lip_close_ratio"], TOL_MLP, name="lip ratio")
    eye_condition = combined_eye_ratio(eye_close_ratio(source_lmk), driving_eyes[0, 0], CPU)
    lip_condition = combined_lip_ratio(lip_close_ratio(source_lmk), driving_lip[0, 0], CPU)
    assert_close(eye_condition, io["combined_eye_ratio"], TOL_MLP, name="combined_eye_ratio")
    assert_close(lip_condition, io["combined_lip_ratio"], TOL_MLP, name="combined_lip_ratio")
    assert_close(pipeline.eye_delta(x_s, eye_condition), io["eye_delta"], TOL_MLP, name="eye_delta")
    assert_close(pipeline.lip_delta(x_s, lip_condition), io["lip_delta"], TOL_MLP, name="lip_delta")
    lipnorm_condition = combined_lip_ratio(lip_close_ratio(source_lmk), 0.0, CPU)
    assert_close(lipnorm_condition, io["lipnorm_combined_lip_ratio"], TOL_MLP, name="lipnorm ratio")
    assert_close(pipeline.lip_delta(x_s, lipnorm_condition), io["lipnorm_lip_delta"], TOL_MLP, name="lipnorm delta")


def _assert_images(out: dict[str, torch.Tensor], io: dict[str, torch.Tensor], slack: float) -> None:
    assert_close(out["out"], io["out"], TOL_IMAGE * slack, name="out")
    if "out_uint8" in io:
        diff = np.abs(tensor_to_images(out["out"]).astype(int) - io["out_uint8"].numpy().astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.005, f"out_uint8: max {diff.max()}, share {(diff > 0).mean():.4f}"


def _source(golden_dir: Path, pipeline: LivePortraitPipeline, io: dict[str, torch.Tensor], **kwargs):
    source = pipeline.prepare_source(images_to_tensor(io["source_uint8"].numpy(), CPU), **kwargs)
    _assert_info(source.info, io, "source_info_")
    assert_close(source.x_s, io["x_s"], TOL_KEYPOINTS, name="x_s")
    assert_close(source.info.rotation(), io["R_s"], TOL_KEYPOINTS, name="R_s")
    return source


def test_g_pipeline_driving_image(golden_dir: Path, pipeline: LivePortraitPipeline, slack: float) -> None:
    io = _io(golden_dir, "g_pipeline_image")
    options = AnimationOptions()
    source = _source(golden_dir, pipeline, io)
    driving = pipeline.keypoint_info(images_to_tensor(io["driving_uint8"].numpy(), CPU))
    _assert_info(driving, io, "driving_info_")
    assert_close(driving.rotation(), io["driving_R"], TOL_KEYPOINTS, name="driving_R")
    assert_close(driving.transformed(), io["driving_x"], TOL_KEYPOINTS, name="driving_x")
    # A driving image is its own reference, with the neutral expression as the expression reference.
    reference = pipeline.reference(source, driving.with_exp(io["lip_array"].float()), options, expression_friendly=False)
    keypoints = pipeline.animate_keypoints(source, driving, reference, options)
    for stage in ("before_stitching", "after_stitching", "final"):
        assert_close(keypoints[stage], io[f"x_d_{stage}"], TOL_KEYPOINTS, name=f"x_d_{stage}")
    _assert_images(pipeline.warp_decode(source.f_s, source.x_s, keypoints["final"]), io, slack)

    lip_ratio = lip_close_ratio(io["source_lmk"].numpy()[None])
    source = _source(golden_dir, pipeline, io, source_lip_ratio=lip_ratio, normalize_lip=True)
    assert source.lip_normalization is not None
    assert_close(source.lip_normalization, io["lipnorm_lip_delta"], TOL_MLP, name="lipnorm_lip_delta")
    keypoints = pipeline.animate_keypoints(source, driving, reference, options)
    assert_close(keypoints["after_stitching"], io["lipnorm_x_d_after_stitching"], TOL_KEYPOINTS, name="lipnorm after")
    assert_close(keypoints["final"], io["lipnorm_x_d_final"], TOL_KEYPOINTS, name="lipnorm final")


def test_g_pipeline_driving_video(golden_dir: Path, pipeline: LivePortraitPipeline, slack: float) -> None:
    io = _io(golden_dir, "g_pipeline_video")
    options = AnimationOptions(driving_option="expression-friendly")
    source = _source(golden_dir, pipeline, io)
    driving = pipeline.keypoint_info(images_to_tensor(io["driving_uint8"].numpy(), CPU))
    _assert_info(driving, io, "driving_info_")
    assert_close(driving.rotation(), io["driving_R"], TOL_KEYPOINTS, name="driving_R")
    assert_close(driving.transformed(), io["driving_x"], TOL_KEYPOINTS, name="driving_x")
    reference = pipeline.reference(source, driving.frame(0), options)
    assert_close(reference.x_new, io["x_d_0_new"], TOL_KEYPOINTS, name="x_d_0_new")
    assert reference.multiplier == pytest.approx(io["motion_multiplier"].item(), rel=1e-5)
    frames = [pipeline.animate_keypoints(source, driving.frame(i), reference, options) for i in range(len(driving.kp))]
    for stage in ("before_stitching", "after_stitching", "final"):
        assert_close(torch.cat([f[stage] for f in frames]), io[f"x_d_{stage}"], TOL_KEYPOINTS, name=f"x_d_{stage}")
    images = [pipeline.warp_decode(source.f_s, source.x_s, f["final"])["out"] for f in frames]
    _assert_images({"out": torch.cat(images)}, io, slack)
