"""Portrait generation: text-, label-guided or unconditional, through diffusers pipelines.

A generator backend is one module plus one line in ``GENERATORS``; each declares the weight set
it loads from the thead weights cache (never from the hub at run time).
"""

from __future__ import annotations

from thead.registry import Registry

# name -> "module:Class"; imported lazily so that `thead --help` stays fast.
GENERATORS: dict[str, str] = {
    "sd-turbo": "thead.generate.sd_turbo:SDTurboGenerator",
    "ldm-celebahq": "thead.generate.ldm_celebahq:LDMCelebAHQGenerator",
}
DEFAULT_GENERATOR = "sd-turbo"
DEFAULT_TRIES = 4  # seeds the portrait check tries per image
REGISTRY: Registry = Registry("generator backend", GENERATORS)
