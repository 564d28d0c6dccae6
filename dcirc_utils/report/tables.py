"""Tables as pandas DataFrames, from plain results (every notebook).

Notebooks show DataFrames, not hand-formatted print tables: a DataFrame renders as a readable HTML table in Jupyter
and on the report site, keeps its numbers machine-readable, and prints deterministically once rounded. Each builder
here turns the plain data a method returns into one table; :func:`frame` is the generic one.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.components import Component, pair_label

__all__ = ["frame", "evaluation_table", "circuit_table", "drops_table", "ratio_table", "alignment_table",
           "matches_table", "top_components"]


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
        ValueError: if a requested column is missing.
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
        df = df.set_index(index)
    return df


def evaluation_table(results: Mapping[str, Mapping[str, Any]], digits: int = 3) -> pd.DataFrame:
    """One row per model from :func:`dcirc_utils.methods.evaluation.evaluate` results (notebooks 01, 05)."""
    rows = [{"model": name, "accuracy": r["accuracy"], "value": r["value"], "± std": r["value_std"],
             "corrupted value": r["corrupted_value"], "p(correct)": r["p_correct"]} for name, r in results.items()]
    return frame(rows, index="model", digits=digits)


def circuit_table(circuits: Mapping[str, Any], totals: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Circuit size and score per model (notebook 02): ``circuits`` maps a name to a
    :class:`~dcirc_utils.methods.discovery.Circuit`; ``totals`` gives each model's number of components."""
    rows = []
    for name, c in circuits.items():
        total = (totals or {}).get(name)
        rows.append({"circuit": name, "heads": len(c.heads), "MLPs": len(c.mlps), "of": total,
                     "kept %": 100.0 * len(c.components) / total if total else math.nan, "score %": c.score,
                     "sweeps": c.n_sweeps})
    return frame(rows, index="circuit", digits=1)


def drops_table(drops: Mapping[str, Mapping[Component, float]], sort_by: str | None = None,
                digits: int = 2) -> pd.DataFrame:
    """Components as rows, one column per kind of drop (e.g. ``{"removed from circuit": ..., "ablated from full
    model": ...}``); a component missing from a column gets NaN (notebook 05)."""
    comps = sorted({c for d in drops.values() for c in d})
    rows = [{"component": c, **{k: d.get(c, math.nan) for k, d in drops.items()}} for c in comps]
    df = frame(rows, index="component", digits=digits)
    return df.sort_values(sort_by, kind="stable") if sort_by else df


def ratio_table(rows: Sequence[Any], digits: int = 2) -> pd.DataFrame:
    """:func:`dcirc_utils.methods.brittleness.sensitivity_ratios` rows as a table (notebook 05)."""
    return frame([{"student": r.student, "teacher": r.teacher, "student drop": r.student_drop,
                   "teacher drop": r.teacher_drop, "ratio": r.ratio, "flagged": r.flagged} for r in rows],
                 digits=digits)


def alignment_table(result: Any, digits: int = 3) -> pd.DataFrame:
    """The per-pair terms of an :class:`~dcirc_utils.methods.alignment.AlignmentResult` (notebook 06)."""
    return frame([{"pair": pair_label(r["teacher"], r["student"]), "kind": r["kind"], "S": r["similarity"],
                   "I^S": r["student_influence"], "I^T": r["teacher_influence"], "term": r["term"]}
                  for r in result.rows], index="pair", digits=digits)


def matches_table(matches: Sequence[Any], digits: int = 3) -> pd.DataFrame:
    """:class:`~dcirc_utils.methods.matching.Match` es as a table with the pair label (notebooks 03, 05, 06)."""
    return frame([{"pair": pair_label(m.teacher, m.student), "student": m.student, "teacher": m.teacher,
                   "similarity": m.similarity} for m in matches], index="pair", digits=digits)


def top_components(values: Mapping[Component, float], k: int = 5, largest: bool = True,
                   digits: int = 3, name: str = "value") -> pd.DataFrame:
    """The ``k`` components with the largest (or smallest) values, as a two-column table."""
    order = sorted(values, key=lambda c: values[c], reverse=largest)[:k]
    return frame([{"component": c, name: values[c]} for c in order], index="component", digits=digits)
