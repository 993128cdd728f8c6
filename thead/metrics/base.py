"""The metric contract: what a metric needs, how it reports, and how its weights are found."""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from thead.errors import WeightsError
from thead.io.hashing import sha256_file

T = TypeVar("T")


@dataclass
class Sample:
    """One evaluated item: generated frames plus whatever references the user gave.

    Frames are RGB uint8 HxWx3; ``reference`` is already frame-aligned with ``frames``
    (same count, same size). ``audio`` is mono float32 at ``audio_rate`` Hz.
    """

    name: str
    frames: list[np.ndarray]
    fps: float
    reference: list[np.ndarray] | None = None
    source: np.ndarray | None = None
    audio: np.ndarray | None = None
    audio_rate: int = 16000
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    weights_dir: Path | None = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """Compute ``key`` once per sample (landmarks, crops) and share it between metrics."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def has(self, need: str) -> bool:
        """True when the input named by ``need`` ("ref", "source", "audio") is present."""
        return {"ref": self.reference, "source": self.source, "audio": self.audio}.get(need) is not None


@dataclass
class MetricResult:
    """A metric's numbers for one sample (or one aggregated row).

    ``value`` is the headline number; ``extras`` are named secondary numbers (LSE-C, IS std,
    best lag); ``per_frame`` feeds the report's curves; ``state`` is what ``aggregate`` pools
    (e.g. Inception features for FID); ``notes`` are protocol remarks such as skipped frames.
    """

    value: float
    extras: dict[str, float] = field(default_factory=dict)
    per_frame: np.ndarray | None = None
    state: Any = None
    notes: list[str] = field(default_factory=list)


class Metric(ABC):
    """A registered metric: a functional core plus the declarations ``thead eval`` prints."""

    name: ClassVar[str]
    #: column title of the headline value (defaults to the upper-cased name).
    label: ClassVar[str] = ""
    higher_is_better: ClassVar[bool | None]
    #: direction of each named extra (None: neither, e.g. an offset).
    extra_higher_is_better: ClassVar[dict[str, bool | None]] = {}
    #: inputs besides the generated video: "ref", "source", "audio".
    needs: ClassVar[frozenset[str]] = frozenset()
    protocol: ClassVar[dict[str, Any]]
    #: weight set name -> {role: canonical file name}, for weight-needing metrics.
    weights: ClassVar[dict[str, dict[str, str]]] = {}

    @abstractmethod
    def compute(self, sample: Sample) -> MetricResult:
        """The metric on one sample."""

    def unavailable(self) -> str | None:
        """Why this metric cannot run on this installation (an optional dependency), or None."""
        return None

    def aggregate(self, results: Sequence[MetricResult]) -> MetricResult:
        """The table's mean row: the plain mean over samples (what survey tables report)."""
        values = [r.value for r in results]
        extras = {k: _nanmean([r.extras.get(k, math.nan) for r in results]) for k in results[0].extras} if results else {}
        return MetricResult(_nanmean(values), extras)

    def describe(self, sample: Sample | None = None) -> dict[str, Any]:
        """Protocol printed with every number (subclasses add weights hashes once loaded)."""
        return dict(self.protocol)


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def resolve_weight_files(name: str, files: dict[str, str], weights_dir: Path | None = None) -> dict[str, Path]:
    """Local paths of weight set ``name`` by role, each file under its canonical name.

    With ``weights_dir`` (the documented pre-fetch folder) the files are taken from there; otherwise
    from ``thead.weights.resolve_files`` (verified by ``thead fetch-weights``). A role the weight set
    does not carry may come from the torch hub cache when its name ends in the sha256 prefix that
    torchvision's file names carry (e.g. ``alexnet-owt-7be5be79.pth``) and the file hashes to it.
    """
    found: dict[str, Path] = {}
    if weights_dir is not None:
        found = {role: Path(weights_dir) / f for role, f in files.items() if (Path(weights_dir) / f).is_file()}
    else:
        try:
            from thead.weights import resolve_files

            by_name = {Path(key).name: Path(path) for key, path in resolve_files(name).items()}
            found = {role: by_name[f] for role, f in files.items() if f in by_name}
        except WeightsError:
            found = {}
    for role, fname in files.items():
        if role not in found and (cached := _torch_hub_file(fname)) is not None:
            found[role] = cached
    missing = [fname for role, fname in files.items() if role not in found]
    if missing:
        where = f"in {weights_dir}" if weights_dir is not None else "installed"
        raise WeightsError(f"weights '{name}' not {where} ({', '.join(missing)})",
                           f"run: thead fetch-weights {name}, or pass --weights-dir DIR holding {', '.join(files.values())}")
    return found


def _torch_hub_file(fname: str) -> Path | None:
    """``fname`` from the torch hub checkpoint cache, if its sha256 starts with the name's hash suffix."""
    prefix = Path(fname).stem.rpartition("-")[2]
    if len(prefix) < 8 or any(c not in "0123456789abcdef" for c in prefix):
        return None
    path = Path(torch.hub.get_dir()) / "checkpoints" / fname
    return path if path.is_file() and file_sha256(path).startswith(prefix) else None


@lru_cache(maxsize=32)
def file_sha256(path: Path) -> str:
    """Hex sha256 of a weights file, hashed once per process (printed in every protocol)."""
    return sha256_file(path)


def frames_to_tensor(frames: Sequence[np.ndarray], dtype: torch.dtype = torch.float32,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB uint8 frames [H, W, 3] to a tensor [N, 3, H, W] in 0..255."""
    array = np.stack(frames) if not isinstance(frames, np.ndarray) else frames
    return torch.from_numpy(np.ascontiguousarray(array)).to(device).permute(0, 3, 1, 2).to(dtype)


def luma_pil(rgb: np.ndarray) -> np.ndarray:
    """Grayscale the way PIL's ``convert('L')`` rounds: (299R + 587G + 114B + 500) // 1000."""
    if rgb.ndim == 2:
        return rgb
    x = rgb.astype(np.int32)
    return ((299 * x[..., 0] + 587 * x[..., 1] + 114 * x[..., 2] + 500) // 1000).astype(np.uint8)


_POOL: ThreadPoolExecutor | None = None


def parallel_map(fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
    """Map ``fn`` over ``items`` on a small shared thread pool (for GIL-releasing numpy/OpenCV work)."""
    global _POOL
    if len(items) < 2:
        return [fn(item) for item in items]
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="thead-metrics")
    return list(_POOL.map(fn, items))


def load_network(module: torch.nn.Module, path: Path, device: torch.device) -> torch.nn.Module:
    """Load a canonical checkpoint strictly into ``module`` and return it in eval mode on ``device``.

    Checkpoints saved before PyTorch 0.4.1 lack BatchNorm's ``num_batches_tracked`` training counter;
    like ``torch`` itself, it is filled in (it plays no part at inference). Every other key and shape
    must match exactly.
    """
    from thead.weights.load import load_checkpoint, load_strict

    state = dict(load_checkpoint(path))
    for key, value in module.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value
    load_strict(module, state, str(path))
    return module.to(device).eval()
