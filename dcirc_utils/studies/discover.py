"""Cached circuit discovery: node pruning and path patching of one model, stored on disk so that the notebooks after
02 reuse the circuits notebook 02 found (notebooks 02, 03, 05, 06).

The cache key holds the pair, the role, a fingerprint of what the engine computes on (its weights, tokens and metric:
:func:`~dcirc_utils.studies.cache.engine_fingerprint`), the thresholds and the rule; :func:`~dcirc_utils.studies.cache.
cached` adds a fingerprint of the code, so retraining a pair or changing the algorithm never serves stale results.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


from ..engine import Engine
from ..methods.discovery import Circuit, EdgeScores, path_patch, prune_nodes
from .cache import cached, engine_fingerprint

__all__ = ["Discovery", "discover", "prompts_digest"]


@dataclass
class Discovery:
    """One model's engine, circuit and edge scores (what notebooks 02, 05 and 06 share)."""

    engine: Engine
    circuit: Circuit
    edges: EdgeScores | None


def prompts_digest(prompts) -> str:
    """A short hash of a prompt set's task, texts and answers (part of the cache keys of the studies that build their
    own engines from a task's prompts)."""
    text = "\n".join([getattr(prompts, "task", "")] + prompts.clean + prompts.corrupted + prompts.correct
                     + prompts.incorrect)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def discover(engine: Engine, pair_name: str, role: str, *, threshold: float = 0.8, edge_threshold: float = 0.8,
             edges: bool = True, refresh: bool = False, rule: str = "corrected") -> Discovery:
    """Node pruning and path patching for the model and prompts an engine holds, cached on disk (notebook 02
    computes; 03, 05 and 06 reuse).

    Args:
        engine: the model's engine on the task's prompts (``Engine.for_prompts(pair.teacher, prompts)``); the
            cache key is computed from what it holds (weights, tokens, metric), so results found on one prompt set
            are never served for another.
        pair_name, role: labels in the cache key (``pair.name``, ``"teacher"``/``"student"``).
        threshold: node-pruning threshold (fraction of the clean metric kept).
        edge_threshold: an edge is kept when its path-patching score falls below it.
        edges: also run path patching.
        refresh: recompute even when cached.
        rule: the pruning rule, ``"corrected"`` (default) or ``"study"`` (:func:`~dcirc_utils.methods.discovery.
            prune_nodes`).

    Raises:
        TypeError: if ``engine`` is not an :class:`~dcirc_utils.engine.Engine` (e.g. a model adapter: build its
            engine with ``Engine.for_prompts(adapter, prompts)``).
    """
    if not isinstance(engine, Engine):
        raise TypeError(f"discover() takes the model's engine, not {type(engine).__name__}: pass "
                        "Engine.for_prompts(adapter, prompts)")
    key = {"pair": pair_name, "role": role, "inputs": engine_fingerprint(engine), "threshold": threshold,
           "rule": rule}
    circuit = cached("circuit", key, lambda: prune_nodes(engine, threshold, rule=rule), Circuit.to_dict,
                     Circuit.from_dict, refresh=refresh)
    scores = None
    if edges:
        scores = cached("edges", dict(key, edge_threshold=edge_threshold, circuit=[str(c) for c in circuit.components]),
                        lambda: path_patch(engine, circuit.components, edge_threshold), EdgeScores.to_dict,
                        EdgeScores.from_dict, refresh=refresh)
    return Discovery(engine, circuit, scores)
