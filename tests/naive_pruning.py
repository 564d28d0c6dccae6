"""The one naive reference for greedy node pruning, written for clarity, not speed, and independent of the code under
test: it imports nothing of ``dcirc_utils`` but the ``Component`` value type (no sweep order, no engine, no pruning
function), spells the study's sweep order out itself, and tries one candidate at a time, sequentially.

It is model-agnostic: the caller passes ``value(removed)``, the metric (e.g. Δl) of the model with the components
``removed`` mean-ablated, computed by a naive reference (``naive_reference.ablated_logit_diff`` for TransformerLens
bridges: one ``run_with_hooks`` forward; ``naive_encoder.logit_diff`` for Hugging Face encoders: one forward with plain
PyTorch hooks; ``naive_reference.study_ablated_logit_diff`` for the study's rule). Every test that checks
``prune_nodes`` compares against :func:`prune`.
"""
from __future__ import annotations

from typing import Callable, Iterable, NamedTuple, Sequence

from dcirc_utils.core.components import Component


class Pruned(NamedTuple):
    kept: list[Component]                   # sorted, every component of the model not removed
    removal_scores: dict[Component, float]  # per removed component: % of the clean value kept right after removing it


def every_component(n_layers: int, n_heads: int) -> list[Component]:
    return [c for l in range(n_layers) for c in [Component(l, h) for h in range(n_heads)] + [Component(l)]]


def study_order(sweep: int, n_layers: int, n_heads: int) -> list[Component]:
    """The study's order for sweep ``sweep`` (1-based): odd sweeps go backward (from the last layer down: the MLP,
    then heads 0..n-1), even sweeps forward (from layer 0 up: heads 0..n-1, then the MLP)."""
    order = []
    if sweep % 2 == 1:
        for layer in range(n_layers - 1, -1, -1):
            order.append(Component(layer))
            order.extend(Component(layer, h) for h in range(n_heads))
    else:
        for layer in range(n_layers):
            order.extend(Component(layer, h) for h in range(n_heads))
            order.append(Component(layer))
    return order


def prune(value: Callable[[Sequence[Component]], float], n_layers: int, n_heads: int, threshold: float = 0.8,
          candidates: Iterable[Component] | None = None, strict: bool = False, max_sweeps: int = 20) -> Pruned:
    """Sequential greedy pruning: in each sweep, try every eligible candidate not yet removed, in the study's order;
    remove it when the circuit without it (and without everything removed before) keeps at least ``threshold`` of the
    clean value (``strict=True``: more than, the study's own test); stop after a sweep that removes nothing.
    The clean value is ``value([])``: the reference's own, not the engine's."""
    clean = value([])
    eligible = set(candidates) if candidates is not None else set(every_component(n_layers, n_heads))
    target = 100 * threshold
    removed: list[Component] = []
    scores: dict[Component, float] = {}
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for c in study_order(sweep, n_layers, n_heads):
            if c not in eligible or c in removed:
                continue
            score = 100 * value(removed + [c]) / clean
            if (score > target) if strict else (score >= target):
                removed.append(c)
                scores[c] = score
                changed = True
        if not changed:
            break
    return Pruned(sorted(c for c in every_component(n_layers, n_heads) if c not in removed), scores)
