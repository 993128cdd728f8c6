"""drive-audio --text with piper: a tiny random voice installed through fetch-weights, engine choice, errors."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from _cli import run_cli

from thead.audio import piper as piper_tts
from thead.io.probe import probe
from thead.io.video import open_video

pytest.importorskip("piper")
onnx = pytest.importorskip("onnx")

THEAD = Path(sys.executable).with_name("thead")
VOICE = "en_US-lessac-medium"
FOLDER = "en/en_US/lessac/medium"
REVISION = "0123456789abcdef0123456789abcdef01234567"
SAMPLE_RATE = 22050
HOP = 256
TEXT = "Map the bob. My baby moved home."


def tiny_voice(seed: int = 0, durations: bool = True) -> tuple[bytes, bytes]:
    """A random piper-shaped VITS stand-in (.onnx bytes) and its config (.onnx.json bytes).

    Same inputs and output as a real piper voice (``input`` [1, n] int64, ``input_lengths`` [1] int64,
    ``scales`` [3] float32 -> ``output`` [1, 1, 1, samples]); like VITS, a ``Ceil`` of exp(log-durations) x
    length_scale gives each phoneme id's frames and the audio is ``hop_length`` samples per frame. Without
    ``durations`` the frames are rounded instead, so the voice has no ``Ceil`` tensor to expose.
    """
    from onnx import TensorProto, helper
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    symbols = max(i for ids in DEFAULT_PHONEME_ID_MAP.values() for i in ids) + 1
    rng = np.random.default_rng(seed)
    log_frames = np.log(rng.uniform(1.0, 6.0, symbols)).astype(np.float32)
    const = helper.make_tensor
    nodes = [
        helper.make_node("Gather", ["log_frames", "input"], ["logw"]),
        helper.make_node("Gather", ["scales", "one"], ["length_scale"], axis=0),
        helper.make_node("Exp", ["logw"], ["w"]),
        helper.make_node("Mul", ["w", "length_scale"], ["w_scaled"]),
        helper.make_node("Ceil" if durations else "Round", ["w_scaled"], ["w_ceil_2d"]),
        helper.make_node("Unsqueeze", ["w_ceil_2d", "one_axis"], ["w_ceil"]),
        helper.make_node("ReduceSum", ["w_ceil"], ["frames"], keepdims=0),
        helper.make_node("Mul", ["frames", "hop"], ["samples_float"]),
        helper.make_node("Cast", ["samples_float"], ["samples"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["samples", "one_axis"], ["shape"]),
        helper.make_node("ConstantOfShape", ["shape"], ["zeros"], value=const("z", TensorProto.FLOAT, [1], [0.0])),
        helper.make_node("RandomNormalLike", ["zeros"], ["noise"], scale=0.3),  # unseeded, as in VITS
        helper.make_node("Reshape", ["noise", "audio_shape"], ["output"]),
    ]
    initializers = [
        onnx.numpy_helper.from_array(log_frames, "log_frames"),
        onnx.numpy_helper.from_array(np.array(1, np.int64), "one"),
        onnx.numpy_helper.from_array(np.array([1], np.int64), "one_axis"),
        onnx.numpy_helper.from_array(np.array(HOP, np.float32), "hop"),
        onnx.numpy_helper.from_array(np.array([1, 1, 1, -1], np.int64), "audio_shape"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_piper_voice",
        [helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
         helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
         helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 1, "time"])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    config = {"audio": {"sample_rate": SAMPLE_RATE}, "espeak": {"voice": "en-us"},
              "language": {"code": "en_US", "family": "en"}, "num_symbols": symbols, "num_speakers": 1,
              "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}, "hop_length": HOP,
              "phoneme_type": "espeak", "phoneme_id_map": DEFAULT_PHONEME_ID_MAP}
    return model.SerializeToString(), json.dumps(config, ensure_ascii=False).encode()


def thead(env: dict[str, str], *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(THEAD), *map(str, args)], capture_output=True, text=True, env=env, timeout=240,
                          check=False)


def voice_env(tmp_path: Path) -> dict[str, str]:
    """A manifest whose ``piper-voice`` set is the tiny voice (pinned by sha256), its mirror, an empty cache."""
    model, config = tiny_voice()
    files = {f"{FOLDER}/{VOICE}.onnx": model, f"{FOLDER}/{VOICE}.onnx.json": config}
    rows = []
    for path, data in files.items():
        target = tmp_path / "mirror" / "rhasspy" / "piper-voices" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        rows.append(f'  {{ path = "{path}", size = {len(data)}, sha256 = "{hashlib.sha256(data).hexdigest()}" }},')
    manifest = tmp_path / "weights.toml"
    manifest.write_text(f'[piper-voice]\ndescription = "tiny random piper voice"\nrepo = "rhasspy/piper-voices"\n'
                        f'revision = "{REVISION}"\nlicense = "MIT"\ncommercial_use = true\nused_by = ["tts:piper"]\n'
                        'files = [\n' + "\n".join(rows) + "\n]\n")
    env = {**os.environ, "THEAD_WEIGHTS_MANIFEST": str(manifest), "THEAD_CACHE": str(tmp_path / "cache")}
    for variable in ("THEAD_DEBUG", "HF_HUB_OFFLINE"):
        env.pop(variable, None)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The tiny voice installed by ``thead fetch-weights piper-voice --from MIRROR``."""
    folder = tmp_path_factory.mktemp("piper")
    env = voice_env(folder)
    done = thead(env, "fetch-weights", "piper-voice", "--from", folder / "mirror")
    assert done.returncode == 0, done.stderr
    return env


@pytest.fixture
def in_process(installed, monkeypatch) -> None:
    """This process sees the installed tiny voice (manifest and cache through the environment)."""
    for variable in ("THEAD_WEIGHTS_MANIFEST", "THEAD_CACHE"):
        monkeypatch.setenv(variable, installed[variable])


@pytest.fixture(scope="module")
def face(shared) -> Path:
    """A small real portrait (256x256) from ../shared/media."""
    return shared / "media" / "portraits" / "st_happy.png"


def written(folder: Path) -> list[str]:
    """What a command left in ``folder`` besides the test's own manifest, mirror and cache."""
    return sorted(p.name for p in folder.iterdir() if p.name not in ("cache", "mirror", "weights.toml"))


def wav_info(path: Path) -> tuple[int, int]:
    with wave.open(str(path), "rb") as handle:
        return handle.getframerate(), handle.getnframes()


class Heard:
    """Notes that keep what they are told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append("warning: " + message)

    def progress(self, items, total, description):
        return iter(items)


def test_text_is_spoken_by_piper_and_the_video_lasts_as_long_as_the_speech(installed, face, tmp_path):
    env = installed
    out, speech = tmp_path / "talk.mp4", tmp_path / "speech.wav"
    done = thead(env, "drive-audio", face, "--text", TEXT, "--speech-out", speech, "--fps", 10, "-o", out)
    assert done.returncode == 0, done.stderr
    assert f"speech: piper voice {VOICE}" in done.stderr
    rate, samples = wav_info(speech)
    assert rate == SAMPLE_RATE  # the voice's own rate, from its config
    assert open_video(out).frame_count == math.ceil(samples / rate * 10)  # as long as the speech, to the frame
    assert probe(out).tags["thead_voice"] == f"piper:{VOICE}"  # the provenance names the voice that spoke


def test_rate_maps_to_length_scale_and_phones_cover_the_audio(in_process):
    from thead.audio.tts import synthesize
    from thead.report import Silent

    normal, fast = (synthesize(TEXT, voice=f"piper:{VOICE}", rate=rate, notes=Silent()) for rate in (1.0, 2.0))
    assert normal.engine == "piper" and normal.voice == VOICE and normal.language == "en"
    for speech in (normal, fast):
        assert speech.phones[0].start == 0.0 and speech.phones[-1].end == pytest.approx(speech.duration, abs=1e-9)
        assert all(a.end == b.start for a, b in zip(speech.phones, speech.phones[1:]))  # contiguous
    spoken = [p.symbol for p in normal.phones if p.symbol != "SIL"]
    assert spoken[:5] == ["M", "AE", "P", "DH", "AH"] and "B" in spoken  # "Map the bob ..."
    assert 0.4 < fast.duration / normal.duration < 0.62  # ceil() rounding keeps it a little over one half


@pytest.mark.parametrize("wanted, engine", [(None, "piper"), (VOICE, "piper"), ("piper-voice", "piper"),
                                             (f"piper:{VOICE.upper()}", "piper"), ("espeak:en-us", "espeak-ng"),
                                             ("fr", "espeak-ng"), ("en-us", "espeak-ng")])
def test_voice_names_choose_the_engine(in_process, wanted, engine):
    """A piper voice's name (or its weight set's) picks piper; any other name is espeak-ng's; prefixes force one."""
    from thead.audio.tts import choose_voice

    chosen, espeak_voice, reason = choose_voice(wanted)
    assert reason == ""
    if engine == "piper":
        assert chosen is not None and chosen.name == VOICE and chosen.weight_set == "piper-voice"
    else:
        assert chosen is None and espeak_voice == wanted.removeprefix("espeak:")


def test_the_same_text_sounds_the_same_in_every_run(installed):
    """VITS samples noise; onnxruntime seeds it per process unless told: two runs must still agree."""
    env = installed
    code = ("import hashlib; from thead.audio.tts import synthesize; "
            f"print(hashlib.sha256(synthesize({TEXT!r}, voice={VOICE!r}).samples.tobytes()).hexdigest())")
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert len(runs[0]) == 65 and runs[0] == runs[1]


def test_a_voice_without_durations_still_covers_the_audio_and_warns(tmp_path, monkeypatch):
    model, config = tiny_voice(durations=False)
    files = {"v.onnx": tmp_path / "v.onnx", "v.onnx.json": tmp_path / "v.onnx.json"}
    files["v.onnx"].write_bytes(model)
    files["v.onnx.json"].write_bytes(config)
    monkeypatch.setattr(piper_tts, "resolve_files", lambda name: files)
    heard = Heard()
    voice = piper_tts.PiperVoiceFiles("v", "v", "v.onnx", "v.onnx.json", "MIT")
    speech = piper_tts.synthesize(TEXT, voice, 1.0, heard)
    assert heard.lines == ["warning: piper voice v gives no phoneme durations: mouth timings are approximate"]
    assert speech.phones[0].start == 0.0 and speech.phones[-1].end == pytest.approx(len(speech.samples) / SAMPLE_RATE)
    assert [p.symbol for p in speech.phones if p.symbol != "SIL"][:3] == ["M", "AE", "P"]


@pytest.mark.parametrize("broken", ["model", "config"])
def test_an_unloadable_voice_is_a_weights_error_naming_verify(tmp_path, monkeypatch, broken):
    from thead.errors import WeightsError

    model, config = tiny_voice()
    files = {"v.onnx": tmp_path / "v.onnx", "v.onnx.json": tmp_path / "v.onnx.json"}
    files["v.onnx"].write_bytes(b"not a network" if broken == "model" else model)
    files["v.onnx.json"].write_bytes(b'{"audio": {}}' if broken == "config" else config)
    monkeypatch.setattr(piper_tts, "resolve_files", lambda name: files)
    voice = piper_tts.PiperVoiceFiles("v", "piper-voice", "v.onnx", "v.onnx.json", "MIT")
    with pytest.raises(WeightsError, match="piper voice 'v' cannot be loaded") as error:
        piper_tts.synthesize(TEXT, voice, 1.0, Heard())
    assert error.value.hint == "check its files: thead fetch-weights --verify piper-voice"


def test_text_with_nothing_to_say_is_a_usage_error(in_process):
    from thead.audio.tts import synthesize
    from thead.errors import UsageError

    with pytest.raises(UsageError, match="nothing to speak"):
        synthesize("?", voice=VOICE)


def test_phone_timings_are_the_models_own_durations():
    """Each phone lasts the samples VITS gave its phonemes (with their pads); marks join the right phone."""
    spans = [("^", 512), ("h", 256), ("ə", 512), ("l", 256), ("ˈ", 256), ("o", 768), ("ʊ", 256), (".", 512),
             ("$", 256)]
    phones = piper_tts.timed_phones(spans, 3584, 1000, 1000)
    assert [(p.symbol, round(p.start * 1000), round(p.end * 1000)) for p in phones] == [
        ("SIL", 1000, 1512), ("HH", 1512, 1768), ("AH", 1768, 2280), ("L", 2280, 2536),
        ("OW", 2536, 3816), ("SIL", 3816, 4584)]


@pytest.mark.parametrize("phoneme, symbol", [("m", "M"), ("ɡ", "G"), ("ʃ", "SH"), ("y", "UW"), ("ɔɪ", "OY"),
                                             ("tʃ", "CH"), ("c\u0327", "HH"), ("ː", None), (" ", None), ("\u0303", None), (",", "SIL"),
                                             ("^", "SIL"), ("ʕ", "AH")])
def test_ipa_to_arpabet(phoneme, symbol):
    assert piper_tts.to_arpabet(phoneme) == symbol


@pytest.fixture
def uninstalled(tmp_path, monkeypatch) -> Path:
    """The tiny voice in the manifest (the env a user's shell would set) but not fetched."""
    env = voice_env(tmp_path)
    for variable in ("THEAD_WEIGHTS_MANIFEST", "THEAD_CACHE"):
        monkeypatch.setenv(variable, env[variable])
    return tmp_path


def test_default_falls_back_to_espeak_and_says_why(uninstalled, monkeypatch):
    from thead.audio import tts

    spoken = []  # espeak-ng itself is tested in test_audio_tts.py; here only which engine is asked, and the note
    monkeypatch.setattr(tts, "_espeak_speech", lambda text, voice, rate: spoken.append(voice) or tts.Speech(
        np.zeros(100, np.float32), 22050, [], "en", "espeak-ng", "gmw/en-US"))
    heard = Heard()
    speech = tts.synthesize("Hello there.", notes=heard)
    assert spoken == ["en-us"] and speech.engine == "espeak-ng"
    why = f"piper voice {VOICE} is not installed: thead fetch-weights piper-voice"
    assert heard.lines == [f"speech: espeak-ng voice {speech.voice} ({why})"]


def test_named_piper_voice_not_installed_exits_4_naming_fetch_weights(uninstalled, face, capsys, monkeypatch):
    out, speech = uninstalled / "talk.mp4", uninstalled / "speech.wav"
    code, _, err = run_cli(capsys, monkeypatch, "drive-audio", face, "--text", "Hello.", "--voice", VOICE,
                           "--speech-out", speech, "-o", out)
    assert code == 4 and err.count("\n") == 1 and err.startswith("error: ")
    assert "thead fetch-weights piper-voice" in err
    assert written(uninstalled) == []  # no partial output


def test_named_piper_voice_without_the_engine_exits_4_naming_the_extra(in_process, face, tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.setitem(sys.modules, "piper", None)  # `import piper` fails, as without piper-tts
    out = tmp_path / "talk.mp4"
    code, _, err = run_cli(capsys, monkeypatch, "drive-audio", face, "--text", "Hello.", "--voice",
                           f"piper:{VOICE}", "-o", out)
    assert code == 4 and err.count("\n") == 1 and 'pip install "thead[piper]"' in err
    assert list(tmp_path.iterdir()) == []


def test_unknown_piper_voice_is_a_usage_error(uninstalled, face, capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "drive-audio", face, "--text", "Hello.", "--voice",
                           "piper:xx_XX-nobody-low", "-o", uninstalled / "o.mp4")
    assert code == 2 and err.count("\n") == 1 and VOICE in err
    assert written(uninstalled) == []
