"""The embedded ``warp`` backend: MediaPipe landmarks and piecewise-affine warping, no weights."""

from thead.backends.warp.backend import WarpBackend, WarpSource

__all__ = ["WarpBackend", "WarpSource"]
