"""Figures from plain arrays and dicts; no model access, so a figure can be redrawn from cached results.

Every function returns the matplotlib ``Figure`` (notebooks display it; tests may save it).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() == "agg" else None
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["logit_diff_hist", "bar_compare"]


def logit_diff_hist(per_prompt: Mapping[str, Sequence[float]], title: str = "Δl per prompt"):
    """Overlaid histograms of per-prompt Δl, one per model (notebook 01)."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    values = [np.asarray(v) for v in per_prompt.values()]
    lo, hi = min(v.min() for v in values), max(v.max() for v in values)
    bins = np.linspace(min(lo, 0.0), hi, 30)
    for (name, v) in zip(per_prompt, values):
        ax.hist(v, bins=bins, alpha=0.55, label=f"{name} (mean {v.mean():.2f})")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("logit(correct) − logit(last element)")
    ax.set_ylabel("prompts")
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def bar_compare(labels: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str, title: str = "",
                hline: float | None = None):
    """Grouped bars: one group per label, one bar per series (notebooks 01, 05)."""
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(labels) + 2), 3.2))
    x = np.arange(len(labels))
    w = 0.8 / max(1, len(series))
    for k, (name, vals) in enumerate(series.items()):
        ax.bar(x + (k - (len(series) - 1) / 2) * w, vals, w, label=name)
    if hline is not None:
        ax.axhline(hline, color="k", lw=0.8, ls="--")
    ax.set_xticks(x, labels, rotation=0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
