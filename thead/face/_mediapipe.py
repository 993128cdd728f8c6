"""Quiet, lazy access to MediaPipe's bundled face models (mediapipe 0.10.x legacy solutions)."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from types import ModuleType

from thead.errors import TheadError
from thead.io.atomic import signals_held


@functools.lru_cache(maxsize=1)
def solutions() -> ModuleType:
    """``mediapipe.solutions``, imported once with its C++ logging silenced."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        # held: a stop signal handled inside the native modules' initialisation comes out as an ImportError
        with signals_held():
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)
            import mediapipe as mp
    except ImportError as exc:  # pragma: no cover - a broken install
        raise TheadError(f"mediapipe is not importable ({exc})", "reinstall thead: pip install 'mediapipe<0.10.30'") from exc
    if not hasattr(mp, "solutions"):
        raise TheadError(
            f"mediapipe {getattr(mp, '__version__', '?')} ships no face models",
            "install a release with bundled models: pip install 'mediapipe>=0.10.14,<0.10.30'",
        )
    return mp.solutions


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Silence the C++ log lines MediaPipe and TFLite print on stderr while graphs start and run.

    Stop signals are held meanwhile and delivered as the block ends: handled inside MediaPipe's native
    code or a finalizer it triggers, a signal's exception could be swallowed, and its report would go
    to the silenced stderr (Ctrl-C was then lost about once in 20 interrupted ``eval`` runs).
    """
    with signals_held():
        if os.environ.get("THEAD_DEBUG"):
            yield
            return
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
