"""How brittle a circuit is: removal drops, teacher/student sensitivity ratios and backup heads (notebook 05).

Every ablation goes through :class:`dcirc_utils.engine.Engine` (mean ablation over the corrupted prompts); results
are plain data (dicts, lists of rows, numpy arrays) that :mod:`dcirc_utils.report.plots` draws and the cache stores.
Concentration (Gini, top share) is :mod:`dcirc_utils.methods.concentration`; distribution shift is
:mod:`dcirc_utils.studies.shift`.

Conventions (the study's, ``data/reference/paper-results.md``): a *score* is ``100 · Δl / Δl_clean`` of the full
model; a *drop* is the change of the score, in percentage points, when a component is removed — negative when the
removal hurts (the study's teacher head 0.1: −44.29 when removed from its circuit).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
from jaxtyping import Float

from ..core.components import Component
from ..engine import Engine
from .matching import normalise_matches

__all__ = ["circuit_score", "circuit_removal_drops", "full_model_drops", "SensitivityRow", "sensitivity_ratios",
           "BackupRow", "BackupResult", "backup_heads", "drops_grid", "SUBSTANTIVE_DROP_PP",
           "is_substantive"]


def circuit_score(engine: Engine, circuit_components: Iterable[Component]) -> float:
    """Score (% of the full model's clean Δl) of a circuit: everything outside it mean-ablated (notebook 05)."""
    return engine.score(engine.evaluate([[]], engine.circuit_base(circuit_components))[0])


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
    circuit = sorted(set(engine.check_components(circuit_components)))
    targets = circuit if components is None else sorted(set(engine.check_components(components)))
    outside_circuit = [c for c in targets if c not in set(circuit)]
    if outside_circuit:
        raise ValueError(f"{outside_circuit[:5]} are not in the circuit, so they cannot be removed from it; "
                         "use full_model_drops for components outside the circuit")
    # the circuit itself (empty variant) and each removal, in one batched call
    lds = engine.evaluate([[]] + [engine.mean_ablation([c]) for c in targets], engine.circuit_base(circuit),
                          desc="circuit removals")
    ref = engine.score(lds[0])
    return {c: engine.score(v) - ref for c, v in zip(targets, lds[1:])}


def full_model_drops(engine: Engine, components: Sequence[Component] | None = None) -> dict[Component, float]:
    """Drop of the full model's score when each component alone is mean-ablated: ``score(full − c) − 100``
    (notebook 05; the study's "full-model head ablation")."""
    comps = None if components is None else sorted(set(engine.check_components(components)))
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
            :func:`full_model_drops`).
        matches: student component → teacher component, in any form
            :func:`dcirc_utils.methods.matching.normalise_matches` reads (similarities are not needed here).
        threshold: the flagging ratio.

    Returns:
        One row per matched student component that has a drop, sorted by ratio (largest first). A teacher
        counterpart without a drop (e.g. outside the teacher's circuit) gives ``teacher_drop = nan`` and
        ``ratio = nan`` (not flagged); a teacher drop of exactly 0 gives ``ratio = inf`` (flagged) unless the
        student's is 0 too.
    """
    rows = []
    for m in normalise_matches(matches):
        s = student_drops.get(m.student)
        if s is None:
            continue
        s = float(s)
        t = teacher_drops.get(m.teacher)
        if t is None:
            t, ratio = math.nan, math.nan
        elif float(t) == 0.0:
            t, ratio = 0.0, (math.inf if s != 0.0 else math.nan)
        else:
            t = float(t)
            ratio = abs(s) / abs(t)
        rows.append(SensitivityRow(m.student, m.teacher, s, t, ratio, bool(ratio > threshold)))
    return sorted(rows, key=lambda r: (-r.ratio if not math.isnan(r.ratio) else math.inf, r.student))


#: A sensitivity ratio counts only when the student's drop is at least this large (percentage points of the clean
#: Δl): a ratio of two tiny drops means nothing (notebook 05's ``SUBSTANTIVE_PP``, notebook 08's capacity rows).
SUBSTANTIVE_DROP_PP = 5.0


def is_substantive(row: SensitivityRow, min_drop: float = SUBSTANTIVE_DROP_PP) -> bool:
    """Whether a row's ratio counts: a finite ratio and a student drop of at least ``min_drop`` in size (notebook 05
    lists, and :func:`dcirc_utils.report.plots.sensitivity_scatter` flags, only flagged rows that are substantive)."""
    return math.isfinite(row.ratio) and abs(row.student_drop) >= min_drop


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
        missing = [c for c in scanned if c not in full_drops]
        if missing:
            raise ValueError(f"full_drops has no value for {missing[:5]}: pass full_model_drops(engine) over every "
                             "component (or leave full_drops out to rescan)")
        # a drop is score − 100 with score = 100 · Δl / Δl_clean: back to Δl
        before_scores = {c: (100.0 + float(full_drops[c])) * engine.clean_value / 100.0 for c in scanned}
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


# --------------------------------------------------------------------------------------------- heatmap data
def drops_grid(drops: Mapping[Component, float], n_layers: int, n_heads: int) -> tuple[
        Float[np.ndarray, "n_layers n_heads"], Float[np.ndarray, "n_layers"]]:
    """Drops as a ``[n_layers, n_heads]`` head array and a ``[n_layers]`` MLP array, ``nan`` where a component has
    no value (notebook 05; for :func:`dcirc_utils.report.plots.layer_head_heatmaps`).

    Raises:
        ValueError: if a component lies outside ``n_layers × n_heads``.
    """
    heads = np.full((n_layers, n_heads), np.nan)
    mlps = np.full(n_layers, np.nan)
    for c, v in drops.items():
        if not (0 <= c.layer < n_layers and c.head < n_heads):
            raise ValueError(f"component {c} lies outside a model of {n_layers} layers × {n_heads} heads: pass the "
                             "size of the model the drops belong to")
        if c.is_mlp:
            mlps[c.layer] = v
        else:
            heads[c.layer, c.head] = v
    return heads, mlps


# --------------------------------------------------------------------------------------------- the study's encoder ablation
def position_zeroing_impacts(adapter, prompts, positions: Sequence[int] | None = None,
                             batch_size: int = 128) -> dict[Component, float]:
    """The study's encoder "head" ablation, reproduced to show what it measured (notebook 07).

    The study's BERT notebook hooks each layer's self-attention output, a ``[batch, seq, hidden]`` tensor, and sets
    ``output[0][:, h] = 0``: that zeroes **token position** ``h`` in every head, not head ``h``
    (``study-spec.md`` §3.2). This function does the same through the adapter: at layer ``l`` it zeroes every head's
    output ``z`` (before the output projection, as the study's BERT hook; its DistilBERT hook also removed the output
    projection's bias there) at position ``p``, and reports the study's impact ``100 · (1 − Δl_abl / Δl_clean)``,
    unclamped (the study's ranking clamped it to [0, 100]). The result is keyed ``Component(l, p)`` so that it reads
    as the study's "head" ``l.p``: the second number is a position.

    Args:
        adapter: the model (any family; the study ran it on BERT and DistilBERT).
        prompts: a prompt set of one length (the positions must mean the same token in every prompt).
        positions: positions to zero; default ``0 .. n_heads − 1``, the only ones the study's loop reached.
        batch_size: prompts per forward pass.

    Raises:
        ValueError: if the prompts differ in length, or a position lies outside them.
    """
    import torch

    from ..core.components import Site
    tok = adapter.tokenizer
    tokens = prompts.tokens(tok)
    pad = getattr(tok, "pad_token_id", None)
    if pad is not None and bool((tokens == pad).any()):
        raise ValueError("the prompts differ in length (padding found): position p must be the same token in every "
                         "prompt; use a prompt set of one template, e.g. make_task('numerals_masked')")
    positions = list(range(adapter.n_heads)) if positions is None else [int(p) for p in positions]
    bad = [p for p in positions if not 0 <= p < tokens.shape[1]]
    if bad:
        raise ValueError(f"positions {bad} lie outside the prompts' {tokens.shape[1]} tokens")
    from .evaluation import evaluate_task

    def value() -> float:
        return evaluate_task(adapter, prompts, batch_size=batch_size, corrupted=False)["value"]

    clean = value()
    out = {}
    for layer in range(adapter.n_layers):
        for p in positions:
            def zero(z, p=p):
                z = z.clone()
                z[:, p] = 0.0
                return z
            with adapter.hooks([(Site("z", layer), zero)]):
                out[Component(layer, p)] = 100.0 * (1.0 - value() / clean)
    return out


__all__ += ["position_zeroing_impacts"]
