"""Cached circuit discovery: node pruning and path patching of one model, stored on disk so that the notebooks after
02 reuse the circuits notebook 02 found (notebooks 02, 03, 05, 06).

The cache key holds the pair, the role, a fingerprint of what the engine computes on (its weights, tokens and metric:
:func:`~dcirc_utils.studies.cache.engine_fingerprint`), the thresholds and the rule; :func:`~dcirc_utils.studies.cache.
cached` adds a fingerprint of the code, so retraining a pair or changing the algorithm never serves stale results.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from ..engine import Engine
from ..methods.discovery import Circuit, EdgeScores, path_patch, prune_nodes
from ..models.adapters import ModelAdapter
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
        engine: an engine for ``adapter`` on ``prompts`` if one exists already (the cache key is computed from the
            engine's own tokens, so an engine built on other prompts is refused, never stored under these).
        rule: the pruning rule, ``"corrected"`` (default) or ``"study"`` (:func:`~dcirc_utils.methods.discovery.
            prune_nodes`).

    Raises:
        ValueError: if ``engine`` belongs to another model than ``adapter`` or was built on other prompts.
    """
    if engine is None:
        engine = Engine.for_prompts(adapter, prompts)
    else:
        _check_engine(engine, adapter, prompts)
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


def _check_engine(engine: Engine, adapter: ModelAdapter, prompts) -> None:
    """Refuse an engine that does not compute on ``adapter`` and ``prompts`` (its results would be stored, and
    served, as theirs)."""
    if engine.adapter is not adapter:
        raise ValueError("discover(adapter, ..., engine=...): the engine belongs to another model than `adapter`; "
                         "pass that model's engine (Engine.for_prompts(adapter, prompts)) or leave engine=None")

    def same(bos: bool) -> bool:
        return all(torch.equal(prompts.tokens(adapter.tokenizer, kind, bos=bos), engine.tokens[kind].cpu())
                   for kind in ("clean", "corrupted"))

    has_bos = getattr(adapter.tokenizer, "bos_token_id", None) is not None
    if not (same(False) or has_bos and same(True)):
        raise ValueError(f"discover(adapter, prompts, ..., engine=...): the engine was built on other prompts than "
                         f"`prompts` (digest {prompts_digest(prompts)}); build it with Engine.for_prompts(adapter, "
                         "prompts) or leave engine=None")
