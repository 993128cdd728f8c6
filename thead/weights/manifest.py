"""The ``weights.toml`` manifest: weight sets pinned to a hub commit, with sizes, hashes and licences.

One table per weight set::

    [liveportrait]
    description = "LivePortrait base models and stitching/retargeting MLPs"
    repo = "KwaiVGI/LivePortrait"
    revision = "<40-hex commit>"            # never a branch or tag (one exception below)
    license = "MIT"
    commercial_use = true
    used_by = ["backend:liveportrait"]     # or metric:NAME, face:NAME, generator:NAME, tts:NAME, planned:WHAT (nothing loads it yet)
    files = [
      { path = "liveportrait/base_models/warping_module.pth", size = 182180086, sha256 = "<64 hex>" },
    ]

A set may pin a whole diffusers snapshot: its files are then every file the pipeline reads
(``model_index.json`` and each component's config, weights and tokenizer files), all at the set's
revision, and the pipeline loads from the snapshot folder with ``local_files_only=True``.
A file may override ``repo`` and ``revision``. ``sha256 = ""`` means trust on first use: the hash is
recorded in the cache on the first fetch. ``size`` may be omitted when no public page states it.

The one exception to commit pins: ``revision = "main"`` is accepted for a set whose every file is
trust on first use, for repos whose commit could not be read when the set was added. The first
fetch records each file's hash under that set; a later fetch of changed upstream bytes fails
verification (exit 4) instead of silently replacing them.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from thead.errors import WeightsError

MANIFEST_ENV = "THEAD_WEIGHTS_MANIFEST"

# every check is a full match: "$" would also accept a trailing newline
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_REPO = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_COMMIT = re.compile(r"[0-9a-f]{40}")
UNPINNED_REVISION = "main"  # only for sets whose every file is trust on first use (see the module docstring)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_USE = re.compile(r"(backend|metric|face|generator|tts):[a-z0-9][a-z0-9-]*( \([^()\n]*\))?|planned:[^\n]+")
_SET_KEYS = {"description", "repo", "revision", "license", "commercial_use", "used_by", "files", "notes"}
_FILE_KEYS = {"path", "size", "sha256", "repo", "revision"}


@dataclass(frozen=True)
class WeightFile:
    """One file of a weight set, addressed by its path inside a hub repo at a pinned commit."""

    path: str
    repo_id: str
    revision: str
    size: int | None
    sha256: str | None

    @property
    def trust_on_first_use(self) -> bool:
        """No published hash: the first fetch records it."""
        return self.sha256 is None


@dataclass(frozen=True)
class WeightSet:
    """A named group of files that one backend or metric loads together."""

    name: str
    description: str
    repo_id: str
    revision: str
    license: str
    commercial_use: bool
    used_by: tuple[str, ...]
    files: tuple[WeightFile, ...]
    notes: str = ""

    @property
    def size(self) -> int | None:
        """Total bytes, or None when a file's size is not pinned."""
        sizes = [f.size for f in self.files]
        return None if None in sizes else sum(sizes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Manifest:
    """All weight sets of a manifest file, by name, in file order."""

    sets: dict[str, WeightSet]
    source: str

    def get(self, name: str) -> WeightSet:
        """The set called ``name``; an unknown name lists the known ones."""
        try:
            return self.sets[name]
        except KeyError:
            raise WeightsError(
                f"unknown weight set {name!r}", f"known sets: {', '.join(self.sets)} (thead fetch-weights --list)"
            ) from None

    def select(self, names: list[str]) -> list[WeightSet]:
        """Sets for ``names``; ``all`` selects every set."""
        if "all" in names:
            return list(self.sets.values())
        return [self.get(name) for name in dict.fromkeys(names)]


def default_manifest_path() -> Path:
    """``$THEAD_WEIGHTS_MANIFEST`` if set, else the ``weights.toml`` shipped inside the package."""
    override = os.environ.get(MANIFEST_ENV)
    if override:
        return Path(override).expanduser()
    return Path(str(resources.files("thead.weights").joinpath("weights.toml")))


def load_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """Parse and validate a manifest; every error names the file and line."""
    source = Path(path) if path is not None else default_manifest_path()
    try:
        data = source.read_bytes()
    except OSError as exc:
        hint = "reinstall thead" if path is None and MANIFEST_ENV not in os.environ else "give a readable weights.toml"
        raise WeightsError(f"cannot read weights manifest {source} ({exc.strerror})", hint) from exc
    return decode_manifest(data, str(source))


def decode_manifest(data: bytes, source: str = "weights.toml") -> Manifest:
    """Parse the bytes of a manifest file, which must be UTF-8 (as TOML requires)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise WeightsError(f"{source}: line {line}: not UTF-8 text (byte {exc.start})",
                           "save the weights manifest as UTF-8") from None
    return parse_manifest(text, source)


def parse_manifest(text: str, source: str = "weights.toml") -> Manifest:
    """Parse manifest ``text``; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise WeightsError(f"{source}: line {line}: malformed TOML ({_first_clause(str(exc))})",
                           "fix the manifest syntax") from exc
    except RecursionError:
        raise WeightsError(f"{source}: arrays or tables nested too deeply", "fix the manifest syntax") from None
    sets = {}
    for name, table in data.items():
        where = _Locator(text, source, name)
        if not isinstance(table, dict):
            where.fail(f"{name!r} must be a table like [{name}]")
        sets[name] = _parse_set(name, table, where)
    return Manifest(sets=sets, source=source)


def _parse_set(name: str, table: dict, where: "_Locator") -> WeightSet:
    if not _NAME.fullmatch(name):
        where.fail(f"set name {name!r} must be lowercase letters, digits and dashes")
    unknown = sorted(set(table) - _SET_KEYS)
    if unknown:
        where.fail(f"unknown key {unknown[0]!r} in [{name}]", unknown[0])
    for key in ("description", "repo", "revision", "license"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            where.fail(f"[{name}] needs a non-empty {key} string", key)
    if not isinstance(table.get("commercial_use"), bool):
        where.fail(f"[{name}] needs commercial_use = true or false", "commercial_use")
    if not isinstance(table.get("notes", ""), str):
        where.fail(f"[{name}] notes must be a string", "notes")
    used_by = table.get("used_by", [])
    if not isinstance(used_by, list) or not all(isinstance(u, str) and _USE.fullmatch(u) for u in used_by):
        where.fail(f"[{name}] used_by must list backend:NAME, metric:NAME, face:NAME, generator:NAME, tts:NAME or planned:WHAT entries "
                   "(what loads the set)", "used_by")
    files = table.get("files")
    if not isinstance(files, list) or not files:
        where.fail(f"[{name}] needs a non-empty files list", "files")
    repo_id = _check_repo(table["repo"], where)
    revision = _check_revision(table["revision"], where, branch_ok=True)
    parsed = tuple(_parse_file(entry, repo_id, revision, where) for entry in files)
    if revision == UNPINNED_REVISION and any(f.revision == revision and f.sha256 for f in parsed):
        where.fail(f"[{name}] revision \"{revision}\" is allowed only when every file is trust on first use "
                   "(sha256 = \"\"); pin the commit instead", "revision")
    seen: set[str] = set()
    for f in parsed:
        if f.path in seen:
            where.fail(f"[{name}] lists {f.path!r} twice", f.path)
        seen.add(f.path)
    return WeightSet(name=name, description=table["description"].strip(), repo_id=repo_id, revision=revision,
                     license=table["license"].strip(), commercial_use=table["commercial_use"],
                     used_by=tuple(used_by), files=parsed, notes=table.get("notes", "").strip())


def _parse_file(entry: object, repo_id: str, revision: str, where: "_Locator") -> WeightFile:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        where.fail("each files entry must be a table with a path", "files")
    path = entry["path"]
    unknown = sorted(set(entry) - _FILE_KEYS)
    if unknown:
        where.fail(f"unknown key {unknown[0]!r} for {path!r}", path)
    _check_path(path, where)
    size = entry.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        where.fail(f"size of {path!r} must be a positive integer (bytes)", path)
    sha = entry.get("sha256", "")
    if not isinstance(sha, str) or (sha and not _SHA256.fullmatch(sha)):
        where.fail(f"sha256 of {path!r} must be 64 lowercase hex digits, or \"\" for trust on first use", path)
    return WeightFile(
        path=path,
        repo_id=_check_repo(entry["repo"], where) if "repo" in entry else repo_id,
        revision=_check_revision(entry["revision"], where) if "revision" in entry else revision,
        size=size,
        sha256=sha or None,
    )


def _check_path(path: str, where: "_Locator") -> None:
    """Refuse paths that could leave the cache: absolute, drive-qualified, backslashes or ``..``."""
    parts = path.split("/")
    if (not path or path.startswith(("/", "~")) or "\\" in path or re.match(r"[A-Za-z]:", path)
            or any(p in ("", ".", "..") for p in parts) or _CONTROL.search(path)):
        where.fail(f"file path {path!r} must be relative inside the repo (no '..', no absolute path, "
                   "no control characters)", path)


def _check_repo(repo: object, where: "_Locator") -> str:
    """owner/name, as thead and huggingface_hub's own validator both accept it."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo, str) or not _REPO.fullmatch(repo) or ".." in repo:
        where.fail(f"repo {repo!r} must look like owner/name", str(repo))
    try:
        validate_repo_id(repo)
    except HFValidationError as exc:
        where.fail(f"repo {repo!r} is not a valid hub repo id ({str(exc).splitlines()[0]})", repo)
    return repo  # type: ignore[return-value]


def _check_revision(revision: object, where: "_Locator", branch_ok: bool = False) -> str:
    if branch_ok and revision == UNPINNED_REVISION:
        return revision
    if not isinstance(revision, str) or not _COMMIT.fullmatch(revision):
        where.fail(f"revision {revision!r} must be a 40-hex commit hash, never a branch or tag", str(revision))
    return revision  # type: ignore[return-value]


class _Locator:
    """Finds the manifest line of a set's table, or of a value inside it, for error messages."""

    def __init__(self, text: str, source: str, name: str) -> None:
        self.lines = text.splitlines()
        self.source = source
        header = re.compile(rf"^\s*\[\s*(\"{re.escape(name)}\"|{re.escape(name)})\s*\]")
        self.start = next((i for i, line in enumerate(self.lines) if header.match(line)), 0)

    def fail(self, message: str, needle: str | None = None) -> None:
        line = self.start
        if needle:
            end = next((i for i in range(self.start + 1, len(self.lines))
                        if self.lines[i].lstrip().startswith("[") and not self.lines[i].lstrip().startswith("[[")),
                       len(self.lines))
            variants = (needle, json.dumps(needle, ensure_ascii=False)[1:-1])  # as in a TOML basic string
            line = next((i for i in range(self.start, end) if any(v in self.lines[i] for v in variants)), self.start)
        raise WeightsError(f"{self.source}: line {line + 1}: {message}", "fix the weights manifest")


def _line_from_message(message: str) -> str:
    match = re.search(r"line (\d+)", message)
    return match.group(1) if match else "?"


def _first_clause(message: str) -> str:
    return re.sub(r"\s*\(at line \d+, column \d+\)", "", message).strip() or message
