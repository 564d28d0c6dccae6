"""How well models do the task: per-model evaluation, an offline pair's held-out prompt sets, the corpus it was
trained on and the students of a depth sweep (notebooks 01, 05, 09)."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from .base import frame

__all__ = ["evaluation_table", "offline_eval_table", "token_share_table", "sweep_table"]


def evaluation_table(results: Mapping[str, Mapping[str, Any]], digits: int = 3) -> pd.DataFrame:
    """One row per model from :func:`dcirc_utils.methods.evaluation.evaluate_task` results (notebooks 01, 05)."""
    rows = [{"model": name, "accuracy": r["accuracy"], "value": r["value"], "± std": r["value_std"],
             "corrupted value": r["corrupted_value"], "p(correct)": r["p_correct"]} for name, r in results.items()]
    return frame(rows, index="model", digits=digits)


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
