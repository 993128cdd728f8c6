"""File formats by extension: what thead reads and writes, and the kind of an output path."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from thead.errors import UsageError

#: Images thead reads (Pillow decodes them all).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: What thead writes, by kind: H.264/AAC mp4 plays in every browser; the extension chooses the format.
WRITABLE = {
    "video": (".mp4",),
    "image": (".png", ".jpg", ".jpeg"),
    "motion": (".motion.safetensors", ".safetensors", ".npz"),
}


def output_kind(path: str | os.PathLike, accepted: Iterable[str] = ("video", "image", "motion")) -> str:
    """``video``, ``image`` or ``motion`` from the extension; a usage error lists the supported ones."""
    name = Path(path).name.lower()
    accepted = tuple(accepted)
    for kind in accepted:
        if name.endswith(WRITABLE[kind]):
            return kind
    supported = ", ".join(suffix for kind in accepted for suffix in WRITABLE[kind])
    raise UsageError(f"cannot write {path}: unsupported output format", f"use one of: {supported}")
