"""Distribution shift: accuracy, metric and circuit scores of teacher and student on each task variant
(notebooks 05 and 08)."""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ..core.components import Component
from ..core.metrics import DegenerateBaselineError
from ..core.records import Record
from ..core.tasks import make_prompts
from ..engine import Engine
from ..methods.brittleness import circuit_score
from ..methods.evaluation import evaluate_task

__all__ = ["variant_prompts", "ShiftRow", "shift_study", "summarise_shift"]

_LONG = re.compile(r"long(\d)")


def variant_prompts(variant: str, n: int, seed: int, tokenizer):
    """``make_prompts`` for a variant name; ``"long7"``/``"long8"`` pick the long variant's length."""
    m = _LONG.fullmatch(variant)
    if m:
        return make_prompts(n, seed, "long", tokenizer=tokenizer, length=int(m.group(1)))
    return make_prompts(n, seed, variant, tokenizer=tokenizer)


@dataclass(frozen=True, eq=False)
class ShiftRow(Record):
    """One model on one task variant and prompt seed (a row of :func:`shift_study`; reads as a mapping of its
    fields, so :func:`summarise_shift`, :func:`shift_degradation` and tables take it as a dict row).

    Attributes:
        variant: the task variant (``"long7"``: the long variant of length 7).
        model: ``"teacher"`` or ``"student"``.
        n: prompts (0 when the variant could not be made).
        accuracy: share of prompts whose correct answer is the model's top output (0–1).
        value: the mean clean metric (Δl, logits).
        p_correct: the mean probability of the correct answer.
        circuit_score: the circuit's score, in % of the model's clean Δl on the variant (``nan`` without a circuit
            or when the clean value is too close to 0 to be a reference).
        error: ``None``, or why the variant or the score could not be made.
        seed: the prompt seed.
    """

    variant: str
    model: str
    n: int
    accuracy: float
    value: float
    p_correct: float
    circuit_score: float
    error: str | None
    seed: int


def shift_study(pair, variants: Sequence[str] = ("numerals", "number_words", "months", "long", "large"),
                n: int = 100, seed: int | Sequence[int] = 0, circuits: Mapping[str, Iterable[Component]] | None = None,
                chunk_rows: int | None = None) -> list[ShiftRow]:
    """Accuracy, metric and circuit scores of teacher and student on each task variant (notebook 05).

    For each variant and model: :func:`dcirc_utils.methods.evaluation.evaluate_task` on ``n`` prompts; with
    ``circuits`` also the circuit's score on the variant's prompts (an engine on those prompts, everything outside
    the circuit mean-ablated with the variant's own corrupted means), in % of that model's clean Δl on the variant.

    Args:
        pair: a :class:`~dcirc_utils.models.pairs.ModelPair`.
        variants: task variants (:data:`dcirc_utils.core.tasks.VARIANTS`; ``"long7"``/``"long8"`` pick the long
            variant's length).
        n, seed: prompts per variant and the generator seed; several seeds give one row per seed (independent
            prompt sets, for the spread of every measure: :func:`summarise_shift`).
        circuits: ``{"teacher": components, "student": components}`` (either may be left out).
        chunk_rows: passed to the engines.

    Returns:
        One :class:`ShiftRow` per (seed, variant, model): ``variant``, ``model`` (``"teacher"``/``"student"``),
        ``n``, ``accuracy``, ``value`` (mean Δl), ``p_correct``, ``circuit_score`` (``nan`` without a circuit or
        when the clean value is too close to 0 to be a reference), ``error`` (``None``, or why the variant could
        not be made for this tokenizer), ``seed``.
    """
    if not isinstance(seed, int):
        return [row for s in seed for row in shift_study(pair, variants, n, s, circuits, chunk_rows)]
    rows: list[ShiftRow] = []
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
                rows.append(ShiftRow(variant=variant, model=role, n=0, accuracy=math.nan, value=math.nan,
                                     p_correct=math.nan, circuit_score=math.nan, error=str(err), seed=seed))
            continue
        for role, adapter in pair.models.items():
            ev = evaluate_task(adapter, prompts, corrupted=False)
            score, error = math.nan, None
            if role in circuits:
                try:
                    engine = Engine.for_prompts(adapter, prompts, chunk_rows=chunk_rows, progress=False)
                    score = circuit_score(engine, circuits[role])
                except DegenerateBaselineError as err:
                    error = f"circuit score undefined: {err}"
            rows.append(ShiftRow(variant=variant, model=role, n=ev.n, accuracy=ev.accuracy, value=ev.value,
                                 p_correct=ev.p_correct, circuit_score=score, error=error, seed=seed))
    return rows


def summarise_shift(rows: Sequence[Mapping],
                    measures: Sequence[str] = ("accuracy", "value", "circuit_score")) -> list[dict]:
    """Mean and standard deviation over seeds (ddof = 1; 0 for one seed) of each measure per (variant, model)
    (notebooks 05 and 08). NaN values (undefined scores) are left out; a measure with none left is NaN.

    The rows stay dicts: their columns are named after ``measures`` (``"<measure>"`` and ``"<measure> std"``)."""
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


def undefined_unless_solved(rows: Sequence[Mapping], min_value: float = 1.0) -> list[Mapping]:
    """Copies of :func:`shift_study` rows whose circuit score is set to NaN, with the reason in ``error``, where the
    model does not solve the variant: its clean metric (mean Δl) is below ``min_value`` (notebooks 05 and 08).

    A circuit score is a percentage of the model's clean Δl on the variant. The engine refuses only a baseline whose
    magnitude is below :data:`~dcirc_utils.core.metrics.MIN_CLEAN_LOGIT_DIFF`, so a small or *negative* Δl (the
    ``small`` pair on ``verb_shift``: about −0.2 ± 0.5 over seeds) still yields a number, which means nothing.

    Args:
        rows: :func:`shift_study` rows.
        min_value: the smallest clean metric for which the circuit score is kept (1.0 logit: the correct answer is
            preferred by at least a factor e on average).

    Returns:
        New rows (the input is not changed): a :class:`ShiftRow` for a :class:`ShiftRow`, a dict for any other
        mapping (e.g. a row a notebook extended with ``dict(row, model=...)``); rows already carrying an error keep
        it.
    """
    out = []
    for r in rows:
        value = r.get("value", math.nan)
        change = {}
        if not (value >= min_value) and not math.isnan(float(r.get("circuit_score", math.nan))):
            change = {"circuit_score": math.nan,
                      "error": r.get("error") or (f"circuit score undefined: clean Δl {value:.2f} < {min_value:g} "
                                                  "(the model does not solve this variant)")}
        out.append(dataclasses.replace(r, **change) if isinstance(r, ShiftRow) else dict(r, **change))
    return out


#: how :func:`shift_degradation` measures the loss of each measure from the baseline variant
DEGRADATION_UNITS = {"accuracy": "pp of accuracy", "value": "% of the baseline Δl", "circuit_score": "pp of score"}


def shift_degradation(rows: Sequence[Mapping], first: str = "teacher", second: str = "student",
                      baseline: str = "numerals", measures: Sequence[str] = ("accuracy", "value", "circuit_score"),
                      k: float = 2.0, min_effect: float = 1.0) -> list[dict]:
    """Does ``second`` degrade faster than ``first`` under each shift? Paired over seeds (notebooks 05 and 08).

    For each seed, variant and measure, a model's *loss* is how far the measure falls from the same seed's
    ``baseline`` variant: accuracy in percentage points, Δl (``value``) in % of its baseline Δl, circuit score in
    percentage points. The gap ``loss(second) − loss(first)`` is taken per seed (both models read the same prompts),
    then averaged. The verdict is ``"<second> faster"`` or ``"<first> faster"`` when ``|mean gap| > k · std`` of the
    gap over seeds and ``|mean gap| ≥ min_effect``; ``"within spread"`` otherwise; ``"undefined"`` when a seed lacks
    a value (e.g. a circuit score undefined because a model does not solve the variant).

    Args:
        rows: :func:`shift_study` rows with a ``seed`` (several seeds) and both models (``model`` names).
        first, second: the two models' names in ``rows``.
        baseline: the in-distribution variant losses are measured from.
        measures: any of :data:`DEGRADATION_UNITS`.
        k: how many standard deviations of the gap a decided difference must exceed.
        min_effect: the smallest gap (in the measure's units) that counts as a difference.

    Returns:
        One dict per (variant, measure), variants in their order in ``rows`` (the baseline left out): ``variant``,
        ``measure``, ``units``, ``<first> loss``, ``<second> loss`` (means over seeds), ``gap``, ``gap std``,
        ``seeds``, ``verdict`` (dicts: two columns are named after the models).

    Raises:
        ValueError: for an unknown measure, or when ``rows`` lack the baseline or a model.
    """
    unknown = [m for m in measures if m not in DEGRADATION_UNITS]
    if unknown:
        raise ValueError(f"unknown measures {unknown}; known: {sorted(DEGRADATION_UNITS)}")
    table: dict[tuple[str, str, int], dict] = {}
    variants: list[str] = []
    for r in rows:
        table[(r["variant"], r["model"], r.get("seed", 0))] = r
        if r["variant"] not in variants:
            variants.append(r["variant"])
    seeds = sorted({key[2] for key in table})
    for model in (first, second):
        if not any((baseline, model, s) in table for s in seeds):
            raise ValueError(f"rows have no {baseline!r} row for model {model!r}: run shift_study with the baseline "
                             "variant and both models")

    def loss(model: str, variant: str, seed: int, measure: str) -> float:
        b, v = table.get((baseline, model, seed)), table.get((variant, model, seed))
        if b is None or v is None:
            return math.nan
        x0, x = float(b[measure]), float(v[measure])
        if measure == "accuracy":
            return 100.0 * (x0 - x)
        if measure == "value":
            return 100.0 * (1.0 - x / x0) if x0 > 0 else math.nan
        return x0 - x

    out = []
    for variant in variants:
        if variant == baseline:
            continue
        for m in measures:
            l1 = [loss(first, variant, s, m) for s in seeds]
            l2 = [loss(second, variant, s, m) for s in seeds]
            gaps = [b - a for a, b in zip(l1, l2)]
            defined = not any(math.isnan(g) for g in gaps)
            mean_gap = sum(gaps) / len(gaps) if defined else math.nan
            sd = (math.sqrt(sum((g - mean_gap) ** 2 for g in gaps) / (len(gaps) - 1)) if defined and len(gaps) > 1
                  else (0.0 if defined else math.nan))
            if not defined:
                verdict = "undefined"
            elif abs(mean_gap) > k * sd and abs(mean_gap) >= min_effect:
                verdict = f"{second} faster" if mean_gap > 0 else f"{first} faster"
            else:
                verdict = "within spread"

            def mean(xs):
                xs = [x for x in xs if not math.isnan(x)]
                return sum(xs) / len(xs) if xs else math.nan

            out.append({"variant": variant, "measure": m, "units": DEGRADATION_UNITS[m], f"{first} loss": mean(l1),
                        f"{second} loss": mean(l2), "gap": mean_gap, "gap std": sd, "seeds": len(seeds),
                        "verdict": verdict})
    return out


__all__ += ["undefined_unless_solved", "DEGRADATION_UNITS", "shift_degradation"]
