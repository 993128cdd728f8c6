"""Fetch weight files into the hub cache, from the hub or a local mirror, verified by size and sha256.

Every file is handled under a file lock, written to a ``.incomplete`` file first, hashed, and only
then moved into place, so concurrent runs are safe and nothing half-written is ever visible at the
snapshot path. An interrupted copy is resumed only when the origin recorded beside its partial file
is the same (repo, revision, path, mirror file) and the file has a published or recorded sha256 to
check the result against; otherwise it starts from zero. The partial file is opened without
following links, and a mirror file that links outside the mirror folder is refused.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from huggingface_hub.utils.tqdm import tqdm as hub_tqdm

from thead.errors import WeightsError
from thead.io.hashing import sha256_file
from thead.weights.cache import CacheLayout, Pin, is_offline, is_stamped, write_stamp
from thead.weights.manifest import WeightFile, WeightSet

if TYPE_CHECKING:
    from thead.report import Notes


MIRROR_LAYOUT = "DIR/<repo>/<path>"


@dataclass
class FileReport:
    """Outcome for one file: cached, verified, copied, downloaded, or a planned action in a dry run."""

    set_name: str
    file: WeightFile
    status: str
    local_path: Path | None = None
    sha256: str | None = None
    size: int | None = None
    problem: str = ""

    def as_dict(self) -> dict:
        return {"set": self.set_name, "repo": self.file.repo_id, "revision": self.file.revision,
                "path": self.file.path, "status": self.status, "sha256": self.sha256, "size": self.size,
                "local_path": str(self.local_path) if self.local_path else None, "problem": self.problem or None}


@dataclass
class Fetcher:
    """Installs and checks weight sets in one hub cache directory."""

    cache_dir: Path
    notes: Notes
    mirror: Path | None = None
    show_downloads: bool = True  # announce hub downloads and let huggingface_hub draw its byte bars
    hub_unreachable: bool = False  # set after the first failed connection: later files fail fast

    def fetch(self, sets: list[WeightSet], rehash: bool = False) -> list[FileReport]:
        """Make every file of ``sets`` present and verified; raise after trying them all if any failed.

        From a mirror, one progress bar counts the files. From the hub, each download is announced on a
        line of its own and huggingface_hub draws its byte bar below it: a live bar around those would
        turn every refresh of theirs into a new line.
        """
        jobs = [(s, f) for s in sets for f in s.files]
        steps = iter(jobs) if self.mirror is None else self.notes.progress(jobs, len(jobs), "fetching weights")
        reports, failures = [], []
        for number, (weight_set, file) in enumerate(steps, 1):
            try:
                reports.append(self._fetch_file(weight_set.name, file, rehash, f"file {number} of {len(jobs)}"))
            except WeightsError as err:
                failures.append((weight_set.name, err))
        _raise_failures(failures)
        return reports

    def verify(self, sets: list[WeightSet], require_all: bool) -> list[FileReport]:
        """Re-hash the cached files of ``sets``; delete mismatches; never download."""
        jobs = [(s, f) for s in sets for f in s.files]
        reports, failures = [], []
        for weight_set, file in self.notes.progress(jobs, len(jobs), "verifying weights"):
            layout = CacheLayout(self.cache_dir, file)
            try:
                with layout.lock():
                    report = self._check_cached(weight_set.name, layout, rehash=True)
                if report is None and require_all:
                    raise WeightsError(f"{weight_set.name}: {file.path} is not cached in {self.cache_dir}",
                                       f"run: thead fetch-weights {weight_set.name}")
                if report is not None and report.status == "deleted":
                    raise WeightsError(f"{weight_set.name}: cached {file.path} failed verification "
                                       f"({report.problem}) and was deleted",
                                       f"run: thead fetch-weights {weight_set.name}")
                reports.append(report or FileReport(weight_set.name, file, "missing", size=layout.expected().size))
            except WeightsError as err:
                failures.append((weight_set.name, err))
        _raise_failures(failures)
        return reports

    def convert(self, reports: list[FileReport]) -> list[Path]:
        """Store a safetensors copy of each fetched pickled checkpoint; ``load_checkpoint`` then reads it."""
        from thead.weights.convert import PICKLE_SUFFIXES, convert_to_safetensors

        converted = []
        for report in reports:
            if report.local_path is not None and Path(report.file.path).suffix in PICKLE_SUFFIXES:
                converted.append(convert_to_safetensors(report.local_path))
                self.notes.info(f"{report.set_name}: {report.file.path} also stored as safetensors")
        return converted

    def plan(self, sets: list[WeightSet]) -> list[FileReport]:
        """What ``fetch`` would do, without hashing, copying or downloading anything."""
        reports = []
        for weight_set in sets:
            for file in weight_set.files:
                layout = CacheLayout(self.cache_dir, file)
                pin = layout.expected()
                cached = layout.cached()
                if cached is not None and is_stamped(self.cache_dir, cached, pin):
                    status = "cached"
                elif cached is not None:
                    status = "verify"
                elif self.mirror is not None:
                    status = mirror_status(self.mirror, file)
                else:
                    status = "download"
                reports.append(FileReport(weight_set.name, file, status, cached, pin.sha256, pin.size))
        return reports

    def _fetch_file(self, set_name: str, file: WeightFile, rehash: bool, step: str) -> FileReport:
        layout = CacheLayout(self.cache_dir, file)
        with layout.lock():
            report = self._check_cached(set_name, layout, rehash)
            if report is not None and report.status != "deleted":
                return report
            if self.mirror is not None:
                return self._copy_from_mirror(set_name, layout)
            return self._download(set_name, layout, step)

    def _check_cached(self, set_name: str, layout: CacheLayout, rehash: bool) -> FileReport | None:
        """Report on a cached file: good, or ``deleted`` because it failed verification; None if absent."""
        cached = layout.cached()
        if cached is None:
            return None
        pin = layout.expected()
        if not rehash and is_stamped(self.cache_dir, cached, pin):
            return FileReport(set_name, layout.file, "cached", cached, pin.sha256, cached.stat().st_size)
        from thead.weights.convert import drop_if_tampered

        if drop_if_tampered(cached):
            self.notes.warn(f"{set_name}: the safetensors copy of {layout.file.path} had changed; deleted it")
        size = cached.stat().st_size
        sha = sha256_file(cached)
        problem = _mismatch(pin, sha, size)
        if problem:
            layout.remove()
            self.notes.warn(f"{set_name}: cached {layout.file.path} failed verification ({problem}); deleted it")
            return FileReport(set_name, layout.file, "deleted", None, sha, size, problem)
        self._record(set_name, layout, sha, size)
        return FileReport(set_name, layout.file, "verified", cached, sha, size)

    def _copy_from_mirror(self, set_name: str, layout: CacheLayout) -> FileReport:
        assert self.mirror is not None
        file = layout.file
        source = self.mirror / file.repo_id / file.path
        status = mirror_status(self.mirror, file)
        if status == "missing-in-mirror":
            raise WeightsError(f"{set_name}: {source} is not in the mirror",
                               f"lay the mirror out as {MIRROR_LAYOUT}, e.g. hf download {file.repo_id} "
                               f"--revision {file.revision} --local-dir {self.mirror / file.repo_id}")
        if status == "outside-mirror":
            raise WeightsError(f"{set_name}: mirror file {source} links to {source.resolve()}, outside the mirror "
                               "folder; nothing was installed",
                               "copy the file into the mirror (links are followed only inside it)")
        pin = layout.expected()
        info = source.stat()
        if pin.size is not None and info.st_size != pin.size:
            raise WeightsError(f"{set_name}: mirror file {source} has {info.st_size} bytes, expected {pin.size} "
                               "(truncated or a different file); nothing was installed",
                               "replace the mirror file with the pinned revision")
        origin = {"repo": file.repo_id, "revision": file.revision, "path": file.path,
                  "source": str(source.resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns}
        # without a hash to check against, a resumed file could splice old and new bytes: start over
        resumed = layout.start_partial(origin, resume=pin.sha256 is not None)
        copy_resumable(source, layout.incomplete)
        sha = sha256_file(layout.incomplete)
        if resumed and sha != pin.sha256:  # the earlier partial was not a prefix of this file: start over once
            layout.start_partial(origin, resume=False)
            copy_resumable(source, layout.incomplete)
            sha = sha256_file(layout.incomplete)
        problem = _mismatch(pin, sha, info.st_size)
        if problem:
            layout.drop_partial()
            raise WeightsError(f"{set_name}: {source} failed verification ({problem}); the copy was deleted",
                               "replace the mirror file with the pinned revision")
        local = layout.place(layout.incomplete, sha)
        layout.drop_partial()
        self._record(set_name, layout, sha, info.st_size)
        self.notes.info(f"{set_name}: installed {file.path} from the mirror ({human_size(info.st_size)})")
        return FileReport(set_name, file, "copied", local, sha, info.st_size)

    def _download(self, set_name: str, layout: CacheLayout, step: str) -> FileReport:
        file = layout.file
        hint = (f"copy the files to a mirror laid out as {MIRROR_LAYOUT} and run: "
                f"thead fetch-weights --from DIR {set_name}")
        if is_offline() or self.hub_unreachable:
            reason = "HF_HUB_OFFLINE is set" if is_offline() else "the hub is unreachable"
            raise WeightsError(f"{set_name}: {file.path} is not cached in {self.cache_dir} and {reason}", hint)
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        if self.show_downloads:
            self.notes.info(f"{set_name}: downloading {file.path} ({human_size(layout.expected().size)}, {step})")
        try:
            with hub_logs_held_back():
                local = Path(hf_hub_download(file.repo_id, file.path, revision=file.revision,
                                             cache_dir=str(self.cache_dir),
                                             tqdm_class=None if self.show_downloads else HiddenHubBar))
        except LocalEntryNotFoundError as exc:
            self.hub_unreachable = True
            raise WeightsError(f"{set_name}: cannot reach the hub for {file.repo_id}/{file.path} and it is not cached",
                               hint) from exc
        except (HfHubHTTPError, OSError) as exc:
            raise WeightsError(f"{set_name}: download of {file.repo_id}/{file.path}@{file.revision[:8]} failed "
                               f"({str(exc).splitlines()[0]})", hint) from exc
        size = local.stat().st_size
        sha = sha256_file(local)
        problem = _mismatch(layout.expected(), sha, size)
        if problem:
            layout.remove()
            raise WeightsError(f"{set_name}: downloaded {file.path} failed verification ({problem}); deleted it",
                               "check the manifest pin or report the changed upstream file")
        self._record(set_name, layout, sha, size)
        self.notes.info(f"{set_name}: downloaded {file.path} ({human_size(size)})")
        return FileReport(set_name, file, "downloaded", local, sha, size)

    def _record(self, set_name: str, layout: CacheLayout, sha: str, size: int) -> None:
        """Stamp a verified file; on first use of an unpinned hash or size, record it loudly."""
        file = layout.file
        if file.sha256 is None or file.size is None:
            recorded = layout.expected()
            if recorded.sha256 is None or recorded.size is None:
                layout.record_pin(sha, size)
                if file.sha256 is None:
                    self.notes.warn(f"TRUST ON FIRST USE: {set_name}: {file.repo_id}/{file.path}@{file.revision[:8]} "
                                    f"has no published sha256; recorded {sha} ({size} bytes) in "
                                    f"{layout.pin_path}. Compare it with a trusted copy.")
        cached = layout.cached()
        if cached is not None:
            write_stamp(self.cache_dir, cached, sha)


class HiddenHubBar(hub_tqdm):
    """huggingface_hub's byte progress bar, never drawn (``--quiet``, ``--json``, stderr not a terminal)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)


@contextmanager
def hub_logs_held_back() -> Iterator[None]:
    """Keep huggingface_hub's log lines (retries, HTTP warnings) off stderr unless ``THEAD_DEBUG`` is set.

    thead reports every outcome itself: a line per file, or one ``error:`` line. The library's level is
    raised rather than unset, because huggingface_hub hides its download progress bars at ``NOTSET``.
    """
    if os.environ.get("THEAD_DEBUG"):
        yield
        return
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        hub_logger.setLevel(level)


def mirror_status(mirror: Path, file: WeightFile) -> str:
    """``copy``, ``missing-in-mirror``, or ``outside-mirror`` for a mirror file that links out of the mirror."""
    source = mirror / file.repo_id / file.path
    if not source.is_file():
        return "missing-in-mirror"
    if not source.resolve().is_relative_to(mirror.resolve()):
        return "outside-mirror"
    return "copy"


def copy_resumable(source: Path, partial: Path) -> int:
    """Append to ``partial`` the bytes of ``source`` it does not have yet; return how many were copied.

    ``partial`` is opened without following links and must be a regular file with one link, so bytes
    never go through a link planted in the cache to a file elsewhere.
    """
    total = source.stat().st_size
    with open(source, "rb") as src, os.fdopen(_open_partial(partial), "ab") as dst:
        done = os.fstat(dst.fileno()).st_size
        if done > total:
            os.ftruncate(dst.fileno(), 0)
            done = 0
        src.seek(done)
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    return total - done


def _open_partial(partial: Path) -> int:
    """A file descriptor appending to ``partial``; refuses links, hard links and anything not a regular file."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    refusal = WeightsError(f"{partial} is not a plain file of the weights cache (a link?); nothing was written "
                           "through it", f"delete {partial} and run again")
    try:
        fd = os.open(partial, flags, 0o644)
    except OSError as exc:  # ELOOP: a symbolic link
        raise refusal from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise refusal
    return fd


def _mismatch(pin: Pin, sha: str, size: int) -> str:
    if pin.size is not None and size != pin.size:
        return f"{size} bytes, expected {pin.size}"
    if pin.sha256 is not None and sha != pin.sha256:
        return f"sha256 {sha}, expected {pin.sha256}"
    return ""


def _raise_failures(failures: list[tuple[str, WeightsError]]) -> None:
    if not failures:
        return
    if len(failures) == 1:
        raise failures[0][1]
    names = " ".join(dict.fromkeys(name for name, _ in failures))
    first = failures[0][1]
    raise WeightsError(f"{len(failures)} weight files failed; first: {first.message}",
                       first.hint if len({n for n, _ in failures}) == 1 else f"run: thead fetch-weights {names}")


def human_size(size: int | None) -> str:
    """Bytes as B/kB/MB/GB (powers of 1000, as the hub shows them)."""
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"

