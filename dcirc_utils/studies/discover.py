"""Cached circuit discovery: node pruning and path patching of one model, stored on disk so that the notebooks after
02 reuse the circuits notebook 02 found (notebooks 02, 03, 05, 06).

The cache key holds the pair, the role, a fingerprint of the weights, the prompts, the thresholds and the method's
version, so retraining a pair or changing the algorithm never serves stale results.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..engine import Engine
from ..methods.discovery import Circuit, EdgeScores, path_patch, prune_nodes
from ..models.adapters import ModelAdapter
from .cache import cached, model_fingerprint

__all__ = ["Discovery", "discover", "prompts_digest", "METHOD_VERSION"]

#: Bump when node pruning or path patching changes what it computes: cached results of older versions are ignored.
METHOD_VERSION = 2


@dataclass
class Discovery:
    """One model's engine, circuit and edge scores (what notebooks 02, 05 and 06 share)."""

    engine: Engine
    circuit: Circuit
    edges: EdgeScores | None


def prompts_digest(prompts) -> str:
    """A short hash of a prompt set's texts and answers (part of every cache key)."""
    text = "\n".join(prompts.clean + prompts.corrupted + prompts.correct + prompts.incorrect)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def discover(adapter: ModelAdapter, prompts, pair_name: str, role: str, threshold: float = 0.8,
             edge_threshold: float = 0.8, edges: bool = True, refresh: bool = False,
             engine: Engine | None = None, rule: str = "corrected") -> Discovery:
    """Node pruning and path patching for one model, cached on disk (notebook 02 computes; 03, 05 and 06 reuse).

    Args:
        adapter: the model (``pair.teacher`` or ``pair.student``).
        prompts: the task's :class:`~dcirc_utils.core.tasks.PromptSet`.
        pair_name, role: part of the cache key (``pair.name``, ``"teacher"``/``"student"``).
        threshold: node-pruning threshold (fraction of the clean metric kept).
        edge_threshold: an edge is kept when its path-patching score falls below it.
        edges: also run path patching.
        refresh: recompute even when cached.
        engine: an engine for ``adapter`` on ``prompts`` if one exists already.
        rule: the pruning rule, ``"corrected"`` (default) or ``"study"`` (:func:`~dcirc_utils.methods.discovery.
            prune_nodes`).
    """
    engine = engine or Engine.for_prompts(adapter, prompts)
    key = {"pair": pair_name, "role": role, "weights": model_fingerprint(adapter.model),
           "prompts": prompts_digest(prompts), "threshold": threshold, "rule": rule, "version": METHOD_VERSION}
    circuit = cached("circuit", key, lambda: prune_nodes(engine, threshold, rule=rule), Circuit.to_dict,
                     Circuit.from_dict, refresh=refresh)
    scores = None
    if edges:
        scores = cached("edges", dict(key, edge_threshold=edge_threshold, circuit=[str(c) for c in circuit.components]),
                        lambda: path_patch(engine, circuit.components, edge_threshold), EdgeScores.to_dict,
                        EdgeScores.from_dict, refresh=refresh)
    return Discovery(engine, circuit, scores)
