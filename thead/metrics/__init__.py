"""Metric registry for ``thead eval``: a metric is one module plus one line here.

Each entry maps a name to "module:Class"; classes are imported lazily so ``thead --help`` stays
fast and a metric whose optional dependency is missing does not break the others.
"""

from __future__ import annotations

import importlib

from thead.errors import UsageError
from thead.metrics.base import Metric, MetricResult, Sample

METRICS: dict[str, str] = {
    "ssim": "thead.metrics.ssim:SSIM",
    "psnr": "thead.metrics.psnr:PSNR",
    "lpips": "thead.metrics.lpips:LPIPS",
    "fid": "thead.metrics.fid:FID",
    "is": "thead.metrics.inception_score:InceptionScore",
    "cpbd": "thead.metrics.cpbd:CPBD",
    "lmd": "thead.metrics.lmd:LMD",
    "akd": "thead.metrics.akd:AKD",
    "csim": "thead.metrics.csim:CSIM",
    "sync": "thead.metrics.syncnet:SyncNetScore",
    "lipsync": "thead.metrics.lipsync:LipSync",
    "blink": "thead.metrics.blink:BlinkRate",
    "headpose": "thead.metrics.headpose:HeadPoseRange",
    "jitter": "thead.metrics.jitter:LandmarkJitter",
}
#: Named protocol variants: run only when asked for by name.
VARIANTS: dict[str, str] = {
    "ssim-gray": "thead.metrics.ssim:SSIMGray",
    "ssim-downsample": "thead.metrics.ssim:SSIMDownsample",
    "ssim-skimage-legacy": "thead.metrics.ssim:SSIMSkimageLegacy",
    "lmd-dlib": "thead.metrics.lmd:LMDDlib",
    "akd-dlib": "thead.metrics.akd:AKDDlib",
}
ALIASES = {"lse": "sync", "syncnet": "sync", "lse-d": "sync", "lse-c": "sync", "inception-score": "is"}


def get_metric_class(name: str) -> type[Metric]:
    """The class registered as ``name`` (or one of its aliases)."""
    key = ALIASES.get(name.lower(), name.lower())
    target = METRICS.get(key) or VARIANTS.get(key)
    if target is None:
        known = ", ".join([*METRICS, *VARIANTS])
        raise UsageError(f"unknown metric '{name}'", f"choose from: {known} (or 'all')")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def parse_metric_list(spec: str) -> list[str]:
    """``"all"`` or a comma-separated list to canonical names, order kept, duplicates dropped."""
    if spec.strip().lower() == "all":
        return list(METRICS)
    names: list[str] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        get_metric_class(item)  # validates
        key = ALIASES.get(item.lower(), item.lower())
        if key not in names:
            names.append(key)
    if not names:
        raise UsageError("no metrics given", "pass --metrics all or a list such as ssim,psnr,lpips")
    return names


__all__ = ["ALIASES", "METRICS", "VARIANTS", "Metric", "MetricResult", "Sample", "get_metric_class", "parse_metric_list"]
