"""LivePortrait (KwaiVGI, MIT): our PyTorch port of its five networks and its animation pipeline."""

from thead.backends.liveportrait.config import LivePortraitConfig, load_models_yaml
from thead.backends.liveportrait.networks import LivePortraitNetworks
from thead.backends.liveportrait.pipeline import AnimationOptions, LivePortraitPipeline

__all__ = ["AnimationOptions", "LivePortraitConfig", "LivePortraitNetworks", "LivePortraitPipeline", "load_models_yaml"]
