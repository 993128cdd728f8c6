"""LivePortrait (KwaiVGI, MIT): our PyTorch port of its five networks, its animation pipeline and the backend."""

from thead.backends.liveportrait.backend import LivePortraitBackend, LivePortraitSource
from thead.backends.liveportrait.config import LivePortraitConfig, load_models_yaml
from thead.backends.liveportrait.networks import LivePortraitNetworks
from thead.backends.liveportrait.pipeline import AnimationOptions, LivePortraitPipeline

__all__ = [
    "AnimationOptions",
    "LivePortraitBackend",
    "LivePortraitConfig",
    "LivePortraitNetworks",
    "LivePortraitPipeline",
    "LivePortraitSource",
    "load_models_yaml",
]
