"""Shared fixtures: the ../shared folder (real media, goldens, references) and small images."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """``$THEAD_SHARED`` or ``<repo>/../shared``, when it exists."""
    candidate = Path(os.environ.get("THEAD_SHARED", REPO.parent / "shared"))
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder; skips the test when it is absent (users' clones do not have it)."""
    path = shared_dir()
    if path is None:
        pytest.skip("../shared is absent (set THEAD_SHARED to a folder with media/, golden/, reference/)")
    return path


@pytest.fixture(scope="session")
def lipsync_benchmark() -> ModuleType:
    """``benchmarks/lipsync_grid.py`` as a module: its scores are what the lip-sync tests assert on."""
    spec = importlib.util.spec_from_file_location("lipsync_grid", REPO / "benchmarks" / "lipsync_grid.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's public-domain astronaut portrait, 512x512 RGB uint8."""
    import skimage.data

    return skimage.data.astronaut()


@pytest.fixture(scope="session")
def portrait(tmp_path_factory, astronaut) -> Path:
    """The astronaut written as a PNG file: a portrait path for command-line tests."""
    from thead.io.image import write_image

    path = tmp_path_factory.mktemp("inputs") / "astronaut.png"
    write_image(path, astronaut)
    return path


@pytest.fixture(scope="module")
def warp_backend():
    """The embedded ``warp`` backend on the CPU (one per test module)."""
    import torch

    from thead.backends.warp import WarpBackend

    return WarpBackend(torch.device("cpu"))


@pytest.fixture(scope="module")
def warp_source(warp_backend, astronaut):
    """The astronaut prepared as a ``warp`` source (one per test module)."""
    return warp_backend.prepare_source(astronaut)
