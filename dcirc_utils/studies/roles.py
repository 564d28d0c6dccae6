"""Head roles with a spread and a base rate: what a verdict on "this model has a clear head for the role" needs
(issue 21; notebooks 03 and 07).

A role's head is the top scorer among the heads *counted* for the role (:func:`~dcirc_utils.methods.heads.exclusive_roles`:
each head stands for one role at a time), chosen on the notebook's prompts and then held fixed while its score is
measured again on disjoint prompt sets (:func:`~dcirc_utils.studies.spread.set_indices`), as the spread module holds
circuits fixed. Beside it, on the same sets, the role's **base rate**: a high quantile of the score over all of the
model's heads, the level a head must beat to be more than one of many heads doing the same.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..core.components import Component
from ..methods.heads import base_rate, exclusive_roles, role_table

__all__ = ["BASE_QUANTILE", "RoleHead", "scores_by_set", "role_heads"]

#: The quantile of a role score over all heads that a role's head must beat (the top 5% of the heads).
BASE_QUANTILE = 0.95


@dataclass(frozen=True)
class RoleHead:
    """One role's head in one model, with its score on the notebook's prompts and on each disjoint set.

    Attributes:
        role: the role's name.
        head: the top head among those counted for the role (``None`` when no head is).
        score: its score on the notebook's prompts (``nan`` without a head).
        by_set: its score on each set, in order.
        base_rate: the :data:`BASE_QUANTILE` of the role's score over all heads, on the notebook's prompts.
        base_by_set: the same on each set.
        n_counted: how many heads were counted for the role.
    """

    role: str
    head: Component | None
    score: float
    by_set: tuple[float, ...]
    base_rate: float
    base_by_set: tuple[float, ...]
    n_counted: int


def scores_by_set(role_fn: Callable[..., Mapping[str, Tensor]], tokens: Int[Tensor, "batch pos"],
                  patterns: Float[Tensor, "layer batch head q k"], sets: Sequence[Sequence[int]],
                  readout: Int[Tensor, "batch"] | None = None, **kwargs) -> list[dict[str, Tensor]]:
    """``role_fn(tokens, patterns, **kwargs)`` (e.g. :func:`~dcirc_utils.methods.heads.decoder_attention_roles`) on
    each set of prompt positions: the patterns are sliced, not recomputed. ``readout`` (one position per prompt, an
    encoder's [MASK]) is sliced with them and passed on as ``readout=``.

    Raises:
        ValueError: if the patterns or ``readout`` do not fit the tokens, or a set is empty.
    """
    if patterns.ndim != 5 or patterns.shape[1] != tokens.shape[0]:
        raise ValueError(f"patterns {tuple(patterns.shape)} do not fit tokens {tuple(tokens.shape)}: pass "
                         "heads.per_prompt_patterns(model, tokens) of the same tokens")
    if readout is not None and len(readout) != tokens.shape[0]:
        raise ValueError(f"readout has {len(readout)} positions for {tokens.shape[0]} prompts: pass one per prompt")
    out = []
    for part in sets:
        idx = torch.as_tensor(list(part), dtype=torch.long)
        if idx.numel() == 0:
            raise ValueError("a prompt set is empty: pass spread.set_indices(n)")
        extra = {} if readout is None else {"readout": torch.as_tensor(readout)[idx]}
        out.append(dict(role_fn(tokens[idx], patterns[:, idx], **kwargs, **extra)))
    return out


def role_heads(scores: Mapping[str, Tensor], scores_sets: Sequence[Mapping[str, Tensor]],
               q: float = BASE_QUANTILE) -> dict[str, RoleHead]:
    """Each role's head, counted one role per head on ``scores`` (the notebook's prompts), with its score and the
    role's base rate on the notebook's prompts and on each set of ``scores_sets`` (the same roles, measured on
    disjoint prompt sets, e.g. by :func:`scores_by_set`).

    Raises:
        ValueError: if a set lacks one of the roles.
    """
    counted = exclusive_roles(scores)
    top = {r["role"]: r for r in role_table(scores, top_k=1, counted=counted)}
    out = {}
    for role, s in scores.items():
        missing = [k for k, ss in enumerate(scores_sets) if role not in ss]
        if missing:
            raise ValueError(f"set(s) {missing} have no score for the role {role!r}: measure every role on every set")
        head = top[role]["head"] if role in top else None
        at = (lambda t: float(t[head.layer, head.head])) if head is not None else (lambda t: math.nan)
        out[role] = RoleHead(role, head, at(s), tuple(at(ss[role]) for ss in scores_sets), base_rate(s, q),
                             tuple(base_rate(ss[role], q) for ss in scores_sets), int(counted[role].sum()))
    return out
