"""thead generate: tiny random diffusers pipelines installed through the real weights cache, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests._cli import run_cli

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

THEAD = Path(sys.executable).with_name("thead")
REVISION = "0123456789abcdef0123456789abcdef01234567"
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _tokenizer_files(folder: Path) -> int:
    """A CLIP BPE vocabulary of single letters, in the official sd-turbo tokenizer layout."""
    tokens = ["<|startoftext|>", "<|endoftext|>", *LETTERS, *(c + "</w>" for c in LETTERS), ",</w>", "-</w>"]
    specials = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                "pad_token": "<|endoftext|>"}
    for stale in folder.iterdir():
        stale.unlink()
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(specials))
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77, "do_lower_case": True,
                                                              **specials}))
    return len(tokens)


def _tiny_sd_turbo(folder: Path) -> None:
    """A 2-level UNet, 2-level VAE and 1-layer CLIP text encoder saved as sd-turbo's fp16 variant files."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    (folder / "tokenizer").mkdir(parents=True)
    vocab = _tokenizer_files(folder / "tokenizer")
    tokenizer = CLIPTokenizer(str(folder / "tokenizer/vocab.json"), str(folder / "tokenizer/merges.txt"),
                              model_max_length=77)
    unet = UNet2DConditionModel(sample_size=8, layers_per_block=1, block_out_channels=(8, 16), norm_num_groups=4,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=2)
    vae = AutoencoderKL(block_out_channels=(8, 8), layers_per_block=1, norm_num_groups=4, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32,
                                                num_hidden_layers=1, num_attention_heads=2, projection_dim=16,
                                                max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                                                pad_token_id=1))
    scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                       timestep_spacing="trailing", steps_offset=1)
    StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                            safety_checker=None, feature_extractor=None, requires_safety_checker=False,
                            ).save_pretrained(folder, variant="fp16")
    _tokenizer_files(folder / "tokenizer")  # transformers saves tokenizer.json; the hub snapshot has vocab + merges


def _tiny_ldm(folder: Path) -> None:
    """LDMPipeline components saved as pickled .bin files, as CompVis/ldm-celebahq-256 ships them."""
    import torch
    from diffusers import DDIMScheduler, LDMPipeline, UNet2DModel, VQModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(8, 16),
                       norm_num_groups=4, attention_head_dim=4, down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"))
    vqvae = VQModel(block_out_channels=(8, 8), layers_per_block=1, norm_num_groups=4, latent_channels=3,
                    num_vq_embeddings=16, down_block_types=("DownEncoderBlock2D",) * 2,
                    up_block_types=("UpDecoderBlock2D",) * 2)
    LDMPipeline(vqvae=vqvae, unet=unet, scheduler=DDIMScheduler()).save_pretrained(folder, safe_serialization=False)


def _manifest_set(name: str, repo: str, folder: Path) -> str:
    rows = "\n".join(f'  {{ path = "{p.relative_to(folder).as_posix()}", sha256 = "" }},'
                     for p in sorted(folder.rglob("*")) if p.is_file())
    return (f'[{name}]\ndescription = "tiny random {name}"\nrepo = "{repo}"\nrevision = "{REVISION}"\n'
            f'license = "MIT"\ncommercial_use = true\nused_by = ["generator:{name}"]\n'
            f'notes = "test weights: trust on first use"\nfiles = [\n{rows}\n]\n')


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (two threads on a shared, busy machine spin and wait)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    """Tiny sd-turbo and ldm-celebahq snapshots laid out as a fetch-weights mirror (DIR/<repo>/<path>)."""
    root = tmp_path_factory.mktemp("generate-mirror")
    _tiny_sd_turbo(root / "test" / "tiny-sd-turbo")
    _tiny_ldm(root / "test" / "tiny-ldm")
    return root


@pytest.fixture(scope="module")
def installed(mirror, tmp_path_factory) -> dict[str, str]:
    """THEAD_WEIGHTS_MANIFEST and THEAD_CACHE of a cache holding tiny sd-turbo and ldm-celebahq, fetched
    from a mirror by thead's own fetcher (so they load exactly as real snapshots do)."""
    from thead.report import Silent
    from thead.weights import load_manifest
    from thead.weights.fetch import Fetcher

    root = tmp_path_factory.mktemp("generate-weights")
    manifest = root / "weights.toml"
    manifest.write_text(_manifest_set("sd-turbo", "test/tiny-sd-turbo", mirror / "test" / "tiny-sd-turbo")
                        + "\n" + _manifest_set("ldm-celebahq", "test/tiny-ldm", mirror / "test" / "tiny-ldm"))
    cache = root / "cache"
    Fetcher(cache, Silent(), mirror=mirror).fetch(list(load_manifest(manifest).sets.values()))
    return {"THEAD_WEIGHTS_MANIFEST": str(manifest), "THEAD_CACHE": str(cache)}


@pytest.fixture
def tiny_env(installed, monkeypatch):
    for key, value in installed.items():
        monkeypatch.setenv(key, value)
    return installed


@pytest.fixture(scope="module")
def sd_turbo(installed):
    """The tiny sd-turbo generator, loaded once from the installed cache."""
    import torch

    from thead.generate.sd_turbo import SDTurboGenerator

    with pytest.MonkeyPatch.context() as patch:
        for key, value in installed.items():
            patch.setenv(key, value)
        return SDTurboGenerator(torch.device("cpu"))


def _png_text(path: Path) -> dict[str, str]:
    with Image.open(path) as image:
        image.load()
        return dict(image.text)


def test_cli_writes_a_png_with_its_provenance(tiny_env, tmp_path, capsys, monkeypatch):
    out = tmp_path / "portrait.png"
    code, stdout, stderr = run_cli(capsys, monkeypatch, "generate", "news anchor", "--attr", "hair=red", "--attr",
                                   "glasses=none", "--seed", "7", "--size", "64", "--no-face-check", "-o", out,
                                   "--json", "--device", "cpu")
    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["outputs"] == [str(out)] and result["seeds"] == [7] and result["backend"] == "sd-turbo"
    with Image.open(out) as image:
        assert image.size == (64, 64) and image.mode == "RGB"
    tags = _png_text(out)
    assert tags["synthetic"] == "true" and tags["thead_seed"] == "7" and tags["thead_backend"] == "sd-turbo"
    assert tags["thead_prompt"].startswith("news anchor, red hair")
    assert "glasses" in tags["thead_negative_prompt"]
    assert json.loads(tags["thead_attributes"]) == {"hair": "red", "glasses": "none"}
    assert tags["thead_weights"] == f"sd-turbo=test/tiny-sd-turbo@{REVISION}"
    assert tags["thead_steps"] == "1" and tags["thead_size"] == "64x64"


def test_a_seed_reproduces_its_image_and_num_takes_consecutive_seeds(sd_turbo, tmp_path):
    from thead.pipelines.generate import generate

    result = generate("a face", tmp_path / "run.png", backend=sd_turbo, num=3, seed=11, size=64, face_check=False)
    names = [Path(p).name for p in result.outputs]
    assert names == ["run-1.png", "run-2.png", "run-3.png"] and result.seeds == [11, 12, 13]
    written = [np.asarray(Image.open(p).convert("RGB")) for p in result.outputs]
    again = sd_turbo.generate(result.prompt, result.negative_prompt, 12, 64, 1)
    np.testing.assert_array_equal(written[1], again)  # PNG is lossless: the same seed, the same pixels
    assert not np.array_equal(written[0], written[1])
    assert [_png_text(Path(p))["thead_seed"] for p in result.outputs] == ["11", "12", "13"]


def test_grid_writes_one_contact_sheet_of_the_same_images(sd_turbo, tmp_path):
    from thead.generate.grid import GAP
    from thead.pipelines.generate import generate

    result = generate("a face", tmp_path / "sheet.png", backend=sd_turbo, num=3, seed=11, size=64, grid=True,
                      face_check=False)
    assert result.outputs == [str(tmp_path / "sheet.png")] and sorted(os.listdir(tmp_path)) == ["sheet.png"]
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB"))
    assert sheet.shape == (2 * (64 + GAP) + GAP, 2 * (64 + GAP) + GAP, 3)  # 3 cells: 2 rows of 2 columns
    third = sd_turbo.generate(result.prompt, result.negative_prompt, 13, 64, 1)
    top = 64 + 2 * GAP
    np.testing.assert_array_equal(sheet[top:top + 64, GAP:GAP + 64], third)
    assert (sheet[top:top + 64, top:top + 64] == 255).all()  # the fourth cell stays empty
    assert _png_text(tmp_path / "sheet.png")["thead_seed"] == "11,12,13"


def test_unconditional_backend_makes_its_native_size_and_refuses_prompts(tiny_env, tmp_path, capsys, monkeypatch):
    out = tmp_path / "faces.png"
    code, _, stderr = run_cli(capsys, monkeypatch, "generate", "--backend", "ldm-celebahq", "--steps", "2",
                              "--seed", "3", "--no-face-check", "-o", out, "--device", "cpu")
    assert code == 0, stderr
    with Image.open(out) as image:
        assert image.size == (32, 32)  # tiny UNet sample 16 x VQ factor 2
    assert _png_text(out)["thead_backend"] == "ldm-celebahq"
    code, _, stderr = run_cli(capsys, monkeypatch, "generate", "--backend", "ldm-celebahq", "a face", "-o",
                              tmp_path / "x.png")
    assert code == 2 and "unconditional" in stderr
    code, _, stderr = run_cli(capsys, monkeypatch, "generate", "--backend", "ldm-celebahq", "--size", "64",
                              "--no-face-check", "-o", tmp_path / "y.png", "--device", "cpu")
    assert code == 2 and "32x32" in stderr and not (tmp_path / "y.png").exists()


@pytest.mark.parametrize("args, message", [
    (["--attr", "gendr=female"], "unknown attribute 'gendr' — did you mean 'gender'?"),
    (["--attr", "age"], "--attr expects KEY=VALUE"),
    (["--steps", "5"], "--steps 5 is out of range for 'sd-turbo'"),
    (["--size", "100"], "--size 100 is not usable"),
    (["--backend", "sd-turbbo"], "did you mean 'sd-turbo'?"),
])
def test_bad_requests_are_usage_errors_before_any_work(args, message, tmp_path, capsys, monkeypatch):
    code, _, stderr = run_cli(capsys, monkeypatch, "generate", "x", *args, "-o", tmp_path / "out.png")
    assert code == 2 and message in stderr and stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_attribute_value_error_exits_2_from_the_installed_command(tmp_path):
    done = subprocess.run([THEAD, "generate", "--attr", "hair=redd", "-o", tmp_path / "out.png"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: unknown hair 'redd' — did you mean 'red'? choose from: black, brown, "
                                   "blonde, red, auburn, grey, white, blue, pink")
    assert not list(tmp_path.iterdir())


def test_missing_weights_exit_4_naming_the_fetch_command(tmp_path):
    env = {**os.environ, "THEAD_CACHE": str(tmp_path / "empty-cache")}
    env.pop("THEAD_WEIGHTS_MANIFEST", None)
    done = subprocess.run([THEAD, "generate", "a portrait", "-o", tmp_path / "out.png"], capture_output=True,
                          text=True, timeout=60, env=env, check=False)
    assert done.returncode == 4
    assert "weights 'sd-turbo' are not installed" in done.stderr and "thead fetch-weights sd-turbo" in done.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("name, repo", [("sd-turbo", "test/tiny-sd-turbo"), ("ldm-celebahq", "test/tiny-ldm")])
def test_the_pinned_snapshot_lists_exactly_the_files_diffusers_writes_for_the_pipeline(mirror, name, repo):
    """weights.toml pins the files a pipeline of this class and variant consists of: nothing missing, nothing extra."""
    from thead.weights import load_manifest

    written = {p.relative_to(mirror / repo).as_posix() for p in (mirror / repo).rglob("*") if p.is_file()}
    assert {f.path for f in load_manifest().get(name).files} == written


def test_official_sd_turbo_architecture_matches_the_published_weight_sizes():
    """The UNet, VAE and text encoder built from the official configs hold as many parameters as the hub's
    fp16 files have bytes / 2 (pages: unet 1.73 GB, vae 167 MB, text encoder 681 MB; fp32 3.46 GB, 335 MB, 1.36 GB)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from thead.generate.sd_turbo import OFFICIAL_TEXT_ENCODER, OFFICIAL_UNET, OFFICIAL_VAE

    with torch.device("meta"):
        models = [UNet2DConditionModel(**OFFICIAL_UNET), AutoencoderKL(**OFFICIAL_VAE),
                  CLIPTextModel(CLIPTextConfig(**OFFICIAL_TEXT_ENCODER))]
    for model, fp16_bytes, fp32_bytes in zip(models, (1.73e9, 167e6, 681e6), (3.46e9, 335e6, 1.36e9)):
        count = sum(tensor.numel() for tensor in model.state_dict().values())
        assert count * 2 == pytest.approx(fp16_bytes, rel=0.004), type(model).__name__
        assert count * 4 == pytest.approx(fp32_bytes, rel=0.004), type(model).__name__


def test_portrait_check_on_real_images(astronaut):
    """scikit-image's astronaut is a drivable portrait; a blank image, a tiny face and two faces are not."""
    from thead.generate.face_check import check_portrait

    assert check_portrait(astronaut).ok
    assert check_portrait(np.full((512, 512, 3), 200, np.uint8)).reason == "no face"
    small = np.full((512, 512, 3), 255, np.uint8)  # the astronaut at 200 px: her face is ~42 px, 8 % of the height
    small[156:356, 156:356] = np.asarray(Image.fromarray(astronaut).resize((200, 200), Image.Resampling.LANCZOS))
    verdict = check_portrait(small)
    assert not verdict.ok and verdict.reason.startswith("face 4") and "px tall (8% of the image)" in verdict.reason
    half = np.asarray(Image.fromarray(astronaut).resize((320, 320), Image.Resampling.LANCZOS))
    pair = np.concatenate([half, half[:, ::-1]], axis=1)  # 640 px wide: one detector pass, no tiles
    assert check_portrait(pair).reason == "2 faces"


def test_a_rejected_seed_is_replaced_by_the_next_one(astronaut):
    from thead.generate.face_check import first_portrait

    blank = np.zeros_like(astronaut)
    rendered: list[int] = []

    def render(seed: int) -> np.ndarray:
        rendered.append(seed)
        return astronaut if seed == 7 else blank

    image, seed, rejected = first_portrait(render, iter(range(5, 100)), tries=4)
    assert seed == 7 and image is astronaut and rendered == [5, 6, 7]
    assert [(r.seed, r.reason) for r in rejected] == [(5, "no face"), (6, "no face")]


def test_without_a_usable_face_in_the_allowed_tries_nothing_is_written(sd_turbo, tmp_path):
    """Tiny random models draw noise: every seed is rejected, the run fails with exit 3 and names the seeds."""
    from thead.errors import NoFaceError
    from thead.pipelines.generate import generate

    with pytest.raises(NoFaceError, match=r"no usable portrait in 2 tries \(seed 4: no face; seed 5: no face\)") as err:
        generate("a face", tmp_path / "out.png", backend=sd_turbo, seed=4, size=64, tries=2)
    assert err.value.exit_code == 3 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("items, prompt, negative", [
    (["age=30", "gender=female", "hair=red", "expression=smile"], "30-year-old woman, red hair, gentle smile", ""),
    (["gender=m", "age=teen", "hair_colour=blond"], "teenage boy, blonde hair", ""),
    (["style=photo", "age=elderly", "beard=none"], "professional photograph, elderly person, clean-shaven",
     "painting, drawing, cartoon, 3d render, beard, moustache, stubble"),
    (["skin-tone=dark", "background=gray"], "dark skin, grey background", ""),
])
def test_attributes_become_prompt_phrases(items, prompt, negative):
    from thead.generate.attributes import parse_attributes

    assert parse_attributes(items).phrases() == (prompt, negative)


def test_help_lists_every_value_the_attribute_parser_accepts(capsys, monkeypatch):
    from thead.generate.attributes import KEYS, parse_attributes, values_of

    monkeypatch.setenv("COLUMNS", "400")
    code, out, _ = run_cli(capsys, monkeypatch, "generate", "--help")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in KEYS
             and "," in line}
    assert set(lines) == set(KEYS)
    for key in KEYS:
        for value in values_of(key):
            assert value in lines[key]
            parse_attributes([f"{key}={value.split('-')[0] if key == 'age' and value[0].isdigit() else value}"])
