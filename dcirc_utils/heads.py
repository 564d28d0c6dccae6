"""Attention heads: patterns, role scores computed from the model, QK/OV circuits and teacher ↔ student matching.

Used by notebook 03 (heads). Every score here is *measured* from the model on prompts (or from its weights), never
labelled by hand; the study's names for head roles (numeral detection, duplicate-token, number mover, successor) are
turned into the precise definitions written in each function's docstring, so that a notebook can rank the heads of
any pair by each role and compare the ranking with the study's heads (``data/reference/paper_figures.json``).

Conventions:

* Patterns are TransformerLens's ``blocks.{l}.attn.hook_pattern`` (softmax over keys, causal), so every query row
  sums to 1 and all scores below are attention *mass* in ``[0, 1]``.
* Heads are labelled ``"L.H"`` (``"4.10"`` is layer 4 head 10), as :class:`dcirc_utils.engine.Component` prints
  them; a teacher ↔ student match is written ``"T-L4-H4 → S-L2-H4"`` by :func:`match_label`.
* "Element tokens" are the task's sequence members (numbers ``" 1"`` … ``" 12"`` by default), always with a leading
  space, as they appear in the prompts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

__all__ = [
    "DEFAULT_ELEMENTS", "attention_patterns", "per_prompt_patterns", "element_token_mask", "element_token_ids",
    "numeral_detection_scores", "duplicate_token_scores", "number_mover_scores", "last_number_scores",
    "head_role_scores", "effective_embeddings", "ov_element_logits", "successor_score_from_ov", "successor_scores",
    "role_table", "HeadCircuits", "qk_ov_matrices", "head_similarity", "match_heads", "match_heads_topk",
    "match_label", "head_label", "parse_head_label",
]

#: The numeral task's elements (the study's corrupted numbers are drawn from 1..12).
DEFAULT_ELEMENTS: tuple[str, ...] = tuple(str(i) for i in range(1, 13))


# --------------------------------------------------------------------------------------------- labels
def head_label(layer: int, head: int) -> str:
    """``"L.H"``, e.g. ``head_label(4, 10) == "4.10"`` (notebook 03's tables)."""
    return f"{int(layer)}.{int(head)}"


def parse_head_label(label: str) -> tuple[int, int]:
    """``"4.10"`` → ``(4, 10)``.

    Raises:
        ValueError: for anything that is not ``"<layer>.<head>"``.
    """
    parts = str(label).strip().split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"cannot read head label {label!r}: write heads as 'layer.head', e.g. '4.10'")
    return int(parts[0]), int(parts[1])


def match_label(student_head: str, teacher_head: str) -> str:
    """A teacher ↔ student match as the study wrote it: ``match_label("2.4", "4.4") == "T-L4-H4 → S-L2-H4"``.

    Args:
        student_head: the student head, ``"L.H"``.
        teacher_head: its matched teacher head, ``"L.H"``.
    """
    sl, sh = parse_head_label(student_head)
    tl, th = parse_head_label(teacher_head)
    return f"T-L{tl}-H{th} → S-L{sl}-H{sh}"


# --------------------------------------------------------------------------------------------- patterns
def _check_tokens(tokens: Tensor) -> Tensor:
    if not isinstance(tokens, Tensor) or tokens.ndim != 2 or tokens.dtype not in (torch.long, torch.int32,
                                                                                  torch.int64):
        raise ValueError(f"tokens must be an integer tensor [batch, pos], got "
                         f"{getattr(tokens, 'shape', type(tokens))} {getattr(tokens, 'dtype', '')}: pass "
                         "PromptSet.tokens(tokenizer)")
    return tokens


def _model_device(model) -> torch.device:
    return next(model.parameters()).device


def per_prompt_patterns(model, tokens: Int[Tensor, "batch pos"],
                        batch_size: int = 256) -> Float[Tensor, "layer batch head q k"]:
    """Every head's attention pattern on every prompt (``hook_pattern``), on the CPU (notebook 03).

    Args:
        model: a TransformerBridge (or HookedTransformer) with ``run_with_cache``.
        tokens: the prompts.
        batch_size: prompts per forward pass (bounds memory).
    """
    tokens = _check_tokens(tokens)
    n_layers = model.cfg.n_layers
    names = {f"blocks.{l}.attn.hook_pattern" for l in range(n_layers)}
    out = []
    device = _model_device(model)
    with torch.no_grad():
        for start in range(0, tokens.shape[0], batch_size):
            chunk = tokens[start:start + batch_size].to(device)
            _, cache = model.run_with_cache(chunk, names_filter=lambda n: n in names)
            out.append(torch.stack([cache[f"blocks.{l}.attn.hook_pattern"].float().cpu() for l in range(n_layers)]))
            del cache
    return torch.cat(out, dim=1)


def attention_patterns(model, tokens: Int[Tensor, "batch pos"],
                       batch_size: int = 256) -> Float[Tensor, "layer head q k"]:
    """Batch-mean attention patterns of every head (notebook 03; the input of :func:`head_similarity`).

    Averaging over prompts is meaningful because every prompt of a :class:`~dcirc_utils.tasks.PromptSet` has the
    same token layout (word, verb, "in", number, "." …).
    """
    return per_prompt_patterns(model, tokens, batch_size).mean(dim=1)


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
    tokens = _check_tokens(tokens)
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


def _patterns_or_run(model, tokens, patterns):
    if patterns is None:
        patterns = per_prompt_patterns(model, tokens)
    _check_patterns(patterns, tokens)
    return patterns


def numeral_detection_scores(model, tokens: Int[Tensor, "batch pos"], tokenizer=None,
                             element_ids: Sequence[int] | None = None,
                             patterns: Tensor | None = None) -> Float[Tensor, "layer head"]:
    """How much each head, sitting on a number, looks back at the earlier numbers (notebook 03).

    Definition: for every query position ``q`` holding an element (number) token that has at least one earlier
    element in its prompt, the attention mass ``Σ_{k<q, k an element} A[q, k]``; the score is the mean over all such
    (prompt, query) pairs. 1 means the head attends only to earlier numbers from numbers; a head attending uniformly
    scores about (earlier numbers)/(q+1), i.e. 0.1–0.2 on the task's prompts.

    Args:
        model: a TransformerBridge.
        tokens: the prompts (clean set).
        tokenizer, element_ids: what counts as an element, see :func:`element_token_mask`.
        patterns: optional precomputed :func:`per_prompt_patterns` of ``tokens`` (saves a forward pass).
    """
    tokens = _check_tokens(tokens)
    patterns = _patterns_or_run(model, tokens, patterns)
    is_el = element_token_mask(tokens, tokenizer, element_ids)
    earlier = torch.tril(torch.ones(tokens.shape[1], tokens.shape[1], dtype=torch.bool), diagonal=-1)
    key_mask = earlier[None] & is_el[:, None, :]                                    # [batch, q, k]
    mass = (patterns * key_mask[None, :, None].to(patterns.dtype)).sum(-1)          # [layer, batch, head, q]
    query_mask = is_el & (torch.cumsum(is_el.long(), dim=1) > 1)
    return _masked_query_mean(mass, query_mask)


def duplicate_token_scores(model, tokens: Int[Tensor, "batch pos"],
                           patterns: Tensor | None = None) -> Float[Tensor, "layer head"]:
    """How much each head attends from a token to its earlier occurrences (notebook 03).

    Definition: for every query position ``q`` whose token id occurred earlier in the same prompt, the attention
    mass ``Σ_{k<q, tokens[k] == tokens[q]} A[q, k]``; the score is the mean over all such (prompt, query) pairs. On
    the task's prompts the repeated tokens are the verb (``" done"``/``" lost"``/``" born"``, 5 times), ``" in"``
    (5 times) and ``"."`` (4 times); the words are distinct, and clean numbers never repeat (corrupted ones may).
    Self-attention (``k == q``) does not count.
    """
    tokens = _check_tokens(tokens)
    patterns = _patterns_or_run(model, tokens, patterns)
    pos = tokens.shape[1]
    earlier = torch.tril(torch.ones(pos, pos, dtype=torch.bool), diagonal=-1)
    same = (tokens[:, :, None] == tokens[:, None, :]) & earlier[None]                # [batch, q, k]
    mass = (patterns * same[None, :, None].to(patterns.dtype)).sum(-1)
    return _masked_query_mean(mass, same.any(-1))


def number_mover_scores(model, tokens: Int[Tensor, "batch pos"], tokenizer=None,
                        element_ids: Sequence[int] | None = None,
                        patterns: Tensor | None = None) -> Float[Tensor, "layer head"]:
    """Attention mass of the final position (where the answer is predicted) on all shown numbers (notebook 03).

    Definition: ``Σ_{k an element} A[-1, k]`` averaged over prompts. The study's number mover (GPT-2 7.11) attends
    from the end to the numbers; :func:`last_number_scores` isolates the most recent one.
    """
    tokens = _check_tokens(tokens)
    patterns = _patterns_or_run(model, tokens, patterns)
    is_el = element_token_mask(tokens, tokenizer, element_ids)
    mass = (patterns[..., -1, :] * is_el[None, :, None].to(patterns.dtype)).sum(-1)   # [layer, batch, head]
    return mass.mean(dim=1)


def last_number_scores(model, tokens: Int[Tensor, "batch pos"], tokenizer=None,
                       element_ids: Sequence[int] | None = None,
                       patterns: Tensor | None = None) -> Float[Tensor, "layer head"]:
    """Attention mass of the final position on the *last* shown number only, averaged over prompts (notebook 03).

    The study describes its successor head (GPT-2 9.1) as attending to the most recent number; this score measures
    that attention, while :func:`successor_scores` measures what the head's OV circuit writes.

    Raises:
        ValueError: if a prompt has no element token.
    """
    tokens = _check_tokens(tokens)
    patterns = _patterns_or_run(model, tokens, patterns)
    is_el = element_token_mask(tokens, tokenizer, element_ids)
    if not bool(is_el.any(-1).all()):
        raise ValueError("some prompts hold no element token; check tokenizer/element_ids")
    pos = torch.arange(tokens.shape[1])
    last = torch.where(is_el, pos, -1).max(dim=1).values                               # [batch]
    onehot = torch.nn.functional.one_hot(last, tokens.shape[1]).to(patterns.dtype)       # [batch, k]
    return (patterns[..., -1, :] * onehot[None, :, None, :]).sum(-1).mean(dim=1)


# --------------------------------------------------------------------------------------------- successor heads
def effective_embeddings(model, token_ids: Sequence[int], mode: str = "mlp0") -> Float[Tensor, "n d_model"]:
    """Residual-stream vectors of the given tokens after block 0's MLP, the input of a successor-head OV test.

    Gould et al. ("Successor Heads") read a token's representation after MLP0, which in GPT-2 acts as an extended
    embedding. Two modes:

    * ``"mlp0"`` (default): ``W_E[t] + MLP0(LN2(W_E[t]))``: the token embedding plus MLP0's output on it, skipping
      attention and position (the embed → MLP0 path).
    * ``"resid0"``: run each token alone as a one-token prompt and read ``blocks.0.hook_resid_post`` (includes the
      position-0 embedding and layer 0's attention to itself).

    Raises:
        ValueError: for an unknown mode.
    """
    ids = torch.as_tensor(list(token_ids), dtype=torch.long)
    device = _model_device(model)
    with torch.no_grad():
        if mode == "mlp0":
            e = model.W_E[ids.to(device)][None]                                         # [1, n, d]
            out = e + model.blocks[0].mlp(model.blocks[0].ln2(e))
            return out[0].float().cpu()
        if mode == "resid0":
            name = "blocks.0.hook_resid_post"
            _, cache = model.run_with_cache(ids[:, None].to(device), names_filter=lambda n: n == name)
            return cache[name][:, 0].float().cpu()
    raise ValueError(f"unknown mode {mode!r}: use 'mlp0' (embedding + MLP0) or 'resid0' (one-token forward)")


def ov_element_logits(model, tokenizer, elements: Sequence[str] = DEFAULT_ELEMENTS, mode: str = "mlp0",
                      include_bias: bool = False) -> Float[Tensor, "layer head n_in n_out"]:
    """Every head's OV map restricted to the task's elements, in logits (notebook 03's OV heatmaps).

    For element ``i`` (row) and element ``j`` (column): take ``x_i`` = :func:`effective_embeddings`, normalise it as
    the head's input LayerNorm does (``blocks[l].ln1``; compatibility mode folds the LN weights into ``W_V``), apply
    the head's OV circuit (``@ W_V[l, h]`` (``+ b_V`` if ``include_bias``) ``@ W_O[l, h]``), normalise the result as
    the final LayerNorm would if it were the whole residual stream (``ln_final``), and read the logit of element
    ``j`` through ``W_U``. The bias is off by default: it adds the same vector to every row, which shifts all rows
    towards the same column and says nothing about the token-to-token map.
    """
    ids = element_token_ids(tokenizer, elements)
    x = effective_embeddings(model, ids, mode)
    device = _model_device(model)
    with torch.no_grad():
        rows = []
        for l in range(model.cfg.n_layers):
            xin = model.blocks[l].ln1(x[None].to(device))[0]                              # [n, d]
            v = torch.einsum("nd,hde->hne", xin, model.W_V[l])
            if include_bias:
                v = v + model.b_V[l][:, None, :]
            out = torch.einsum("hne,hed->hnd", v, model.W_O[l])                          # [head, n, d]
            out = model.ln_final(out)
            rows.append((out @ model.W_U[:, ids]).float().cpu())
    return torch.stack(rows)


def successor_score_from_ov(ov_logits: Float[Tensor, "n n"]) -> float:
    """Fraction of elements whose successor is the top-1 of their OV row (notebook 03; pure function for tests).

    ``ov_logits[i, j]`` is how much input element ``i`` raises output element ``j``, elements in sequence order.
    Rows ``0 … n-2`` are scored (the last element's successor is not in the list): row ``i`` counts if its argmax is
    ``i + 1``. A random map scores ``1/n`` on average (chance); a perfect successor map scores 1.

    Raises:
        ValueError: unless ``ov_logits`` is square with at least 2 rows.
    """
    m = torch.as_tensor(ov_logits)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"ov_logits must be a square [n_elements, n_elements] matrix with n >= 2, got "
                         f"{tuple(m.shape)}: rows are input elements, columns output elements, in sequence order")
    top = m[:-1].argmax(dim=-1)
    return float((top == torch.arange(1, m.shape[0])).float().mean())


def successor_scores(model, tokenizer, elements: Sequence[str] = DEFAULT_ELEMENTS, mode: str = "mlp0",
                     include_bias: bool = False) -> Float[Tensor, "layer head"]:
    """Successor score of every head, after Gould et al. and the seqcont work (notebook 03).

    For each head, :func:`ov_element_logits` (element embeddings after MLP0 → the head's OV circuit →
    ``ln_final`` → unembedding, restricted to the elements) and then :func:`successor_score_from_ov`: the fraction
    of elements ``n`` whose ``n+1`` is the top-1 among the task's element tokens. Chance is ``1/len(elements)``.
    """
    maps = ov_element_logits(model, tokenizer, elements, mode, include_bias)
    return torch.tensor([[successor_score_from_ov(maps[l, h]) for h in range(maps.shape[1])]
                         for l in range(maps.shape[0])])


def head_role_scores(model, tokens: Int[Tensor, "batch pos"], tokenizer,
                     elements: Sequence[str] = DEFAULT_ELEMENTS) -> dict[str, Float[Tensor, "layer head"]]:
    """All role scores from one forward pass (notebook 03): numeral detection, duplicate token, number mover,
    last number and successor, each ``[n_layers, n_heads]`` (see the single functions for the definitions)."""
    patterns = per_prompt_patterns(model, tokens)
    return {
        "numeral detection": numeral_detection_scores(model, tokens, tokenizer, patterns=patterns),
        "duplicate token": duplicate_token_scores(model, tokens, patterns=patterns),
        "number mover": number_mover_scores(model, tokens, tokenizer, patterns=patterns),
        "last number": last_number_scores(model, tokens, tokenizer, patterns=patterns),
        "successor": successor_scores(model, tokenizer, elements),
    }


def role_table(scores: Mapping[str, Tensor], top_k: int = 3) -> list[dict]:
    """The ``top_k`` heads of each role, highest score first, as plain rows (notebook 03's tables).

    Args:
        scores: role name → ``[n_layers, n_heads]`` scores (e.g. :func:`head_role_scores`).
        top_k: heads per role.

    Returns:
        ``[{"role", "rank", "head", "score"}, ...]`` with ``head`` as ``"L.H"``, rank from 1; NaN scores are
        skipped.

    Raises:
        ValueError: for ``top_k < 1`` or a score tensor that is not 2-D.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    rows = []
    for role, s in scores.items():
        s = torch.as_tensor(s, dtype=torch.float32)
        if s.ndim != 2:
            raise ValueError(f"scores[{role!r}] has shape {tuple(s.shape)}; expected [n_layers, n_heads]")
        flat = s.flatten()
        order = [int(i) for i in torch.argsort(flat, descending=True, stable=True) if not torch.isnan(flat[i])]
        for rank, i in enumerate(order[:top_k], start=1):
            rows.append({"role": role, "rank": rank, "head": head_label(i // s.shape[1], i % s.shape[1]),
                         "score": float(flat[i])})
    return rows


# --------------------------------------------------------------------------------------------- QK / OV
@dataclass
class HeadCircuits:
    """One head's QK and OV circuits (notebook 03).

    Attributes:
        head: ``"L.H"``.
        QK: TransformerLens ``FactoredMatrix`` ``W_Q W_Kᵀ`` [d_model, d_model] (query side rows).
        OV: ``FactoredMatrix`` ``W_V W_O`` [d_model, d_model].
        labels: the element strings (rows/columns of the dense matrices), or empty.
        ov_logits: ``[n, n]`` OV map on the elements in logits (:func:`ov_element_logits`), or ``None``.
        qk_scores: ``[n, n]`` attention scores (before softmax, ``/ sqrt(d_head)``) from query element ``i`` to key
            element ``j``, both as LN-normalised effective embeddings without position, or ``None``.
    """

    head: str
    QK: object
    OV: object
    labels: list[str]
    ov_logits: Tensor | None = None
    qk_scores: Tensor | None = None


def qk_ov_matrices(model, layer: int, head: int, tokenizer=None, elements: Sequence[str] = DEFAULT_ELEMENTS,
                   mode: str = "mlp0") -> HeadCircuits:
    """A head's QK and OV circuits, factored, and (with a tokenizer) dense on the task's elements (notebook 03).

    Raises:
        ValueError: for a layer or head outside the model.
    """
    if not (0 <= layer < model.cfg.n_layers and 0 <= head < model.cfg.n_heads):
        raise ValueError(f"head {layer}.{head} is outside the model ({model.cfg.n_layers} layers x "
                         f"{model.cfg.n_heads} heads)")
    circ = HeadCircuits(head_label(layer, head), model.QK[layer, head], model.OV[layer, head], [])
    if tokenizer is None:
        return circ
    ids = element_token_ids(tokenizer, elements)
    device = _model_device(model)
    with torch.no_grad():
        x = model.blocks[layer].ln1(effective_embeddings(model, ids, mode)[None].to(device))[0]
        q = x @ model.W_Q[layer, head] + model.b_Q[layer, head]
        k = x @ model.W_K[layer, head] + model.b_K[layer, head]
        circ.qk_scores = (q @ k.T / model.cfg.d_head ** 0.5).float().cpu()
    circ.ov_logits = ov_element_logits(model, tokenizer, elements, mode)[layer, head]
    circ.labels = [e.strip() for e in elements]
    return circ


# --------------------------------------------------------------------------------------------- matching
def head_similarity(teacher_patterns: Float[Tensor, "t_layer t_head q k"],
                    student_patterns: Float[Tensor, "s_layer s_head q k"],
                    mode: str = "rows") -> Float[Tensor, "s_heads t_heads"]:
    """Cosine similarity of every student head's prompt-averaged pattern with every teacher head's (notebook 03).

    Args:
        teacher_patterns, student_patterns: :func:`attention_patterns` of the two models on the *same* prompts.
        mode: ``"rows"`` (the study's measure): the cosine between the two heads' pattern rows of the same query
            position, averaged over query positions; ``"flat"``: one cosine of the flattened ``q × k`` matrices.
            Row 0 is ``[1, 0, …]`` for every causal head, so it adds the same ``1/q`` to every pair in ``"rows"``.

    Returns:
        ``[S_layers·S_heads, T_layers·T_heads]``, student head ``l·S_heads + h`` in row order, teacher heads in
        column order.

    Raises:
        ValueError: if the patterns are not 4-D or their ``q × k`` sizes differ (compute both on the same tokens).
    """
    t, s = torch.as_tensor(teacher_patterns).float(), torch.as_tensor(student_patterns).float()
    if t.ndim != 4 or s.ndim != 4:
        raise ValueError(f"patterns must be [layer, head, q, k]; got teacher {tuple(t.shape)}, student "
                         f"{tuple(s.shape)}: pass attention_patterns(model, tokens)")
    if t.shape[-2:] != s.shape[-2:]:
        raise ValueError(f"teacher patterns are {tuple(t.shape[-2:])} (q x k) but the student's are "
                         f"{tuple(s.shape[-2:])}: compute both with attention_patterns on the same tokens")
    t = t.flatten(0, 1)
    s = s.flatten(0, 1)
    if mode == "rows":
        tn = t / t.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        sn = s / s.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return torch.einsum("sqk,tqk->st", sn, tn) / t.shape[1]
    if mode == "flat":
        tn = t.flatten(1) / t.flatten(1).norm(dim=-1, keepdim=True).clamp_min(1e-12)
        sn = s.flatten(1) / s.flatten(1).norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return sn @ tn.T
    raise ValueError(f"unknown mode {mode!r}: use 'rows' (study) or 'flat'")


def match_heads(sim: Float[Tensor, "s_heads t_heads"], n_student_heads: int,
                n_teacher_heads: int | None = None) -> list[tuple[str, str, float]]:
    """Each student head's best teacher head (the study's direction: student → teacher) (notebook 03).

    Args:
        sim: :func:`head_similarity` output.
        n_student_heads: heads per student layer (to turn row indices into ``"L.H"``).
        n_teacher_heads: heads per teacher layer (default: the same).

    Returns:
        ``[(student "L.H", teacher "L.H", similarity), ...]`` in student head order; several student heads may map
        to the same teacher head. Format a row with :func:`match_label`.

    Raises:
        ValueError: if the head counts do not divide ``sim``'s shape.
    """
    n_teacher_heads = n_student_heads if n_teacher_heads is None else n_teacher_heads
    sim = torch.as_tensor(sim)
    if sim.ndim != 2 or sim.shape[0] % n_student_heads or sim.shape[1] % n_teacher_heads:
        raise ValueError(f"sim of shape {tuple(sim.shape)} is not [S_layers*{n_student_heads}, "
                         f"T_layers*{n_teacher_heads}]: pass head_similarity(...) and the models' cfg.n_heads")
    best = sim.max(dim=1)
    out = []
    for i, (v, j) in enumerate(zip(best.values.tolist(), best.indices.tolist())):
        out.append((head_label(i // n_student_heads, i % n_student_heads),
                    head_label(j // n_teacher_heads, j % n_teacher_heads), float(v)))
    return out


def match_heads_topk(sim: Float[Tensor, "s_heads t_heads"], n_student_heads: int, n_teacher_heads: int | None = None,
                     k: int = 3) -> list[tuple[str, list[tuple[str, float]]]]:
    """Each student head's ``k`` most similar teacher heads, best first (notebook 03: does one student head resemble
    *several* teacher heads, e.g. heads of teacher layers the student dropped?).

    :func:`match_heads` keeps only the best teacher head; this keeps the runners-up too. Ties are broken by teacher
    head order (stable sort), so the result is deterministic.

    Args:
        sim: :func:`head_similarity` output ``[S_layers·S_heads, T_layers·T_heads]``.
        n_student_heads: heads per student layer.
        n_teacher_heads: heads per teacher layer (default: the same).
        k: teacher heads per student head (at most the number of teacher heads).

    Returns:
        ``[(student "L.H", [(teacher "L.H", similarity), ...]), ...]`` in student head order.

    Raises:
        ValueError: if the head counts do not divide ``sim``'s shape, or for ``k`` outside ``1 … T_layers·T_heads``.
    """
    n_teacher_heads = n_student_heads if n_teacher_heads is None else n_teacher_heads
    sim = torch.as_tensor(sim)
    if sim.ndim != 2 or sim.shape[0] % n_student_heads or sim.shape[1] % n_teacher_heads:
        raise ValueError(f"sim of shape {tuple(sim.shape)} is not [S_layers*{n_student_heads}, "
                         f"T_layers*{n_teacher_heads}]: pass head_similarity(...) and the models' cfg.n_heads")
    if not 1 <= k <= sim.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the number of teacher heads ({sim.shape[1]})")
    out = []
    for i in range(sim.shape[0]):
        order = torch.argsort(sim[i], descending=True, stable=True)[:k].tolist()
        out.append((head_label(i // n_student_heads, i % n_student_heads),
                    [(head_label(j // n_teacher_heads, j % n_teacher_heads), float(sim[i, j])) for j in order]))
    return out
