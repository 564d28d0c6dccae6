"""The alignment metric A under two recipes: the study's, exactly as its code computes it, and the course's corrected
one (notebooks 06 and 08).

Both compute ``A = (1/|M|) Σ_{i∈M} S_i (1 − |I^S_i − I^T_i|)`` (:func:`~dcirc_utils.methods.alignment.alignment_terms`)
but differ in every ingredient. The study's recipe (``data/reference/study-spec.md`` §1–§4, the study's notebooks
SEQA, IOIA and QAA) is a :class:`Recipe` per run:

============  ==========  ===========  ===========================  ==========  ===============  ======
run           ablation    MLP clamp    MLP similarity               ties        duplicated heads  A
============  ==========  ===========  ===========================  ==========  ===============  ======
sequence      mean        none         rescaled (z-score, max = 1)   last max    S < 0.95          0.895
IOI           zero        teacher      raw                           first max   none              0.90
QA            zero        both         rescaled                      last max    S < 0.95 (stored) 0.944
============  ==========  ===========  ===========================  ==========  ===============  ======

common to all three: influence ``I = |round(score − 100, 2)|`` from one component ablated alone from the full model,
no BOS for the ablations, BOS prepended for attention patterns and MLP outputs, each student head matched to its most
similar teacher head (row-wise cosine of batch-mean patterns), each student MLP to its most similar teacher MLP
(strict ``>``), influences normalised over the list ``M`` **with its repeats**. The study's "sequence" run used the
number-words task; its QA and IOI runs used zero ablation.

The course's corrected recipe (:data:`COURSE`): mean ablation, no clamp or rounding, influences normalised over
**all** components of each model (so that a component's influence does not depend on how often it was matched),
MLP similarity = mean cos² of principal angles (1 for the same subspace, sign-free), first maximum on ties, no
duplicates; BOS for patterns and MLP outputs as in the study.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from ..core.components import Component
from ..engine import Engine
from ..models.adapters import ModelAdapter
from . import heads as heads_mod
from . import mlps as mlps_mod
from .alignment import AlignmentResult, assemble_alignment
from .matching import Match, head_similarity, mlp_similarity_table, study_cosine_blocks, study_table_under_signs

__all__ = ["Recipe", "COURSE", "STUDY_SEQUENCE", "STUDY_IOI", "STUDY_QA", "STUDY_RECIPES", "study_recipe_for",
           "influence_scores", "argmax_tie", "rescale_mlp_similarities", "recipe_alignment_from_parts",
           "RecipeResult", "recipe_alignment", "SimilarityInputs", "similarity_inputs", "AlignmentParts",
           "alignment_parts", "random_matching_alignment", "SignRange", "sign_range"]


@dataclass(frozen=True)
class Recipe:
    """Every choice that differs between the study's runs of A and the course's corrected one.

    Attributes:
        name: a label for tables.
        ablation: ``"mean"`` (corrupted-prompt means) or ``"zero"``, one component at a time from the full model.
        clamp_mlp: clamp MLP scores at ≥ 0 before taking the influence: ``"none"``, ``"teacher"`` or ``"both"``.
        round_to: decimals of the influence ``|score − 100|`` (the study: 2), or ``None``.
        normalise_over: ``"matched"`` (over the list M, repeats counted: the study) or ``"all"`` (over every
            component of the model: the course).
        mlp_similarity: ``"principal"`` (course), ``"study_raw"`` (|mean cosine| of the top-3 singular vectors of the
            uncentred second moment) or ``"study_rescaled"`` (that, z-scored and rescaled, best pair = 1).
        tie: ``"first"`` or ``"last"`` maximum when a student head has two equally similar teacher heads.
        duplicate_below: head matches with S below this are counted twice in M (the study: 0.95), or ``None``.
        bos: prepend BOS for attention patterns and MLP outputs (both recipes do, as the study did).
        source: where the recipe comes from.
    """

    name: str
    ablation: str = "mean"
    clamp_mlp: str = "none"
    round_to: int | None = None
    normalise_over: str = "all"
    mlp_similarity: str = "principal"
    tie: str = "first"
    duplicate_below: float | None = None
    bos: bool = True
    source: str = ""

    def __post_init__(self):
        checks = {"ablation": ("mean", "zero"), "clamp_mlp": ("none", "teacher", "both"),
                  "normalise_over": ("matched", "all"), "mlp_similarity": ("principal", "study_raw", "study_rescaled"),
                  "tie": ("first", "last")}
        for name, allowed in checks.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"Recipe.{name} must be one of {allowed}, got {getattr(self, name)!r}")


COURSE = Recipe("course (corrected)", source="this course: dcirc_utils.methods.recipes")
STUDY_SEQUENCE = Recipe("study (sequence run)", "mean", "none", 2, "matched", "study_rescaled", "last", 0.95,
                        source="study-spec.md §4 (SEQA; run on number words)")
STUDY_IOI = Recipe("study (IOI run)", "zero", "teacher", 2, "matched", "study_raw", "first", None,
                   source="study-spec.md §1.1 (IOIA)")
STUDY_QA = Recipe("study (QA run)", "zero", "both", 2, "matched", "study_rescaled", "last", 0.95,
                  source="study-spec.md §2 (QAA, as its stored outputs show)")
#: the study's recipe per task of the course (greater-than is not in the study: its sequence recipe is used)
STUDY_RECIPES = {"numerals": STUDY_SEQUENCE, "number_words": STUDY_SEQUENCE, "ioi": STUDY_IOI, "qa": STUDY_QA,
                 "greater_than": replace(STUDY_SEQUENCE, name="study recipe (sequence run) on greater-than")}


def study_recipe_for(task: str) -> Recipe:
    """The study's recipe for a task of the course (:data:`STUDY_RECIPES`).

    Raises:
        ValueError: for a task the study has no recipe for.
    """
    if task not in STUDY_RECIPES:
        raise ValueError(f"no study recipe for task {task!r}; known: {sorted(STUDY_RECIPES)}")
    return STUDY_RECIPES[task]


# --------------------------------------------------------------------------------------------- ingredients
def influence_scores(engine: Engine, recipe: Recipe, role: str) -> dict[Component, float]:
    """Unnormalised influence of every component: ``|score − 100|`` with ``score = 100 · value / clean value`` when
    the component alone is ablated (mean or zero, per ``recipe``), MLP scores clamped at ≥ 0 where the recipe says so
    for this ``role`` (``"teacher"``/``"student"``), rounded per the recipe.

    Raises:
        ValueError: for an unknown role.
    """
    if role not in ("teacher", "student"):
        raise ValueError(f"role must be 'teacher' or 'student', got {role!r}")
    patches = engine.mean_ablation if recipe.ablation == "mean" else engine.zero_ablation
    comps = engine.components
    values = engine.evaluate([patches([c]) for c in comps], desc="influence scan")
    clamp = recipe.clamp_mlp == "both" or recipe.clamp_mlp == role
    out = {}
    for c, v in zip(comps, values.tolist()):
        score = engine.score(v)
        if clamp and c.is_mlp:
            score = max(score, 0.0)
        d = abs(score - 100.0)
        out[c] = round(d, recipe.round_to) if recipe.round_to is not None else d
    return out


def argmax_tie(row: Tensor, tie: str = "first") -> int:
    """Index of the maximum of ``row``: the first one (``tie="first"``, a strict ``>`` scan) or the last one
    (``"last"``, a ``>=`` scan), as the study's runs differ."""
    row = torch.as_tensor(row)
    if tie == "first":
        return int(row.argmax())
    if tie == "last":
        return int(row.numel() - 1 - torch.flip(row, (0,)).argmax())
    raise ValueError(f"tie must be 'first' or 'last', got {tie!r}")


def rescale_mlp_similarities(raw: Float[Tensor, "t s"], head_sims: Float[Tensor, "sh th"]) -> Float[Tensor, "t s"]:
    """The study's rescaling of its raw MLP similarities (SEQA cells 54–56; QAA 31–32): z-score the raw values over
    all teacher × student MLP pairs (population std), multiply by the std of all head-pair similarities (unbiased)
    and add their mean, then divide by the largest adjusted value so that the best pair scores 1.

    Raises:
        ValueError: if the raw values are constant (the z-score is undefined).
    """
    raw = torch.as_tensor(raw, dtype=torch.float64)
    h = torch.as_tensor(head_sims, dtype=torch.float64).flatten()
    sd = raw.std(unbiased=False)
    if not float(sd) > 0:
        raise ValueError("the raw MLP similarities are all equal: their z-score (the study's rescaling) is undefined")
    adjusted = (raw - raw.mean()) / sd * h.std(unbiased=True) + h.mean()
    return (adjusted / adjusted.max()).float()


@dataclass
class SimilarityInputs:
    """What the similarity half of A needs from one model: batch-mean attention patterns and MLP outputs."""

    patterns: Tensor          # [layer, head, q, k]
    mlp_out: Tensor           # [layer, batch, pos, d_model]


def similarity_inputs(adapter: ModelAdapter, prompts, bos: bool = True) -> SimilarityInputs:
    """Attention patterns and MLP outputs of ``adapter`` on the clean prompts (with BOS prepended if ``bos``; an
    encoder takes none whatever ``bos`` says: its prompts open with [CLS], its first token in every position's
    attention)."""
    tokens = prompts.tokens(adapter.tokenizer, bos=bos and adapter.family != "encoder")
    return SimilarityInputs(heads_mod.attention_patterns(adapter, tokens), mlps_mod.mlp_outputs(adapter, tokens))


@dataclass
class RecipeResult(AlignmentResult):
    """A under one recipe, with the per-pair rows (repeats included) and the recipe's bookkeeping.

    Attributes (besides :class:`~dcirc_utils.methods.alignment.AlignmentResult`'s):
        recipe: the :class:`Recipe`.
        n_duplicates: head matches counted twice (``duplicate_below``).
        mean_similarity: the mean S over M.
    """

    recipe: Recipe = field(default=COURSE)
    n_duplicates: int = 0
    mean_similarity: float = math.nan


def _normalise(infl: dict[Component, float], over: Sequence[Component]) -> dict[Component, float]:
    total = sum(infl[c] for c in over)
    if not total > 0:
        raise ValueError("every influence in the normalisation set is zero: A's influence term is undefined")
    return {c: v / total for c, v in infl.items()}


def recipe_alignment_from_parts(recipe: Recipe, head_sim: Float[Tensor, "sh th"], mlp_table: Float[Tensor, "t s"],
                                student_influence: dict[Component, float], teacher_influence: dict[Component, float],
                                n_student_heads: int, n_teacher_heads: int,
                                random_seed: int | None = None) -> RecipeResult:
    """A from its ingredients under ``recipe`` (a pure function; :func:`recipe_alignment` computes the ingredients).

    Args:
        recipe: the recipe.
        head_sim: ``[S_layers·S_heads, T_layers·T_heads]`` head similarities (``matching.head_similarity``).
        mlp_table: ``[t_layer, s_layer]`` MLP similarities in the recipe's measure, before any rescaling (raw for
            the study's recipes, principal angles for the course's).
        student_influence, teacher_influence: unnormalised influences of every component (:func:`influence_scores`).
        n_student_heads, n_teacher_heads: heads per layer.
        random_seed: ``None`` matches each student component to its most similar teacher component (the recipe's
            rule); a seed matches each to a teacher component of its kind drawn uniformly at random instead (A's
            control: what A gives when the matching means nothing), everything else as the recipe says.
    """
    head_sim = torch.as_tensor(head_sim)
    gen = torch.Generator().manual_seed(random_seed) if random_seed is not None else None
    table = torch.as_tensor(mlp_table)
    if recipe.mlp_similarity == "study_rescaled":
        table = rescale_mlp_similarities(table, head_sim)
    pairs: list[tuple[str, Match]] = []
    for i in range(head_sim.shape[0]):
        j = (argmax_tie(head_sim[i], recipe.tie) if gen is None
             else int(torch.randint(head_sim.shape[1], (1,), generator=gen)))
        pairs.append(("head", Match(Component(i // n_student_heads, i % n_student_heads),
                                    Component(j // n_teacher_heads, j % n_teacher_heads), float(head_sim[i, j]))))
    for s in range(table.shape[1]):
        # strict > in every run of the study
        t = int(table[:, s].argmax()) if gen is None else int(torch.randint(table.shape[0], (1,), generator=gen))
        pairs.append(("mlp", Match(Component(s), Component(t), float(table[t, s]))))
    n_dup = 0
    if recipe.duplicate_below is not None:
        dups = [(k, m) for k, m in pairs if k == "head" and m.similarity < recipe.duplicate_below]
        pairs += dups
        n_dup = len(dups)
    if recipe.normalise_over == "matched":
        i_s = _normalise(student_influence, [m.student for _, m in pairs])
        i_t = _normalise(teacher_influence, [m.teacher for _, m in pairs])
    else:
        i_s = _normalise(student_influence, list(student_influence))
        i_t = _normalise(teacher_influence, list(teacher_influence))
    a = assemble_alignment(pairs, [i_s[m.student] for _, m in pairs], [i_t[m.teacher] for _, m in pairs], clip=True)
    return RecipeResult(a.value, a.value_heads, a.value_mlps, a.rows, recipe, n_dup,
                        float(np.mean([m.similarity for _, m in pairs])))


@dataclass
class AlignmentParts:
    """A's ingredients for one teacher/student pair (:func:`alignment_parts`): head similarities, the MLP similarity
    table in the recipe's measure, both models' unnormalised influences and their heads per layer."""

    head_sim: Tensor
    mlp_table: Tensor
    student_influence: dict[Component, float]
    teacher_influence: dict[Component, float]
    n_student_heads: int
    n_teacher_heads: int
    student_clean: float = math.nan
    #: ``[t, s, k, k]`` cosines of the singular vectors behind a study table (``alignment_parts(signs=True)``)
    mlp_blocks: Tensor | None = None
    #: LAPACK's signs relative to the course's convention: ``([t, k], [s, k])`` of ±1 (``alignment_parts(signs=True)``)
    lapack_signs: tuple[Tensor, Tensor] | None = None

    def alignment(self, recipe: Recipe, random_seed: int | None = None) -> RecipeResult:
        """A from these parts (:func:`recipe_alignment_from_parts`)."""
        return recipe_alignment_from_parts(recipe, self.head_sim, self.mlp_table, self.student_influence,
                                           self.teacher_influence, self.n_student_heads, self.n_teacher_heads,
                                           random_seed)


def alignment_parts(teacher: ModelAdapter, student: ModelAdapter, prompts, recipe: Recipe,
                    similarity_prompts=None, teacher_parts: tuple | None = None,
                    engines: dict[str, Engine] | None = None, signs: bool = False) -> AlignmentParts:
    """A's ingredients under ``recipe`` (arguments as :func:`recipe_alignment`).

    Args:
        signs: also keep what :func:`sign_range` needs (the study's MLP measure only): the singular vectors'
            cosines and the signs LAPACK gives them on this machine.

    Raises:
        ValueError: if ``signs`` is asked of a recipe whose MLP similarity is sign-free (the course's).
    """
    if signs and recipe.mlp_similarity == "principal":
        raise ValueError(f"recipe {recipe.name!r} measures MLPs by principal angles, which have no signs: ask signs=True "
                         "only of the study's recipes")
    engines = dict(engines or {})
    sim_prompts = similarity_prompts if similarity_prompts is not None else prompts
    measure = "principal" if recipe.mlp_similarity == "principal" else "study"
    if teacher_parts is None:
        eng_t = engines.get("teacher") or Engine.for_prompts(teacher, prompts, progress=False)
        teacher_parts = (similarity_inputs(teacher, sim_prompts, recipe.bos), influence_scores(eng_t, recipe,
                                                                                               "teacher"))
    t_in, t_infl = teacher_parts
    s_in = similarity_inputs(student, sim_prompts, recipe.bos)
    eng_s = engines.get("student") or Engine.for_prompts(student, prompts, progress=False, check_baseline=False)
    s_infl = influence_scores(eng_s, recipe, "student")
    head_sim = head_similarity(t_in.patterns, s_in.patterns)
    table = mlp_similarity_table(t_in.mlp_out, s_in.mlp_out, measure)
    blocks = lapack = None
    if signs:
        blocks = study_cosine_blocks(t_in.mlp_out, s_in.mlp_out)
        k = blocks.shape[-1]
        lapack = tuple(torch.stack([mlps_mod.column_signs(mlps_mod.top_singular_vectors(o, k),
                                                          mlps_mod.lapack_singular_vectors(o, k)) for o in outs])
                       for outs in (t_in.mlp_out, s_in.mlp_out))
    return AlignmentParts(head_sim, table, s_infl, t_infl, student.n_heads, teacher.n_heads, eng_s.clean_value,
                          blocks, lapack)


@dataclass(frozen=True)
class SignRange:
    """How much of the study's A is the arbitrary sign of its MLP singular vectors (:func:`sign_range`).

    The study's MLP similarity averages *signed* cosines between singular vectors before taking ``|·|``, so flipping
    a vector (an equally valid SVD) changes it, the MLP matches and A.

    Attributes:
        fixed: A with the course's convention (each vector's largest coordinate positive): the A that verdicts use.
        lapack: A with the signs ``scipy.linalg.svd`` returned on this machine, as the study's code took them (a
            property of the LAPACK build: may differ between machines).
        values: A under each of ``draws`` random sign choices (every vector of every MLP flipped with probability
            1/2), seeded.
    """

    fixed: float
    lapack: float
    values: tuple[float, ...]

    @property
    def low(self) -> float:
        return float(np.min(self.values))

    @property
    def high(self) -> float:
        return float(np.max(self.values))

    @property
    def median(self) -> float:
        return float(np.median(self.values))

    @property
    def width(self) -> float:
        """``high − low``: how far A moves with the sign convention alone (a lower bound on the full range)."""
        return self.high - self.low


def sign_range(parts: AlignmentParts, recipe: Recipe, draws: int = 200, seed: int = 0) -> SignRange:
    """A under the study's recipe with its MLP singular vectors' signs fixed by the course's convention, by LAPACK
    and by ``draws`` random choices (:class:`SignRange`; notebook 06). The sign choices are drawn independently for
    every vector of every teacher and student MLP (``2^(3·(T+S))`` choices in all, so the draws' range is an inner
    estimate of the full range); everything else (head similarities, influences, the recipe) is held fixed.

    Raises:
        ValueError: if ``parts`` lack the cosines (``alignment_parts(..., signs=True)``) or ``draws`` < 1.
    """
    if parts.mlp_blocks is None or parts.lapack_signs is None:
        raise ValueError("these parts hold no singular-vector cosines: build them with alignment_parts(..., signs=True) "
                         "under a study recipe")
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive integer, not {draws!r}")

    def a(t_signs=None, s_signs=None) -> float:
        table = study_table_under_signs(parts.mlp_blocks, t_signs, s_signs)
        return recipe_alignment_from_parts(recipe, parts.head_sim, table, parts.student_influence,
                                           parts.teacher_influence, parts.n_student_heads,
                                           parts.n_teacher_heads).value

    t, s, k, _ = parts.mlp_blocks.shape
    gen = torch.Generator().manual_seed(seed)
    flip = lambda n: torch.randint(2, (n, k), generator=gen).double() * 2 - 1  # noqa: E731
    values = tuple(a(flip(t), flip(s)) for _ in range(draws))
    return SignRange(a(), a(*parts.lapack_signs), values)


def random_matching_alignment(parts: AlignmentParts, recipe: Recipe, draws: int = 20, seed: int = 0) -> float:
    """A's control: the mean of A over ``draws`` random matchings of the same components (each student component
    matched to a teacher component of its kind drawn at random; seeds ``seed … seed + draws − 1``). A measured A
    means something only as far as it exceeds this.

    Raises:
        ValueError: if ``draws`` is not a positive integer.
    """
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive integer, not {draws!r}")
    return float(np.mean([parts.alignment(recipe, random_seed=seed + k).value for k in range(draws)]))


def recipe_alignment(teacher: ModelAdapter, student: ModelAdapter, prompts, recipe: Recipe,
                     similarity_prompts=None, teacher_parts: tuple | None = None,
                     engines: dict[str, Engine] | None = None) -> RecipeResult:
    """A of a teacher/student pair under ``recipe`` (notebooks 06 and 08).

    Args:
        teacher, student: the pair's adapters.
        prompts: the influence prompts (a :class:`~dcirc_utils.core.tasks.PromptSet`; ablations without BOS).
        recipe: :data:`COURSE` or a study recipe.
        similarity_prompts: prompts for attention patterns and MLP outputs (default ``prompts``; the study drew a
            second sample of 100 for its sequence run).
        teacher_parts: ``(SimilarityInputs, influences)`` of the teacher if already computed (noise sweeps).
        engines: ``{"teacher": Engine, "student": Engine}`` on ``prompts`` if already built.

    An encoder pair (notebook 07) takes no BOS whatever ``recipe.bos`` says: its prompts already open with [CLS].

    Raises:
        ValueError: if the two models have different widths (MLP subspaces need a shared residual space).
    """
    return alignment_parts(teacher, student, prompts, recipe, similarity_prompts, teacher_parts,
                           engines).alignment(recipe)
