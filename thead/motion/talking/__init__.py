"""Talking motion from articulation: the mouth per frame plus blinks, head motion, brows and gaze.

>>> track = speech_motion(articulation, backend.source_motion(source), backend.space, seed=3)

``articulation`` is :class:`thead.audio.articulation.Articulation` (or anything with its fields:
``fps`` and per-frame arrays ``jaw``, ``spread``, ``closure``, ``teeth``, ``speech``, ``energy``,
``emphasis``). :func:`mouth_edit` alone sets one frame's mouth (dubbing keeps the rest of a video's motion).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from thead.backends.liveportrait import edits as lp_edits
from thead.easing import smoothstep
from thead.errors import BadInputError, UsageError
from thead.motion import edits
from thead.motion.expressions import check_expressions
from thead.motion.frame_edit import FrameEdit
from thead.motion.procedural import blink_closures, blink_schedule
from thead.motion.spaces import get_space
from thead.motion.talking.behaviour import behaviour
from thead.motion.talking.mouth import SPEECH_OPEN, mouth_edit, openness
from thead.motion.track import MotionTrack

__all__ = ["POSES", "SPEECH_OPEN", "mouth_edit", "openness", "speech_frames", "speech_motion"]

POSES = ("natural", "still")
BROW_LIFT = 0.035  # landmarks: brow rise at full emphasis, inter-ocular units
LP_BROWS = 12.0  # liveportrait: eyebrow slider units at full emphasis
MOUTH_STEP = 3  # decimals of the articulation values a mouth shape is made for
MOUTH_CACHE = 512
FIELDS = ("jaw", "spread", "closure", "teeth", "speech", "energy", "emphasis")
LEAD_IN_FADE = 0.2  # seconds before the first speech over which the portrait's own mouth opening gives way to the
# speaking rest (mouth.rest_openness): the video starts on the portrait as given, as a speaker holds their mouth
# until they begin (GRID speakers whose first frame is open, at 0.15-0.3, keep it so until their first word)


def speech_motion(articulation, base: dict[str, np.ndarray], space: str, *, pose: str = "natural",
                  blink_rate: float = 17.0, seed: int = 0, expressions: Sequence[tuple[str, float]] = (),
                  head: np.ndarray | None = None, blinks: np.ndarray | None = None,
                  body: np.ndarray | None = None) -> MotionTrack:
    """A motion track of ``base`` (the image source's own motion frame in ``space``) speaking.

    ``pose`` "natural" adds head motion, brow lifts and gaze jumps; "still" keeps the head, gaze
    and brows at rest (blinks and mouth only). ``blink_rate`` is blinks per minute (0: none);
    ``expressions`` (name, strength) presets bias every frame. The same ``seed`` gives the same track.
    ``head`` ([T, 3] yaw, pitch, roll offsets in degrees) and ``blinks`` ([T] eye closure 0..1), e.g.
    taken from a driving video, replace the synthesised head motion and blinks; ``body`` ([T, 2] torso
    shift in inter-ocular spans, ``landmarks`` space) sways the torso as that video's speaker does.
    """
    frames = list(speech_frames(articulation, base, space, pose=pose, blink_rate=blink_rate, seed=seed,
                                expressions=expressions, head=head, blinks=blinks, body=body))
    channels = {name: np.stack([np.asarray(frame[name], np.float32) for frame in frames]) for name in frames[0]}
    track = MotionTrack(float(articulation.fps), space, channels, {"driver": "speech", "pose": pose, "seed": str(seed)})
    get_space(space).validate(track, "speech motion")
    return track


def speech_frames(articulation, base: dict[str, np.ndarray], space: str, *, pose: str = "natural",
                  blink_rate: float = 17.0, seed: int = 0, expressions: Sequence[tuple[str, float]] = (),
                  head: np.ndarray | None = None, blinks: np.ndarray | None = None,
                  body: np.ndarray | None = None) -> Iterator[dict[str, np.ndarray]]:
    """The frames of :func:`speech_motion` one at a time (for streaming long speech); frames may share
    arrays, so copy one before changing it in place."""
    if pose not in POSES:
        raise UsageError(f"unknown pose '{pose}' for speech motion", f"choose one of: {', '.join(POSES)}")
    if not (np.isfinite(blink_rate) and blink_rate >= 0):
        raise UsageError(f"blink rate {blink_rate:g} is not a number of blinks per minute", "give a rate >= 0, e.g. 17")
    check_expressions(space, expressions)
    curves = {name: np.nan_to_num(np.asarray(getattr(articulation, name), np.float64)) for name in FIELDS}
    count, fps = len(curves["jaw"]), float(articulation.fps)
    if count == 0 or any(len(curve) != count for curve in curves.values()):
        raise BadInputError("the articulation has no frames or its curves differ in length",
                            "analyse a non-empty speech recording")
    rest = _biased(base, space, tuple(expressions))
    moves = behaviour(curves["speech"], curves["energy"], curves["emphasis"], fps, seed, moving=pose == "natural")
    closure = blink_closures(count, fps, blink_schedule(count / fps, blink_rate, seed))
    for name, given, shape in (("head", head, (count, 3)), ("blinks", blinks, (count,)), ("body", body, (count, 2))):
        if given is not None and np.shape(given) != shape:
            raise UsageError(f"{name} motion has shape {np.shape(given)}, the speech {shape}", "give one row per frame")
    if body is not None and "body" not in rest:
        raise UsageError(f"the '{space}' motion space has no torso channel",
                         "give body motion to landmarks tracks only")
    if head is not None:
        moves = replace(moves, angles=np.nan_to_num(np.asarray(head, np.float64)))
    if blinks is not None:
        closure = np.clip(np.nan_to_num(np.asarray(blinks, np.float64)), 0.0, 1.0)
    lift = edits.brow_shift(rest, up=BROW_LIFT) if space != "liveportrait" else None  # scaled per frame
    keep = _lead_in(curves["speech"], fps)
    shapes: dict[tuple[float, ...], dict[str, np.ndarray]] = {}  # mouths already made (silences repeat one)
    for index in range(count):
        key = tuple(round(float(curves[name][index]), MOUTH_STEP) for name in ("jaw", "spread", "closure", "teeth"))
        key += (round(float(keep[index]), MOUTH_STEP),)
        if key not in shapes:
            if len(shapes) >= MOUTH_CACHE:
                shapes.clear()
            shapes[key] = mouth_edit(rest, space, *key[:4], keep=key[4])
        frame = _face(shapes[key], rest, space, moves.angles[index], moves.gaze[index], float(moves.brows[index]),
                      float(closure[index]), lift)
        if body is not None:
            frame = dict(frame, body=(rest["body"] + np.nan_to_num(body[index])).astype(np.float32))
        yield frame


def _lead_in(speech: np.ndarray, fps: float) -> np.ndarray:
    """Per frame, how much the portrait's own mouth opening is kept: 1 until :data:`LEAD_IN_FADE` seconds before
    the first frame of speech (activity >= 0.5), falling smoothly to 0 there; 0 throughout if it starts speaking."""
    voiced = np.flatnonzero(speech >= 0.5)
    if voiced.size == 0:
        return np.ones(len(speech))
    to_onset = (voiced[0] - np.arange(len(speech))) / fps  # seconds until the first speech
    return smoothstep(to_onset / LEAD_IN_FADE)


def _biased(base: dict[str, np.ndarray], space: str, expressions: tuple[tuple[str, float], ...]) -> dict[str, np.ndarray]:
    """``base`` with the expression presets applied (the face's rest pose while speaking)."""
    frame = {name: np.array(value, np.float32, copy=True) for name, value in base.items()}
    if space == "liveportrait":
        frame.setdefault("lp_retarget", np.zeros(2, np.float32))
        return lp_edits.apply_frame_edit(frame, FrameEdit(expressions=expressions)) if expressions else frame
    for name, strength in expressions:
        frame = edits.apply_expression(frame, name, strength)
    return frame


def _face(frame: dict[str, np.ndarray], rest: dict[str, np.ndarray], space: str, angles: np.ndarray,
          gaze: np.ndarray, brows: float, blink: float, lift: np.ndarray | None) -> dict[str, np.ndarray]:
    """Head angles, gaze, brows (``lift``: the landmark move of a full brow lift) and eye closure on a
    frame whose mouth is set."""
    yaw, pitch, roll = (float(rest[name]) + float(delta) for name, delta in zip(("yaw", "pitch", "roll"), angles))
    eyes = tuple(float(v) * (1.0 - blink) for v in np.asarray(rest["eye_open"]))
    looking = tuple(float(v) for v in np.asarray(rest["gaze"]) + gaze)
    if space == "liveportrait":
        edit = FrameEdit(yaw=float(angles[0]), pitch=float(angles[1]), roll=float(angles[2]),
                         eyes=None, gaze=looking if np.any(gaze) else None)
        out = lp_edits.apply_frame_edit(frame, edit)
        scale = np.asarray(rest["lp_eye_ratio"]) / np.maximum(np.asarray(rest["eye_open"]), 1e-3)
        out["lp_eye_ratio"] = (np.asarray(eyes) * scale).astype(np.float32)
        out["eye_open"] = np.asarray(eyes, np.float32)
        out["lp_retarget"][0] = 1.0
        _lift_lp_brows(out["lp_exp"], brows)
        return out
    if brows:
        frame = edits.shift_expression(frame, brows * lift)
    if np.any(gaze):
        frame = edits.set_gaze(frame, *looking)
    if blink:
        frame = edits.set_eyes(frame, eyes)
    return edits.set_pose(frame, yaw, pitch, roll)


def _lift_lp_brows(exp: np.ndarray, amount: float) -> None:
    for keypoint, axis, coefficient in lp_edits.BROWS_UP:
        exp[keypoint, axis] += coefficient * LP_BROWS * amount
