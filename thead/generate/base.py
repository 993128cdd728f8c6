"""What every generator backend provides, and loading a diffusers pipeline from the weights cache."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from thead.errors import UsageError, WeightsError
from thead.generate.attributes import Attributes

if TYPE_CHECKING:
    import torch

MIN_SIZE, MAX_SIZE = 64, 2048


class Generator:
    """A diffusers pipeline that turns a seed (and, if conditional, a prompt) into an RGB image.

    Subclasses set the class attributes and implement :meth:`compose_prompt` and :meth:`_run`.
    ``pipeline`` may be given already built (tests, services that keep it loaded); otherwise it is
    loaded from weight set ``weight_set`` in the thead weights cache.
    """

    name: ClassVar[str]
    weight_set: ClassVar[str]
    pipeline_class: ClassVar[str]  # a diffusers class name
    conditional: ClassVar[bool]
    default_steps: ClassVar[int]
    max_steps: ClassVar[int]
    variant: ClassVar[str | None] = None  # the weight files' variant, e.g. "fp16"
    half_on_cuda: ClassVar[bool] = True  # float16 on CUDA; float32 on CPU and MPS

    def __init__(self, device: torch.device, pipeline: Any = None) -> None:
        import torch

        self.device = device
        if pipeline is None:
            dtype = torch.float16 if device.type == "cuda" and self.half_on_cuda else torch.float32
            pipeline = load_pipeline(self.pipeline_class, self.weight_set, dtype, self.variant)
        with quiet_libraries():
            self.pipeline = pipeline.to(device)  # a given pipeline keeps its own dtype
        self.dtype = self.pipeline.dtype
        self.pipeline.set_progress_bar_config(disable=True)

    @classmethod
    def check_request(cls, prompt: str | None, attributes: Attributes, negative: str | None,
                      size: int | None, steps: int | None) -> None:
        """UsageError for a request this backend cannot serve, before anything is loaded."""
        if not cls.conditional and (prompt or attributes.values or negative):
            raise UsageError(f"backend '{cls.name}' is unconditional: it takes no prompt, --attr or --negative",
                             "drop them, or use --backend sd-turbo for text- and label-guided portraits")
        if steps is not None and not 1 <= steps <= cls.max_steps:
            raise UsageError(f"--steps {steps} is out of range for '{cls.name}'", f"use 1 to {cls.max_steps}")
        if size is not None and (size % 8 or not MIN_SIZE <= size <= MAX_SIZE):
            raise UsageError(f"--size {size} is not usable", f"use a multiple of 8 from {MIN_SIZE} to {MAX_SIZE}")

    @property
    def native_size(self) -> int:
        """The side, in pixels, the model was trained for."""
        raise NotImplementedError

    def output_size(self, size: int | None) -> int:
        """The side of the images for ``--size`` (None: the native size)."""
        return self.native_size if size is None else size

    def compose_prompt(self, prompt: str | None, attributes: Attributes, negative: str | None) -> tuple[str, str]:
        """The (prompt, negative prompt) this backend runs with."""
        return "", ""

    def generate(self, prompt: str, negative: str, seed: int, size: int, steps: int) -> np.ndarray:
        """One RGB uint8 image (size, size, 3); the same arguments always give the same image on one device."""
        import torch

        generator = torch.Generator(device="cpu").manual_seed(seed)  # CPU noise: the same seed on every device
        with torch.inference_mode(), quiet_libraries():
            images = self._run(prompt, negative, generator, size, steps)
        return np.clip(np.round(images[0] * 255.0), 0, 255).astype(np.uint8)

    def _run(self, prompt: str, negative: str, generator: torch.Generator, size: int, steps: int) -> np.ndarray:
        """The pipeline's images as float arrays in [0, 1], shape (N, H, W, 3)."""
        raise NotImplementedError

    def weight_sets_used(self) -> tuple[str, ...]:
        return (self.weight_set,)


def snapshot_folder(weight_set: str, cache_dir: str | Path | None = None) -> Path:
    """The verified local snapshot folder of a weight set that pins a whole diffusers pipeline."""
    from thead.weights import resolve_files

    files = resolve_files(weight_set, cache_dir)
    index = files.get("model_index.json")
    if index is None:
        raise WeightsError(f"weight set {weight_set!r} has no model_index.json, so it is not a diffusers pipeline",
                           "fix the weights manifest")
    return index.parent


def load_pipeline(class_name: str, weight_set: str, dtype: torch.dtype, variant: str | None = None) -> Any:
    """A diffusers pipeline from the weights cache only: nothing is downloaded at run time."""
    folder = snapshot_folder(weight_set)
    _require_diffusers()
    try:
        return load_pipeline_from(folder, class_name, dtype, variant)
    except WeightsError as err:
        err.message = f"weights {weight_set!r}: {err.message}"
        err.hint = f"run: thead fetch-weights {weight_set} --verify"
        raise


def load_pipeline_from(folder: Path, class_name: str, dtype: torch.dtype, variant: str | None = None) -> Any:
    """A diffusers pipeline of class ``class_name`` from a local snapshot folder (``local_files_only``)."""
    diffusers = _require_diffusers()
    with quiet_libraries():
        try:
            return getattr(diffusers, class_name).from_pretrained(folder, local_files_only=True, dtype=dtype,
                                                                  variant=variant)
        except (OSError, ValueError, KeyError) as exc:
            raise WeightsError(f"{folder} does not load as a {class_name} "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                               "check the snapshot folder") from exc


def _require_diffusers() -> Any:
    try:
        with quiet_libraries():
            import diffusers
    except ImportError as exc:
        raise WeightsError("diffusers is not installed", 'pip install "thead[generate]"') from exc
    return diffusers


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence diffusers' and transformers' logs and progress bars (thead reports through its own notes).

    Their logging modules are imported first (importing them sets the libraries' log level), then
    the levels are raised, so that messages emitted while the libraries import are silenced too.
    """
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    libraries = (diffusers_logging, transformers_logging)
    bars = [library.is_progress_bar_enabled() for library in libraries]
    levels = [library.get_verbosity() for library in libraries]
    for library in libraries:
        library.disable_progress_bar()
        library.set_verbosity(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecation notices about the libraries' own configs
            yield
    finally:
        for library, bar, level in zip(libraries, bars, levels):
            library.set_verbosity(level)
            if bar:
                library.enable_progress_bar()
