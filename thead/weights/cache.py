"""Where weights live: the huggingface-hub cache layout, plus thead's verification records beside it.

Files sit exactly where ``hf_hub_download`` puts them (``models--owner--name/blobs/<hash>`` with a
``snapshots/<commit>/<path>`` link), so ``hf_hub_download(..., local_files_only=True)`` and
``try_to_load_from_cache`` find files installed by ``thead fetch-weights --from`` too. thead adds
``.thead/verified/`` (size, mtime and sha256 of each blob it has hashed) and ``.thead/pins/``
(hashes recorded on first use for manifest entries without a published sha256).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from huggingface_hub import constants, try_to_load_from_cache
from huggingface_hub.file_download import repo_folder_name

from thead.weights.manifest import WeightFile

CACHE_ENV = "THEAD_CACHE"
_CHUNK = 1 << 20


def hub_cache_dir(override: str | os.PathLike | None = None) -> Path:
    """``--cache-dir``, else ``$THEAD_CACHE``, else the huggingface-hub cache (``HF_HUB_CACHE``/``HF_HOME``)."""
    if override:
        return Path(override).expanduser()
    for variable in (CACHE_ENV, "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` read now (huggingface-hub reads it once, at import)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"} or constants.is_offline_mode()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Pin:
    """What a file must be: the manifest's hash and size, completed by the trust-on-first-use record."""

    sha256: str | None
    size: int | None


@dataclass(frozen=True)
class CacheLayout:
    """Paths for one manifest file inside a hub cache directory."""

    root: Path
    file: WeightFile

    @property
    def repo_dir(self) -> Path:
        return self.root / repo_folder_name(repo_id=self.file.repo_id, repo_type="model")

    @property
    def snapshot(self) -> Path:
        return self.repo_dir / "snapshots" / self.file.revision / Path(*self.file.path.split("/"))

    def blob(self, sha256: str) -> Path:
        return self.repo_dir / "blobs" / sha256

    @property
    def key(self) -> str:
        """Stable name for the lock and the partial download of this file."""
        if self.file.sha256:
            return self.file.sha256
        return hashlib.sha256(f"{self.file.revision}/{self.file.path}".encode()).hexdigest()

    @property
    def incomplete(self) -> Path:
        return self.repo_dir / "blobs" / f"{self.key}.thead.incomplete"

    def lock(self) -> FileLock:
        lock_dir = self.root / ".locks" / self.repo_dir.name
        lock_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(lock_dir / f"thead-{self.key}.lock"))

    @property
    def pin_path(self) -> Path:
        return self.root / ".thead" / "pins" / self.repo_dir.name / self.file.revision / f"{self.file.path}.json"

    def cached(self) -> Path | None:
        """The snapshot path if the hub cache has this file at the pinned commit."""
        found = try_to_load_from_cache(self.file.repo_id, self.file.path, cache_dir=self.root,
                                       revision=self.file.revision)
        return Path(found) if isinstance(found, str) else None

    def expected(self) -> Pin:
        """Manifest hash and size, with any gap filled from the first-use record."""
        recorded = _read_json(self.pin_path)
        sha = self.file.sha256 or recorded.get("sha256")
        size = self.file.size or recorded.get("size")
        return Pin(sha256=sha, size=size)

    def record_pin(self, sha256: str, size: int) -> None:
        """Record hash and size on first use (only the gaps the manifest leaves)."""
        _write_json(self.pin_path, {"repo": self.file.repo_id, "revision": self.file.revision,
                                    "path": self.file.path, "sha256": sha256, "size": size})

    def place(self, data_file: Path, sha256: str) -> Path:
        """Move a verified file into ``blobs/<sha256>`` and link the snapshot path to it."""
        blob = self.blob(sha256)
        blob.parent.mkdir(parents=True, exist_ok=True)
        os.replace(data_file, blob)
        link = self.snapshot
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp_link = link.with_name(f".{link.name}.{os.getpid()}.tmp")
        try:
            os.symlink(os.path.relpath(blob, link.parent), tmp_link)
        except OSError:  # no symlinks (some Windows setups): copy, as huggingface-hub does
            shutil.copyfile(blob, tmp_link)
        os.replace(tmp_link, link)
        return link

    def remove(self) -> None:
        """Delete the snapshot entry, its blob and thead's verification record."""
        link = self.snapshot
        if not (link.exists() or link.is_symlink()):
            return
        real = link.resolve()
        stamp_path(self.root, real).unlink(missing_ok=True)
        link.unlink()
        if real != link:
            real.unlink(missing_ok=True)


def stamp_path(root: Path, blob: Path) -> Path:
    return root / ".thead" / "verified" / f"{blob.parent.parent.name}--{blob.name}.json"


def is_stamped(root: Path, path: Path, pin: Pin) -> bool:
    """True when thead hashed this exact file (same size and mtime) and it matched ``pin``."""
    real = path.resolve()
    stamp = _read_json(stamp_path(root, real))
    try:
        stat = real.stat()
    except OSError:
        return False
    return (pin.sha256 is not None and stamp.get("sha256") == pin.sha256
            and stamp.get("size") == stat.st_size and stamp.get("mtime_ns") == stat.st_mtime_ns
            and (pin.size is None or pin.size == stat.st_size))


def write_stamp(root: Path, path: Path, sha256: str) -> None:
    real = path.resolve()
    stat = real.stat()
    _write_json(stamp_path(root, real), {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
