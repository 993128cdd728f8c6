"""The joyvasa backend on tiny random networks: speech -> motion track -> rendered frame; strict, safe weight loading."""

from __future__ import annotations

import argparse
import dataclasses
import pickle

import numpy as np
import pytest
import torch

from thead.backends.base import DriveOptions
from thead.backends.joyvasa import JoyVASABackend
from thead.backends.joyvasa import backend as backend_module
from thead.backends.joyvasa.checkpoint import load_generator, read_generator_checkpoint, read_template
from thead.backends.joyvasa.config import small_test_config
from thead.backends.joyvasa.denoiser import MotionGenerator
from thead.backends.joyvasa.mapping import TEMPLATE_FIELDS
from thead.backends.joyvasa.sampler import plan_windows
from thead.backends.liveportrait.keypoints import driven_keypoints
from thead.backends.liveportrait.motion import keypoint_info
from thead.errors import UsageError, WeightsError
from thead.motion.spaces import get_space

CPU = torch.device("cpu")
RATE = 16_000


class Recorder:
    """A Notes reporter that keeps what progress it was given."""

    def __init__(self) -> None:
        self.progress_calls: list[tuple[int | None, str, int]] = []

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def progress(self, items, total, description):
        seen = 0
        for item in items:
            seen += 1
            yield item
        self.progress_calls.append((total, description, seen))


@pytest.fixture(scope="module")
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # toy networks: spinning threads only slow them down on a busy machine
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def backend(single_thread) -> JoyVASABackend:
    return JoyVASABackend.tiny(CPU)


@pytest.fixture(scope="module")
def source(backend, astronaut):
    return backend.prepare_source(astronaut)


def _speech(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)


def _motion(backend, source, seconds=1.3, **options):
    settings = {"guidance": 2.8, "steps": 3, "seed": 1, "pose": "still", "blink_rate": 0.0, **options}
    return backend.speech_motion(_speech(seconds), RATE, settings.pop("fps", 25.0), backend.source_motion(source),
                                 **settings)


def test_speech_motion_is_a_valid_liveportrait_track_one_frame_per_frame_time(backend, source) -> None:
    recorder = Recorder()
    track = _motion(backend, source, seconds=1.3, reporter=recorder)
    assert track.space == "liveportrait" and track.fps == 25.0 and len(track) == 33  # ceil(1.3 s * 25)
    get_space("liveportrait").validate(track)
    windows = plan_windows(int(1.3 * RATE), backend.generator[0].config.n_motions).windows
    assert recorder.progress_calls == [(windows, "JoyVASA motion", windows)] and windows == 2
    assert float(np.abs(track["lp_exp"] - track["lp_exp"][:1]).max()) > 0  # the expression moves
    at_30 = _motion(backend, source, seconds=1.3, fps=30.0)
    assert len(at_30) == 39


def test_same_seed_same_track_other_seed_other_track(backend, source) -> None:
    first, again, other = (_motion(backend, source, seed=seed) for seed in (4, 4, 5))
    assert np.array_equal(first["lp_exp"], again["lp_exp"])
    assert not np.array_equal(first["lp_exp"], other["lp_exp"])


def test_still_pose_keeps_the_source_head_natural_moves_it(backend, source) -> None:
    base = backend.source_motion(source)
    still = _motion(backend, source, pose="still")
    for name in ("lp_pitch", "lp_yaw", "lp_roll", "lp_scale"):
        assert np.all(still[name] == base[name]), name
    natural = _motion(backend, source, pose="natural")
    assert float(np.ptp(natural["lp_yaw"])) > 0.05 and float(np.ptp(natural["yaw"])) > 0.05



def test_natural_pose_uses_the_callers_speech_analysis_without_analysing_again(backend, source, monkeypatch) -> None:
    from thead.audio import articulation as analysis

    given = analysis.analyze_speech(_speech(1.3), RATE, 25.0, language="und")
    own = _motion(backend, source, pose="natural")
    monkeypatch.setattr(analysis, "analyze_speech", lambda *a, **k: pytest.fail("speech analysed a second time"))
    reused = _motion(backend, source, pose="natural", articulation=given)
    assert np.array_equal(reused["lp_yaw"], own["lp_yaw"]) and np.array_equal(reused["gaze"], own["gaze"])
    silent = dataclasses.replace(given, speech=np.zeros_like(given.speech), energy=np.zeros_like(given.energy),
                                 emphasis=np.zeros_like(given.emphasis))
    assert not np.array_equal(_motion(backend, source, pose="natural", articulation=silent)["lp_yaw"], own["lp_yaw"])

def test_blink_rate_closes_the_eyes_through_retargeting(backend, source) -> None:
    base = backend.source_motion(source)
    quiet = _motion(backend, source, seconds=4.0, blink_rate=0.0)
    assert np.all(quiet["lp_retarget"][:, 0] == 0) and np.all(quiet["lp_eye_ratio"] == base["lp_eye_ratio"])
    blinking = _motion(backend, source, seconds=4.0, blink_rate=60.0)
    shut = blinking["lp_retarget"][:, 0] == 1
    assert shut.any() and np.all(blinking["lp_eye_ratio"][shut] < base["lp_eye_ratio"])


def test_a_generated_frame_moves_the_keypoints_and_renders(backend, source) -> None:
    base = backend.source_motion(source)
    track = _motion(backend, source)
    frame = track.frame(len(track) - 1)
    kp = source.state.info.kp
    driven = driven_keypoints(source.state.info, keypoint_info(frame, kp), keypoint_info(base, kp))
    assert float((driven - source.state.x_s).abs().max()) > 1e-4  # the generated expression reaches the keypoints
    speaking = backend.render(source, frame, base, DriveOptions(paste_back=False))
    assert speaking.shape == (512, 512, 3) and speaking.dtype == np.uint8 and np.ptp(speaking) > 0


def test_bad_options_are_usage_errors(backend, source) -> None:
    with pytest.raises(UsageError):
        _motion(backend, source, steps=0)
    with pytest.raises(UsageError):
        _motion(backend, source, pose="wild")
    with pytest.raises(UsageError):
        JoyVASABackend(CPU, pe="newest")


def test_missing_weights_exit_4_naming_the_set(monkeypatch, tmp_path, astronaut) -> None:
    monkeypatch.setenv("THEAD_CACHE", str(tmp_path))
    backend = JoyVASABackend(CPU)
    with pytest.raises(WeightsError) as error:
        backend.speech_motion(_speech(0.5), RATE, 25.0, {}, guidance=2.8, steps=50, seed=0, pose="still", blink_rate=0)
    assert error.value.exit_code == 4 and "joyvasa" in error.value.one_line()


@pytest.fixture(scope="module")
def small_state(single_thread) -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    model = MotionGenerator(small_test_config())
    state = model.state_dict()
    state["denoising_net.PE.pe"] = model.denoising_net.PE.pe.clone()  # as the official state dict stores them
    state["denoising_net.TE.pe"] = model.denoising_net.TE.pe.clone()
    return state


def _load(state: dict[str, torch.Tensor]) -> MotionGenerator:
    model = MotionGenerator(small_test_config())
    load_generator(model, state, "test checkpoint")
    return model


def test_every_key_is_consumed_missing_and_unexpected_keys_are_named(small_state) -> None:
    model = _load(small_state)
    assert torch.equal(model.null_audio_feat, small_state["null_audio_feat"])
    for broken, named in ((dict(small_state, extra_bias=torch.zeros(3)), "extra_bias"),
                          ({k: v for k, v in small_state.items() if k != "start_audio_feat"}, "start_audio_feat"),
                          ({k: v for k, v in small_state.items() if k != "denoising_net.PE.pe"}, "denoising_net.PE.pe")):
        with pytest.raises(WeightsError, match=named.replace(".", r"\.")):
            _load(broken)
    wrong_table = dict(small_state)
    wrong_table["denoising_net.PE.pe"] = wrong_table["denoising_net.PE.pe"] + 0.5
    with pytest.raises(WeightsError, match="PE.pe"):
        _load(wrong_table)


def test_the_step_table_may_be_absent_and_old_weight_norm_names_load(small_state) -> None:
    """The official loader deletes TE.pe; chinese-hubert-base files name the weight norm weight_g/weight_v."""
    renamed = {}
    for key, value in small_state.items():
        key = key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1",
                                                                                  "weight_v")
        renamed[key] = value
    del renamed["denoising_net.TE.pe"]
    model = _load(renamed)
    conv = model.audio_encoder.encoder.pos_conv_embed.conv
    assert torch.equal(conv.parametrizations.weight.original1, small_state[
        "audio_encoder.encoder.pos_conv_embed.conv.parametrizations.weight.original1"])


def test_released_file_layout_loads_without_running_code(small_state, tmp_path, monkeypatch, single_thread) -> None:
    checkpoint, template = tmp_path / "generator.pt", tmp_path / "motion_template.pkl"
    torch.save({"args": argparse.Namespace(n_motions=25, feature_dim=64), "model": small_state}, checkpoint)
    arrays = {name: np.linspace(0.1, 1.0, 63 if name.endswith("exp") else 3 if name.endswith("_t") else 1,
                                dtype=np.float32) for name in TEMPLATE_FIELDS}
    template.write_bytes(pickle.dumps(arrays, protocol=2))
    assert set(read_generator_checkpoint(checkpoint)) == set(small_state)
    assert all(np.array_equal(read_template(template)[name], value) for name, value in arrays.items())
    paths = {backend_module.CHECKPOINT: checkpoint, backend_module.TEMPLATE: template}
    monkeypatch.setattr("thead.weights.resolve_files", lambda name: paths)
    generator, motion_template = backend_module.load_official_generator("fixed")
    assert generator.config.pe == "fixed" and generator.config.n_motions == 25
    assert torch.equal(generator.start_motion_feat, small_state["start_motion_feat"])
    assert np.array_equal(motion_template.arrays["std_exp"], arrays["std_exp"])


class _Payload:
    def __reduce__(self):
        return (print, ("ran code from a pickle",))


def test_pickles_with_other_objects_are_refused(tmp_path) -> None:
    evil_template = tmp_path / "motion_template.pkl"
    evil_template.write_bytes(pickle.dumps({"mean_exp": _Payload()}))
    with pytest.raises(WeightsError, match="builtins.print"):
        read_template(evil_template)
    evil_checkpoint = tmp_path / "generator.pt"
    torch.save({"args": _Payload(), "model": {}}, evil_checkpoint)
    with pytest.raises(WeightsError, match="safely"):
        read_generator_checkpoint(evil_checkpoint)


def _wav(path, seconds: float):
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((_speech(seconds) * 32767).astype("<i2").tobytes())
    return path


def test_drive_audio_renders_joyvasa_motion_for_the_whole_speech(backend, astronaut, tmp_path) -> None:
    """The pipeline hands the speech to the backend's own audio model: one frame per frame time, sound muxed,
    the generated track written by --motion-out and usable again."""
    import cv2

    from thead.io.probe import probe
    from thead.io.video import count_frames
    from thead.motion.track import MotionTrack
    from thead.pipelines.drive_audio import drive_audio

    portrait = tmp_path / "portrait.png"
    cv2.imwrite(str(portrait), cv2.cvtColor(cv2.resize(astronaut, (256, 256)), cv2.COLOR_RGB2BGR))
    out, track = tmp_path / "talk.mp4", tmp_path / "talk.motion.safetensors"
    wav = _wav(tmp_path / "speech.wav", 0.8)
    result = drive_audio(portrait, wav, out, backend=backend, fps=10.0, steps=2, guidance=2.0, pose="still",
                         blink_rate=0.0, expressions=(("happy", 0.8),), motion_out=track)
    assert result.frames == 8 and result.backend == "joyvasa"
    info = probe(out)
    assert count_frames(out) == 8 and info.video.fps == 10.0 and info.audio.codec == "aac"
    written = MotionTrack.load(track)
    assert written.space == "liveportrait" and len(written) == 8
    plain = backend.speech_motion(_speech(0.8), RATE, 10.0, backend.source_motion(backend.prepare_source(
        cv2.cvtColor(cv2.imread(str(portrait)), cv2.COLOR_BGR2RGB))), guidance=2.0, steps=2, seed=0, pose="still",
        blink_rate=0.0)
    assert np.allclose(written["lp_yaw"], plain["lp_yaw"], atol=1e-4)  # the same generated motion ...
    assert np.abs(written["lp_exp"] - plain["lp_exp"]).max() > 1e-3  # ... biased by --expression happy


@pytest.mark.parametrize("options, message", [
    ({"backend": "warp", "guidance": 2.0}, "--guidance and --steps are for backends with their own audio model"),
    ({"steps": 0}, "--steps 0 is out of range"),
    ({"guidance": float("nan")}, "--guidance nan is out of range"),
    ({"pose": "from:{clip}"}, "--pose from:VIDEO is not available with backend 'joyvasa'"),
])
def test_drive_audio_refuses_generation_options_that_do_not_apply(backend, tmp_path, astronaut, options, message):
    from thead.pipelines.drive_audio import drive_audio

    wav = _wav(tmp_path / "speech.wav", 0.3)
    portrait = tmp_path / "portrait.png"
    __import__("cv2").imwrite(str(portrait), astronaut[..., ::-1])
    options = {"backend": backend, **options}
    if "pose" in options:
        options["pose"] = options["pose"].format(clip=wav)  # any existing file: refused before it is read
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        drive_audio(portrait, wav, tmp_path / "out.mp4", **options)
    assert caught.value.exit_code == 2 and not (tmp_path / "out.mp4").exists()
