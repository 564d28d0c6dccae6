"""The study's open questions, answered on pairs this course trains (notebook 08).

Statistics used there: Pearson and partial correlations with percentile-bootstrap intervals (small samples: a few
students × tasks), so that "A predicts robustness" is a stated interval, not an impression.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["correlation_ci", "partial_correlation_ci"]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.std() == 0 or y.std() == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def correlation_ci(x: Sequence[float], y: Sequence[float], n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """Pearson's r of ``x`` and ``y`` with a percentile bootstrap interval (notebook 08).

    Each resample draws ``n`` indices with ``numpy.random.default_rng(seed).integers(0, n, n)``; resamples in which
    ``x`` or ``y`` is constant are skipped.

    Returns:
        ``(r, low, high)``; the interval is ``(nan, nan)`` when fewer than 10 resamples are usable.

    Raises:
        ValueError: if the inputs differ in length, hold NaN, or have fewer than 3 points.
    """
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"x ({xa.shape}) and y ({ya.shape}) must be 1-D and of one length (paired observations)")
    if not (np.isfinite(xa).all() and np.isfinite(ya).all()):
        raise ValueError("x and y must be finite: drop the observations whose measure is undefined first")
    if len(xa) < 3:
        raise ValueError(f"{len(xa)} points cannot estimate a correlation; need at least 3")
    r = _pearson(xa, ya)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(xa), len(xa))
        v = _pearson(xa[idx], ya[idx])
        if not math.isnan(v):
            boots.append(v)
    if len(boots) < 10:
        return r, math.nan, math.nan
    lo, hi = np.quantile(boots, [(1 - level) / 2, 1 - (1 - level) / 2])
    return r, float(lo), float(hi)


def _residual(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.ones_like(z), z])
    coef, *_ = np.linalg.lstsq(design, a, rcond=None)
    return a - design @ coef


def partial_correlation_ci(x: Sequence[float], y: Sequence[float], z: Sequence[float], n_boot: int = 2000,
                           seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """The correlation of ``x`` and ``y`` with ``z`` partialled out (both regressed on ``z``, residuals correlated),
    with a percentile bootstrap interval over resampled triples (notebook 08: does A tell anything about robustness
    beyond accuracy?).

    Raises:
        ValueError: as :func:`correlation_ci`, and for fewer than 4 points.
    """
    xa, ya, za = (np.asarray(v, dtype=float) for v in (x, y, z))
    if not (xa.shape == ya.shape == za.shape) or xa.ndim != 1:
        raise ValueError("x, y and z must be 1-D and of one length")
    if len(xa) < 4:
        raise ValueError(f"{len(xa)} points cannot estimate a partial correlation; need at least 4")
    if not (np.isfinite(xa).all() and np.isfinite(ya).all() and np.isfinite(za).all()):
        raise ValueError("x, y and z must be finite")

    def pc(i):
        return _pearson(_residual(xa[i], za[i]), _residual(ya[i], za[i]))

    r = pc(np.arange(len(xa)))
    rng = np.random.default_rng(seed)
    boots = [v for v in (pc(rng.integers(0, len(xa), len(xa))) for _ in range(n_boot)) if not math.isnan(v)]
    if len(boots) < 10:
        return r, math.nan, math.nan
    lo, hi = np.quantile(boots, [(1 - level) / 2, 1 - (1 - level) / 2])
    return r, float(lo), float(hi)
