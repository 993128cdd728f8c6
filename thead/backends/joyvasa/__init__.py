"""JoyVASA (jdh-algo, MIT): our port of its audio front end, diffusion motion generator and motion mapping,
as a backend on the LivePortrait renderer."""

from thead.backends.joyvasa.backend import JoyVASABackend
from thead.backends.joyvasa.config import JoyVASAConfig

__all__ = ["JoyVASABackend", "JoyVASAConfig"]
