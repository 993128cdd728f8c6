"""Where weights live: the huggingface-hub cache layout, plus thead's verification records beside it.

Files sit exactly where ``hf_hub_download`` puts them (``models--owner--name/blobs/<hash>`` with a
``snapshots/<commit>/<path>`` link), so ``hf_hub_download(..., local_files_only=True)`` and
``try_to_load_from_cache`` find files installed by ``thead fetch-weights --from`` too. thead adds
``.thead/verified/`` (size, mtime and sha256 of each blob it has hashed) and ``.thead/pins/``
(hashes recorded on first use for manifest entries without a published sha256). A partial copy
``blobs/<key>.thead.incomplete`` has its origin recorded beside it in ``<key>.thead.incomplete.json``.

thead writes and deletes only inside the cache: links are removed themselves and never followed
(a snapshot linked to a file elsewhere loses its link, never the file), and a linked folder on the
way to anything thead would write is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from huggingface_hub import constants, try_to_load_from_cache
from huggingface_hub.file_download import repo_folder_name

from thead.errors import WeightsError
from thead.io.hashing import sha256_file
from thead.weights.manifest import WeightFile

__all__ = ["CacheLayout", "Pin", "hub_cache_dir", "is_offline", "is_stamped", "sha256_file", "write_stamp"]

CACHE_ENV = "THEAD_CACHE"


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

    @property
    def provenance(self) -> Path:
        """Where the partial file's origin (repo, revision, path, source) is recorded when it is started."""
        return self.repo_dir / "blobs" / f"{self.key}.thead.incomplete.json"

    def start_partial(self, origin: dict, resume: bool) -> int:
        """Prepare the partial file for bytes from ``origin``; return how many bytes of it are kept.

        A leftover partial file is kept only if ``resume`` allows it, its recorded origin is ``origin``
        and it is a regular file with a single link (one the cache made). Anything else there is removed,
        a link itself and never its target, and the copy starts from zero under a new origin record.
        """
        partial = self.incomplete
        refuse_linked_folders(self.root, partial)
        partial.parent.mkdir(parents=True, exist_ok=True)
        if resume and _read_json(self.provenance) == origin and _is_own_file(partial):
            return partial.lstat().st_size
        _unlink_entry(partial)  # before the new record: a crash in between never pairs old bytes with it
        _write_json(self.provenance, origin)
        return 0

    def drop_partial(self) -> None:
        """Remove the partial file (a link itself, never its target) and its origin record."""
        _unlink_entry(self.incomplete)
        _unlink_entry(self.provenance)

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
        link = self.snapshot
        refuse_linked_folders(self.root, blob)
        refuse_linked_folders(self.root, link)
        blob.parent.mkdir(parents=True, exist_ok=True)
        os.replace(data_file, blob)  # replaces a link at blob itself, never its target
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp_link = link.with_name(f".{link.name}.{os.getpid()}.tmp")
        try:
            os.symlink(os.path.relpath(blob, link.parent), tmp_link)
        except OSError:  # no symlinks (some Windows setups): copy, as huggingface-hub does
            shutil.copyfile(blob, tmp_link)
        os.replace(tmp_link, link)
        return link

    def remove(self) -> None:
        """Delete the snapshot entry, the blob it links to in this cache, and thead's verification record.

        Links are removed themselves and never followed: a snapshot entry linked to a file outside the
        cache loses its link, and the file it pointed to stays untouched.
        """
        link = self.snapshot
        if not os.path.lexists(link):
            return
        refuse_linked_folders(self.root, link)
        blob = self._linked_blob(link)
        stamp_path(self.root, link.resolve()).unlink(missing_ok=True)
        link.unlink()
        if blob is not None:
            refuse_linked_folders(self.root, blob)
            _unlink_entry(blob)

    def _linked_blob(self, link: Path) -> Path | None:
        """The ``blobs/`` entry of this repo that ``link`` points to, read from the link, never resolved."""
        if not link.is_symlink():
            return None
        target = Path(os.path.normpath(link.parent / os.readlink(link)))
        return target if target.parent == Path(os.path.normpath(self.repo_dir / "blobs")) else None


def refuse_linked_folders(root: Path, path: Path) -> None:
    """Raise unless every existing folder between ``root`` and ``path`` is a real folder, not a link.

    thead writes and deletes inside its cache only; a linked folder would take those writes elsewhere.
    """
    folder = root
    for part in path.relative_to(root).parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            raise WeightsError(f"{folder} in the weights cache is a link to {os.readlink(folder)}; "
                               "thead does not write or delete through links",
                               f"replace the link with a real folder, or use another --cache-dir than {root}")
        if not folder.exists():
            return


def _is_own_file(path: Path) -> bool:
    """A regular file with a single link: not a symlink, device, folder or hard link to a file elsewhere."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1


def _unlink_entry(path: Path) -> None:
    """Remove ``path`` itself (a link is removed, not its target); nothing if it is absent."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


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
