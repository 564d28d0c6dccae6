"""The engine layer: batched ablation and patching over model adapters (see :mod:`dcirc_utils.engine.engine`)."""
from .engine import Engine, Patch

__all__ = ["Engine", "Patch"]
