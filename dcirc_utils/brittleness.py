"""How brittle a circuit is: removal drops, teacher/student sensitivity ratios, concentration, backup heads and
distribution shift (notebook 05).

Every ablation goes through :class:`dcirc_utils.engine.Engine` (mean ablation over the corrupted prompts); results
are plain data (dicts, lists of rows, numpy arrays) that :mod:`dcirc_utils.plots` draws and the cache stores.

Conventions (the study's, ``data/reference/paper-results.md``): a *score* is ``100 · Δl / Δl_clean`` of the full
model; a *drop* is the change of the score, in percentage points, when a component is removed — negative when the
removal hurts (the study's teacher head 0.1: −44.29 when removed from its circuit).
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
from jaxtyping import Float

from .engine import Component, Engine, parse_component

__all__ = ["circuit_score", "circuit_removal_drops", "full_model_drops", "SensitivityRow", "sensitivity_ratios",
           "gini", "top_share", "BackupRow", "BackupResult", "backup_heads", "shift_study", "drops_grid"]


def _check_components(engine: Engine, components: Iterable[Component], what: str) -> list[Component]:
    comps = sorted(set(components))
    known = set(engine.components)
    unknown = [c for c in comps if c not in known]
    if unknown:
        raise ValueError(f"{what} {unknown[:5]} are not components of this model ({engine.n_layers} layers × "
                         f"{engine.n_heads} heads): was the circuit found on the other model of the pair?")
    return comps


def circuit_score(engine: Engine, circuit_components: Iterable[Component]) -> float:
    """Score (% of the full model's clean Δl) of a circuit: everything outside it mean-ablated (notebook 05)."""
    circuit = _check_components(engine, circuit_components, "circuit components")
    outside = [c for c in engine.components if c not in set(circuit)]
    return engine.score(engine.logit_diffs([[]], engine.mean_ablation(outside))[0])


def circuit_removal_drops(engine: Engine, circuit_components: Iterable[Component],
                          components: Sequence[Component] | None = None) -> dict[Component, float]:
    """Drop of the circuit's score when each of its components is removed from it (notebook 05).

    Everything outside the circuit is mean-ablated; removing ``c`` mean-ablates it too. The drop is
    ``score(circuit − c) − score(circuit)`` in percentage points of the full model's clean Δl (negative when ``c``
    matters), the study's brittleness measure.

    Args:
        engine: the model and prompts.
        circuit_components: the circuit (e.g. ``Circuit.components``).
        components: the circuit components to remove one at a time (default: all of them).

    Raises:
        ValueError: if a component is not part of the model, or one to remove is not part of the circuit.
    """
    circuit = _check_components(engine, circuit_components, "circuit components")
    targets = circuit if components is None else _check_components(engine, components, "components to remove")
    outside_circuit = [c for c in targets if c not in set(circuit)]
    if outside_circuit:
        raise ValueError(f"{outside_circuit[:5]} are not in the circuit, so they cannot be removed from it; "
                         "use full_model_drops for components outside the circuit")
    outside = [c for c in engine.components if c not in set(circuit)]
    base = engine.mean_ablation(outside)
    # the circuit itself (empty variant) and each removal, in one batched call
    lds = engine.logit_diffs([[]] + [engine.mean_ablation([c]) for c in targets], base, desc="circuit removals")
    ref = engine.score(lds[0])
    return {c: engine.score(v) - ref for c, v in zip(targets, lds[1:])}


def full_model_drops(engine: Engine, components: Sequence[Component] | None = None) -> dict[Component, float]:
    """Drop of the full model's score when each component alone is mean-ablated: ``score(full − c) − 100``
    (notebook 05; the study's "full-model head ablation")."""
    comps = None if components is None else _check_components(engine, components, "components")
    return {c: engine.score(v) - 100.0 for c, v in engine.ablation_scan(comps, desc="full-model drops").items()}


# --------------------------------------------------------------------------------------------- sensitivity ratios
class SensitivityRow(NamedTuple):
    """One matched pair: the student component's drop against its teacher counterpart's (notebook 05)."""

    student: Component
    teacher: Component
    student_drop: float
    teacher_drop: float
    ratio: float
    flagged: bool


def sensitivity_ratios(student_drops: Mapping[Component, float], teacher_drops: Mapping[Component, float],
                       matches: Any, threshold: float = 2.0) -> list[SensitivityRow]:
    """How much more the student depends on a component than the teacher on its counterpart (notebook 05).

    ``ratio = |student drop| / |teacher drop|``, flagged when ``ratio > threshold`` (2 by default: the student
    loses more than twice as much). The study's headline: student head 2.4 −87.73 against teacher head 4.4 −33.18,
    ratio 2.64, flagged.

    Args:
        student_drops, teacher_drops: ``{component: drop}`` (:func:`circuit_removal_drops` or
            :func:`full_model_drops`; string keys like ``"2.4"`` work too).
        matches: student component → teacher component, in any form
            :func:`dcirc_utils.alignment.normalise_matches` reads (similarities are not needed here).
        threshold: the flagging ratio.

    Returns:
        One row per matched student component that has a drop, sorted by ratio (largest first). A teacher
        counterpart without a drop (e.g. outside the teacher's circuit) gives ``teacher_drop = nan`` and
        ``ratio = nan`` (not flagged); a teacher drop of exactly 0 gives ``ratio = inf`` (flagged) unless the
        student's is 0 too.
    """
    from .alignment import normalise_matches

    def lookup(d: Mapping, c: Component) -> float | None:
        v = d.get(c, d.get(str(c)))  # type: ignore[call-overload]
        return None if v is None else float(v)

    rows = []
    for m in normalise_matches(matches):
        s = lookup(student_drops, m.student)
        if s is None:
            continue
        t = lookup(teacher_drops, m.teacher)
        if t is None:
            t, ratio = math.nan, math.nan
        elif t == 0.0:
            ratio = math.inf if s != 0.0 else math.nan
        else:
            ratio = abs(s) / abs(t)
        rows.append(SensitivityRow(m.student, m.teacher, s, t, ratio, bool(ratio > threshold)))
    return sorted(rows, key=lambda r: (-r.ratio if not math.isnan(r.ratio) else math.inf, r.student))


# --------------------------------------------------------------------------------------------- concentration
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


# --------------------------------------------------------------------------------------------- backup heads
class BackupRow(NamedTuple):
    """One head's influence (percentage points of clean Δl lost when it is ablated) before and after."""

    component: Component
    before: float
    after: float
    change: float


class BackupResult(NamedTuple):
    """What :func:`backup_heads` found (plain data; notebook 05).

    Attributes:
        ablated: the head ablated first (the model's most important one unless chosen).
        ablated_drop: its own full-model drop (percentage points).
        rows: the ``top_k`` components whose influence rose the most, largest rise first.
        all_rows: every scanned component, in the same order.
    """

    ablated: Component
    ablated_drop: float
    rows: list[BackupRow]
    all_rows: list[BackupRow]


def backup_heads(engine: Engine, ablated_head: Component | None = None, top_k: int = 5,
                 include_mlps: bool = False, full_drops: Mapping[Component, float] | None = None) -> BackupResult:
    """Which heads take over when the most important head is removed (notebook 05).

    Influence of a component = the score (% of clean Δl) lost when it is additionally mean-ablated:
    *before* = ``100 − score(full − c)``; *after* = ``score(full − h) − score(full − h − c)`` with ``h`` the ablated
    head. A head whose influence rises (``change = after − before > 0``) compensates for ``h``: a backup head.

    Args:
        engine: the model and prompts.
        ablated_head: the head to remove; ``None`` picks the head whose ablation lowers the score the most.
        top_k: how many of the largest rises to report in ``rows``.
        include_mlps: scan MLPs too (heads only by default).
        full_drops: the model's :func:`full_model_drops` on this engine, if already computed (notebook 05 has
            them): the "before" influences are read from them instead of rescanning the model.

    Raises:
        ValueError: if ``ablated_head`` is an MLP or not in the model, ``top_k < 1``, or ``full_drops`` lacks a
            scanned component.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    scanned = [c for c in engine.components if include_mlps or not c.is_mlp]
    if full_drops is None:
        before_scores = engine.ablation_scan(scanned, desc="influence before")
    else:
        missing = [c for c in scanned if c not in full_drops and str(c) not in full_drops]
        if missing:
            raise ValueError(f"full_drops has no value for {missing[:5]}: pass full_model_drops(engine) over every "
                             "component (or leave full_drops out to rescan)")
        # a drop is score − 100 with score = 100 · Δl / Δl_clean: back to Δl
        before_scores = {c: (100.0 + float(full_drops[c] if c in full_drops else full_drops[str(c)]))  # type: ignore
                         * engine.clean_logit_diff / 100.0 for c in scanned}
    if ablated_head is None:
        ablated_head = min((c for c in scanned if not c.is_mlp), key=lambda c: before_scores[c])
    elif ablated_head.is_mlp or ablated_head not in set(engine.components):
        raise ValueError(f"ablated_head must be a head of the model, got {ablated_head}")
    others = [c for c in scanned if c != ablated_head]
    base_score = engine.score(before_scores[ablated_head])
    after_scores = engine.ablation_scan(others, base_ablated=[ablated_head], desc="influence after")
    rows = []
    for c in others:
        before = 100.0 - engine.score(before_scores[c])
        after = base_score - engine.score(after_scores[c])
        rows.append(BackupRow(c, before, after, after - before))
    rows.sort(key=lambda r: -r.change)
    return BackupResult(ablated_head, base_score - 100.0, rows[:top_k], rows)


# --------------------------------------------------------------------------------------------- distribution shift
_LONG = re.compile(r"long(\d)")


def _variant_prompts(variant: str, n: int, seed: int, tokenizer):
    from .tasks import make_prompts
    m = _LONG.fullmatch(variant)
    if m:
        return make_prompts(n, seed, "long", tokenizer=tokenizer, length=int(m.group(1)))
    return make_prompts(n, seed, variant, tokenizer=tokenizer)


def shift_study(pair, variants: Sequence[str] = ("numerals", "number_words", "months", "long", "large"),
                n: int = 100, seed: int = 0, circuits: Mapping[str, Iterable[Component]] | None = None,
                chunk_rows: int | None = None) -> list[dict]:
    """Accuracy, Δl and circuit scores of teacher and student on each task variant (notebook 05).

    For each variant and model: :func:`dcirc_utils.metrics.evaluate` on ``n`` prompts; with ``circuits`` also the
    circuit's score on the variant's prompts (an engine on those prompts, everything outside the circuit
    mean-ablated with the variant's own corrupted means), in % of that model's clean Δl on the variant.

    Args:
        pair: a :class:`~dcirc_utils.pairs.ModelPair`.
        variants: task variants (:data:`dcirc_utils.tasks.VARIANTS`; ``"long7"``/``"long8"`` pick the long
            variant's length).
        n, seed: prompts per variant and the generator seed.
        circuits: ``{"teacher": components, "student": components}`` (either may be left out), e.g.
            ``{"teacher": teacher_circuit.components, ...}``.
        chunk_rows: passed to the engines.

    Returns:
        One dict per (variant, model): ``variant``, ``model`` (``"teacher"``/``"student"``), ``n``, ``accuracy``,
        ``logit_diff``, ``p_correct``, ``circuit_score`` (``nan`` without a circuit or when the clean Δl is too
        close to 0 to be a reference), ``error`` (``None``, or why the variant could not be made for this
        tokenizer).
    """
    from .metrics import DegenerateBaselineError, evaluate

    rows: list[dict] = []
    circuits = dict(circuits or {})
    unknown = set(circuits) - {"teacher", "student"}
    if unknown:
        raise ValueError(f"circuits are keyed by 'teacher' and 'student', got {sorted(unknown)}")
    for variant in variants:
        try:
            prompts = _variant_prompts(variant, n, seed, pair.tokenizer)
            tokens = prompts.tokens(pair.tokenizer), prompts.tokens(pair.tokenizer, "corrupted")
        except ValueError as err:
            for role in ("teacher", "student"):
                rows.append({"variant": variant, "model": role, "n": 0, "accuracy": math.nan,
                             "logit_diff": math.nan, "p_correct": math.nan, "circuit_score": math.nan,
                             "error": str(err)})
            continue
        correct, incorrect = prompts.answer_ids(pair.tokenizer)
        for role, model in (("teacher", pair.teacher), ("student", pair.student)):
            ev = evaluate(model, pair.tokenizer, prompts, corrupted=False)
            row = {"variant": variant, "model": role, "n": ev["n"], "accuracy": ev["accuracy"],
                   "logit_diff": ev["logit_diff"], "p_correct": ev["p_correct"], "circuit_score": math.nan,
                   "error": None}
            if role in circuits:
                try:
                    engine = Engine(model, tokens[0], tokens[1], correct, incorrect, chunk_rows=chunk_rows,
                                    progress=False)
                    row["circuit_score"] = circuit_score(engine, circuits[role])
                except DegenerateBaselineError as err:
                    row["error"] = f"circuit score undefined: {err}"
            rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------- heatmap data
def drops_grid(drops: Mapping[Component, float], n_layers: int, n_heads: int) -> tuple[
        Float[np.ndarray, "n_layers n_heads"], Float[np.ndarray, "n_layers"]]:
    """Drops as a ``[n_layers, n_heads]`` head array and a ``[n_layers]`` MLP array, ``nan`` where a component has
    no value (notebook 05; for :func:`dcirc_utils.plots.layer_head_heatmap`).

    Raises:
        ValueError: if a component lies outside ``n_layers × n_heads``.
    """
    heads = np.full((n_layers, n_heads), np.nan)
    mlps = np.full(n_layers, np.nan)
    for c, v in drops.items():
        c = c if isinstance(c, Component) else parse_component(c)
        if not (0 <= c.layer < n_layers and c.head < n_heads):
            raise ValueError(f"component {c} lies outside a model of {n_layers} layers × {n_heads} heads: pass the "
                             "size of the model the drops belong to")
        if c.is_mlp:
            mlps[c.layer] = v
        else:
            heads[c.layer, c.head] = v
    return heads, mlps
