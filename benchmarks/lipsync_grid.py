"""Lip sync of ``thead drive-audio`` against real speakers: GRID clips (and an HDTF interview) driven by their own sound.

Each clip's first frame is driven with the clip's own audio (the Python API, warp backend, seed 1,
default ``--pose natural``), and the output's mouth is compared with the real video's, both measured by
thead's face analysis (``measure_face``: pose-free landmarks):

- r: Pearson correlation of mouth openness at the best lag in -2..+2 frames (positive: ours late);
- LMD gain: 1 - LMD(ours, real) / LMD(still first frame, real), so 0 means no better than not moving and
  issue 11 asks for >= 0.35. LMD is ``thead eval``'s (Chen et al. 2018): the 20 iBUG-68 mouth landmarks in
  image pixels, each frame's set centred on its own mean, mean Euclidean distance;
- test-set LMD gain: the same ratio with each LMD taken over every frame of every GRID clip, as the field reports
  LMD for a test set (a clip whose speaker barely moves weighs less than in the mean of the clips' gains);
- pose-free LMD gain: the same ratio on the 20 outer-lip landmarks of the pose-free face (head rotation,
  size and position removed, sets *not* centred), so a mouth that sits too high or low in the face counts too;
- chance: the same first frame driven by another clip's audio (the next one in the list),
  correlated with this clip's real mouth, in the same run.

``--diagnose`` adds, per clip, where the landmark distance comes from: the speech-time 95th percentile of
mouth openness (ours / real), the mean error of mouth width and of the outer upper and lower lip heights
(ours - real, pose-free units; y grows down), and the landmark distance in silence and in speech
(ours / still first frame), silence being where silero-vad hears no voice.

``--model-only`` skips rendering and scores the mouth model alone: its raw prediction (before the silence gate
and the jaw curve) against the real opening, r at the best lag within +-1 frame, each GRID clip by a model fitted
without it. It takes seconds instead of minutes, for trying model changes before a full run.

``--curve`` also skips rendering: the raw model's r (as ``--model-only``) against the number of GRID clips it is
fitted on, 1 to all but the held-out one (random subsets, the mean over draws and held-out clips), on the held-out
GRID clip and on every other clip named; it shows whether more training speech would still help.

``--oracle`` adds, per clip, the same first frame driven by the *real* speaker's measured mouth opening
(no audio: each frame's jaw set so the opening matches the real one, the rest of the drive as above):
the landmark-distance gain the renderer's mouth reaches when the opening is exactly right, which
bounds what any better audio model can give through the opening alone.

Issue 11's bar: mean r >= 0.65 with the best lag within +-1 frame at 25 fps, LMD gain >= 0.35.

The mouth model (``thead.audio.mouth_model``) is fitted on GRID clips, so every GRID clip is driven
with a model fitted on the *other* GRID clips (leave one clip out); the HDTF interview, never used
for fitting, gets the model fitted on all of them, and so does any other clip: ``--media`` may be any
folder of real talking clips with their own sound (every video in it with sound is driven), ``--clips`` may name
files anywhere (the GRID clips are then taken from ``../shared/media/talking``). ``--write-model`` refits the shipped weights on
every GRID clip (``thead/audio/data/grid_mouth.safetensors``) before evaluating.

    python benchmarks/lipsync_grid.py [--media ../shared/media/talking] [--clips grid_bbaf2n clip.mp4 ...] [--pose still]
                                      [--no-chance] [--write-model] [--diagnose] [--oracle] [--model-only] [--curve]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

MOUTH_POINTS = np.array([61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409])
MAX_LAG = 2


def mouth_series(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame, by thead's face analysis: mouth openness, the 20 pose-free mouth landmarks and the
    iBUG-68 landmarks in image pixels [T, 68, 2]."""
    from thead.face import FaceTracker
    from thead.face.geometry import to_68
    from thead.io.video import read_frames
    from thead.motion.spaces import measure_face

    openness, mouths, ibug = [], [], []
    with FaceTracker() as tracker:
        for frame in read_frames(path):
            points = tracker.track(frame).points
            channels, expression = measure_face(points)
            openness.append(float(channels["mouth_open"]))
            mouths.append(expression[MOUTH_POINTS, :2])
            ibug.append(to_68(points)[:, :2])
    return np.array(openness), np.array(mouths), np.array(ibug)


def talking_clips(folder: Path) -> list[Path]:
    """The videos in ``folder`` that have sound (a silent one has no speech to drive a mouth with)."""
    from thead.io.audio import has_audio
    from thead.metrics.inputs import VIDEO_SUFFIXES

    return sorted(c for c in folder.iterdir() if c.suffix.lower() in VIDEO_SUFFIXES and has_audio(c))


def video_named(folder: Path, stem: str) -> Path:
    """The video ``folder/stem.*`` (``grid_swwp2s`` also has a ``.align`` transcript beside its ``.mpg``)."""
    from thead.metrics.inputs import VIDEO_SUFFIXES

    found = [path for path in sorted(folder.glob(f"{stem}.*")) if path.suffix.lower() in VIDEO_SUFFIXES]
    if not found:
        raise SystemExit(f"error: no video named {stem} in {folder} — give a clip name or path that exists")
    return found[0]


def best_correlation(made: np.ndarray, real: np.ndarray, max_lag: int = MAX_LAG) -> tuple[float, int]:
    """Pearson r at the best lag in [-max_lag, max_lag] frames (positive: ``made`` late)."""
    n = min(len(made), len(real))
    made, real = made[:n], real[:n]
    scores = {}
    for lag in range(-max_lag, max_lag + 1):
        x, y = (made[lag:], real[: n - lag]) if lag >= 0 else (made[: n + lag], real[-lag:])
        scores[lag] = float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else 0.0
    lag = max(scores, key=scores.get)
    return scores[lag], lag


def lmd_gain(made: np.ndarray, real: np.ndarray) -> float:
    """1 - LMD(ours, real) / LMD(still first frame, real) with ``thead eval``'s LMD, over the frames both
    have; ``made`` and ``real`` are iBUG-68 landmarks [T, 68, 2]."""
    return test_set_gain([landmark_distances(made, real)])


def landmark_distances(made: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame both have, ``thead eval``'s LMD of ``made`` and of the still first frame against ``real`` (iBUG-68
    landmarks [T, 68, 2])."""
    from thead.metrics.lmd import mouth_landmark_distance

    return _distances(made, real, mouth_landmark_distance)


def test_set_gain(distances: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """1 - LMD(ours) / LMD(still first frame), each LMD the mean over every frame of every clip's
    :func:`landmark_distances`."""
    ours, still = (np.concatenate(parts) for parts in zip(*distances))
    return float(1.0 - ours.mean() / still.mean())


def pose_free_gain(made: np.ndarray, real: np.ndarray) -> float:
    """1 - distance(ours, real) / distance(still first frame, real) of pose-free mouth landmarks, not centred."""
    return test_set_gain([_distances(made, real, lambda a, b: np.linalg.norm(a - b, axis=-1))])


def _distances(made: np.ndarray, real: np.ndarray, distance) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ``distance`` of ``made`` and of the still first frame to ``real``, over the frames both have."""
    n = min(len(made), len(real))
    still = np.repeat(real[:1], n, axis=0)
    return distance(made[:n], real[:n]), distance(still, real[:n])


def diagnosis(made_open: np.ndarray, made: np.ndarray, real_open: np.ndarray, real: np.ndarray,
              speech: np.ndarray) -> str:
    """One line: openness amplitude, width and lip-height errors, landmark distance in silence and speech."""
    n = min(len(made), len(real), len(speech))
    made_open, made, real_open, real, talking = made_open[:n], made[:n], real_open[:n], real[:n], speech[:n] >= 0.5
    width = lambda points: np.linalg.norm(points[:, 0] - points[:, 10], axis=-1)  # corners 61 and 291
    ours = np.linalg.norm(made - real, axis=-1).mean(axis=1)
    still = np.linalg.norm(real[:1] - real, axis=-1).mean(axis=1)
    parts = [f"open p95 {np.percentile(made_open[talking], 95):.3f}/{np.percentile(real_open[talking], 95):.3f}",
             f"width {np.mean(width(made) - width(real)):+.3f}",
             f"upper lip y {np.mean(made[:, 15, 1] - real[:, 15, 1]):+.3f} lower {np.mean(made[:, 5, 1] - real[:, 5, 1]):+.3f}"]
    for name, frames in (("silence", ~talking), ("speech", talking)):
        if frames.any():
            parts.append(f"LMD {name} {ours[frames].mean():.4f}/{still[frames].mean():.4f}")
    return "; ".join(parts)


def voice_activity(clip: Path, frames: int) -> np.ndarray:
    """silero-vad's speech probability of ``clip``'s sound at each of ``frames`` frames at 25 fps."""
    from thead.audio import vad
    from thead.io.audio import read_audio

    return vad.activity_at(vad.speech_probability(read_audio(clip, 16000)), np.arange(frames) / 25.0)


def training_example(clip: Path, openness: np.ndarray):
    """(features, frame times, real openness, voice activity) of one clip at 25 fps, for the mouth model."""
    from thead.audio import vad
    from thead.audio.features import analyze_features
    from thead.io.audio import read_audio

    signal = read_audio(clip, 16000)
    times = np.arange(len(openness)) / 25.0
    return analyze_features(signal), times, openness, vad.activity_at(vad.speech_probability(signal), times)


def model_correlation(model, example) -> tuple[float, int]:
    """The mouth ``model``'s raw prediction for a (features, times, real openness, voice) ``example`` against the real
    openness, as drive-audio reads it (LEAD ahead): Pearson r at the best lag within +-1 frame, and that lag."""
    from thead.audio.articulation import LEAD

    features, times, openness, _ = example
    return best_correlation(model.predict(features, np.asarray(times) + LEAD), np.asarray(openness), max_lag=1)


def learning_curve(examples: dict[Path, tuple], unseen: dict[Path, tuple], draws: int = 6,
                   seed: int = 0) -> dict[int, dict[str, float]]:
    """Per number of training clips (1 .. all ``examples`` but one), the mean raw-model r (:func:`model_correlation`)
    of models fitted on random subsets of the other clips: on the held-out clip (key ``"GRID"``) and on each
    ``unseen`` clip (key: its stem); ``draws`` subsets per held-out clip and size."""
    from thead.audio import mouth_model

    rng = np.random.default_rng(seed)
    names = list(examples)
    curve = {}
    for size in range(1, len(names)):
        scores: dict[str, list[float]] = {"GRID": [], **{clip.stem: [] for clip in unseen}}
        for held in names:
            others = [name for name in names if name != held]
            for _ in range(draws if size < len(others) else 1):
                model = mouth_model.fit([examples[others[i]] for i in rng.choice(len(others), size, replace=False)])
                scores["GRID"].append(model_correlation(model, examples[held])[0])
                for clip, example in unseen.items():
                    scores[clip.stem].append(model_correlation(model, example)[0])
        curve[size] = {key: float(np.mean(values)) for key, values in scores.items()}
    return curve


def drive(clip: Path, speech: Path, out: Path, pose: str) -> Path:
    """``clip``'s first frame speaking ``speech``, written to ``out`` (each drive independent of the ones before)."""
    from thead.io.image import write_image
    from thead.io.video import read_frames
    from thead.pipelines.drive_audio import drive_audio

    portrait = out.with_suffix(".png")
    write_image(portrait, read_frames(clip, 1)[0])
    drive_audio(portrait, speech, out, seed=1, pose=pose, force=True)
    return out


def drive_opening(clip: Path, opening: np.ndarray, out: Path) -> Path:
    """``clip``'s first frame with its mouth opened to ``opening`` per frame (head, eyes and brows still)."""
    import torch

    from thead.backends import get_backend_class
    from thead.backends.base import DriveOptions
    from thead.face.geometry import corner_lift
    from thead.io.video import VideoWriter, read_frames
    from thead.motion.talking.mouth import JAW_POWER, SPEECH_OPEN, mouth_edit, rest_openness

    backend = get_backend_class("warp")(torch.device("cpu"))
    source = backend.prepare_source(read_frames(clip, 1)[0])
    base = backend.source_motion(source)
    rest = rest_openness(float(base["mouth_open"]), corner_lift(base["expression"]))
    with VideoWriter(out, 25.0) as writer:
        for value in opening:
            jaw = float(np.clip((value - rest) / (SPEECH_OPEN - rest), 0.0, 1.0)) ** (1.0 / JAW_POWER)
            writer.write(backend.render(source, mouth_edit(base, "landmarks", jaw, 0.0, 0.0, 0.0), base,
                                        DriveOptions(paste_back=True)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(os.environ.get("THEAD_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    talking = shared / "media" / "talking"
    parser.add_argument("--media", type=Path, default=talking, help="folder of real talking clips with their sound")
    parser.add_argument("--clips", nargs="*", help="clip names in --media, or paths (default: every grid_*.mpg, then "
                        "hdtf_*.mp4; in any other folder, every video with sound)")
    parser.add_argument("--pose", default="natural", help="head motion of the driven portrait")
    parser.add_argument("--write-model", action="store_true", help="refit the shipped mouth model on all GRID clips")
    parser.add_argument("--no-chance", action="store_true", help="skip the other-audio baseline")
    parser.add_argument("--diagnose", action="store_true", help="per clip: amplitude, width, lip height, LMD by voice")
    parser.add_argument("--oracle", action="store_true", help="also drive each clip by its real mouth opening (no audio)")
    parser.add_argument("--model-only", action="store_true", help="score the raw mouth model, no rendering")
    parser.add_argument("--curve", action="store_true", help="raw model r against the number of GRID clips fitted on")
    args = parser.parse_args()
    if args.clips:
        clips = [Path(name) if Path(name).is_file() else args.media / name for name in args.clips]
        clips = [c if c.suffix else video_named(args.media, c.name) for c in clips]
    else:
        clips = sorted(args.media.glob("grid_*.mpg")) + sorted(args.media.glob("hdtf_*.mp4")) or talking_clips(args.media)
    from thead.audio import mouth_model

    grid = [c for c in clips if c.name.startswith("grid_")]
    # every GRID clip the shipped model may have seen: a clip among them is scored by a model fitted without it,
    # any other clip by one fitted on all of them (the shipped model when there are none)
    training = sorted(args.media.glob("grid_*.mpg")) or sorted(talking.glob("grid_*.mpg"))
    real = {clip: mouth_series(clip) for clip in dict.fromkeys(clips + training)}
    examples = {clip: training_example(clip, real[clip][0]) for clip in training}
    if args.write_model:
        mouth_model.save(mouth_model.fit(examples.values()), mouth_model.DATA, {
            "source": "GRID audiovisual corpus, Cooke, Barker, Cunningham and Shao, 2006, CC BY 4.0",
            "clips": " ".join(clip.stem for clip in training)})
        mouth_model.DATA.chmod(0o644)  # package data: readable by everyone
        mouth_model._shipped.cache_clear()
    if args.curve:
        unseen = {clip: training_example(clip, real[clip][0]) for clip in clips if clip not in examples}
        curve = learning_curve(examples, unseen)
        keys = list(curve[1])
        print("\n| GRID clips fitted on | " + " | ".join(f"{key} r" for key in keys) + " |\n|---:|"
              + "---:|" * len(keys))
        for size, row in curve.items():
            print(f"| {size} | " + " | ".join(f"{row[key]:.3f}" for key in keys) + " |")
        return
    if args.model_only:
        print("\n| clip | model r | best lag |\n|---|---:|---:|")
        scores = {}
        for clip in clips:
            others = [example for other, example in examples.items() if other != clip]
            model = mouth_model.fit(others) if others else mouth_model.current()
            scores[clip] = model_correlation(model, examples.get(clip) or training_example(clip, real[clip][0]))
            print(f"| {clip.stem} | {scores[clip][0]:.3f} | {scores[clip][1]:+d} |", flush=True)
        if grid:
            print(f"| **GRID mean** | **{np.mean([scores[clip][0] for clip in grid]):.3f}** | |")
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            real_open, real_mouth, real_68 = real[clip]
            others = [example for other, example in examples.items() if other != clip]
            unseen = mouth_model.fit(others) if others else mouth_model.current()
            with mouth_model.using(unseen):
                made_open, made_mouth, made_68 = mouth_series(drive(clip, clip, Path(tmp) / f"{clip.stem}.mp4", args.pose))
                r, lag = best_correlation(made_open, real_open)
                distances = landmark_distances(made_68, real_68)
                row = {"clip": clip.stem, "r": r, "lag": lag, "lmd": test_set_gain([distances]), "distances": distances,
                       "pose-free": pose_free_gain(made_mouth, real_mouth), "chance": np.nan}
                if not args.no_chance and clip in grid and len(grid) > 1:
                    other = grid[(grid.index(clip) + 1) % len(grid)]
                    chance_open, _, _ = mouth_series(drive(clip, other, Path(tmp) / f"{clip.stem}-{other.stem}.mp4",
                                                           args.pose))
                    row["chance"] = best_correlation(chance_open, real_open)[0]
            rows.append(row)
            print(f"{row['clip']}: r {r:.3f} lag {lag:+d} LMD gain {row['lmd']:+.3f} (pose-free {row['pose-free']:+.3f}) "
                  f"chance r {row['chance']:.3f}", flush=True)
            if args.oracle:
                oracle_open, oracle_mouth, oracle_68 = mouth_series(
                    drive_opening(clip, real_open, Path(tmp) / f"{clip.stem}-real.mp4"))
                row["oracle"] = lmd_gain(oracle_68, real_68)
                row["oracle pose-free"] = pose_free_gain(oracle_mouth, real_mouth)
                print(f"  driven by the real opening: r {best_correlation(oracle_open, real_open)[0]:.3f} "
                      f"LMD gain {row['oracle']:+.3f} (pose-free {row['oracle pose-free']:+.3f})", flush=True)
            if args.diagnose:
                speech = voice_activity(clip, len(real_open))
                print(f"  {diagnosis(made_open, made_mouth, real_open, real_mouth, speech)}", flush=True)
    print("\n| clip | r | best lag | LMD gain | pose-free LMD gain | chance r |\n|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['clip']} | {row['r']:.3f} | {row['lag']:+d} | {row['lmd']:+.3f} | {row['pose-free']:+.3f} "
              f"| {row['chance']:.3f} |")
    on_grid = [row for row in rows if row["clip"].startswith("grid_")]
    if on_grid:
        mean = {key: float(np.mean([row[key] for row in on_grid])) for key in ("r", "lmd", "pose-free", "chance")}
        within = sum(abs(row["lag"]) <= 1 for row in on_grid)
        pooled = test_set_gain([row["distances"] for row in on_grid])
        print(f"| **GRID mean** | **{mean['r']:.3f}** | {within}/{len(on_grid)} within ±1 | **{mean['lmd']:+.3f}** "
              f"| {mean['pose-free']:+.3f} | {mean['chance']:.3f} |")
        print(f"\ntest-set LMD gain (every frame of the {len(on_grid)} GRID clips): {pooled:+.3f}")
        if args.oracle:
            print(f"\ndriven by the real opening (no audio), GRID mean LMD gain: "
                  f"{np.mean([row['oracle'] for row in on_grid]):+.3f} "
                  f"(pose-free {np.mean([row['oracle pose-free'] for row in on_grid]):+.3f})")
        print(f"\nbar (issue 11): mean r >= 0.65 -> {'met' if mean['r'] >= 0.65 else 'NOT met'}; "
              f"lags within ±1 -> {'met' if within == len(on_grid) else 'NOT met'}; "
              f"LMD gain >= 0.35 -> mean of the clips' {'met' if mean['lmd'] >= 0.35 else 'NOT met'}, "
              f"test-set {'met' if pooled >= 0.35 else 'NOT met'}")

if __name__ == "__main__":
    main()
