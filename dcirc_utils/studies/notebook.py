"""The one setup-cell convention of every notebook: ``cfg = setup_notebook()``.

It fixes the seed and the CPU threads (so that printed numbers are reproducible and nbval can compare them),
turns gradients off, picks the device (cuda, then mps, then cpu; ``$DCIRC_DEVICE`` overrides) and names the pair
(``$DCIRC_PAIR``, default the offline pair ``"mini"``), so the same notebook runs on the real models with
``DCIRC_PAIR=gpt2``.
"""
from __future__ import annotations

import os
import random
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..models.pairs import DEFAULT_PAIR, pick_device

__all__ = ["NotebookConfig", "setup_notebook"]


@dataclass(frozen=True)
class NotebookConfig:
    """What the setup cell decided: pair name, device, seed, threads."""

    pair: str
    device: torch.device
    seed: int
    threads: int

    def __str__(self) -> str:
        return f"pair={self.pair!r} seed={self.seed} threads={self.threads}"


def setup_notebook(seed: int = 0, threads: int = 2, pair: str | None = None) -> NotebookConfig:
    """Seed everything, fix CPU threads, disable grad, choose device and pair (all notebooks, first cell).

    Args:
        seed: seed for ``random``, NumPy and torch.
        threads: CPU threads for torch (fixed so results do not depend on the machine's core count).
        pair: pair name; ``None`` reads ``$DCIRC_PAIR`` and falls back to the offline pair.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import matplotlib
        matplotlib.rcParams["figure.dpi"] = 80
        matplotlib.rcParams["savefig.dpi"] = 80
    except ImportError:  # pragma: no cover
        pass
    import pandas as pd
    pd.set_option("display.precision", 3)          # tables print rounded, so nbval compares stable text
    pd.set_option("display.max_rows", 200)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 140)
    device = pick_device(os.environ.get("DCIRC_DEVICE") or None)
    return NotebookConfig(pair or os.environ.get("DCIRC_PAIR") or DEFAULT_PAIR, device, seed, threads)
