"""Metric registry for ``thead eval``: a metric is one module plus one line here.

Each entry maps a name to "module:Class"; classes are imported lazily (see :mod:`thead.registry`)
so ``thead --help`` stays fast and a metric whose optional dependency is missing does not break the others.
"""

from __future__ import annotations

from thead.errors import UsageError
from thead.metrics.base import Metric, MetricResult, Sample
from thead.registry import Registry

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
    "ssim-mouth": "thead.metrics.ssim_mouth:MouthSSIM",
    "ssim-face": "thead.metrics.ssim_face:FaceSSIM",
    "sharpness": "thead.metrics.sharpness:Sharpness",
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

REGISTRY: Registry[Metric] = Registry("metric", METRICS, extra=VARIANTS, aliases=ALIASES, hint=" (or 'all')")


def get_metric_class(name: str) -> type[Metric]:
    """The class registered as ``name`` (or one of its aliases)."""
    return REGISTRY.get(name)


def parse_metric_list(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"all"``, a comma-separated string or a list of names to canonical names, order kept, duplicates dropped."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    if [item.strip().lower() for item in items] == ["all"]:
        return REGISTRY.names()
    names: list[str] = []
    for item in items:
        if not item.strip():
            continue
        key = REGISTRY.canonical(item)
        if key not in names:
            names.append(key)
    if not names:
        raise UsageError("no metrics given", "pass --metrics all or a list such as ssim,psnr,lpips")
    return names


__all__ = ["ALIASES", "METRICS", "REGISTRY", "VARIANTS", "Metric", "MetricResult", "Sample", "get_metric_class",
           "parse_metric_list"]
