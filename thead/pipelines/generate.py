"""generate: portraits from a prompt, from attribute labels, or unconditionally, checked to be drivable.

Images take consecutive seeds from ``seed``; with the face check on, a seed whose image has not
exactly one well-sized, near-frontal face is skipped and the next one tried (``tries`` per image).
"""

from __future__ import annotations

import functools
import itertools
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thead.errors import UsageError
from thead.generate import DEFAULT_GENERATOR, DEFAULT_TRIES, REGISTRY
from thead.generate.attributes import Attributes, parse_attributes
from thead.generate.base import Generator, snapshot_folder
from thead.generate.face_check import first_portrait
from thead.io.atomic import check_output_path
from thead.io.formats import output_kind
from thead.pipelines.result import timed
from thead.report import Notes, Silent

MAX_NUM = 256


@dataclass
class GenerateResult:
    """The files written, the seeds that made them, the prompts used, and where and how long it ran."""

    outputs: list[str]
    seeds: list[int]
    backend: str
    device: str
    prompt: str
    negative_prompt: str
    attributes: dict[str, str]
    size: int
    steps: int
    grid: bool = False
    rejected: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    weights: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def generate(
    prompt: str | None,
    output: str | os.PathLike,
    *,
    attributes: Sequence[str] | Attributes = (),
    backend: str | Generator = DEFAULT_GENERATOR,
    device: str = "auto",
    num: int = 1,
    grid: bool = False,
    seed: int | None = None,
    size: int | None = None,
    steps: int | None = None,
    negative: str | None = None,
    face_check: bool = True,
    tries: int = DEFAULT_TRIES,
    force: bool = False,
    reporter: Notes | None = None,
) -> GenerateResult:
    """Generate ``num`` portraits into ``output`` (numbered files, or one contact sheet with ``grid``).

    ``backend`` is a registered name or an already-built :class:`Generator` (its pipeline stays
    loaded across calls). ``seed`` None picks a random one (reported in the result and the files).
    """
    reporter = reporter or Silent()
    if not 1 <= num <= MAX_NUM:
        raise UsageError(f"--num {num} is out of range", f"use 1 to {MAX_NUM}")
    if tries < 1:
        raise UsageError(f"--tries {tries} must be at least 1", "e.g. --tries 4")
    attrs = attributes if isinstance(attributes, Attributes) else parse_attributes(attributes)
    engine_class = type(backend) if isinstance(backend, Generator) else REGISTRY.get(backend)
    engine_class.check_request(prompt, attrs, negative, size, steps)
    outputs = planned_outputs(output, num, grid, force)
    timings: dict[str, float] = {}
    timer = functools.partial(timed, timings)
    with timer("load"):
        engine = backend if isinstance(backend, Generator) else _build(engine_class, device)
    side = engine.output_size(size)
    steps = steps or engine_class.default_steps
    full_prompt, full_negative = engine.compose_prompt(prompt, attrs, negative)
    first_seed = seed if seed is not None else secrets.randbelow(2**31)
    result = GenerateResult([str(p) for p in outputs], [], engine.name, str(engine.device), full_prompt,
                            full_negative, dict(attrs.values), side, steps, grid=grid and num > 1, timings=timings)
    result.weights = _weight_revisions(engine)

    def render(one_seed: int) -> np.ndarray:
        with timer("generate"):
            return engine.generate(full_prompt, full_negative, one_seed, side, steps)

    images = _portraits(render, itertools.count(first_seed), num, tries if face_check else 0, result, reporter,
                        timer)
    with timer("write"):
        _write(outputs, images, result)
    return result


def _portraits(render, seeds: Iterator[int], num: int, tries: int, result: GenerateResult, reporter: Notes,
               timer) -> list[np.ndarray]:
    """``num`` images from consecutive seeds; with ``tries`` > 0 each must pass the portrait check."""
    images = []
    for _ in reporter.progress(range(num), num, "generating"):
        if tries:
            with timer("face_check"):  # the rendering inside is timed as "generate" and taken out below
                image, used, rejected = first_portrait(render, seeds, tries)
            for rejection in rejected:
                result.rejected.append({"seed": rejection.seed, "reason": rejection.reason})
                _warn(result, reporter, f"seed {rejection.seed} rejected ({rejection.reason}); tried the next seed")
        else:
            used = next(seeds)
            image = render(used)
        images.append(image)
        result.seeds.append(used)
    if tries:
        result.timings["face_check"] -= result.timings.get("generate", 0.0)
    return images


def output_paths(output: str | os.PathLike, num: int, grid: bool) -> list[Path]:
    """The files a run writes: ``output``, or ``stem-1.png`` .. ``stem-N.png`` (zero-padded) for ``num`` > 1
    without ``grid``."""
    out = Path(output)
    if num == 1 or grid:
        return [out]
    width = len(str(num))
    return [out.with_name(f"{out.stem}-{index:0{width}d}{out.suffix}") for index in range(1, num + 1)]


def planned_outputs(output: str | os.PathLike, num: int, grid: bool, force: bool) -> list[Path]:
    """:func:`output_paths`, each checked before any work."""
    output_kind(Path(output), ("image",))
    return [check_output_path(path, (), force) for path in output_paths(output, num, grid)]


def _build(engine_class: type[Generator], device: str) -> Generator:
    snapshot_folder(engine_class.weight_set)  # missing weights: exit 4 before torch is even imported
    from thead.device import resolve_device

    return engine_class(resolve_device(device))


def _weight_revisions(engine: Generator) -> dict[str, str]:
    from thead.pipelines.provenance import weight_revisions

    return weight_revisions(engine.weight_sets_used())


def _warn(result: GenerateResult, reporter: Notes, message: str) -> None:
    result.warnings.append(message)
    reporter.warn(message)


def _write(outputs: list[Path], images: list[np.ndarray], result: GenerateResult) -> None:
    from thead.generate.grid import contact_sheet
    from thead.generate.metadata import image_metadata
    from thead.io.image import write_image

    common = {"backend": result.backend, "prompt": result.prompt, "negative": result.negative_prompt,
              "attributes": result.attributes, "size": result.size, "steps": result.steps, "weights": result.weights}
    if len(outputs) == 1 and len(images) > 1:
        write_image(outputs[0], contact_sheet(images), metadata=image_metadata(seeds=result.seeds, **common))
        return
    for path, image, seed in zip(outputs, images, result.seeds):
        write_image(path, image, metadata=image_metadata(seeds=[seed], **common))
