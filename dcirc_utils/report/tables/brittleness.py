"""Removal drops: drops per component, student/teacher sensitivity ratios and the study's summaries of the drops
(notebook 05)."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from ...core.components import Component
from .base import _mean, frame

__all__ = ["drops_table", "ratio_table", "drop_summary"]


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


def drop_summary(full_drops: Mapping[str, Mapping[Component, float]],
                 circuit_drops: Mapping[str, Mapping[Component, float]] | None = None, digits: int = 2) -> pd.DataFrame:
    """The study's summaries of removal drops, one row per model (notebook 05; input:
    ``brittleness.full_model_drops`` and ``brittleness.circuit_removal_drops`` per model).

    Columns: ``heads``; ``mean full-model head drop`` (plain mean over every head) and ``… clipped`` (each drop
    clipped with ``min(0, ·)`` first, as the study averaged: its −1.35 for GPT-2 and −7.28 for DistilGPT2); the
    ``largest full-model head drop`` and its head; with ``circuit_drops`` also ``circuit heads``, ``mean circuit-head
    removal drop`` and the largest one with its head (NaN and ``"—"`` when a circuit has no head).

    Args:
        full_drops: model name → {component: full-model drop (pp)}.
        circuit_drops: model name → {circuit component: removal drop (pp)}; ``None`` leaves the circuit columns out.
        digits: decimals of the drops.
    """
    rows = []
    for name, full in full_drops.items():
        heads = {c: float(v) for c, v in full.items() if not c.is_mlp}
        worst = min(heads, key=heads.get) if heads else None
        row: dict[str, Any] = {"model": name, "heads": len(heads),
                               "mean full-model head drop": _mean(list(heads.values())),
                               "mean full-model head drop, clipped": _mean([min(0.0, v) for v in heads.values()]),
                               "largest full-model head drop": heads[worst] if worst else math.nan,
                               "its head": str(worst) if worst else "—"}
        if circuit_drops is not None:
            circ = {c: float(v) for c, v in circuit_drops.get(name, {}).items() if not c.is_mlp}
            cw = min(circ, key=circ.get) if circ else None
            row.update({"circuit heads": len(circ), "mean circuit-head removal drop": _mean(list(circ.values())),
                        "largest circuit-head removal drop": circ[cw] if cw else math.nan,
                        "its circuit head": str(cw) if cw else "—"})
        rows.append(row)
    return frame(rows, index="model", digits=digits)
