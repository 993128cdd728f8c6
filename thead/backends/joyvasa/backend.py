"""The ``joyvasa`` backend: speech -> JoyVASA motion -> LivePortrait rendering.

JoyVASA (jdh-algo, MIT) samples LivePortrait motion (expression, pose, scale, translation) from
HuBERT features of the speech with a diffusion transformer. :meth:`JoyVASABackend.speech_motion`
turns that into a ``liveportrait``-space motion track of the source portrait; rendering,
stitching and paste-back are the LivePortrait backend's. Blinks and extra head motion, which
JoyVASA lacks, come from thead's own talking-motion curves, so ``--blink-rate`` and ``--pose``
behave as with the embedded engine.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from thead.backends.joyvasa.checkpoint import load_generator, read_generator_checkpoint, read_template
from thead.backends.joyvasa.config import (
    FPS,
    POSITIONAL_ENCODINGS,
    SAMPLE_RATE,
    config_from_state_dict,
    small_test_config,
)
from thead.backends.joyvasa.denoiser import MotionGenerator
from thead.backends.joyvasa.mapping import MotionTemplate, SourcePose, angles_of, relative_motion, smooth_pose
from thead.backends.joyvasa.sampler import LEAD_IN_FRAMES, Sampler, generator_draw, plan_windows
from thead.backends.liveportrait import edits as lp_edits
from thead.backends.liveportrait.backend import LivePortraitBackend
from thead.backends.liveportrait.networks import LivePortraitNetworks
from thead.errors import BadInputError, UsageError
from thead.motion.frame_edit import FrameEdit
from thead.motion.procedural import blink_closures, blink_schedule
from thead.motion.spaces import get_space
from thead.motion.talking import POSES
from thead.motion.track import MotionTrack
from thead.report import Notes, Silent

if TYPE_CHECKING:
    from thead.audio.articulation import Articulation

WEIGHT_SET = "joyvasa"
CHECKPOINT = "motion_generator/motion_generator_hubert_chinese.pt"
TEMPLATE = "motion_template/motion_template.pkl"
# The shared angle channels follow the LivePortrait ones with these signs (its pitch grows downwards).
SHARED_ANGLES = (("yaw", "lp_yaw", 1.0), ("pitch", "lp_pitch", -1.0), ("roll", "lp_roll", 1.0))


class JoyVASABackend(LivePortraitBackend):
    """JoyVASA motion generation (jdh-algo, MIT) on the LivePortrait renderer; fetched weights.

    ``pe`` picks the denoiser's positional encoding: ``legacy`` (default; what the released weights
    were trained with) or ``fixed`` (upstream's December 2025 correction).
    """

    name = "joyvasa"
    tasks = frozenset({"drive-audio"})
    weights = (WEIGHT_SET, "liveportrait")
    licence = "MIT"
    generates_speech_motion = True

    def __init__(
        self,
        device: torch.device,
        *,
        pe: str = "legacy",
        stitching: bool = True,
        eye_retargeting: bool = False,
        lip_retargeting: bool = False,
        normalize_lip: bool = False,
        detector: str = "mediapipe",
        networks: LivePortraitNetworks | None = None,
        generator: MotionGenerator | None = None,
        template: MotionTemplate | None = None,
    ) -> None:
        super().__init__(device, stitching=stitching, eye_retargeting=eye_retargeting,
                         lip_retargeting=lip_retargeting, normalize_lip=normalize_lip, detector=detector,
                         networks=networks)
        if pe not in POSITIONAL_ENCODINGS:
            raise UsageError(f"unknown positional encoding pe={pe}", f"choose one of: {', '.join(POSITIONAL_ENCODINGS)}")
        self.pe = pe
        self._generator = generator.to(device) if generator is not None else None
        self._template = template

    @classmethod
    def tiny(cls, device: torch.device) -> JoyVASABackend:
        """Seeded random LivePortrait and JoyVASA networks at toy widths, and a synthetic motion template."""
        backend = super().tiny(device)
        state = torch.random.get_rng_state()
        torch.manual_seed(0)
        try:
            generator = MotionGenerator(small_test_config())
        finally:
            torch.random.set_rng_state(state)
        backend._generator = generator.to(device)
        backend._template = tiny_template()
        return backend

    def weight_sets_used(self) -> tuple[str, ...]:
        """``joyvasa`` and the LivePortrait set the renderer loaded."""
        return (WEIGHT_SET,) + (self.weights_loaded or ("liveportrait",))

    @property
    def generator(self) -> tuple[MotionGenerator, MotionTemplate]:
        """The motion generator on this backend's device and its template, loaded on first use."""
        if self._generator is None or self._template is None:
            generator, self._template = load_official_generator(self.pe)
            self._generator = generator.to(self.device)
        return self._generator, self._template

    def speech_motion(self, samples: np.ndarray, sample_rate: int, fps: float, base: dict[str, np.ndarray], *,
                      guidance: float, steps: int, seed: int, pose: str, blink_rate: float,
                      articulation: Articulation | None = None, reporter: Notes | None = None) -> MotionTrack:
        """A ``liveportrait`` track of the portrait whose motion frame is ``base`` speaking ``samples``.

        One frame per 1/``fps`` s of audio (``ceil(duration * fps)``), frame 0 at audio time 0.
        ``guidance`` scales classifier-free guidance (official: 2.8 CLI, 2.0 README, 4.0 app);
        ``steps`` of the trained 50-step DDPM are visited (fewer: a respaced chain); ``seed`` fixes
        the noise. ``pose`` "natural" adds thead's head motion and gaze jumps to JoyVASA's (heavily
        smoothed) head motion, "still" keeps the source's head pose; ``blink_rate`` per minute.
        ``articulation``: the caller's analysis of the same speech at ``fps`` (analysed here when omitted,
        in the language-independent acoustic mode).
        """
        reporter = reporter or Silent()
        if pose not in POSES:
            raise UsageError(f"unknown pose '{pose}' for speech motion", f"choose one of: {', '.join(POSES)}")
        if not (np.isfinite(blink_rate) and blink_rate >= 0):
            raise UsageError(f"blink rate {blink_rate:g} is not a number of blinks per minute", "give a rate >= 0, e.g. 17")
        if not np.isfinite(guidance):
            raise UsageError(f"--guidance {guidance} is not a number", "give a scale such as 2.8")
        speech = _speech_16k(samples, sample_rate)
        count = math.ceil(speech.size / SAMPLE_RATE * fps - 1e-9)
        if count < 1:
            raise BadInputError("the speech is shorter than one frame", "give longer audio")
        generator, template = self.generator
        generator.use_pe(self.pe)
        coef = self._coefficients(generator, speech, guidance, steps, seed, reporter)
        motion = _at_frame_times(smooth_pose(template.denormalise(coef)), fps, count)
        channels = _track_channels(motion, base, pose == "still")
        frames = [{name: value[index] for name, value in channels.items()} for index in range(count)]
        if pose == "natural":
            if articulation is None:
                from thead.audio.articulation import analyze_speech

                articulation = analyze_speech(speech, SAMPLE_RATE, fps, language="und")
            frames = _add_behaviour(frames, articulation, fps, seed)
        frames = _add_blinks(frames, base, fps, blink_rate, seed)
        stacked = {name: np.stack([np.asarray(frame[name], np.float32) for frame in frames]) for name in frames[0]}
        metadata = {"driver": "speech", "motion": "joyvasa", "pose": pose, "seed": str(seed),
                    "guidance": repr(float(guidance)), "steps": str(steps), "pe": generator.config.pe}
        track = MotionTrack(float(fps), self.space, stacked, metadata)
        get_space(self.space).validate(track, "JoyVASA speech motion")
        return track

    def _coefficients(self, generator: MotionGenerator, speech: np.ndarray, guidance: float, steps: int, seed: int,
                      reporter: Notes) -> np.ndarray:
        """JoyVASA's coefficients [frames, 73] at 25 fps, frame k at audio time (k - 2) * 40 ms."""
        sampler = Sampler(generator, guidance, steps)
        audio = torch.from_numpy(speech).to(self.device)
        windows = plan_windows(speech.size, generator.config.n_motions).windows
        with torch.inference_mode():
            chunks = [chunk[0].float().cpu().numpy() for chunk in
                      reporter.progress(sampler.windows(audio, generator_draw(seed, self.device)), windows,
                                        "JoyVASA motion")]
        return np.concatenate(chunks)


def load_official_generator(pe: str = "legacy") -> tuple[MotionGenerator, MotionTemplate]:
    """The released motion generator and template from the ``joyvasa`` weight set (WeightsError, exit 4, if missing)."""
    from thead.weights import resolve_files

    files = resolve_files(WEIGHT_SET)
    state = read_generator_checkpoint(files[CHECKPOINT])
    generator = MotionGenerator(config_from_state_dict(state, pe))
    load_generator(generator, state, str(files[CHECKPOINT]))
    return generator, MotionTemplate.from_arrays(read_template(files[TEMPLATE]), str(files[TEMPLATE]))


def tiny_template() -> MotionTemplate:
    """A synthetic template with narrow ranges (random networks give coefficients of any size)."""
    arrays = {"mean_exp": np.zeros(63), "std_exp": np.full(63, 0.002), "min_scale": [1.6], "max_scale": [1.65],
              "min_t": [-0.01] * 3, "max_t": [0.01] * 3}
    for name in ("pitch", "yaw", "roll"):
        arrays[f"min_{name}"], arrays[f"max_{name}"] = [-1.0], [1.0]
    return MotionTemplate.from_arrays({name: np.asarray(value, np.float32) for name, value in arrays.items()})


def _speech_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 1 or samples.size == 0:
        raise BadInputError("JoyVASA needs mono speech samples", "give a non-empty mono recording")
    if sample_rate <= 0:
        raise UsageError(f"sample rate {sample_rate} must be positive", "pass the audio's real rate")
    samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    if sample_rate == SAMPLE_RATE:
        return samples
    import librosa

    return librosa.resample(samples, orig_sr=sample_rate, target_sr=SAMPLE_RATE).astype(np.float32)


def _at_frame_times(motion: dict[str, np.ndarray], fps: float, count: int) -> dict[str, np.ndarray]:
    """Generated frame 0 (the silent lead-in: the reference), then ``count`` frames at audio times j / fps."""
    frames = len(motion["exp"])
    position = np.clip(np.arange(count) * (FPS / fps) + LEAD_IN_FRAMES, 0, frames - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, frames - 1)
    out = {}
    for name, values in motion.items():
        weight = (position - low).astype(np.float32).reshape((-1,) + (1,) * (values.ndim - 1))
        timed = values[low] * (1 - weight) + values[high] * weight
        out[name] = np.concatenate([values[:1], timed]).astype(np.float32)
    return out


def _track_channels(motion: dict[str, np.ndarray], base: dict[str, np.ndarray], still: bool) -> dict[str, np.ndarray]:
    """The ``liveportrait`` channels driving the source with ``motion`` relative to its first frame (dropped)."""
    source = SourcePose(*(np.asarray(base[f"lp_{name}"], np.float32).reshape(shape) for name, shape in
                          (("pitch", (1, 1)), ("yaw", (1, 1)), ("roll", (1, 1)), ("t", (1, 3)), ("exp", (1, -1, 3)),
                           ("scale", (1, 1)))))
    relative = {name: value[1:] for name, value in relative_motion(motion, source).items()}
    count = len(relative["exp"])
    channels = {name: np.repeat(np.asarray(value, np.float32)[None], count, axis=0) for name, value in base.items()}
    channels.setdefault("lp_retarget", np.zeros((count, 2), np.float32))
    channels["lp_exp"] = relative["exp"]
    if still:
        return channels
    pitch, yaw, roll = angles_of(relative["R"])
    changes = {"lp_pitch": pitch, "lp_yaw": yaw, "lp_roll": roll}
    for shared, name, sign in SHARED_ANGLES:
        channels[shared] = channels[shared] + sign * (changes[name] - channels[name])
        channels[name] = changes[name]
    channels["lp_scale"] = relative["scale"][:, 0]
    channels["lp_t"] = relative["t"]
    return channels


def _add_behaviour(frames: list[dict[str, np.ndarray]], articulation: Articulation, fps: float,
                   seed: int) -> list[dict[str, np.ndarray]]:
    """thead's talking head motion and gaze jumps (as ``--pose natural`` of the embedded engine) on every frame."""
    from thead.motion.talking.behaviour import behaviour

    moves = behaviour(articulation.speech, articulation.energy, articulation.emphasis, fps, seed, moving=True)
    out = []
    for index, frame in enumerate(frames):
        gaze = moves.gaze[min(index, len(moves.gaze) - 1)]
        yaw, pitch, roll = (float(v) for v in moves.angles[min(index, len(moves.angles) - 1)])
        looking = tuple(float(v) for v in np.asarray(frame["gaze"]) + gaze) if np.any(gaze) else None
        out.append(lp_edits.apply_frame_edit(frame, FrameEdit(yaw=yaw, pitch=pitch, roll=roll, gaze=looking)))
    return out


def _add_blinks(frames: list[dict[str, np.ndarray]], base: dict[str, np.ndarray], fps: float, blink_rate: float,
                seed: int) -> list[dict[str, np.ndarray]]:
    """Blinks from thead's schedule through LivePortrait's eye retargeting (the embedded engine's blinks)."""
    closure = blink_closures(len(frames), fps, blink_schedule(len(frames) / fps, blink_rate, seed))
    rest_eyes = np.asarray(base["eye_open"], np.float32)
    ratio_per_opening = np.asarray(base["lp_eye_ratio"], np.float32) / np.maximum(rest_eyes, 1e-3)
    for frame, shut in zip(frames, closure):
        if shut > 0:
            eyes = rest_eyes * (1.0 - float(shut))
            frame["eye_open"] = eyes.astype(np.float32)
            frame["lp_eye_ratio"] = (eyes * ratio_per_opening).astype(np.float32)
            frame["lp_retarget"] = np.array([1.0, np.asarray(frame["lp_retarget"])[1]], np.float32)
    return frames
