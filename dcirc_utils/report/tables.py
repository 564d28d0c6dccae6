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
           "matches_table", "top_components", "role_ranking_table"]


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


# --------------------------------------------------------------------------------------------- notebooks 02, 09
def _value_of(entry: Mapping[str, Any]) -> float:
    """The metric of one model's ``eval.json`` entry: Δl, or greater-than's probability difference."""
    for key in ("logit_diff", "prob_diff", "value"):
        if key in entry:
            return float(entry[key])
    return math.nan


def offline_eval_table(prompts: Mapping[str, Mapping[str, Any]], models: Mapping[str, str] | Sequence[str] = (
        "teacher", "student", "student_init"), digits: int = 2, example: bool = False) -> pd.DataFrame:
    """An offline pair's held-out evaluation (``eval.json``'s ``"prompts"``, or a sweep student's) as one row per
    prompt set: top-1 accuracy (%) and the task metric (Δl; greater-than: P(later) − P(earlier or same)) of each
    model (notebook 09).

    Args:
        prompts: ``{set: {"n", "example", "metric"?, model: {"top1", "logit_diff" | "prob_diff", ...}}}`` as
            ``offline.distill.evaluate_prompts`` writes it.
        models: the model keys to show, in order, or ``{key: column name}``; a key missing from every set is
            skipped.
        digits: decimals of the metric columns (accuracy keeps 1).
        example: add the set's example prompt as a column.

    Raises:
        ValueError: if no set has any of ``models``.
    """
    names = dict(models) if isinstance(models, Mapping) else {m: m for m in models}
    present = [m for m in names if any(m in e for e in prompts.values())]
    if not present:
        raise ValueError(f"no prompt set has any of the models {list(names)}; its models are "
                         f"{sorted({k for e in prompts.values() for k, v in e.items() if isinstance(v, Mapping)})}")
    rows = []
    for key, entry in prompts.items():
        row: dict[str, Any] = {"set": key, "metric": entry.get("metric", "Δl"), "n": entry.get("n")}
        if example:
            row["example"] = entry.get("example", "")
        for m in present:
            e = entry.get(m)
            row[f"{names[m]} top-1 %"] = 100.0 * float(e["top1"]) if e else math.nan
            row[f"{names[m]} metric"] = _value_of(e) if e else math.nan
        rows.append(row)
    acc = {c: 1 for r in rows for c in r if c.endswith("top-1 %")}
    return frame(rows, index="set", digits={**{c: digits for r in rows for c in r}, **acc})


def token_share_table(shares: Mapping[str, Mapping[str, float]], digits: int = 1) -> pd.DataFrame:
    """Documents and tokens per corpus kind, largest token share first, with the three template kinds together as
    the last row (notebook 09; input: ``offline.corpus.token_shares`` or ``training_log.json``'s
    ``corpus.token_shares_first_20000_docs``).

    Raises:
        ValueError: if ``shares`` has no kind.
    """
    kinds = [k for k in shares if k != "template_family"]
    if not kinds:
        raise ValueError("no document kind in the token shares")
    kinds.sort(key=lambda k: -float(shares[k]["token_share"]))
    rows = [{"kind": k, "documents": int(shares[k]["docs"]), "tokens": int(shares[k]["tokens"]),
             "documents %": 100.0 * float(shares[k]["doc_share"]), "tokens %": 100.0 * float(shares[k]["token_share"])}
            for k in kinds]
    if "template_family" in shares:
        f = shares["template_family"]
        rows.append({"kind": "template family (3 kinds)", "documents": int(f["docs"]), "tokens": int(f["tokens"]),
                     "documents %": 100.0 * float(f["doc_share"]), "tokens %": 100.0 * float(f["token_share"])})
    return frame(rows, index="kind", digits=digits)


def sweep_table(students: Mapping[str, Mapping[str, Any]], sets: Sequence[str] = ("numerals",),
                digits: int = 3) -> pd.DataFrame:
    """Students of several depths, one row each: layers, the teacher blocks they copy, parameters, KL to the
    teacher before and after distillation, and top-1 (%) and metric on ``sets`` after and at init (notebook 09;
    input: ``sweep.json``'s ``"students"``, optionally with the shipped student added under its depth).

    Args:
        students: depth (as text) → ``{"layer_map", "params", "prompts", "kl_to_teacher", "init_kl_to_teacher"}``
            where ``prompts`` is as in ``eval.json`` with ``"student"`` and ``"student_init"`` entries and the two
            KL entries are ``{"kl": ...}`` (or a number).
        sets: prompt sets to show (a missing set gives NaN).
        digits: decimals of the KL and metric columns.
    """
    def kl(v):
        return float(v["kl"]) if isinstance(v, Mapping) else (math.nan if v is None else float(v))

    rows = []
    for depth in sorted(students, key=lambda d: int(d)):
        s = students[depth]
        row: dict[str, Any] = {"student layers": int(depth), "copies teacher blocks": " ".join(
            str(b) for b in s.get("layer_map", [])), "parameters": s.get("params"),
            "KL at init": kl(s.get("init_kl_to_teacher")), "KL after": kl(s.get("kl_to_teacher"))}
        for name in sets:
            entry = s.get("prompts", {}).get(name, {})
            for role, label in (("student", "after"), ("student_init", "at init")):
                e = entry.get(role)
                row[f"{name} top-1 % {label}"] = 100.0 * float(e["top1"]) if e else math.nan
                row[f"{name} metric {label}"] = _value_of(e) if e else math.nan
        rows.append(row)
    acc = {c: 1 for r in rows for c in r if "top-1" in c}
    return frame(rows, index="student layers", digits={**{c: digits for r in rows for c in r}, **acc})


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


__all__ += ["offline_eval_table", "token_share_table", "sweep_table", "circuit_diff_table"]


def role_ranking_table(rows_by_model: Mapping[str, Sequence[Mapping[str, Any]]],
                       reference: Mapping[str, Sequence[str]] | None = None, reference_name: str = "study",
                       marked: Mapping[str, Iterable[Component]] | None = None, digits: int = 2) -> pd.DataFrame:
    """The top heads of each role for several models, next to reference heads (notebook 03's ranked role table).

    Args:
        rows_by_model: model name → rows of :func:`dcirc_utils.methods.heads.role_table` (dicts with ``role``,
            ``rank``, ``head``, ``score``).
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


# --------------------------------------------------------------------------------------------- notebook 06
#: what each field of a :class:`~dcirc_utils.methods.recipes.Recipe` decides (the rows of :func:`recipe_table`)
RECIPE_FIELDS = {
    "ablation": "how one component is removed for its influence",
    "clamp_mlp": "MLP scores clamped at ≥ 0 for",
    "round_to": "influence |score − 100| rounded to (decimals)",
    "normalise_over": "influences normalised over",
    "mlp_similarity": "MLP similarity S",
    "tie": "which maximum wins a tie in head matching",
    "duplicate_below": "head matches counted twice when S is below",
    "bos": "BOS prepended for patterns and MLP outputs",
    "source": "where the recipe comes from",
}


def recipe_table(recipes: Sequence[Any]) -> pd.DataFrame:
    """Several recipes for the alignment metric A side by side: one row per ingredient (:data:`RECIPE_FIELDS`), one
    column per recipe (its ``name``), and whether every recipe makes the same choice (notebook 06; input:
    :class:`~dcirc_utils.methods.recipes.Recipe` s such as ``COURSE`` and ``STUDY_SEQUENCE``).

    Raises:
        ValueError: for no recipe, or two recipes with the same name.
    """
    recipes = list(recipes)
    if not recipes:
        raise ValueError("give at least one Recipe")
    names = [r.name for r in recipes]
    if len(set(names)) != len(names):
        raise ValueError(f"recipes need distinct names to be columns, got {names}")
    rows = []
    for field_name, meaning in RECIPE_FIELDS.items():
        values = ["—" if getattr(r, field_name) is None else str(getattr(r, field_name)) for r in recipes]
        rows.append({"ingredient": field_name, "what it decides": meaning, **dict(zip(names, values)),
                     "same in all": "" if field_name == "source" else ("yes" if len(set(values)) == 1 else "no")})
    return frame(rows, index="ingredient")


__all__ += ["RECIPE_FIELDS", "recipe_table"]


# --------------------------------------------------------------------------------------------- notebook 05
def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


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


def init_map_table(head_matches: Sequence[Any], mlp_matches: Sequence[Any], layer_map: Sequence[int],
                   digits: int = 3) -> pd.DataFrame:
    """Does matching recover the initialisation map? One row per student layer: the teacher block it was copied
    from, how many of its heads were matched to the head they were copied from (same index in that block), their
    mean similarity, and the teacher MLP its MLP was matched to (notebook 05; input: ``matching.study_matches`` and
    ``core.components.student_layer_map``).

    Raises:
        ValueError: if ``layer_map`` does not have one teacher block per student layer that has a match.
    """
    layers = sorted({m.student.layer for m in list(head_matches) + list(mlp_matches)})
    if layers and layers[-1] >= len(layer_map):
        raise ValueError(f"layer_map has {len(layer_map)} entries but the matches reach student layer {layers[-1]}")
    rows = []
    for layer in layers:
        hs = [m for m in head_matches if m.student.layer == layer]
        mlp = [m for m in mlp_matches if m.student.layer == layer]
        src = int(layer_map[layer])
        rows.append({"student layer": layer, "copied from block": src,
                     "heads matched to their source": sum(m.teacher == Component(src, m.student.head) for m in hs),
                     "of": len(hs), "mean S of its heads": _mean([m.similarity for m in hs]),
                     "its MLP matched to": str(mlp[0].teacher) if mlp else "—",
                     "MLP S": mlp[0].similarity if mlp else math.nan})
    return frame(rows, index="student layer", digits=digits)


__all__ += ["drop_summary", "init_map_table"]
