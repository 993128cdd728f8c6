"""``thead fetch-weights``: install pinned, verified weight sets from the hub or a local mirror."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer

from thead.cli._options import Json, Quiet
from thead.cli._output import Reporter, stderr
from thead.errors import UsageError

EXAMPLES = """
Examples:

  thead fetch-weights --list

  thead fetch-weights liveportrait

  thead fetch-weights --from /mnt/mirror --verify all

  thead fetch-weights --verify

  thead fetch-weights --dry-run --json fid-inception lpips-alex

  thead fetch-weights --convert liveportrait

A mirror is laid out as DIR/<repo>/<path>, for example
DIR/KwaiVGI/LivePortrait/liveportrait/base_models/warping_module.pth; a file there may be a
link only to a file inside DIR. --verify alone re-hashes everything cached and downloads nothing.
"""


def fetch_weights(
    names: Annotated[Optional[list[str]], typer.Argument(help="Weight sets from weights.toml, or 'all'.",
                                                         show_default=False)] = None,
    list_sets: Annotated[bool, typer.Option("--list", help="Show the sets: size, licence, cached or not.")] = False,
    mirror: Annotated[Optional[Path], typer.Option("--from", help="Install from a local mirror laid out as "
                                                   "DIR/<repo>/<path> instead of the hub.")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", envvar="THEAD_CACHE", help="Hub cache folder "
                                                      "(default: HF_HUB_CACHE, or HF_HOME/hub).")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Re-hash cached files (deleting bad ones); without --from "
                                         "nothing is downloaded.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be fetched, change nothing.")] = False,
    convert: Annotated[bool, typer.Option("--convert", help="Also store pickled checkpoints as safetensors in the "
                                          "cache; loading then never parses the pickle again.")] = False,
    manifest_path: Annotated[Optional[Path], typer.Option("--manifest", envvar="THEAD_WEIGHTS_MANIFEST",
                                                          help="Another weights.toml (default: thead's own).")] = None,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Download, verify (size + sha256) and cache the weights that neural backends and metrics load."""
    from thead.weights.cache import hub_cache_dir
    from thead.weights.fetch import Fetcher
    from thead.weights.manifest import load_manifest

    reporter = Reporter(quiet=quiet, json_mode=json_output)
    manifest = load_manifest(manifest_path)
    root = hub_cache_dir(cache_dir)
    names = names or []
    if mirror is not None and not mirror.is_dir():
        raise UsageError(f"mirror folder {mirror} does not exist", "give a folder laid out as DIR/<repo>/<path>")
    if verify and dry_run:
        raise UsageError("--verify and --dry-run do not combine", "use one of them")
    if convert and (dry_run or (verify and mirror is None)):
        raise UsageError("--convert applies to fetched files", "drop --dry-run / --verify, or add --from DIR")
    if list_sets:
        _print_list(manifest.select(names or ["all"]), root, reporter)
        return
    if not names and not verify:
        raise UsageError("name the weight sets to fetch, or 'all'", "see them with: thead fetch-weights --list")
    sets = manifest.select(names or ["all"])
    fetcher = Fetcher(cache_dir=root, notes=reporter, mirror=mirror,
                      show_downloads=reporter.chatty and stderr.is_terminal)
    if dry_run:
        reports = fetcher.plan(sets)
        _print_files(reports, root, reporter, dry_run=True)
    elif verify and mirror is None:
        reports = fetcher.verify(sets, require_all=bool(names))
        _print_files(reports, root, reporter, dry_run=False)
    else:
        reports = fetcher.fetch(sets, rehash=verify)
        if convert:
            fetcher.convert(reports)
        _print_files(reports, root, reporter, dry_run=False)


LIST_COLUMNS = ("name", "size", "license", "commercial use", "cached", "used by")
NARROW = 100  # below this terminal width the "used by" column is left out (--json has it)


def _print_list(sets: list, root: Path, reporter: Reporter) -> None:
    rows = [_list_row(weight_set, root) for weight_set in sets]
    if reporter.json_mode:
        reporter.result({"cache_dir": str(root), "sets": rows})
        return
    if reporter.quiet:
        return
    from rich.console import Console

    from thead.weights.fetch import human_size

    title = f"weight sets (cache: {root})"
    cells = [[row["name"], human_size(row["size"]), row["license"], "yes" if row["commercial_use"] else "no *",
              row["cached"], ", ".join(map(used_by_label, row["used_by"]))] for row in rows]
    reasons = [(s.name, non_commercial_reason(s)) for s in sets if not s.commercial_use]
    footnote = "* not for commercial use:"
    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:  # piped: plain columns, one set per line, no colour or padding
        lines = [title, plain_table(LIST_COLUMNS, cells, right=("size",))]
        if reasons:
            lines += ["", footnote, *(f"  {name}: {reason}" for name, reason in reasons)]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    _print_rich_list(console, title, cells, reasons, footnote)


def _print_rich_list(console, title: str, cells: list[list[str]], reasons: list[tuple[str, str]],
                     footnote: str) -> None:
    """The table fitted to the terminal: long cells fold onto more lines, "used by" goes when narrow."""
    from rich.table import Table
    from rich.text import Text

    columns = LIST_COLUMNS if console.width >= NARROW else LIST_COLUMNS[:-1]
    table = Table(title=Text(title), title_justify="left", box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column == "size" else "left", overflow="fold",
                         no_wrap=column in ("name", "size", "cached"))
    for row in cells:
        styles = ["", "", "", "" if row[3] == "yes" else "bold red", "", ""]
        table.add_row(*(Text(cell, style=style) for cell, style in zip(row[:len(columns)], styles)))
    console.print(table)
    if reasons:
        notes = Table.grid(padding=(0, 1), pad_edge=False)
        notes.add_column(no_wrap=True)
        notes.add_column(overflow="fold")
        for name, reason in reasons:
            notes.add_row(Text(f"  {name}:"), Text(reason))
        console.print(Text(footnote, style="bold red"))
        console.print(notes)
    if len(columns) < len(LIST_COLUMNS):
        console.print(Text("(a wider terminal, or --json, also shows what uses each set)", style="dim"))


def _list_row(weight_set, root: Path) -> dict:
    from thead.weights.cache import CacheLayout, is_stamped

    states, sizes = [], []
    for file in weight_set.files:
        layout = CacheLayout(root, file)
        local = layout.cached()
        sizes.append(layout.expected().size)
        verified = local is not None and is_stamped(root, local, layout.expected())
        states.append("no" if local is None else "yes" if verified else "unverified")
    if all(s == "yes" for s in states):
        cached = "yes"
    elif all(s == "no" for s in states):
        cached = "no"
    else:
        cached = "unverified" if "no" not in states else f"{states.count('yes')}/{len(states)}"
    return {
        "name": weight_set.name, "description": weight_set.description, "repo": weight_set.repo_id,
        "revision": weight_set.revision, "size": None if None in sizes else sum(sizes),
        "license": weight_set.license,
        "commercial_use": weight_set.commercial_use, "used_by": list(weight_set.used_by), "cached": cached,
        "files": len(weight_set.files),
        "trust_on_first_use": [f.path for f in weight_set.files if f.trust_on_first_use],
    }


def used_by_label(entry: str) -> str:
    """A ``used_by`` entry as shown: planned uses name no command, since it does not exist yet."""
    return "nothing yet" if entry.startswith("planned:") else entry


def non_commercial_reason(weight_set) -> str:
    """Why a set is flagged: its licence, and the sentences of its notes about licences or hosting cards."""
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z])", weight_set.notes) if weight_set.notes else []
    relevant = [s for s in sentences if re.search(r"licen[cs]e|commercial|\bcard\b", s, re.IGNORECASE)]
    return " ".join([weight_set.license.rstrip(".") + ".", *relevant])


def plain_table(columns: tuple[str, ...], rows: list[list[str]], right: tuple[str, ...] = ()) -> str:
    """Columns two spaces apart, each as wide as its widest cell, no trailing spaces."""
    lines = [list(columns), *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "\n".join("  ".join(cell.rjust(width) if column in right else cell.ljust(width)
                               for column, cell, width in zip(columns, line, widths)).rstrip()
                     for line in lines)


def _print_files(reports: list, root: Path, reporter: Reporter, dry_run: bool) -> None:
    from thead.weights.fetch import human_size

    to_fetch = [r for r in reports if r.status in ("copy", "download")]
    payload = {"cache_dir": str(root), "dry_run": dry_run, "files": [r.as_dict() for r in reports]}
    if dry_run:
        unknown = any(r.file.size is None and r.size is None for r in to_fetch)
        payload["bytes_to_fetch"] = None if unknown else sum(r.size or 0 for r in to_fetch)
    lines = [f"{r.status:>10}  {r.set_name}: {r.file.path}  ({human_size(r.size)})" for r in reports]
    if dry_run:
        lines.append(f"{len(to_fetch)} of {len(reports)} files to fetch, "
                     f"{human_size(payload['bytes_to_fetch'])} into {root}")
    else:
        counts = Counter(r.status for r in reports)
        lines.append(", ".join(f"{n} {status}" for status, n in counts.items()) + f" in {root}")
    reporter.result(payload, "\n".join(lines))


fetch_weights.__doc__ = (fetch_weights.__doc__ or "") + "\n" + EXAMPLES
