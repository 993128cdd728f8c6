"""thead — talking-head synthesis: animate a portrait, edit its motion, measure the result."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
