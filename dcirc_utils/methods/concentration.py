"""How concentrated a model's influence is: the Gini coefficient and the top share (notebooks 05, 06, 08).

Pure functions of non-negative numbers (influences, |drops|); plots (``report.plots.concentration_curve``) use them.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["gini", "top_share", "lorenz_curve"]


def _nonneg(values: Any, name: str = "values") -> np.ndarray:
    if isinstance(values, Mapping):
        values = list(values.values())
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError(f"{name} is empty: pass at least one value")
    if not np.all(np.isfinite(x)) or (x < 0).any():
        raise ValueError(f"{name} must be finite and non-negative (e.g. influences or |drops|); take abs() of "
                         "signed drops first")
    return x


def gini(values: Any) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, ``(n−1)/n`` when one holds everything
    (notebook 05: how concentrated a model's influence is).

    ``G = Σ_i Σ_j |x_i − x_j| / (2 n² x̄)``, computed from the sorted values as
    ``G = 2 Σ_k k·x_(k) / (n Σ x) − (n + 1)/n`` (k = 1..n, ascending).

    Args:
        values: a sequence, array, tensor or dict (its values) of non-negative numbers.

    Raises:
        ValueError: on negative, NaN or all-zero values (the coefficient is then undefined).
    """
    x = np.sort(_nonneg(values))
    n, total = x.size, float(x.sum())
    if total <= 0.0:
        raise ValueError("every value is zero: the Gini coefficient is undefined (0/0)")
    k = np.arange(1, n + 1)
    return float(2.0 * np.sum(k * x) / (n * total) - (n + 1.0) / n)


def top_share(values: Any, k: int = 1) -> float:
    """Share of the total held by the ``k`` largest values (notebook 05; e.g. the top head's share of influence).

    Raises:
        ValueError: on negative or all-zero values, or ``k < 1``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    x = np.sort(_nonneg(values))[::-1]
    total = float(x.sum())
    if total <= 0.0:
        raise ValueError("every value is zero: shares of the total are undefined")
    return float(x[:k].sum() / total)


def lorenz_curve(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of the total held by the top-``k`` values, against ``k / n`` (notebook 05's figure).

    Returns:
        ``(fraction of components, cumulative share)``, both starting at 0, most influential first.

    Raises:
        ValueError: on negative or all-zero values.
    """
    x = np.sort(_nonneg(values))[::-1]
    total = float(x.sum())
    if total <= 0.0:
        raise ValueError("every value is zero: shares of the total are undefined")
    return np.arange(0, x.size + 1) / x.size, np.concatenate([[0.0], np.cumsum(x) / total])
