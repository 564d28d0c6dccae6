"""The alignment metric A on every task, pair and recipe, cached on disk, with the study's value beside each
(notebooks 06 and 08).

One row per (task, pair, recipe): A, its head and MLP parts, |M|, duplicated heads, the mean similarity and the
pair's clean metric, next to the study's figure for that task and a note on where that figure came from (the study's
"sequence" A was computed on number words; its IOI run had a teacher baseline of −7.0 that the same prompts do not
give elsewhere; its QA run read padding positions). Cached by both models' weights, the prompts and the recipe.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Sequence

from ..core.paths import DATA_DIR
from ..core.records import Record
from ..core.tasks import make_task
from ..methods.recipes import (COURSE, Recipe, alignment_parts, influence_scores, random_matching_alignment,
                               sign_range, similarity_inputs, study_recipe_for)
from .cache import cached, model_fingerprint
from .discover import prompts_digest

__all__ = ["STUDY_A", "study_a", "TaskAlignment", "task_alignment", "AlignmentNotMeasured", "alignment_rows"]

#: The study's A per task of the course and where it came from (``data/reference/study-spec.md`` §1–§4).
STUDY_A: dict[str, tuple[float | None, str]] = {
    "numerals": (0.895, "the study's 'sequence' A (0.895) was computed on number words, not numerals (SEQA cell 12): "
                        "compare with our number_words row"),
    "number_words": (0.895, "SEQA: number words, mean ablation, rescaled MLP similarity, 36 duplicated heads "
                            "(|M| = 114); teacher clean Δl 0.22, student −1.82 on those prompts"),
    "ioi": (0.90, "IOIA: zero ablation, raw MLP similarity, |M| = 78; its teacher's clean Δl was −7.0 on prompts "
                  "where another run of the same prompts gave +3.47 (cause unknown)"),
    "qa": (0.944, "QAA: 100 SimpleQA questions (closed-book facts GPT-2 never reliably knew), zero ablation, its "
                  "metric read padding positions; |M| = 85 with 7 duplicated heads"),
    "greater_than": (None, "not in the study"),
}


#: the teacher's half of A (similarity inputs and influences) per (teacher, prompts, recipe), within a process: the
#: :data:`TEACHER_PARTS_KEPT` most recently used (a notebook alternates between a few recipes on one teacher)
_TEACHER_PARTS: OrderedDict[str, tuple] = OrderedDict()
TEACHER_PARTS_KEPT = 4


def study_a(task: str) -> tuple[float | None, str]:
    """The study's A for a task and the note on its provenance (``None`` when the study has none)."""
    return STUDY_A.get(task, (None, "not in the study"))


def _recipe_key(recipe: Recipe) -> dict:
    return {k: v for k, v in asdict(recipe).items() if k not in ("name", "source")}


def _teacher_half(pair, prompts, recipe: Recipe, key: dict) -> tuple[tuple, float]:
    """The teacher's similarity inputs and influences (and its clean metric), kept within the process: pairs that
    share a teacher (small, small-init, ...) reuse them."""
    from ..engine import Engine
    t_key = json.dumps({k: key[k] for k in ("teacher", "prompts", "recipe")}, sort_keys=True)
    if t_key not in _TEACHER_PARTS:
        eng_t = Engine.for_prompts(pair.teacher, prompts, progress=False, check_baseline=False)
        _TEACHER_PARTS[t_key] = ((similarity_inputs(pair.teacher, prompts, recipe.bos),
                                  influence_scores(eng_t, recipe, "teacher")), eng_t.clean_value)
        while len(_TEACHER_PARTS) > TEACHER_PARTS_KEPT:
            _TEACHER_PARTS.popitem(last=False)
    _TEACHER_PARTS.move_to_end(t_key)
    return _TEACHER_PARTS[t_key]


@dataclass(frozen=True, eq=False)
class TaskAlignment(Record):
    """A of one pair on one task under one recipe, with its control (:func:`task_alignment`; reads as a mapping of
    its fields, so tables and figures take it as a row).

    Attributes:
        task, pair, recipe: the task's, the pair's and the recipe's names.
        A: the alignment metric over every matched pair (unitless, at most 1); ``A_heads``, ``A_mlps``: over the
            head pairs and the MLP pairs alone (``nan`` when there are none).
        A_random: A under random matchings of the same components (the control; unitless).
        n_pairs: matched pairs |M| (repeats included); ``n_duplicates``: teacher heads matched more than once.
        mean_similarity: the mean similarity ``S_i`` over the matched pairs.
        teacher_clean, student_clean: each model's clean task metric on the prompts (Δl in logits for
            logit-difference tasks).
    """

    task: str
    pair: str
    recipe: str
    A: float
    A_heads: float
    A_mlps: float
    A_random: float
    n_pairs: int
    n_duplicates: int
    mean_similarity: float
    teacher_clean: float
    student_clean: float


@dataclass(frozen=True, eq=False)
class AlignmentNotMeasured(Record):
    """A part of the prompts on which A could not be measured (a row of :func:`alignment_by_set`; reads as a
    mapping of its fields, like the :class:`TaskAlignment` rows beside it).

    Attributes:
        task, pair, recipe: as in :class:`TaskAlignment`.
        A, A_random: ``None`` (not measured).
        note: why (e.g. every influence of a model is zero on that part).
    """

    task: str
    pair: str
    recipe: str
    A: None
    A_random: None
    note: str


def task_alignment(pair, task: str, recipe: Recipe, n: int = 100, seed: int = 0, refresh: bool = False,
                   part: tuple[int, int] | None = None, **task_kwargs) -> TaskAlignment:
    """A of ``pair`` on ``task`` under ``recipe``, cached on disk (notebooks 06 and 08), with its control: A under
    random matchings of the same components (:func:`~dcirc_utils.methods.recipes.random_matching_alignment`).

    Args:
        part: ``(k, n_sets)`` measures on the ``k``-th of ``n_sets`` disjoint parts of the ``n`` prompts
            (:func:`~dcirc_utils.studies.spread.disjoint_sets`; a spread), ``None`` on all of them.

    Returns:
        :class:`TaskAlignment` (``task``, ``pair``, ``recipe``, ``A``, ``A_heads``, ``A_mlps``, ``A_random``,
        ``n_pairs``, ``n_duplicates``, ``mean_similarity``, ``teacher_clean``, ``student_clean``). The cache holds
        the measured fields as a JSON object; the names are added here.

    Raises:
        ValueError: if the pair's tokenizer cannot make the task (``make_task``'s message says which word).
    """
    prompts = make_task(task, n, seed, tokenizer=pair.tokenizer, **task_kwargs)
    if part is not None:
        from .spread import disjoint_sets
        k, n_sets = part
        prompts = disjoint_sets(prompts, n_sets)[k]
    key = {"teacher": model_fingerprint(pair.teacher.model), "student": model_fingerprint(pair.student.model),
           "prompts": prompts_digest(prompts), "recipe": _recipe_key(recipe)}

    def compute() -> dict:
        t_parts, t_clean = _teacher_half(pair, prompts, recipe, key)
        parts = alignment_parts(pair.teacher, pair.student, prompts, recipe, teacher_parts=t_parts)
        res = parts.alignment(recipe)
        return {"A": res.value, "A_heads": res.value_heads, "A_mlps": res.value_mlps,
                "A_random": random_matching_alignment(parts, recipe), "n_pairs": res.n_matched,
                "n_duplicates": res.n_duplicates, "mean_similarity": res.mean_similarity,
                "teacher_clean": t_clean, "student_clean": parts.student_clean}

    out = cached("alignment", key, compute, refresh=refresh)
    return TaskAlignment.from_mapping({"task": task, "pair": pair.name, "recipe": recipe.name, **out})


def alignment_rows(pairs: Sequence, tasks: Sequence[str], n: int = 100, seed: int = 0,
                   recipes: str = "both") -> list[dict]:
    """One row per (task, pair, recipe) with the study's value and its provenance (notebook 06's table).

    Args:
        pairs: loaded :class:`~dcirc_utils.models.pairs.ModelPair` s.
        tasks: task names (``make_task``'s).
        n, seed: prompts per task.
        recipes: ``"both"``, ``"course"`` or ``"study"`` (the study's recipe for each task).

    A task the pair's tokenizer cannot make gets a row with ``A = None`` and the reason.

    Returns:
        Table rows, as plain (mutable) dicts: the fields of :class:`TaskAlignment` with ``"note"`` (where the study's
        value comes from; empty for the course's recipe) and ``"study A"`` (the study's value, or ``None``); a row
        that could not be computed has ``task``, ``pair``, ``recipe``, ``A = None``, ``note`` and ``study A``.
    """
    rows = []
    for task in tasks:
        study, note = study_a(task)
        chosen = {"both": [COURSE, study_recipe_for(task)], "course": [COURSE],
                  "study": [study_recipe_for(task)]}[recipes]
        for pair in pairs:
            for recipe in chosen:
                try:
                    row = dict(task_alignment(pair, task, recipe, n, seed))
                    row["note"] = note if recipe is not COURSE else ""
                except ValueError as err:
                    row = {"task": task, "pair": pair.name, "recipe": recipe.name, "A": None,
                           "note": f"not computable on this pair: {err}"}
                row["study A"] = study
                rows.append(row)
    return rows


def load_reference() -> dict:
    """The study's figures (``data/reference/paper_figures.json``)."""
    return json.loads((DATA_DIR / "reference" / "paper_figures.json").read_text())


__all__ += ["load_reference"]


def alignment_by_set(pair, task: str, recipe: Recipe, n: int = 100, seed: int = 0,
                     n_sets: int | None = None) -> list[TaskAlignment | AlignmentNotMeasured]:
    """:func:`task_alignment` on each of ``n_sets`` disjoint parts of the same ``n`` prompts (a spread for A and its
    random-matching control; :data:`~dcirc_utils.studies.spread.N_SETS` by default): one :class:`TaskAlignment` per
    part. A part that a model cannot be measured on (e.g. every influence zero) gives an
    :class:`AlignmentNotMeasured` (``A = None``, ``A_random = None`` and the reason in ``note``)."""
    from .spread import N_SETS
    n_sets = N_SETS if n_sets is None else n_sets
    rows = []
    for k in range(min(n_sets, n)):
        try:
            rows.append(task_alignment(pair, task, recipe, n, seed, part=(k, n_sets)))
        except ValueError as err:
            rows.append(AlignmentNotMeasured(task=task, pair=pair.name, recipe=recipe.name, A=None, A_random=None,
                                             note=str(err)))
    return rows


__all__ += ["alignment_by_set"]


@dataclass(frozen=True, eq=False)
class TaskSignRange(Record):
    """How much of a pair's A on a task is the sign convention of the study's MLP singular vectors
    (:func:`sign_range_row`; reads as a mapping of its fields). Every A is unitless.

    Attributes:
        task, pair, recipe: the task's, the pair's and the study recipe's names.
        A_fixed: A with the course's sign convention (the A of :func:`task_alignment`).
        A_lapack: A with the signs LAPACK returned on the machine that filled the cache.
        A_low, A_median, A_high: the lowest, median and highest A over ``draws`` random sign choices.
        draws: random sign choices drawn.
    """

    task: str
    pair: str
    recipe: str
    A_fixed: float
    A_lapack: float
    A_low: float
    A_median: float
    A_high: float
    draws: int


def sign_range_row(pair, task: str, recipe: Recipe, n: int = 100, seed: int = 0, draws: int = 200,
                   refresh: bool = False) -> TaskSignRange:
    """How much of ``pair``'s A on ``task`` under a study ``recipe`` is the sign convention of the study's MLP
    singular vectors (:func:`~dcirc_utils.methods.recipes.sign_range`), cached on disk (notebook 06).

    Returns:
        :class:`TaskSignRange` (``task``, ``pair``, ``recipe``, ``A_fixed``, ``A_lapack``, ``A_low``, ``A_median``,
        ``A_high``, ``draws``): A with the course's sign convention (the A of :func:`task_alignment`), with the
        signs LAPACK returned on the machine that filled the cache, and the lowest, median and highest A over
        ``draws`` random sign choices.

    Raises:
        ValueError: for the course's recipe (its MLP measure has no signs), or a task the pair cannot make.
    """
    if recipe.mlp_similarity == "principal":
        raise ValueError(f"recipe {recipe.name!r} measures MLPs by principal angles, which have no signs: pass a study "
                         "recipe (study_recipe_for(task))")
    prompts = make_task(task, n, seed, tokenizer=pair.tokenizer)
    key = {"teacher": model_fingerprint(pair.teacher.model), "student": model_fingerprint(pair.student.model),
           "prompts": prompts_digest(prompts), "recipe": _recipe_key(recipe), "draws": draws}

    def compute() -> dict:
        t_parts, _ = _teacher_half(pair, prompts, recipe, key)
        parts = alignment_parts(pair.teacher, pair.student, prompts, recipe, teacher_parts=t_parts, signs=True)
        r = sign_range(parts, recipe, draws=draws, seed=seed)
        return {"A_fixed": r.fixed, "A_lapack": r.lapack, "A_low": r.low, "A_median": r.median, "A_high": r.high,
                "draws": draws}

    out = cached("alignment_signs", key, compute, refresh=refresh)
    return TaskSignRange.from_mapping({"task": task, "pair": pair.name, "recipe": recipe.name, **out})


__all__ += ["TaskSignRange", "sign_range_row"]
