"""The generic table: :func:`frame` turns rows (dicts) or a column mapping into a rounded DataFrame; every other
builder of this package ends in it."""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ...core.components import Component

__all__ = ["frame"]


def _clean(v: Any) -> Any:
    if isinstance(v, Component):
        return str(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return v.item()
    return v


def frame(rows: Iterable[Mapping[str, Any]] | Mapping[str, Sequence], columns: Sequence[str] | None = None,
          index: str | None = None, digits: int | Mapping[str, int] = 3) -> pd.DataFrame:
    """A DataFrame of ``rows`` (dicts) or of a column mapping, floats rounded, components printed as the study does.

    Args:
        rows: one dict per row, or ``{column: values}``.
        columns: the columns to keep, in order (default: all, in first-seen order).
        index: a column to use as the index.
        digits: decimals for every float column, or per column (others keep 3).

    Raises:
        ValueError: if a requested column or the index column is missing (no rows give an empty table).
    """
    if isinstance(rows, Mapping):
        df = pd.DataFrame({k: [_clean(v) for v in vs] for k, vs in rows.items()})
    else:
        df = pd.DataFrame([{k: _clean(v) for k, v in r.items()} for r in rows])
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"columns {missing} are not in the rows (they have {list(df.columns)})")
        df = df[list(columns)]
    for col in df.columns:
        if pd.api.types.is_float_dtype(df[col]):
            nd = digits.get(col, 3) if isinstance(digits, Mapping) else digits
            df[col] = df[col].round(nd)
    if index is not None:
        if index not in df.columns:
            if len(df) == 0:         # no rows: an empty table with the index named, not pandas' KeyError
                return pd.DataFrame(index=pd.Index([], name=index))
            raise ValueError(f"index column {index!r} is not in the rows (they have {list(df.columns)})")
        df = df.set_index(index)
    return df


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan
