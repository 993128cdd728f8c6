"""What each generated PNG carries: prompt, attributes, seed, backend, weights revision, synthetic label."""

from __future__ import annotations

import json
from collections.abc import Sequence

from thead.pipelines.provenance import provenance


def image_metadata(*, backend: str, seeds: Sequence[int], prompt: str, negative: str, attributes: dict[str, str],
                   size: int, steps: int, weights: dict[str, str]) -> dict[str, str]:
    """PNG text chunks (``synthetic=true`` included); a contact sheet lists its seeds in grid order."""
    tags = provenance("generate", backend, seed=seeds[0] if len(seeds) == 1 else None, weights=weights)
    tags["thead_seed"] = ",".join(map(str, seeds))
    tags["thead_prompt"] = prompt
    tags["thead_negative_prompt"] = negative
    tags["thead_attributes"] = json.dumps(attributes, sort_keys=True)
    tags["thead_size"] = f"{size}x{size}"
    tags["thead_steps"] = str(steps)
    return {key: value for key, value in tags.items() if value != ""}
