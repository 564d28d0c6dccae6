"""Teacher ↔ student matching: which teacher component each student component corresponds to (notebooks 03–06).

The study's direction: each student head takes the teacher head whose batch-mean attention pattern is most similar
(:func:`head_similarity`), each student MLP the teacher MLP whose output subspace is most
similar (:mod:`dcirc_utils.methods.mlps`). Several student components may take the same teacher component. A match
is a :class:`Match` of two :class:`~dcirc_utils.core.components.Component` s and the pair's similarity.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from ..core.components import Component, parse_component
from ..models.adapters import ModelAdapter
from . import heads as heads_mod
from . import mlps as mlps_mod

__all__ = ["head_similarity", "Match", "normalise_matches", "match_heads", "match_heads_topk", "mlp_similarity_table", "match_mlps",
           "study_matches", "MLP_SIMILARITIES", "study_cosine_blocks", "study_table_under_signs"]

def head_similarity(teacher_patterns: Float[Tensor, "t_layer t_head q k"],
                    student_patterns: Float[Tensor, "s_layer s_head q k"],
                    mode: str = "rows") -> Float[Tensor, "s_heads t_heads"]:
    """Cosine similarity of every student head's prompt-averaged pattern with every teacher head's (notebook 03).

    Args:
        teacher_patterns, student_patterns: :func:`~dcirc_utils.methods.heads.attention_patterns` of the two models on the *same* prompts.
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


#: MLP similarity measures by name (:func:`mlp_similarity_table`).
MLP_SIMILARITIES = {"study": mlps_mod.study_similarity_of_bases, "principal": mlps_mod.principal_similarity_of_bases}


class Match(NamedTuple):
    """A student component paired with a teacher component, with the pair's similarity (``nan`` if unknown)."""

    student: Component
    teacher: Component
    similarity: float = math.nan


def normalise_matches(matches: Any) -> list[Match]:
    """Matches as a list of :class:`Match` (notebooks 05, 06).

    Accepted forms: a sequence of :class:`Match` or of ``(student, teacher[, similarity])`` tuples, or a mapping
    ``student → teacher`` / ``student → (teacher, similarity)``. Components may be given as strings (``"4.10"``,
    ``"MLP3"``: user input) and are parsed here once.

    Raises:
        ValueError: naming the entry that could not be read, or a student component matched twice.
    """
    if matches is None:
        return []
    items = list(matches.items()) if isinstance(matches, Mapping) else list(matches)
    out: list[Match] = []
    for m in items:
        if isinstance(matches, Mapping):
            student, value = m
            m = (student, *value) if isinstance(value, (tuple, list)) else (student, value)
        if not isinstance(m, (tuple, list)) or len(m) not in (2, 3):
            raise ValueError(f"cannot read match {m!r}: pass (student, teacher[, similarity]) tuples or a mapping "
                             "student → teacher")
        out.append(Match(parse_component(m[0]), parse_component(m[1]), float(m[2]) if len(m) == 3 else math.nan))
    seen: set[Component] = set()
    for m in out:
        if m.student in seen:
            raise ValueError(f"student component {m.student} is matched twice: each student component takes one "
                             "teacher component (its best match)")
        seen.add(m.student)
    return out


def _check_sim(sim: Tensor, n_student_heads: int, n_teacher_heads: int) -> Tensor:
    sim = torch.as_tensor(sim)
    if sim.ndim != 2 or sim.shape[0] % n_student_heads or sim.shape[1] % n_teacher_heads:
        raise ValueError(f"sim of shape {tuple(sim.shape)} is not [S_layers*{n_student_heads}, "
                         f"T_layers*{n_teacher_heads}]: pass head_similarity(...) and the models' n_heads")
    return sim


def match_heads(sim: Float[Tensor, "s_heads t_heads"], n_student_heads: int,
                n_teacher_heads: int | None = None) -> list[Match]:
    """Each student head's best teacher head (the study's direction: student → teacher) (notebooks 03, 05, 06).

    Args:
        sim: :func:`head_similarity` output.
        n_student_heads: heads per student layer.
        n_teacher_heads: heads per teacher layer (default: the same).

    Returns:
        One :class:`Match` per student head, in student head order; several student heads may map to the same
        teacher head. Ties go to the first teacher head.

    Raises:
        ValueError: if the head counts do not divide ``sim``'s shape.
    """
    n_teacher_heads = n_student_heads if n_teacher_heads is None else n_teacher_heads
    sim = _check_sim(sim, n_student_heads, n_teacher_heads)
    best = sim.max(dim=1)
    return [Match(Component(i // n_student_heads, i % n_student_heads),
                  Component(j // n_teacher_heads, j % n_teacher_heads), float(v))
            for i, (v, j) in enumerate(zip(best.values.tolist(), best.indices.tolist()))]


def match_heads_topk(sim: Float[Tensor, "s_heads t_heads"], n_student_heads: int, n_teacher_heads: int | None = None,
                     k: int = 3) -> list[tuple[Component, list[tuple[Component, float]]]]:
    """Each student head's ``k`` most similar teacher heads, best first (notebook 03: does one student head resemble
    *several* teacher heads, e.g. heads of teacher layers the student dropped?).

    Ties are broken by teacher head order (stable sort), so the result is deterministic.

    Returns:
        ``[(student head, [(teacher head, similarity), ...]), ...]`` in student head order.

    Raises:
        ValueError: if the head counts do not divide ``sim``'s shape, or for ``k`` outside ``1 … T_layers·T_heads``.
    """
    n_teacher_heads = n_student_heads if n_teacher_heads is None else n_teacher_heads
    sim = _check_sim(sim, n_student_heads, n_teacher_heads)
    if not 1 <= k <= sim.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the number of teacher heads ({sim.shape[1]})")
    out = []
    for i in range(sim.shape[0]):
        order = torch.argsort(sim[i], descending=True, stable=True)[:k].tolist()
        out.append((Component(i // n_student_heads, i % n_student_heads),
                    [(Component(j // n_teacher_heads, j % n_teacher_heads), float(sim[i, j])) for j in order]))
    return out


def mlp_similarity_table(teacher_outs: Sequence[Tensor] | Tensor, student_outs: Sequence[Tensor] | Tensor,
                         measure: str = "principal", k: int = 3) -> Float[Tensor, "t_layer s_layer"]:
    """``[t_layer, s_layer]`` similarities of every teacher MLP output with every student MLP output (notebooks 04,
    06), with each output's top-``k`` singular vectors computed once (a noise sweep calls this for every perturbed
    student).

    Args:
        teacher_outs, student_outs: :func:`~dcirc_utils.methods.mlps.mlp_outputs` of the two models on the same
            prompts.
        measure: ``"principal"`` (mean cos² of principal angles, 1 for the same subspace) or ``"study"`` (the
            study's |mean cosine| of the singular vectors; ``1/k`` for identical outputs).
        k: singular vectors per output.

    Raises:
        ValueError: for an unknown measure, or outputs of different widths.
    """
    if measure not in MLP_SIMILARITIES:
        raise ValueError(f"measure must be one of {sorted(MLP_SIMILARITIES)}, got {measure!r}")
    fn = MLP_SIMILARITIES[measure]
    t_bases = [mlps_mod.top_singular_vectors(t, k) for t in teacher_outs]
    s_bases = [mlps_mod.top_singular_vectors(s, k) for s in student_outs]
    return torch.tensor([[fn(ua, ub) for ub in s_bases] for ua in t_bases])


def study_cosine_blocks(teacher_outs: Sequence[Tensor] | Tensor, student_outs: Sequence[Tensor] | Tensor,
                        k: int = 3) -> Float[Tensor, "t_layer s_layer k k"]:
    """``U_tᵀ U_s`` for every teacher/student MLP pair: the ``k × k`` cosines between their top-``k`` singular
    vectors (:func:`~dcirc_utils.methods.mlps.top_singular_vectors`, its sign convention) whose ``|mean|`` is the
    study's MLP similarity. With them the study's table can be recomputed for any choice of signs
    (:func:`study_table_under_signs`).

    Raises:
        ValueError: for outputs of different widths.
    """
    t_bases = [mlps_mod.top_singular_vectors(t, k) for t in teacher_outs]
    s_bases = [mlps_mod.top_singular_vectors(s, k) for s in student_outs]
    if t_bases and s_bases and t_bases[0].shape[0] != s_bases[0].shape[0]:
        raise ValueError(f"teacher MLP outputs have d={t_bases[0].shape[0]} and student ones d={s_bases[0].shape[0]}: "
                         "singular vectors can only be compared in a shared space (models of one width)")
    return torch.stack([torch.stack([(ua.T @ ub).float() for ub in s_bases]) for ua in t_bases])


def study_table_under_signs(blocks: Float[Tensor, "t s k k"], teacher_signs: Float[Tensor, "t k"] | None = None,
                            student_signs: Float[Tensor, "s k"] | None = None) -> Float[Tensor, "t s"]:
    """The study's MLP similarity table (``|mean_ij σ_ti C_ij τ_sj|``) after flipping singular vectors: teacher MLP
    ``t``'s ``i``-th vector times ``teacher_signs[t, i]``, student MLP ``s``'s ``j``-th times ``student_signs[s, j]``
    (``±1``; ``None``: no flip, which gives :func:`mlp_similarity_table`'s ``"study"`` table).

    Raises:
        ValueError: if a sign array has the wrong shape or an entry other than ±1.
    """
    b = torch.as_tensor(blocks).double()
    if b.ndim != 4:
        raise ValueError(f"blocks must be [t, s, k, k], got {tuple(b.shape)}")
    t, s, k, _ = b.shape
    signs = []
    for name, x, n in (("teacher_signs", teacher_signs, t), ("student_signs", student_signs, s)):
        x = torch.ones(n, k, dtype=torch.float64) if x is None else torch.as_tensor(x).double()
        if x.shape != (n, k) or not bool(((x == 1) | (x == -1)).all()):
            raise ValueError(f"{name} must be a [{n}, {k}] array of ±1, got shape {tuple(x.shape)}")
        signs.append(x)
    ts, ss = signs
    # averaged in float64, then stored in float32 as mlp_similarity_table stores the study's table: with no flip the
    # two tables are equal to the bit, so the sign range's unflipped A is the verdicts' A on every CPU
    return (ts[:, None, :, None] * b * ss[None, :, None, :]).mean(dim=(-2, -1)).abs().float()


def match_mlps(table: Float[Tensor, "t_layer s_layer"]) -> list[Match]:
    """Each student MLP's best teacher MLP from a :func:`mlp_similarity_table` (ties: the first teacher MLP)."""
    best = torch.as_tensor(table).max(dim=0)
    return [Match(Component(j), Component(int(i)), float(v))
            for j, (v, i) in enumerate(zip(best.values.tolist(), best.indices.tolist()))]


def study_matches(teacher: ModelAdapter, student: ModelAdapter, tokens, mlp_similarity: str = "study", k: int = 3,
                  teacher_patterns=None, teacher_mlp_outputs=None) -> tuple[list[Match], list[Match]]:
    """The study's matches with similarities, computed on ``tokens`` (notebooks 05, 06).

    Heads: each student head → the teacher head whose batch-mean attention pattern is most similar (row-wise cosine,
    :func:`head_similarity` + :func:`match_heads`). MLPs: each student MLP → the teacher
    MLP with the highest output similarity (:func:`mlp_similarity_table` + :func:`match_mlps`).

    Args:
        teacher, student: the two models.
        tokens: ``Int[Tensor, "batch pos"]`` prompts both models read (the same for both).
        mlp_similarity: ``"study"`` or ``"principal"`` (:func:`mlp_similarity_table`).
        k: singular vectors per MLP output.
        teacher_patterns, teacher_mlp_outputs: the teacher's ``heads.attention_patterns`` and
            ``mlps.mlp_outputs`` on ``tokens`` if already computed (a noise sweep recomputes only the student's).

    Returns:
        ``(head_matches, mlp_matches)`` for :func:`~dcirc_utils.methods.alignment.matched_alignment`.
    """
    if mlp_similarity not in MLP_SIMILARITIES:
        raise ValueError(f"mlp_similarity must be one of {sorted(MLP_SIMILARITIES)}, got {mlp_similarity!r}")
    t_pat = heads_mod.attention_patterns(teacher, tokens) if teacher_patterns is None else teacher_patterns
    sim = head_similarity(t_pat, heads_mod.attention_patterns(student, tokens))
    head_m = match_heads(sim, student.n_heads, teacher.n_heads)
    t_out = mlps_mod.mlp_outputs(teacher, tokens) if teacher_mlp_outputs is None else teacher_mlp_outputs
    table = mlp_similarity_table(t_out, mlps_mod.mlp_outputs(student, tokens), mlp_similarity, k)
    return head_m, match_mlps(table)
