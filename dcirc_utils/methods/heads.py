"""Attention heads: patterns, role scores computed from the model and QK/OV circuits (head similarity across two
models is :func:`dcirc_utils.methods.matching.head_similarity`).

Used by notebook 03 (heads). Every score here is *measured* from the model on prompts (or from its weights), never
labelled by hand; the study's names for head roles (numeral detection, duplicate-token, number mover, successor) are
turned into the precise definitions written in each function's docstring, so that a notebook can rank the heads of
any pair by each role and compare the ranking with the study's heads (``data/reference/paper_figures.json``).

Conventions:

* Patterns are the adapter's ``Site("pattern", l)`` (softmax over keys), so every query row sums to 1 and all
  scores below are attention *mass* in ``[0, 1]``. Every model access goes through a
  :class:`~dcirc_utils.models.adapters.ModelAdapter`.
* Heads are :class:`~dcirc_utils.core.components.Component` s, printed ``"4.10"`` (layer 4 head 10); matching a
  student head to a teacher head is :mod:`dcirc_utils.methods.matching`.
* "Element tokens" are the task's sequence members (numbers ``" 1"`` … ``" 12"`` by default), always with a leading
  space, as they appear in the prompts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from ..core.components import Component, Site
from ..core.records import Record
from ..models.adapters import ModelAdapter, check_tokens

__all__ = [
    "DEFAULT_ELEMENTS", "attention_patterns", "per_prompt_patterns", "element_token_mask", "element_token_ids",
    "numeral_detection_scores", "duplicate_token_scores", "number_mover_scores", "last_number_scores",
    "head_role_scores", "similar_member_scores", "encoder_role_scores", "encoder_attention_roles",
    "decoder_attention_roles", "role_standing", "exclusive_roles", "base_rate", "effective_embeddings", "ov_element_logits", "successor_score_from_ov", "successor_scores",
    "RoleRank", "role_table", "HeadCircuits", "qk_ov_matrices",
]

#: The numeral task's elements (the study's corrupted numbers are drawn from 1..12).
DEFAULT_ELEMENTS: tuple[str, ...] = tuple(str(i) for i in range(1, 13))


# --------------------------------------------------------------------------------------------- patterns
def per_prompt_patterns(adapter: ModelAdapter, tokens: Int[Tensor, "batch pos"],
                        batch_size: int = 256) -> Float[Tensor, "layer batch head q k"]:
    """Every head's attention pattern on every prompt, on the CPU (notebook 03).

    Args:
        adapter: the model.
        tokens: the prompts.
        batch_size: prompts per forward pass (bounds memory).
    """
    tokens = check_tokens(tokens)
    sites = [Site("pattern", l) for l in range(adapter.n_layers)]
    acts = adapter.capture_unpatched(tokens, sites, batch_size)
    return torch.stack([acts[s] for s in sites])


def attention_patterns(adapter: ModelAdapter, tokens: Int[Tensor, "batch pos"],
                       batch_size: int = 256) -> Float[Tensor, "layer head q k"]:
    """Batch-mean attention patterns of every head (notebook 03; the input of :func:`head_similarity`).

    Averaging over prompts is meaningful because every prompt of a :class:`~dcirc_utils.core.tasks.PromptSet` has the
    same token layout (word, verb, "in", number, "." …).
    """
    return per_prompt_patterns(adapter, tokens, batch_size).mean(dim=1)


# --------------------------------------------------------------------------------------------- role scores
def element_token_ids(tokenizer, elements: Sequence[str] = DEFAULT_ELEMENTS) -> list[int]:
    """Token id of ``" " + e`` for each element (a leading space is added unless ``e`` has one).

    Raises:
        ValueError: naming the first element that is not one token for ``tokenizer``.
    """
    ids = []
    for e in elements:
        text = e if e.startswith(" ") else " " + e
        enc = list(tokenizer.encode(text, add_special_tokens=False))
        if len(enc) != 1:
            raise ValueError(f"element {text!r} is {len(enc)} tokens {enc} for this tokenizer, not one: choose "
                             "elements that are single tokens (e.g. smaller numbers)")
        ids.append(enc[0])
    return ids


def element_token_mask(tokens: Int[Tensor, "batch pos"], tokenizer=None,
                       element_ids: Sequence[int] | None = None) -> Bool[Tensor, "batch pos"]:
    """Which positions hold an element (a number) token (notebook 03).

    Args:
        tokens: the prompts.
        tokenizer: used when ``element_ids`` is ``None``: a token is an element if its text, stripped of spaces, is
            made of digits (``" 7"``, ``" 12"``), which covers clean and corrupted numeral prompts.
        element_ids: explicit element token ids (e.g. :func:`element_token_ids` of number words or months).

    Raises:
        ValueError: if neither ``tokenizer`` nor ``element_ids`` is given.
    """
    tokens = check_tokens(tokens)
    if element_ids is None:
        if tokenizer is None:
            raise ValueError("element_token_mask needs the tokenizer (to find number tokens) or element_ids")
        uniq = torch.unique(tokens).tolist()
        element_ids = [t for t in uniq if tokenizer.decode([t]).strip().isdigit()]
    ids = torch.tensor(sorted(set(int(i) for i in element_ids)), dtype=tokens.dtype)
    return torch.isin(tokens, ids)


def _check_patterns(patterns: Tensor, tokens: Tensor) -> None:
    if patterns.ndim != 5 or patterns.shape[1] != tokens.shape[0] or patterns.shape[-1] != tokens.shape[1]:
        raise ValueError(f"patterns {tuple(patterns.shape)} do not fit tokens {tuple(tokens.shape)}: pass "
                         "per_prompt_patterns(model, tokens) [layer, batch, head, q, k] of the same tokens")


def _masked_query_mean(mass: Tensor, query_mask: Tensor) -> Tensor:
    """Mean of ``mass`` [layer, batch, head, q] over the (batch, q) entries where ``query_mask`` [batch, q] is true."""
    w = query_mask.to(mass.dtype)[None, :, None, :]
    n = w.sum()
    if n == 0:  # no query of this kind in any prompt: the score is undefined
        return torch.full((mass.shape[0], mass.shape[2]), float("nan"))
    return (mass * w).sum(dim=(1, 3)) / n


def _patterns_or_run(adapter, tokens, patterns):
    if patterns is None:
        patterns = per_prompt_patterns(adapter, tokens)
    _check_patterns(patterns, tokens)
    return patterns


def numeral_detection_scores(adapter: ModelAdapter | None, tokens: Int[Tensor, "batch pos"], tokenizer=None,
                             element_ids: Sequence[int] | None = None,
                             patterns: Tensor | None = None) -> Float[Tensor, "layer head"]:
    """How much each head, sitting on a number, looks back at the earlier numbers (notebook 03).

    Definition: for every query position ``q`` holding an element (number) token that has at least one earlier
    element in its prompt, the attention mass ``Σ_{k<q, k an element} A[q, k]``; the score is the mean over all such
    (prompt, query) pairs. 1 means the head attends only to earlier numbers from numbers; a head attending uniformly
    scores about (earlier numbers)/(q+1), i.e. 0.1–0.2 on the task's prompts.

    Args:
        adapter: the model (may be ``None`` when ``patterns`` are given).
        tokens: the prompts (clean set).
        tokenizer, element_ids: what counts as an element, see :func:`element_token_mask`.
        patterns: optional precomputed :func:`per_prompt_patterns` of ``tokens`` (saves a forward pass).
    """
    tokens = check_tokens(tokens)
    patterns = _patterns_or_run(adapter, tokens, patterns)
    is_el = element_token_mask(tokens, tokenizer, element_ids)
    earlier = torch.tril(torch.ones(tokens.shape[1], tokens.shape[1], dtype=torch.bool), diagonal=-1)
    key_mask = earlier[None] & is_el[:, None, :]                                    # [batch, q, k]
    mass = (patterns * key_mask[None, :, None].to(patterns.dtype)).sum(-1)          # [layer, batch, head, q]
    query_mask = is_el & (torch.cumsum(is_el.long(), dim=1) > 1)
    return _masked_query_mean(mass, query_mask)


def duplicate_token_scores(adapter: ModelAdapter | None, tokens: Int[Tensor, "batch pos"],
                           patterns: Tensor | None = None) -> Float[Tensor, "layer head"]:
    """How much each head attends from a token to its earlier occurrences (notebook 03).

    Definition: for every query position ``q`` whose token id occurred earlier in the same prompt, the attention
    mass ``Σ_{k<q, tokens[k] == tokens[q]} A[q, k]``; the score is the mean over all such (prompt, query) pairs. On
    the task's prompts the repeated tokens are the verb (``" done"``/``" lost"``/``" born"``, 5 times), ``" in"``
    (5 times) and ``"."`` (4 times); the words are distinct, and clean numbers never repeat (corrupted ones may).
    Self-attention (``k == q``) does not count.
    """
    tokens = check_tokens(tokens)
    patterns = _patterns_or_run(adapter, tokens, patterns)
    pos = tokens.shape[1]
    earlier = torch.tril(torch.ones(pos, pos, dtype=torch.bool), diagonal=-1)
    same = (tokens[:, :, None] == tokens[:, None, :]) & earlier[None]                # [batch, q, k]
    mass = (patterns * same[None, :, None].to(patterns.dtype)).sum(-1)
    return _masked_query_mean(mass, same.any(-1))


def _readout(adapter, tokens: Tensor, readout: Tensor | None) -> Tensor:
    """The query position per prompt: ``readout`` if given, else the adapter's readout position (the last token of a
    decoder, the [MASK] of an encoder), else the last position."""
    if readout is not None:
        readout = torch.as_tensor(readout, dtype=torch.long).reshape(-1)
        if readout.shape[0] != tokens.shape[0]:
            raise ValueError(f"readout has {readout.shape[0]} positions for {tokens.shape[0]} prompts: pass one per prompt")
        return readout
    if adapter is not None:
        return adapter.readout_positions(tokens).long()
    return torch.full((tokens.shape[0],), tokens.shape[1] - 1, dtype=torch.long)


def _at_readout(patterns: Tensor, where: Tensor) -> Tensor:
    """``patterns`` [layer, batch, head, q, k] at each prompt's query position ``where`` [batch] -> [layer, batch, head, k]."""
    idx = where[None, :, None, None, None].expand(patterns.shape[0], -1, patterns.shape[2], 1, patterns.shape[-1])
    return patterns.gather(3, idx)[..., 0, :]


def number_mover_scores(adapter: ModelAdapter | None, tokens: Int[Tensor, "batch pos"], tokenizer=None,
                        element_ids: Sequence[int] | None = None, patterns: Tensor | None = None,
                        readout: Tensor | None = None, skip_first: bool = True) -> Float[Tensor, "layer head"]:
    """Attention mass of the readout position (where the answer is predicted) on the shown numbers (notebooks 03, 07).

    Definition: ``Σ_{k a number} A[r, k]`` averaged over prompts, ``r`` the readout position: the last token of a
    decoder, the [MASK] of an encoder (``adapter.readout_positions``; the last position when ``adapter`` is
    ``None``; ``readout`` overrides). With ``skip_first`` (the default) the first number of each prompt is left out:
    the study's number mover (GPT-2 7.11) "attends to every number but the first". The study's encoder numeral movers
    (BERT 4.0, DistilBERT 0.0) attend to every number (its QK figures, study-spec.md §3.4): notebook 07 passes
    ``skip_first=False``. :func:`last_number_scores` isolates the most recent number.
    """
    tokens = check_tokens(tokens)
    patterns = _patterns_or_run(adapter, tokens, patterns)
    is_el = element_token_mask(tokens, tokenizer, element_ids)
    if skip_first:
        is_el = is_el & (torch.cumsum(is_el.long(), dim=1) > 1)                       # every number but the first
    at_r = _at_readout(patterns, _readout(adapter, tokens, readout))                    # [layer, batch, head, k]
    mass = (at_r * is_el[None, :, None].to(patterns.dtype)).sum(-1)                    # [layer, batch, head]
    return mass.mean(dim=1)


def last_number_scores(adapter: ModelAdapter | None, tokens: Int[Tensor, "batch pos"], tokenizer=None,
                       element_ids: Sequence[int] | None = None, patterns: Tensor | None = None,
                       readout: Tensor | None = None) -> Float[Tensor, "layer head"]:
    """Attention mass of the readout position on the *last* shown number only, averaged over prompts (notebook 03).

    The study describes its successor head (GPT-2 9.1) as attending to the most recent number; this score measures
    that attention, while :func:`successor_scores` measures what the head's OV circuit writes. The readout position
    is as in :func:`number_mover_scores`.

    Raises:
        ValueError: if a prompt has no element token.
    """
    tokens = check_tokens(tokens)
    patterns = _patterns_or_run(adapter, tokens, patterns)
    is_el = element_token_mask(tokens, tokenizer, element_ids)
    if not bool(is_el.any(-1).all()):
        raise ValueError("some prompts hold no element token; check tokenizer/element_ids")
    pos = torch.arange(tokens.shape[1])
    last = torch.where(is_el, pos, -1).max(dim=1).values                               # [batch]
    onehot = torch.nn.functional.one_hot(last, tokens.shape[1]).to(patterns.dtype)       # [batch, k]
    at_r = _at_readout(patterns, _readout(adapter, tokens, readout))
    return (at_r * onehot[None, :, None, :]).sum(-1).mean(dim=1)


def similar_member_scores(adapter: ModelAdapter | None, tokens: Int[Tensor, "batch pos"], tokenizer=None,
                          element_ids: Sequence[int] | None = None,
                          patterns: Tensor | None = None) -> Float[Tensor, "layer head"]:
    """The study's encoder role "similar-member detection" (notebook 07): how much a token of a later list item
    attends to the tokens of earlier items in the same role.

    Definition: two positions are in the same role when they hold the same token (the verb, ``in``, ``.``) or both
    hold an element (a number). For every query ``q`` with an earlier same-role position, the attention mass
    ``Σ_{k<q, same role} A[q, k]``; the score is the mean over all such (prompt, query) pairs. It is
    :func:`duplicate_token_scores` with every number counted as one token. (The study showed this role with a
    figure of raw QK scores for BERT 1.11, not with a score: study-spec.md §3.4.)

    By the study's own descriptions this role overlaps numeral detection (a number attending to earlier numbers is
    both), so one head can top both scores: count each head for one role at a time (:func:`exclusive_roles`).
    """
    tokens = check_tokens(tokens)
    patterns = _patterns_or_run(adapter, tokens, patterns)
    is_el = element_token_mask(tokens, tokenizer, element_ids)
    pos = tokens.shape[1]
    earlier = torch.tril(torch.ones(pos, pos, dtype=torch.bool), diagonal=-1)
    same = ((tokens[:, :, None] == tokens[:, None, :]) | (is_el[:, :, None] & is_el[:, None, :])) & earlier[None]
    mass = (patterns * same[None, :, None].to(patterns.dtype)).sum(-1)
    return _masked_query_mean(mass, same.any(-1))


def encoder_attention_roles(tokens: Int[Tensor, "batch pos"], patterns: Float[Tensor, "layer batch head q k"],
                            tokenizer, readout: Int[Tensor, "batch"]) -> dict[str, Float[Tensor, "layer head"]]:
    """The study's three encoder head roles scored on given patterns (notebook 07), each ``[n_layers, n_heads]``:
    ``"similar-member detection"`` (:func:`similar_member_scores`), ``"numeral mover"`` (:func:`number_mover_scores`
    from ``readout``, the [MASK], on every number as the study's encoder figures show) and ``"numeral detection"``
    (:func:`numeral_detection_scores`)."""
    return {
        "similar-member detection": similar_member_scores(None, tokens, tokenizer, patterns=patterns),
        "numeral mover": number_mover_scores(None, tokens, tokenizer, patterns=patterns, readout=readout,
                                             skip_first=False),
        "numeral detection": numeral_detection_scores(None, tokens, tokenizer, patterns=patterns),
    }


def encoder_role_scores(adapter: ModelAdapter, tokens: Int[Tensor, "batch pos"]) -> dict[str, Float[Tensor, "layer head"]]:
    """:func:`encoder_attention_roles` from one forward pass of ``adapter`` (the mover reads at its [MASK])."""
    patterns = per_prompt_patterns(adapter, tokens)
    return encoder_attention_roles(tokens, patterns, adapter.tokenizer, adapter.readout_positions(tokens).long())


def decoder_attention_roles(tokens: Int[Tensor, "batch pos"], patterns: Float[Tensor, "layer batch head q k"],
                            tokenizer) -> dict[str, Float[Tensor, "layer head"]]:
    """The study's four GPT-2 attention roles scored on given patterns (notebook 03), each ``[n_layers, n_heads]``:
    numeral detection, duplicate token, number mover (every number but the first) and last number, read at the last
    position."""
    return {
        "numeral detection": numeral_detection_scores(None, tokens, tokenizer, patterns=patterns),
        "duplicate token": duplicate_token_scores(None, tokens, patterns=patterns),
        "number mover": number_mover_scores(None, tokens, tokenizer, patterns=patterns),
        "last number": last_number_scores(None, tokens, tokenizer, patterns=patterns),
    }


# --------------------------------------------------------------------------------------------- one role per head
def role_standing(score: Float[Tensor, "layer head"]) -> Float[Tensor, "layer head"]:
    """How far each head stands out from all the model's heads on one role score: ``(s − median) / scale``, the scale
    the median absolute deviation × 1.4826 (the standard deviation of a normal sample), or the standard deviation
    when more than half the heads share one score, or 1 when all do. NaN scores stay NaN.

    Raises:
        ValueError: if the score is not ``[n_layers, n_heads]``.
    """
    s = torch.as_tensor(score, dtype=torch.float64)
    if s.ndim != 2:
        raise ValueError(f"a role score is [n_layers, n_heads]; got shape {tuple(s.shape)}")
    ok = s[~torch.isnan(s)]
    if ok.numel() == 0:
        return s.clone()
    med = ok.median()
    scale = 1.4826 * (ok - med).abs().median()
    if scale <= 0:
        scale = ok.std(unbiased=False) if ok.numel() > 1 else torch.tensor(0.0, dtype=torch.float64)
    if scale <= 0:
        scale = torch.tensor(1.0, dtype=torch.float64)
    return (s - med) / scale


def exclusive_roles(scores: Mapping[str, Tensor]) -> dict[str, Bool[Tensor, "layer head"]]:
    """Each head counted for one role at a time: the role in which it stands out most from all heads
    (:func:`role_standing`; ties go to the role named first). The study names a head for one role each; one head
    can top two overlapping scores (a number attending to earlier numbers is both similar-member and numeral
    detection), and this assignment stops it standing for both.

    Returns:
        role → boolean ``[n_layers, n_heads]`` mask of the heads counted for it; the masks are disjoint, and a head
        whose scores are all NaN is counted for none.

    Raises:
        ValueError: if no role is given or the scores differ in shape.
    """
    if not scores:
        raise ValueError("exclusive_roles needs at least one role score")
    names = list(scores)
    standing = torch.stack([role_standing(scores[n]) for n in names])                 # [role, layer, head]
    if len({tuple(t.shape) for t in standing}) != 1:
        raise ValueError("every role score must have the same [n_layers, n_heads] shape")
    filled = torch.nan_to_num(standing, nan=-math.inf)
    best = filled.argmax(dim=0)                                                      # first maximum: the earlier role
    none = torch.isnan(standing).all(dim=0)
    return {n: (best == i) & ~none for i, n in enumerate(names)}


def base_rate(score: Float[Tensor, "layer head"], q: float = 0.95) -> float:
    """The ``q``-quantile of a role score over all of a model's heads (NaN left out): the level that a role's head
    must beat to stand out from the model's heads (``nan`` when no head has a score).

    Raises:
        ValueError: if ``q`` is not in [0, 1].
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be a quantile in [0, 1], not {q}")
    s = torch.as_tensor(score, dtype=torch.float64).flatten()
    s = s[~torch.isnan(s)]
    return float(torch.quantile(s, q)) if s.numel() else math.nan


# --------------------------------------------------------------------------------------------- successor heads
def effective_embeddings(adapter: ModelAdapter, token_ids: Sequence[int],
                         mode: str = "mlp0") -> Float[Tensor, "n d_model"]:
    """Residual-stream vectors of the given tokens after block 0's MLP, the input of a successor-head OV test
    (notebook 03).

    Gould et al. ("Successor Heads") read a token's representation after MLP0, which in GPT-2 acts as an extended
    embedding. Two modes:

    * ``"mlp0"`` (default): ``W_E[t] + MLP0(W_E[t])`` (with MLP0's input norm): the token embedding plus MLP0's output
      on it, skipping attention and position (the embed → MLP0 path).
    * ``"resid0"``: run each token alone as a one-token prompt and read the residual stream after block 0 (includes
      the position-0 embedding and layer 0's attention to itself).

    Raises:
        ValueError: for an unknown mode.
    """
    ids = torch.as_tensor(list(token_ids), dtype=torch.long)
    with torch.no_grad():
        if mode == "mlp0":
            e = adapter.token_embeddings(ids.tolist())[None]                              # [1, n, d]
            return (e + adapter.mlp_on(0, e))[0].float().cpu()
        if mode == "resid0":
            site = Site("resid_pre", 1) if adapter.n_layers > 1 else Site("resid_final")
            return adapter.capture_unpatched(ids[:, None], [site])[site][:, 0]
    raise ValueError(f"unknown mode {mode!r}: use 'mlp0' (embedding + MLP0) or 'resid0' (one-token forward)")


def ov_element_logits(adapter: ModelAdapter, elements: Sequence[str] = DEFAULT_ELEMENTS, mode: str = "mlp0",
                      include_bias: bool = False) -> Float[Tensor, "layer head n_in n_out"]:
    """Every head's OV map restricted to the task's elements, in logits (notebook 03's OV heatmaps).

    For element ``i`` (row) and element ``j`` (column): take ``x_i`` = :func:`effective_embeddings`, normalise it as
    the head's input norm does (``adapter.attn_in``; compatibility mode folds the LN weights into ``W_V``), apply
    the head's OV circuit (``@ W_V[l, h]`` (``+ b_V`` if ``include_bias``) ``@ W_O[l, h]``), normalise the result as
    the final norm would if it were the whole residual stream, and read the logit of element ``j`` through the
    unembedding (``adapter.output_of_residual``). The bias is off by default: it adds the same vector to every row, which shifts all rows
    towards the same column and says nothing about the token-to-token map.
    """
    ids = element_token_ids(adapter.tokenizer, elements)
    x = effective_embeddings(adapter, ids, mode).to(adapter.device)
    with torch.no_grad():
        rows = []
        for l in range(adapter.n_layers):
            w = adapter.attn_weights(l)
            xin = adapter.attn_in(l, x[None])[0]                                              # [n, d]
            v = torch.einsum("nd,hde->hne", xin, w["W_V"])
            if include_bias:
                v = v + w["b_V"][:, None, :]
            out = torch.einsum("hne,hed->hnd", v, w["W_O"])                                  # [head, n, d]
            rows.append(adapter.output_of_residual(out, ids).float().cpu())
    return torch.stack(rows)


def successor_score_from_ov(ov_logits: Float[Tensor, "n n"], rows: Sequence[int] | None = None) -> float:
    """Fraction of elements whose successor is the top-1 of their OV row (notebook 03; pure function for tests).

    ``ov_logits[i, j]`` is how much input element ``i`` raises output element ``j``, elements in sequence order.
    Rows ``0 … n-2`` are scored (the last element's successor is not in the list): row ``i`` counts if its argmax is
    ``i + 1``. A random map scores ``1/n`` on average (chance); a perfect successor map scores 1. ``rows`` scores
    only those input rows (a disjoint part of the elements: the spread of a score that reads weights, not prompts).

    Raises:
        ValueError: unless ``ov_logits`` is square with at least 2 rows, or if ``rows`` is empty or names a row
            outside ``0 … n-2``.
    """
    m = torch.as_tensor(ov_logits)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"ov_logits must be a square [n_elements, n_elements] matrix with n >= 2, got "
                         f"{tuple(m.shape)}: rows are input elements, columns output elements, in sequence order")
    hits = m[:-1].argmax(dim=-1) == torch.arange(1, m.shape[0])
    if rows is None:
        return float(hits.float().mean())
    rows = [int(r) for r in rows]
    if not rows or not all(0 <= r < m.shape[0] - 1 for r in rows):
        raise ValueError(f"rows must be a non-empty list of input rows in 0 … {m.shape[0] - 2} (the last element has "
                         f"no successor in the list), got {rows}")
    return float(hits[rows].float().mean())


def successor_scores(adapter: ModelAdapter, elements: Sequence[str] = DEFAULT_ELEMENTS, mode: str = "mlp0",
                     include_bias: bool = False) -> Float[Tensor, "layer head"]:
    """Successor score of every head, after Gould et al. and the seqcont work (notebook 03).

    For each head, :func:`ov_element_logits` (element embeddings after MLP0 → the head's OV circuit →
    ``ln_final`` → unembedding, restricted to the elements) and then :func:`successor_score_from_ov`: the fraction
    of elements ``n`` whose ``n+1`` is the top-1 among the task's element tokens. Chance is ``1/len(elements)``.
    """
    maps = ov_element_logits(adapter, elements, mode, include_bias)
    return torch.tensor([[successor_score_from_ov(maps[l, h]) for h in range(maps.shape[1])]
                         for l in range(maps.shape[0])])


def head_role_scores(adapter: ModelAdapter, tokens: Int[Tensor, "batch pos"],
                     elements: Sequence[str] = DEFAULT_ELEMENTS) -> dict[str, Float[Tensor, "layer head"]]:
    """All role scores from one forward pass (notebook 03): :func:`decoder_attention_roles` and the successor score
    (weights only), each ``[n_layers, n_heads]`` (see the single functions for the definitions)."""
    patterns = per_prompt_patterns(adapter, tokens)
    return {**decoder_attention_roles(tokens, patterns, adapter.tokenizer),
            "successor": successor_scores(adapter, elements)}


@dataclass(frozen=True, eq=False)
class RoleRank(Record):
    """One head's place in a role's ranking (a row of :func:`role_table`; reads as a mapping of its fields).

    Attributes:
        role: the role's name (a key of the scores, e.g. ``"number mover"``).
        rank: the head's rank for the role, 1 for the highest score.
        head: the head.
        score: its role score (attention mass in [0, 1] for the attention roles; the successor score for
            ``"successor"``; see the role's function).
    """

    role: str
    rank: int
    head: Component
    score: float


def role_table(scores: Mapping[str, Tensor], top_k: int = 3,
               counted: Mapping[str, Tensor] | None = None) -> list[RoleRank]:
    """The ``top_k`` heads of each role, highest score first, as plain rows (notebooks 03 and 07's tables).

    Args:
        scores: role name → ``[n_layers, n_heads]`` scores (e.g. :func:`head_role_scores`).
        top_k: heads per role.
        counted: optional role → boolean ``[n_layers, n_heads]`` mask of the heads that may stand for the role
            (:func:`exclusive_roles`); ``None`` ranks every head for every role.

    Returns:
        One :class:`RoleRank` (``role``, ``rank``, ``head``, ``score``) per ranked head, roles in the order of
        ``scores``, rank from 1; NaN scores are skipped.

    Raises:
        ValueError: for ``top_k < 1``, a score tensor that is not 2-D, or a mask of another shape or role.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    rows = []
    for role, s in scores.items():
        s = torch.as_tensor(s, dtype=torch.float32)
        if s.ndim != 2:
            raise ValueError(f"scores[{role!r}] has shape {tuple(s.shape)}; expected [n_layers, n_heads]")
        flat = s.flatten()
        allowed = torch.ones_like(flat, dtype=torch.bool)
        if counted is not None:
            if role not in counted or tuple(counted[role].shape) != tuple(s.shape):
                raise ValueError(f"counted has no {tuple(s.shape)} mask for the role {role!r}: pass "
                                 "exclusive_roles(scores)")
            allowed = torch.as_tensor(counted[role], dtype=torch.bool).flatten()
        order = [int(i) for i in torch.argsort(flat, descending=True, stable=True)
                 if not torch.isnan(flat[i]) and bool(allowed[i])]
        for rank, i in enumerate(order[:top_k], start=1):
            rows.append(RoleRank(role=role, rank=rank, head=Component(i // s.shape[1], i % s.shape[1]),
                                 score=float(flat[i])))
    return rows


# --------------------------------------------------------------------------------------------- QK / OV
@dataclass
class HeadCircuits:
    """One head's QK and OV circuits (notebook 03).

    Attributes:
        head: the head.
        QK: TransformerLens ``FactoredMatrix`` ``W_Q W_Kᵀ`` [d_model, d_model] (query side rows).
        OV: ``FactoredMatrix`` ``W_V W_O`` [d_model, d_model].
        labels: the element strings (rows/columns of the dense matrices), or empty.
        ov_logits: ``[n, n]`` OV map on the elements in logits (:func:`ov_element_logits`), or ``None``.
        qk_scores: ``[n, n]`` attention scores (before softmax, ``/ sqrt(d_head)``) from query element ``i`` to key
            element ``j``, both as normalised effective embeddings without position, or ``None``.
    """

    head: Component
    QK: object
    OV: object
    labels: list[str]
    ov_logits: Tensor | None = None
    qk_scores: Tensor | None = None


def qk_ov_matrices(adapter: ModelAdapter, head: Component, elements: Sequence[str] | None = DEFAULT_ELEMENTS,
                   mode: str = "mlp0") -> HeadCircuits:
    """A head's QK and OV circuits, factored, and dense on the task's elements (notebook 03).

    Args:
        adapter: the model.
        head: the head (a :class:`Component` with ``head >= 0``).
        elements: the task's elements for the dense views; ``None`` skips them.
        mode: how elements are embedded (:func:`effective_embeddings`).

    Raises:
        ValueError: for an MLP or a head outside the model.
    """
    from transformer_lens import FactoredMatrix

    if head.is_mlp or not (head.layer < adapter.n_layers and head.head < adapter.n_heads):
        raise ValueError(f"{head} is not a head of the model ({adapter.n_layers} layers x {adapter.n_heads} heads)")
    w = adapter.attn_weights(head.layer)
    h = head.head
    circ = HeadCircuits(head, FactoredMatrix(w["W_Q"][h], w["W_K"][h].T), FactoredMatrix(w["W_V"][h], w["W_O"][h]),
                        [])
    if elements is None:
        return circ
    ids = element_token_ids(adapter.tokenizer, elements)
    with torch.no_grad():
        x = adapter.attn_in(head.layer, effective_embeddings(adapter, ids, mode)[None].to(adapter.device))[0]
        q = x @ w["W_Q"][h] + w["b_Q"][h]
        k = x @ w["W_K"][h] + w["b_K"][h]
        circ.qk_scores = (q @ k.T / adapter.d_head ** 0.5).float().cpu()
    circ.ov_logits = ov_element_logits(adapter, elements, mode)[head.layer, head.head]
    circ.labels = [e.strip() for e in elements]
    return circ
