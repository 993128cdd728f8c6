"""The backend contract: extract motion in a space, prepare a source, render one frame.

Every driving path is ``extract_motion`` (or a loaded track) -> per frame ``render`` with the
prepared source. Relative driving passes the driving track's first frame as ``reference``;
``edit`` passes the source's own motion as ``reference`` and an edited copy as ``driving``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from thead.errors import UsageError
from thead.face.types import Face
from thead.motion.frame_edit import FrameEdit
from thead.motion.track import MotionTrack

REGIONS = ("all", "pose", "exp", "eyes", "lips")


@dataclass(frozen=True)
class DriveOptions:
    """How driving motion is put onto the source."""

    relative: bool = True
    region: str = "all"
    paste_back: bool = True
    face_index: int = 0


class Backend(ABC):
    """A renderer and its motion space. Subclasses register in :mod:`thead.backends`."""

    name: ClassVar[str]
    space: ClassVar[str]
    tasks: ClassVar[frozenset[str]]
    weights: ClassVar[tuple[str, ...]] = ()
    licence: ClassVar[str] = "Apache-2.0"
    #: Edit requests beyond these (channel -> (low, high); angles are changes in degrees, eyes/mouth
    #: openness targets) are clamped with a warning by ``thead edit``.
    edit_limits: ClassVar[dict[str, tuple[float, float]]] = {}
    #: Whether :meth:`render` uses the driving frame's pixels (``driving_image``): pipelines decode
    #: the driving video a second time at render only for such backends.
    uses_driving_image: ClassVar[bool] = False
    #: Whether the backend turns speech into motion with its own audio model, through
    #: ``speech_motion(samples, sample_rate, fps, base, *, guidance, steps, seed, pose, blink_rate,
    #: articulation, reporter) -> MotionTrack`` (JoyVASA; ``articulation`` is thead's analysis of the
    #: same speech, for head motion and blinks); otherwise ``drive-audio`` uses thead's speech analysis.
    generates_speech_motion: ClassVar[bool] = False

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.weights_loaded: tuple[str, ...] = ()  # set by backends that choose among weight sets at load time

    @classmethod
    def tiny(cls, device: torch.device) -> Backend:
        """This backend with tiny seeded random networks (or none needed): every code path, no download."""
        return cls(device)

    def weight_sets_used(self) -> tuple[str, ...]:
        """The weight sets this backend loaded (its declared ones until it has loaded any)."""
        return self.weights_loaded or self.weights

    @abstractmethod
    def extract_motion(
        self,
        frames: Iterable[np.ndarray],
        fps: float,
        face_index: int = 0,
        smooth: float = 0.5,
        on_missing: Callable[[int, int], None] | None = None,
    ) -> MotionTrack:
        """Motion track of RGB uint8 frames, in this backend's space.

        ``smooth`` (0..1) is the strength of temporal filtering against jitter; frames without a
        face are held/interpolated and reported through ``on_missing(missing, total)``.
        """

    @abstractmethod
    def prepare_source(self, image: np.ndarray, face_index: int = 0, face: Face | None = None) -> Any:
        """Analyse an RGB uint8 source image once (face, features); raises NoFaceError.

        ``face`` skips the face analysis when the caller already has it (a tracked source video).
        """

    @abstractmethod
    def source_motion(self, source: Any) -> dict[str, np.ndarray]:
        """The source's own motion frame in this backend's space (for edits and absolute mode)."""

    @abstractmethod
    def render(
        self,
        source: Any,
        driving: dict[str, np.ndarray],
        reference: dict[str, np.ndarray] | None,
        options: DriveOptions,
        driving_image: np.ndarray | None = None,
    ) -> np.ndarray:
        """One RGB uint8 frame: the source moved by ``driving`` (relative to ``reference`` if given).

        ``driving_image`` is the RGB uint8 frame ``driving`` was measured on, when there is one
        (video driving); backends with :attr:`uses_driving_image` copy appearance from it (the
        warp backend: the mouth interior), the others ignore it.
        """

    def apply_edit(self, frame: dict[str, np.ndarray], edit: FrameEdit) -> dict[str, np.ndarray]:
        """``frame`` (a motion frame in this backend's space) with ``edit`` applied."""
        raise UsageError(f"backend '{self.name}' cannot edit motion", "use --backend warp or liveportrait")
