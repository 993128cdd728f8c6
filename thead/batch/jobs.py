"""Job lists: read JSON Lines or CSV, check every job against the real command definitions, resolve paths.

A job is one ``thead`` command: ``{"id": "intro-fr", "command": "drive-video", "args": ["portrait.jpg",
"driving.mp4", "-o", "intro_fr.mp4"]}``. Relative inputs resolve against the job file's folder and
relative outputs land under the output folder. The whole list is checked before anything runs and every
problem is reported at once, with its line number.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thead.errors import BadInputError, TheadError

#: Commands a job may run: the rendering and measuring ones (registered in the app).
BATCH_COMMANDS = ("drive-video", "drive-audio", "edit", "generate", "eval")
#: Parameters that name files a command writes; every other path parameter is an input.
OUTPUT_PARAMS = frozenset({"output", "csv_path", "report"})
#: String options that take either a keyword or the path of an input file.
KEYWORD_OR_PATH = {("drive-video", "audio"): frozenset({"driving", "source", "none"})}
#: What ``thead batch`` itself writes in the output folder; jobs may not write there.
STATUS_NAME = "batch-status.jsonl"
LOGS_NAME = "batch-logs"
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
USAGE, BAD_INPUT = 2, 3


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the job list: where, what, and the exit code it calls for (2 usage, 3 bad input)."""

    line: int
    message: str
    exit_code: int = USAGE

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class JobListError(TheadError):
    """The job list cannot run as written; ``problems`` lists every reason, each with its line."""

    def __init__(self, source: Path, problems: list[Problem]) -> None:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{count} in job list {source}", "fix them and run again; no job was run")
        self.problems = problems
        self.exit_code = USAGE if any(p.exit_code == USAGE for p in problems) else BAD_INPUT


@dataclass(frozen=True)
class JobEntry:
    """One job as written in the job file, before any check."""

    line: int
    id: str
    command: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    """A checked job: the full argument vector to run, with absolute paths, and the files it reads and writes."""

    id: str
    line: int
    command: str
    args: tuple[str, ...]
    argv: tuple[str, ...]
    inputs: tuple[Path, ...]
    outputs: tuple[Path, ...]
    takes_force: bool = field(default=False)


def read_job_file(path: Path) -> tuple[list[JobEntry], list[Problem]]:
    """The entries of a ``.jsonl`` (one JSON object a line) or ``.csv`` (columns id, command, args) job file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BadInputError(f"cannot read job file {path} ({reason})", "give a .jsonl or .csv job list") from exc
    rows = _csv_rows(text) if path.suffix.lower() == ".csv" else _jsonl_rows(text)
    entries: list[JobEntry] = []
    problems: list[Problem] = []
    for number, row in rows:
        if isinstance(row, str):
            problems.append(Problem(number, row))
            continue
        entries.append(JobEntry(number, str(row.get("id") or "").strip() or str(number),
                                str(row.get("command") or "").strip(), tuple(str(a) for a in row["args"])))
    if not entries and not problems:
        problems.append(Problem(0, f"job file {path} has no jobs", BAD_INPUT))
    return entries, problems


Row = tuple[int, dict[str, Any] | str]  # (line, the job's id/command/args) or (line, what is wrong with it)


def _jsonl_rows(text: str) -> Iterator[Row]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(item, dict):
            yield number, "a job is a JSON object with command, args and optionally id"
            continue
        unknown = sorted(set(item) - {"id", "command", "args"})
        args = item.get("args", [])
        if unknown:
            yield number, f"unknown key(s) {', '.join(unknown)}: a job has id, command and args"
        elif not isinstance(args, list) or not all(isinstance(a, (str, int, float)) and not isinstance(a, bool)
                                                   for a in args):
            yield number, "args must be a list of strings (as the command line takes them)"
        else:
            yield number, {**item, "args": args}


def _csv_rows(text: str) -> Iterator[Row]:
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"command", "args"} <= set(reader.fieldnames):
        yield 1, "a CSV job file has the header id,command,args"
        return
    for row in reader:
        try:
            yield reader.line_num, {**row, "args": shlex.split(row.get("args") or "")}
        except ValueError as exc:
            yield reader.line_num, f"args are not valid shell quoting ({exc})"


def load_jobs(path: Path, out_dir: Path) -> list[Job]:
    """Read and check the whole job list; raises :class:`JobListError` with every problem found."""
    entries, problems = read_job_file(path)
    commands = _commands()
    jobs: list[Job] = []
    seen_ids: dict[str, int] = {}
    for entry in entries:
        if not _ID.fullmatch(entry.id):
            problems.append(Problem(entry.line, f"job id '{entry.id}' must be letters, digits, '.', '_' or '-' "
                                                "(it names the job's log file)"))
        elif entry.id in seen_ids:
            problems.append(Problem(entry.line, f"job id '{entry.id}' is also used on line {seen_ids[entry.id]}"))
        seen_ids.setdefault(entry.id, entry.line)
        job = _check(entry, commands, path.parent, out_dir, problems)
        if job is not None:
            jobs.append(job)
    problems += _cross_checks(jobs, out_dir)
    if problems:
        raise JobListError(path, sorted(problems, key=lambda p: p.line))
    return jobs


def _commands() -> dict[str, Any]:
    """The click commands a job may run, from the live app (so jobs are checked exactly as the CLI parses)."""
    import typer

    from thead.cli.app import app

    group = typer.main.get_command(app)
    return {name: command for name, command in group.commands.items() if name in BATCH_COMMANDS}


def _check(entry: JobEntry, commands: dict[str, Any], job_dir: Path, out_dir: Path,
           problems: list[Problem]) -> Job | None:
    """Parse one job as its command would, rewrite its paths, and note what it reads and writes."""
    command = commands.get(entry.command)
    if command is None:
        near = difflib.get_close_matches(entry.command, list(commands), n=1)
        hint = f" — did you mean {near[0]}?" if near else f" — choose one of: {', '.join(commands)}"
        problems.append(Problem(entry.line, f"unknown command '{entry.command}'{hint}"))
        return None
    if "--help" in entry.args:
        problems.append(Problem(entry.line, "--help is not a job — run `thead " + entry.command + " --help` instead"))
        return None
    parsed = _parse(command, entry, problems)
    if parsed is None:
        return None
    paths = {name for name, value in parsed.items() if _is_path(value)}
    paths |= {name for (cmd, name), words in KEYWORD_OR_PATH.items()
              if cmd == entry.command and parsed.get(name) not in words}

    def place(name: str, value: str) -> str:
        base = out_dir if _is_output(name) else job_dir
        return os.path.abspath(base / Path(value).expanduser())

    args = _rewrite_paths(command, entry.args, paths, place)
    final = _parse(command, JobEntry(entry.line, entry.id, entry.command, args), problems)
    if final is None:
        return None
    inputs, outputs = [], []
    for name in [param.name for param in command.params if param.name in paths]:  # in the command's order
        for value in _values(final.get(name)):
            (outputs if _is_output(name) else inputs).append(Path(value))
    if entry.command == "generate":  # --num N writes numbered files named after --output
        from thead.pipelines.generate import output_paths

        outputs = output_paths(final["output"], final["num"], final["grid"])
    for item in inputs:
        if not item.exists():
            problems.append(Problem(entry.line, f"input {item} does not exist", BAD_INPUT))
    takes_force = any("--force" in getattr(p, "opts", ()) for p in command.params)
    return Job(entry.id, entry.line, entry.command, entry.args, (entry.command, *args), tuple(inputs),
               tuple(outputs), takes_force)


def _parse(command: Any, entry: JobEntry, problems: list[Problem]) -> dict[str, Any] | None:
    """The parameter values of ``entry`` parsed by the command itself; a usage problem when it refuses them."""
    from thead.cli.app import usage_line

    try:
        with command.make_context(f"thead {entry.command}", list(entry.args)) as context:
            return dict(context.params)
    except Exception as exc:  # Click's usage errors (Typer bundles its own Click: matched by name)
        if not any(cls.__name__ == "ClickException" for cls in type(exc).__mro__):
            raise
        problems.append(Problem(entry.line, usage_line(exc).removeprefix("error: ")))
        return None


def _is_path(value: Any) -> bool:
    return isinstance(value, Path) or (isinstance(value, (list, tuple)) and any(isinstance(v, Path) for v in value))


def _is_output(name: str) -> bool:
    return name in OUTPUT_PARAMS or name.endswith("_out")


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _rewrite_paths(command: Any, args: tuple[str, ...], names: set[str], place) -> tuple[str, ...]:
    """``args`` with the values of the path parameters ``names`` replaced by ``place(name, value)``.

    Walks the tokens as Click does: ``--opt value``, ``--opt=value``, ``-o value``, ``-ovalue``, flags,
    positional arguments in order, and ``--`` ending the options.
    """
    options = {opt: p for p in command.params if p.param_type_name == "option" for opt in (*p.opts, *p.secondary_opts)}
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    out: list[str] = []
    position, used, only_positional = 0, 0, False
    tokens = list(args)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not only_positional and token == "--":
            only_positional = True
            out.append(token)
            continue
        if not only_positional and token.startswith("-") and len(token) > 1:
            name, sep, attached = token.partition("=") if token.startswith("--") else (token[:2], "", token[2:])
            option = options.get(name) if token.startswith("--") or name in options else None
            if option is None or getattr(option, "is_flag", False) or option.nargs == 0:
                out.append(token)  # a flag, or something Click refused already
                continue
            joiner = "=" if sep else ""
            if token.startswith("--") and sep or (not token.startswith("--") and attached):
                value = attached
                out.append(name + joiner + (place(option.name, value) if option.name in names else value))
                continue
            out.append(token)
            for _ in range(max(option.nargs, 1)):
                if index < len(tokens):
                    value = tokens[index]
                    index += 1
                    out.append(place(option.name, value) if option.name in names else value)
            continue
        while position < len(arguments) and arguments[position].nargs != -1 and used >= arguments[position].nargs:
            position, used = position + 1, 0
        argument = arguments[position] if position < len(arguments) else None
        out.append(place(argument.name, token) if argument is not None and argument.name in names else token)
        used += 1
    return tuple(out)


def _cross_checks(jobs: list[Job], out_dir: Path) -> list[Problem]:
    """Two jobs writing one file, a job reading another's output, jobs writing where the batch keeps its records."""
    problems = []
    writers: dict[Path, int] = {}
    reserved = (out_dir / STATUS_NAME).absolute(), (out_dir / LOGS_NAME).absolute()
    for job in jobs:
        for output in job.outputs:
            if output in writers:
                problems.append(Problem(job.line, f"output {output} is also written by the job on line {writers[output]}"))
            writers.setdefault(output, job.line)
            if output == reserved[0] or reserved[1] in output.parents:
                problems.append(Problem(job.line, f"output {output} is where thead batch keeps its status and logs"))
    for job in jobs:
        for item in job.inputs:
            if item in writers and writers[item] != job.line:
                problems.append(Problem(job.line, f"input {item} is the output of the job on line {writers[item]}; "
                                                  "jobs run in parallel and cannot depend on each other"))
    return problems
