"""Distribution shift: accuracy, metric and circuit scores of teacher and student on each task variant
(notebooks 05 and 08)."""
from __future__ import annotations

import math
import re
from typing import Iterable, Mapping, Sequence

from ..core.components import Component
from ..core.metrics import DegenerateBaselineError
from ..core.tasks import make_prompts
from ..engine import Engine
from ..methods.brittleness import circuit_score
from ..methods.evaluation import evaluate

__all__ = ["variant_prompts", "shift_study", "summarise_shift"]

_LONG = re.compile(r"long(\d)")


def variant_prompts(variant: str, n: int, seed: int, tokenizer):
    """``make_prompts`` for a variant name; ``"long7"``/``"long8"`` pick the long variant's length."""
    m = _LONG.fullmatch(variant)
    if m:
        return make_prompts(n, seed, "long", tokenizer=tokenizer, length=int(m.group(1)))
    return make_prompts(n, seed, variant, tokenizer=tokenizer)


def shift_study(pair, variants: Sequence[str] = ("numerals", "number_words", "months", "long", "large"),
                n: int = 100, seed: int | Sequence[int] = 0, circuits: Mapping[str, Iterable[Component]] | None = None,
                chunk_rows: int | None = None) -> list[dict]:
    """Accuracy, metric and circuit scores of teacher and student on each task variant (notebook 05).

    For each variant and model: :func:`dcirc_utils.methods.evaluation.evaluate` on ``n`` prompts; with ``circuits``
    also the circuit's score on the variant's prompts (an engine on those prompts, everything outside the circuit
    mean-ablated with the variant's own corrupted means), in % of that model's clean Δl on the variant.

    Args:
        pair: a :class:`~dcirc_utils.models.pairs.ModelPair`.
        variants: task variants (:data:`dcirc_utils.core.tasks.VARIANTS`; ``"long7"``/``"long8"`` pick the long
            variant's length).
        n, seed: prompts per variant and the generator seed; several seeds give one row per seed (independent
            prompt sets, for the spread of every measure: :func:`summarise_shift`).
        circuits: ``{"teacher": components, "student": components}`` (either may be left out).
        chunk_rows: passed to the engines.

    Returns:
        One dict per (variant, model): ``variant``, ``model`` (``"teacher"``/``"student"``), ``n``, ``accuracy``,
        ``value`` (mean Δl), ``p_correct``, ``circuit_score`` (``nan`` without a circuit or when the clean value is
        too close to 0 to be a reference), ``error`` (``None``, or why the variant could not be made for this
        tokenizer).
    """
    if not isinstance(seed, int):
        return [dict(row, seed=s) for s in seed for row in shift_study(pair, variants, n, s, circuits, chunk_rows)]
    rows: list[dict] = []
    circuits = dict(circuits or {})
    unknown = set(circuits) - {"teacher", "student"}
    if unknown:
        raise ValueError(f"circuits are keyed by 'teacher' and 'student', got {sorted(unknown)}")
    for variant in variants:
        try:
            prompts = variant_prompts(variant, n, seed, pair.tokenizer)
            prompts.tokens(pair.tokenizer), prompts.tokens(pair.tokenizer, "corrupted")
        except ValueError as err:
            for role in ("teacher", "student"):
                rows.append({"variant": variant, "model": role, "n": 0, "accuracy": math.nan, "value": math.nan,
                             "p_correct": math.nan, "circuit_score": math.nan, "error": str(err)})
            continue
        for role, adapter in pair.models.items():
            ev = evaluate(adapter, prompts, corrupted=False)
            row = {"variant": variant, "model": role, "n": ev["n"], "accuracy": ev["accuracy"], "value": ev["value"],
                   "p_correct": ev["p_correct"], "circuit_score": math.nan, "error": None}
            if role in circuits:
                try:
                    engine = Engine.for_prompts(adapter, prompts, chunk_rows=chunk_rows, progress=False)
                    row["circuit_score"] = circuit_score(engine, circuits[role])
                except DegenerateBaselineError as err:
                    row["error"] = f"circuit score undefined: {err}"
            rows.append(row)
    return rows


def summarise_shift(rows: Sequence[dict], measures: Sequence[str] = ("accuracy", "value", "circuit_score")) -> list[dict]:
    """Mean and standard deviation over seeds (ddof = 1; 0 for one seed) of each measure per (variant, model)
    (notebooks 05 and 08). NaN values (undefined scores) are left out; a measure with none left is NaN."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["model"]), []).append(r)
    out = []
    for (variant, model), rs in groups.items():
        row = {"variant": variant, "model": model, "seeds": len(rs)}
        for m in measures:
            vals = [float(r[m]) for r in rs if r.get(m) is not None and not math.isnan(float(r[m]))]
            row[m] = sum(vals) / len(vals) if vals else math.nan
            row[m + " std"] = (math.sqrt(sum((v - row[m]) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1
                               else (0.0 if vals else math.nan))
        out.append(row)
    return out
