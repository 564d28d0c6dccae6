"""Circuits and their components: circuit sizes and scores, what two circuits of a model differ in, the top
components by a value and the top heads of each role (notebooks 02, 03)."""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from ...core.components import Component
from .base import frame

__all__ = ["circuit_table", "circuit_diff_table", "top_components", "role_ranking_table"]


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


def _components_of(c: Any) -> list[Component]:
    return sorted(getattr(c, "components", c))


def circuit_diff_table(first: Mapping[str, Any], second: Mapping[str, Any],
                       names: tuple[str, str] = ("corrected", "study")) -> pd.DataFrame:
    """What changes between two circuits of each model (e.g. the course's pruning rule and the study's): sizes,
    shared components, the components found by only one, and the scores (notebook 02).

    Args:
        first, second: model name → a :class:`~dcirc_utils.methods.discovery.Circuit` (or a sequence of
            components); only the models in both are compared.
        names: how the two circuits are called in the columns.

    Raises:
        ValueError: if the two mappings share no model.
    """
    a, b = names
    models = [m for m in first if m in second]
    if not models:
        raise ValueError(f"no model is in both mappings ({list(first)} vs {list(second)})")
    rows = []
    for m in models:
        ca, cb = _components_of(first[m]), _components_of(second[m])
        sa, sb = set(ca), set(cb)
        rows.append({"model": m, f"{a} size": len(ca), f"{b} size": len(cb), "shared": len(sa & sb),
                     f"only {a}": " ".join(str(c) for c in ca if c not in sb) or "—",
                     f"only {b}": " ".join(str(c) for c in cb if c not in sa) or "—",
                     f"{a} score %": float(getattr(first[m], "score", math.nan)),
                     f"{b} score %": float(getattr(second[m], "score", math.nan))})
    return frame(rows, index="model", digits=1)


def top_components(values: Mapping[Component, float], k: int = 5, largest: bool = True,
                   digits: int = 3, name: str = "value") -> pd.DataFrame:
    """The ``k`` components with the largest (or smallest) values, as a two-column table."""
    order = sorted(values, key=lambda c: values[c], reverse=largest)[:k]
    return frame([{"component": c, name: values[c]} for c in order], index="component", digits=digits)


def role_ranking_table(rows_by_model: Mapping[str, Sequence[Mapping[str, Any]]],
                       reference: Mapping[str, Sequence[str]] | None = None, reference_name: str = "study",
                       marked: Mapping[str, Iterable[Component]] | None = None, digits: int = 2) -> pd.DataFrame:
    """The top heads of each role for several models, next to reference heads (notebook 03's ranked role table).

    Args:
        rows_by_model: model name → rows of :func:`dcirc_utils.methods.heads.role_table`
            (:class:`~dcirc_utils.methods.heads.RoleRank` s, or any mappings with ``role``, ``rank``, ``head``,
            ``score``).
        reference: role → head names of a reference (e.g. the study's named GPT-2 heads), shown in the first
            column (``""`` for a role it does not name); ``None`` leaves the column out.
        reference_name: that column's header.
        marked: model name → heads to mark with ``*`` (e.g. the model's circuit heads).
        digits: decimals of the scores.

    Returns:
        One row per role (first-seen order), index ``role``; one column ``"<model> top <rank>"`` per model and rank,
        each cell ``"<head>[*] <score>"`` (e.g. ``"4.3* 0.23"``), empty where a model has fewer ranked heads.

    Raises:
        ValueError: if a row lacks one of the keys ``role``, ``rank``, ``head``, ``score``.
    """
    roles: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    columns: list[str] = []
    for model, rows in rows_by_model.items():
        mark = set(marked.get(model, ())) if marked else set()
        for r in rows:
            missing = {"role", "rank", "head", "score"} - set(r)
            if missing:
                raise ValueError(f"row {dict(r)} of {model!r} lacks {sorted(missing)}: pass heads.role_table rows")
            if r["role"] not in roles:
                roles.append(r["role"])
            col = f"{model} top {r['rank']}"
            if col not in columns:
                columns.append(col)
            cells[(r["role"], col)] = f"{r['head']}{'*' if r['head'] in mark else ''} {r['score']:.{digits}f}"
    out = []
    for role in roles:
        row: dict[str, Any] = {"role": role}
        if reference is not None:
            row[reference_name] = ", ".join(str(h) for h in reference.get(role, ()))
        row.update({c: cells.get((role, c), "") for c in columns})
        out.append(row)
    return frame(out, index="role")
