"""Output paths: validation against inputs, and atomic writes (temporary file, rename on success)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from thead.errors import OutputError


def check_output_path(output: str | os.PathLike, inputs: Sequence[str | os.PathLike] = (), force: bool = False) -> Path:
    """Validate ``output`` before any work: not an input, directory exists and is writable, no clobbering."""
    out = Path(output).expanduser()
    resolved = out.resolve()
    for item in inputs:
        if item is not None and Path(item).expanduser().resolve() == resolved:
            raise OutputError(f"output {out} is also an input", "choose another output path; thead never overwrites an input")
    parent = resolved.parent
    if not parent.is_dir():
        raise OutputError(f"output directory {parent} does not exist", f"create it first: mkdir -p {parent}")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"output directory {parent} is not writable", "choose a writable directory")
    if out.is_dir():
        raise OutputError(f"output {out} is a directory", "give a file name such as out.mp4")
    if out.exists() and not force:
        raise OutputError(f"output {out} already exists", "pass --force to overwrite it")
    return out


@contextlib.contextmanager
def atomic_path(output: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``output``; rename it onto ``output`` only if the block succeeds."""
    out = Path(output)
    suffix = "".join(out.suffixes[-2:]) if out.name.endswith(".motion.safetensors") else out.suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".partial{suffix}", dir=out.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs get the usual permissions
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
