"""The engine layer: batched ablation and patching over model adapters (see :mod:`dcirc_utils.engine.engine`)."""
from .engine import Engine, Patch, assign_patch

__all__ = ["Engine", "Patch", "assign_patch"]
