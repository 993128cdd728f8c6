"""JoyVASA port vs golden tensors made with the official code (steps (a)-(d) of the golden README).

Golden folders: ``<shared>/golden/joyvasa`` plus every folder in ``THEAD_JOYVASA_GOLDENS``
(os.pathsep-separated, same layout). Tolerances are the README's suggested max-abs ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from thead.backends.joyvasa.checkpoint import load_generator
from thead.backends.joyvasa.config import JoyVASAConfig, config_from_state_dict
from thead.backends.joyvasa.denoiser import DiffusionSchedule, MotionGenerator
from thead.backends.joyvasa.mapping import (
    MotionTemplate,
    SourcePose,
    angles_of,
    app_driving,
    cli_driving,
    keypoints,
    relative_motion,
    rotations,
    smooth_pose,
)
from thead.backends.joyvasa.sampler import Sampler
from thead.backends.liveportrait.keypoints import KeypointInfo, driven_keypoints

pytestmark = pytest.mark.golden

TOL_AUDIO = 1e-4
TOL_DENOISER = 1e-5
TOL_MOTION = 1e-4
TOL_DEGREES = 1e-3
TOL_EXP = 1e-6
TOL_KEYPOINTS = 1e-5
TOL_MULTIPLIER = 1e-6
MOTION = ("exp", "scale", "t", "pitch", "yaw", "roll")
HUBERT_META = ("architectures", "transformers_version", "model_type")


def _shared_dir() -> Path:
    env = os.environ.get("THEAD_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def _golden_dirs() -> list[tuple[Path, bool]]:
    """(folder, listed explicitly in THEAD_JOYVASA_GOLDENS)."""
    dirs = [(_shared_dir() / "golden" / "joyvasa", False)]
    extra = os.environ.get("THEAD_JOYVASA_GOLDENS", "")
    return dirs + [(Path(part), True) for part in extra.split(os.pathsep) if part.strip()]


@pytest.fixture(scope="module", params=[pytest.param(entry, id=str(entry[0])) for entry in _golden_dirs()])
def golden_dir(request: pytest.FixtureRequest) -> Path:
    path, explicit = request.param
    if not (path / "small_config.json").is_file():
        if explicit:
            pytest.fail(f"THEAD_JOYVASA_GOLDENS lists {path}, which has no small_config.json")
        pytest.skip(f"no JoyVASA goldens at {path}")
    return path


def _config(golden_dir: Path, pe: str) -> JoyVASAConfig:
    small = json.loads((golden_dir / "small_config.json").read_text())
    head, net = small["DitTalkingHead"], small["DenoisingNetwork_fixed"]
    hubert_file = golden_dir / small.get("hubert_config_file", "small_hubert_config.json")
    hubert = {k: v for k, v in json.loads(hubert_file.read_text()).items() if k not in HUBERT_META}
    return JoyVASAConfig(motion_feat_dim=head["motion_feat_dim"], n_motions=head["n_motions"],
                         n_prev_motions=head["n_prev_motions"], feature_dim=head["feature_dim"],
                         n_diff_steps=head["n_diff_steps"], n_heads=net["n_heads"], n_layers=net["n_layers"],
                         mlp_ratio=net["mlp_ratio"], step_table_rows=net["TE_max_len"],
                         position_table_rows=net["PE_max_len"], pe=pe, hubert=hubert)


@pytest.fixture(scope="module")
def state(golden_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(golden_dir / "small_dit_talking_head.safetensors"))


@pytest.fixture(scope="module")
def generator(golden_dir: Path, state):
    """The small network loaded strictly (each test picks its positional encoding with ``_with_pe``).

    One thread: these toy tensors gain nothing from more, and spinning threads crawl on a busy machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = MotionGenerator(_config(golden_dir, "fixed"))
    load_generator(model, state, "golden state dict")
    yield model
    torch.set_num_threads(threads)


def _with_pe(model: MotionGenerator, pe: str) -> MotionGenerator:
    model.use_pe(pe)
    return model


def _io(golden_dir: Path, step: str) -> dict[str, torch.Tensor]:
    return load_file(str(golden_dir / f"io_{step}.safetensors"))


def assert_close(actual, expected, atol: float, name: str) -> None:
    actual = torch.as_tensor(np.asarray(actual) if not isinstance(actual, torch.Tensor) else actual).double()
    expected = torch.as_tensor(np.asarray(expected) if not isinstance(expected, torch.Tensor) else expected).double()
    assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    worst = (actual - expected).abs().max().item()
    assert worst <= atol, f"{name}: max abs diff {worst:.3g} exceeds {atol}"


def test_config_is_read_from_the_checkpoint_shapes(golden_dir: Path, state) -> None:
    expected = _config(golden_dir, "legacy")
    found = config_from_state_dict(state)
    for name in ("motion_feat_dim", "n_motions", "n_prev_motions", "feature_dim", "n_diff_steps"):
        assert getattr(found, name) == getattr(expected, name), name
    for name in ("hidden_size", "num_hidden_layers", "intermediate_size", "conv_dim"):
        assert found.hubert[name] == expected.hubert[name], name


@pytest.mark.parametrize("variant", ["", "_offgrid", "_window"])
def test_a_audio_frontend_per_window(golden_dir: Path, generator, variant: str) -> None:
    io = _io(golden_dir, "a_audio_frontend")
    model = _with_pe(generator, "fixed")
    frames = int(io["frame_num"]) if variant != "_window" else model.config.n_motions
    trace: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        out = model.audio_features(io[f"in_audio{variant}"], frames, trace)
    assert_close(out, io[f"out_audio_feat{variant}"], TOL_AUDIO, "audio features")
    if variant == "_window":
        assert_close(trace["hidden"], io["debug_hubert_last_hidden_window"], TOL_AUDIO, "window hidden state")
        return
    assert_close(trace["padded"], io[f"debug_padded_audio{variant}"], 0.0, "padded audio")
    assert_close(trace["cnn"], io[f"debug_cnn_features{variant}"], TOL_AUDIO, "CNN features")
    assert_close(trace["stretched"], io[f"debug_interp_features{variant}"], TOL_AUDIO, "interpolated CNN frames")
    if not variant:
        assert_close(trace["projected"], io["debug_projected"], TOL_AUDIO, "feature projection")
        assert_close(trace["hidden"], io["debug_hubert_last_hidden"], TOL_AUDIO, "HuBERT last hidden state")


@pytest.mark.parametrize("pe, key", [("fixed", "out"), ("legacy", "out_legacy_pe")])
def test_b_denoiser(golden_dir: Path, generator, pe: str, key: str) -> None:
    io = _io(golden_dir, "b_denoiser")
    net = _with_pe(generator, pe).denoising_net
    memory = torch.cat([io["prev_audio_feat"], io["audio_feat"]], dim=1)
    trace: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        out = net.denoise(io["motion_feat"], io["prev_motion_feat"], io["step"], net.cross_values(memory), trace)
        assert_close(net.step_embedding(io["step"]), io["debug_step_embedding"], TOL_DENOISER, "step embedding")
    assert_close(out, io[key], TOL_DENOISER, f"denoiser output ({pe} positional encoding)")
    assert torch.equal(net.alignment_mask, io["alignment_mask"])
    if pe == "fixed":
        assert_close(trace["transformer_in"], io["debug_transformer_in"], TOL_DENOISER, "transformer input")
        assert_close(trace["layer0_out"], io["debug_layer0_out"], TOL_DENOISER, "decoder layer 0")
        assert_close(trace["transformer_out"], io["debug_transformer_out"], TOL_DENOISER, "transformer output")


def test_b_guidance_batch_rows_are_null_audio_then_audio(golden_dir: Path, generator) -> None:
    io = _io(golden_dir, "b_denoiser")
    model = _with_pe(generator, "fixed")
    frames = io["audio_feat"].shape[1]
    audio = torch.cat([model.null_audio_feat.expand(1, frames, -1), io["audio_feat"][:1]])
    with torch.inference_mode():
        out = model.denoising_net(io["motion_feat"][:1].expand(2, -1, -1), audio,
                                  io["prev_motion_feat"][:1].expand(2, -1, -1),
                                  io["prev_audio_feat"][:1].expand(2, -1, -1), io["step"][:1].expand(2))
    assert_close(out, io["cfg_results"], TOL_DENOISER, "cfg batch")


def _sample(model: MotionGenerator, io: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """The official run replayed with its recorded draws: x_T, then per window the z of t = 50 ... 2."""
    noise = iter(io["noise_z"].reshape(-1, 1, *io["noise_z"].shape[2:]))
    record: dict[str, list[torch.Tensor]] = {}
    sampler = Sampler(model, float(io["cfg_scale"]))
    with torch.inference_mode():
        chunks = list(sampler.windows(io["in_audio"], lambda shape: next(noise), io["noise_motion_at_T"], record))
    return torch.cat(chunks, dim=1)[0], record


def test_c_sampling_windows_and_joined_motion(golden_dir: Path, generator) -> None:
    io = _io(golden_dir, "c_sampling")
    coef, record = _sample(_with_pe(generator, "fixed"), io)
    assert len(record["motion"]) == int(io["n_subdivision"]) and coef.shape[0] == int(io["n_frames"])
    assert_close(torch.stack(record["audio_in"]), io["win_audio_in"], 0.0, "window audio")
    assert_close(torch.stack(record["audio_feat"]), io["win_audio_feat"], TOL_AUDIO, "window audio features")
    assert_close(torch.stack(record["prev_motion"][1:]), io["win_prev_motion_in"], TOL_MOTION, "previous motion")
    assert_close(torch.stack(record["prev_audio"][1:]), io["win_prev_audio_in"], TOL_AUDIO, "previous audio")
    assert_close(record["trajectory"][0], io["traj_win0"], TOL_MOTION, "trajectory of window 0")
    assert_close(record["trajectory"][-1], io["traj_win_last"], TOL_MOTION, "trajectory of the last window")
    assert_close(torch.stack(record["motion"]), io["win_motion_out"], TOL_MOTION, "window outputs")
    assert_close(coef, io["motion_coef"], TOL_MOTION, "motion coefficients")


def test_c_sampling_legacy_positional_encoding(golden_dir: Path, generator) -> None:
    io = _io(golden_dir, "c_sampling")
    coef, _ = _sample(_with_pe(generator, "legacy"), io)
    assert_close(coef, io["legacy_pe_motion_coef"], TOL_MOTION, "legacy-PE motion coefficients")


def test_c_schedule_denormalisation_and_smoothing(golden_dir: Path, generator) -> None:
    io = _io(golden_dir, "c_sampling")
    computed = DiffusionSchedule(generator.config.n_diff_steps)
    for name in ("betas", "alphas", "alpha_bars", "sigmas_inflex"):
        assert_close(getattr(computed, name), io[f"sched_{name}"], 1e-6, f"schedule {name}")
        assert_close(getattr(generator.diffusion_sched, name), io[f"sched_{name}"], 0.0, f"loaded {name}")
    template = MotionTemplate.from_arrays({k[len("template_"):]: v.numpy() for k, v in io.items()
                                           if k.startswith("template_")})
    raw = template.denormalise(io["motion_coef"].numpy())
    smoothed = smooth_pose(raw)
    for name in MOTION:
        atol = TOL_DEGREES if name in ("pitch", "yaw", "roll") else TOL_EXP if name == "exp" else TOL_KEYPOINTS
        assert_close(raw[name], io[f"pre_smooth_{name}"], atol, f"denormalised {name}")
        assert_close(smoothed[name], io[f"out_{name}"], atol, f"smoothed {name}")
    assert_close(rotations(raw["pitch"], raw["yaw"], raw["roll"]), io["pre_smooth_R"], TOL_KEYPOINTS, "R")
    assert_close(rotations(smoothed["pitch"], smoothed["yaw"], smoothed["roll"]), io["out_R"], TOL_KEYPOINTS,
                 "smoothed R")


@pytest.fixture(scope="module")
def mapping_io(golden_dir: Path) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in _io(golden_dir, "d_mapping").items()}


def _source(io: dict[str, np.ndarray]) -> SourcePose:
    return SourcePose(**{name: io[f"src_{name}"] for name in ("pitch", "yaw", "roll", "t", "exp", "scale", "kp")})


def test_d_mapping_cli_defaults(mapping_io) -> None:
    io, source = mapping_io, _source(mapping_io)
    relative = relative_motion({name: io[f"motion_{name}"] for name in MOTION}, source)
    assert_close(source.keypoints(), io["cli_x_s"], TOL_KEYPOINTS, "x_s")
    assert_close(source.rotation, io["cli_R_s"], TOL_KEYPOINTS, "R_s")
    assert_close(rotations(io["motion_pitch"], io["motion_yaw"], io["motion_roll"]), io["cli_R_d_i"], TOL_KEYPOINTS, "R_d_i")
    assert_close(relative["R"], io["cli_R_new"], TOL_KEYPOINTS, "R_new")
    assert_close(relative["exp"], io["cli_delta_new"], TOL_EXP, "delta_new")
    assert_close(relative["scale"], io["cli_scale_new"], TOL_KEYPOINTS, "scale_new")
    assert_close(relative["t"], io["cli_t_new"], TOL_KEYPOINTS, "t_new")
    assert_close(cli_driving(source.keypoints(), keypoints(relative, source)), io["cli_x_d"], TOL_KEYPOINTS, "x_d")


def test_d_mapping_app_variant(mapping_io) -> None:
    io, source = mapping_io, _source(mapping_io)
    x = keypoints(relative_motion({name: io[f"motion_{name}"] for name in MOTION}, source), source)
    assert_close(x[:1], io["app_x_d_0_new"], TOL_KEYPOINTS, "x_d_0_new")
    driving, multiplier = app_driving(source.keypoints(), x)
    assert abs(multiplier - float(io["app_motion_multiplier"])) <= TOL_MULTIPLIER
    assert_close(driving, io["app_x_d_into_stitching"], TOL_KEYPOINTS, "x_d into stitching")
    assert_close(driving, io["app_x_d"], TOL_KEYPOINTS, "x_d (identity stitching)")


def test_d_track_channels_drive_the_liveportrait_keypoints_to_the_generated_ones(mapping_io) -> None:
    """The track holds R_new as angles: LivePortrait's relative transfer against the source gives x_i back."""
    io, source = mapping_io, _source(mapping_io)
    relative = relative_motion({name: io[f"motion_{name}"] for name in MOTION}, source)
    pitch, yaw, roll = angles_of(relative["R"])
    frames = len(pitch)
    info = KeypointInfo(pitch=torch.as_tensor(pitch)[:, None], yaw=torch.as_tensor(yaw)[:, None],
                        roll=torch.as_tensor(roll)[:, None], t=torch.as_tensor(relative["t"]),
                        exp=torch.as_tensor(relative["exp"]), scale=torch.as_tensor(relative["scale"]),
                        kp=torch.as_tensor(io["src_kp"]).expand(frames, -1, -1))
    own = KeypointInfo(**{name: torch.as_tensor(io[f"src_{name}"]).expand(frames, *io[f"src_{name}"].shape[1:])
                          for name in ("pitch", "yaw", "roll", "t", "exp", "scale", "kp")})
    driven = driven_keypoints(own, info, own)
    assert_close(driven, keypoints(relative, source), TOL_KEYPOINTS, "track keypoints")
    official = cli_driving(io["cli_x_s"], io["cli_x_d"], 1 / 1.1)  # x_i back from the CLI's x_s + 1.1 (x_i - x_s)
    assert_close(driven, official, TOL_KEYPOINTS, "track keypoints vs official")
