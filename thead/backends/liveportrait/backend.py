"""The ``liveportrait`` backend: LivePortrait's networks behind thead's :class:`Backend` contract.

Faces are found and cropped with thead's MediaPipe analysis (no insightface); the motion track
holds the motion extractor's pose, translation, scale and expression per frame, smoothed over
time; rendering transfers it onto the source's implicit keypoints (relative or absolute), applies
stitching and eye/lip retargeting (every frame when enabled, or where an edit asks for it), warps
and decodes a 512x512 crop and pastes it back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from thead.face.mesh import DETECTORS
from thead.face.types import Face
from thead.backends.base import Backend, DriveOptions
from thead.motion.frame_edit import FrameEdit
from thead.backends.liveportrait.crop import DRIVING_CROP, SOURCE_CROP, FaceCrop, crop_from_landmarks, image_mask, paste_back
from thead.backends.liveportrait.motion import (
    face_channels,
    keypoint_channels,
    keypoint_info,
    smooth_channels,
    stack_frames,
)
from thead.backends.liveportrait.edits import apply_frame_edit
from thead.backends.liveportrait.networks import OFFICIAL_CHECKPOINTS, SAFETENSORS_CHECKPOINTS, LivePortraitNetworks
from thead.backends.liveportrait.pipeline import (
    DRIVING_OPTIONS,
    AnimationOptions,
    DrivingReference,
    LivePortraitPipeline,
    SourceState,
    images_to_tensor,
    tensor_to_images,
)
from thead.backends.liveportrait.retargeting import combined_eye_ratio, combined_lip_ratio
from thead.errors import NoFaceError, UsageError, WeightsError
from thead.motion.spaces.liveportrait import LIVEPORTRAIT, LP_MOTION
from thead.motion.track import MotionTrack

NETWORK_INPUT = 256
MOTION_BATCH = 8  # driving crops per motion-extractor call


@dataclass
class LivePortraitSource:
    """A prepared source portrait: its crop, network state, ratios, own motion and paste mask."""

    image: np.ndarray
    crop: FaceCrop
    state: SourceState
    eye_ratio: np.ndarray
    lip_ratio: float
    motion: dict[str, np.ndarray]
    mask: np.ndarray
    references: dict[bytes, DrivingReference] = field(default_factory=dict)
    own_deltas: dict[str, torch.Tensor] = field(default_factory=dict)  # retargeting deltas at its own ratios


class LivePortraitBackend(Backend):
    """LivePortrait (KwaiVGI, MIT): implicit 3D keypoints, warping and SPADE decoding; fetched weights."""

    name = "liveportrait"
    space = LIVEPORTRAIT.name  # schema: thead.motion.spaces.liveportrait
    tasks = frozenset({"drive-video", "edit"})
    weights = ("liveportrait",)
    licence = "MIT"

    def __init__(
        self,
        device: torch.device,
        *,
        driving_option: str = "expression-friendly",
        stitching: bool = True,
        eye_retargeting: bool = False,
        lip_retargeting: bool = False,
        normalize_lip: bool = False,
        detector: str = "mediapipe",
        networks: LivePortraitNetworks | None = None,
    ) -> None:
        super().__init__(device)
        if detector not in DETECTORS:
            raise UsageError(f"unknown detector '{detector}'", f"choose one of: {', '.join(DETECTORS)}")
        if driving_option not in DRIVING_OPTIONS:
            raise UsageError(f"unknown driving option '{driving_option}'", f"choose one of: {', '.join(DRIVING_OPTIONS)}")
        self.driving_option = driving_option
        self.stitching = stitching
        self.eye_retargeting = eye_retargeting
        self.lip_retargeting = lip_retargeting
        self.normalize_lip = normalize_lip
        self.detector = detector  # "insightface": LivePortrait's own SCRFD, non-commercial weights
        self._networks = networks
        self._pipeline: LivePortraitPipeline | None = None

    @classmethod
    def tiny(cls, device: torch.device) -> LivePortraitBackend:
        """The backend on seeded random networks at toy widths (:func:`.config.tiny_config`)."""
        from thead.backends.liveportrait.config import tiny_config

        generator_state = torch.random.get_rng_state()
        torch.manual_seed(0)
        try:
            networks = LivePortraitNetworks.build(tiny_config())
        finally:
            torch.random.set_rng_state(generator_state)
        with torch.no_grad():  # small stitching/retargeting outputs, as trained ones are
            for mlp in networks.stitching_retargeting_module.children():
                mlp.mlp[-1].weight.mul_(0.01)
        return cls(device, networks=networks)

    @property
    def pipeline(self) -> LivePortraitPipeline:
        """The networks on this backend's device, loaded from the fetched weights on first use.

        The default computes what the official code computes (golden tolerances). On CPU,
        ``THEAD_LIVEPORTRAIT_WINOGRAD=1`` runs the decoder's 3x3 convolutions as Winograd: about 1.5x
        faster per frame, with image rounding ~1e-4 instead of ~1e-5.
        """
        if self._pipeline is None:
            networks = self._networks
            if networks is None:
                networks, weight_set = load_official_networks()
                self.weights_loaded = (weight_set,)
            opted_in = os.environ.get("THEAD_LIVEPORTRAIT_WINOGRAD", "0").strip().lower() in ("1", "true", "yes")
            winograd = opted_in and self.device.type == "cpu"
            self._pipeline = LivePortraitPipeline(networks.optimize_for_inference(winograd), self.device, half=True)
        return self._pipeline

    def extract_motion(
        self,
        frames: Iterable[np.ndarray],
        fps: float,
        face_index: int = 0,
        smooth: float = 0.5,
        on_missing: Callable[[int, int], None] | None = None,
    ) -> MotionTrack:
        """Per frame: track the face, crop it LivePortrait-style, run the motion extractor; then fill gaps and smooth."""
        from thead.face import FaceTracker

        pipeline = self.pipeline  # fail on missing weights before reading any frame
        rows: list[dict[str, np.ndarray] | None] = []
        pending: list[tuple[int, np.ndarray]] = []
        with FaceTracker(face_index) as tracker:
            for frame in frames:
                face = tracker.track(frame)
                if face is None:
                    rows.append(None)
                    continue
                pending.append((len(rows), crop_from_landmarks(face.points, DRIVING_CROP).cut(frame, NETWORK_INPUT)))
                rows.append(face_channels(face.points))
                if len(pending) == MOTION_BATCH:
                    self._add_keypoint_channels(pipeline, rows, pending)
            self._add_keypoint_channels(pipeline, rows, pending)
        if not any(row is not None for row in rows):
            raise NoFaceError(f"no face found in any of the {len(rows)} driving frames",
                              "use a driving clip where the face is visible")
        channels, missing = stack_frames(rows)
        if missing and on_missing is not None:
            on_missing(missing, len(rows))
        return MotionTrack(fps=fps, space=self.space, channels=smooth_channels(channels, fps, smooth),
                           metadata={"backend": self.name})

    def _add_keypoint_channels(self, pipeline: LivePortraitPipeline, rows: list[dict[str, np.ndarray] | None],
                               pending: list[tuple[int, np.ndarray]]) -> None:
        if not pending:
            return
        crops = np.stack([crop for _, crop in pending])
        info = pipeline.keypoint_info(images_to_tensor(crops, self.device))
        for (index, _), channels in zip(pending, keypoint_channels(info)):
            rows[index].update(channels)
        pending.clear()

    def prepare_source(
        self, image: np.ndarray, face_index: int = 0, face: Face | None = None
    ) -> LivePortraitSource:
        """Crop the portrait, extract its keypoints and appearance features once."""
        from thead.face import analyze_image

        pipeline = self.pipeline  # fail on missing weights before analysing the face
        image = np.ascontiguousarray(image)
        if face is None:
            face = analyze_image(image, face_index, name="the source image", detector=self.detector)
        crop = crop_from_landmarks(face.points, SOURCE_CROP)
        pixels = images_to_tensor(crop.cut(image, NETWORK_INPUT), self.device)
        channels = face_channels(face.points)
        state = pipeline.prepare_source(
            pixels, source_lip_ratio=np.array([[channels["lp_lip_ratio"]]]), normalize_lip=self.normalize_lip
        )
        channels.update(keypoint_channels(state.info)[0])
        return LivePortraitSource(
            image=image, crop=crop, state=state, eye_ratio=channels["lp_eye_ratio"],
            lip_ratio=float(channels["lp_lip_ratio"]), motion=channels,
            mask=image_mask(crop, (image.shape[1], image.shape[0])),
        )

    def source_motion(self, source: LivePortraitSource) -> dict[str, np.ndarray]:
        """The source's own motion frame (its keypoint pose/expression and landmark channels)."""
        return dict(source.motion)

    def render(
        self,
        source: LivePortraitSource,
        driving: dict[str, np.ndarray],
        reference: dict[str, np.ndarray] | None,
        options: DriveOptions,
        driving_image: np.ndarray | None = None,  # not used: LivePortrait renders the mouth itself
    ) -> np.ndarray:
        """Animate the source crop with one driving frame, paste it back unless ``options.paste_back`` is off."""
        relative = options.relative and reference is not None
        animation = AnimationOptions(relative=relative, region=options.region, stitching=self.stitching,
                                     driving_option=self.driving_option)
        kp = source.state.info.kp
        driving_reference = self._reference(source, reference, animation) if relative else None
        keypoints = self.pipeline.animate_keypoints(
            source.state, keypoint_info(driving, kp), driving_reference, animation, self._retarget_delta(source, driving)
        )
        out = self.pipeline.warp_decode(source.state.f_s, source.state.x_s, keypoints["final"])["out"]
        rendered = tensor_to_images(out)[0]
        if not options.paste_back:
            return rendered
        return paste_back(rendered, source.crop, source.image, source.mask)

    def _reference(self, source: LivePortraitSource, reference: dict[str, np.ndarray],
                   animation: AnimationOptions) -> DrivingReference:
        """The reference frame's keypoints and expression-friendly multiplier, computed once per reference."""
        key = b"".join(np.asarray(reference[name], np.float32).tobytes() for name in LP_MOTION)
        if key not in source.references:
            source.references.clear()
            info = keypoint_info(reference, source.state.info.kp)
            source.references[key] = self.pipeline.reference(source.state, info, animation)
        return source.references[key]

    def apply_edit(self, frame: dict[str, np.ndarray], edit: FrameEdit) -> dict[str, np.ndarray]:
        """Pose, smile/expressions, gaze, eye and mouth openness on a liveportrait-space frame."""
        return apply_frame_edit(frame, edit)

    def _retarget_delta(self, source: LivePortraitSource, driving: dict[str, np.ndarray]) -> torch.Tensor | None:
        """Eye/lip retargeting towards the driving frame's ratios, as a change from the source's own ratios.

        Weights: 1 when the backend retargets every frame, else the frame's ``lp_retarget`` (set by edits).
        """
        x_s, delta = source.state.x_s, None
        flags = np.asarray(driving.get("lp_retarget", np.zeros(2)), np.float32)
        eye_weight = 1.0 if self.eye_retargeting else float(flags[0])
        lip_weight = 1.0 if self.lip_retargeting else float(flags[1])
        if eye_weight > 0:
            target = combined_eye_ratio(source.eye_ratio, float(np.asarray(driving["lp_eye_ratio"])[0]), x_s.device)
            own = combined_eye_ratio(source.eye_ratio, float(source.eye_ratio[0]), x_s.device)
            delta = eye_weight * (self.pipeline.eye_delta(x_s, target) - self._own_delta(source, "eye", own))
        if lip_weight > 0:
            target = combined_lip_ratio(source.lip_ratio, float(driving["lp_lip_ratio"]), x_s.device)
            own = combined_lip_ratio(source.lip_ratio, source.lip_ratio, x_s.device)
            lip = lip_weight * (self.pipeline.lip_delta(x_s, target) - self._own_delta(source, "lip", own))
            delta = lip if delta is None else delta + lip
        return delta

    def _own_delta(self, source: LivePortraitSource, part: str, condition: torch.Tensor) -> torch.Tensor:
        if part not in source.own_deltas:
            network = self.pipeline.eye_delta if part == "eye" else self.pipeline.lip_delta
            source.own_deltas[part] = network(source.state.x_s, condition)
        return source.own_deltas[part]


def load_official_networks() -> tuple[LivePortraitNetworks, str]:
    """The released networks from the ``liveportrait`` weight set, or its ``liveportrait-safetensors`` conversion,
    and the name of the set they came from (for provenance).

    Raises the WeightsError of ``liveportrait`` (exit 4, naming ``thead fetch-weights liveportrait``)
    when neither is installed.
    """
    from thead.weights import resolve_files

    weight_set, names = "liveportrait", OFFICIAL_CHECKPOINTS
    try:
        files = resolve_files(weight_set)
    except WeightsError as missing:
        weight_set, names = "liveportrait-safetensors", SAFETENSORS_CHECKPOINTS
        try:
            files = resolve_files(weight_set)
        except WeightsError:
            raise missing from None
    return LivePortraitNetworks.from_files({name: files[path] for name, path in names.items()}), weight_set

