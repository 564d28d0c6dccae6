"""The study's open questions, answered on pairs this course trains (notebook 08).

1. **Capacity**: students of 3, 6 and 9 of the teacher's 12 layers, same recipe and budget (``small-s3``, ``small``,
   ``small-s9``), and their copies before distillation (``*-init``).
2. **Other tasks**: every task of the course (numerals, number words, IOI, QA, greater-than): circuits, brittleness,
   A, and which teacher circuit components a student has no counterpart for.
3. **Real shift**: the numeral variants the corpus never contains, several prompt sets each.
4. **Does A predict robustness?** A (both recipes) against robustness (under shift, under weight noise, the worst
   single ablation) and against plain accuracy, with Pearson and partial correlations and percentile-bootstrap
   intervals (small samples: a few students × tasks), so that the answer is a stated interval, not an impression.

Everything is cached per (student, task) on disk; ``python -m dcirc_utils.studies.open_questions`` computes it all
and writes :data:`RESULTS_PATH`, which notebook 08 reads when it matches the pairs' weights.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Hashable, NamedTuple, Sequence

import numpy as np

from ..core.components import Component
from ..core.paths import DATA_DIR
from ..core.records import Record
from ..core.tasks import make_task
from ..engine import Engine
from ..methods import brittleness as br
from ..methods.concentration import gini
from ..methods.evaluation import evaluate_task
from ..methods.heads import attention_patterns
from ..methods.matching import head_similarity, mlp_similarity_table, study_matches
from ..methods.mlps import mlp_outputs
from ..methods.noise import add_weight_noise
from ..methods.recipes import COURSE, study_recipe_for
from .alignment import task_alignment
from .cache import cached, engine_fingerprint, model_fingerprint
from .discover import discover, prompts_digest
from .shift import shift_study

__all__ = ["correlation_ci", "partial_correlation_ci", "zscore_within", "ClusteredCorrelation",
           "clustered_correlation_ci"]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; NaN when either spread is zero to float rounding (a residual of ~1e-16 is rounding noise, whose
    sign and size follow the CPU's BLAS kernels: its "correlation" would make the outputs machine-dependent)."""
    def flat(v: np.ndarray) -> bool:
        return bool(v.std() <= 1e-9 * max(1.0, float(np.abs(v).max())))
    if flat(x) or flat(y):
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _resamples(n: int, n_boot: int, seed: int, min_distinct: int):
    """Bootstrap index draws (``default_rng(seed).integers(0, n, n)``, ``n_boot`` of them), skipping those with fewer
    than ``min_distinct`` distinct points: an estimator on fewer points than it needs returns rounding noise."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if len(np.unique(idx)) >= min_distinct:
            yield idx


def correlation_ci(x: Sequence[float], y: Sequence[float], n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """Pearson's r of ``x`` and ``y`` with a percentile bootstrap interval (notebook 08).

    Each resample draws ``n`` indices with ``numpy.random.default_rng(seed).integers(0, n, n)``; resamples of fewer
    than 3 distinct points, or in which ``x`` or ``y`` is constant, are skipped.

    Returns:
        ``(r, low, high)``; the interval is ``(nan, nan)`` when fewer than 10 resamples are usable.

    Raises:
        ValueError: if the inputs differ in length, hold NaN, or have fewer than 3 points.
    """
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"x ({xa.shape}) and y ({ya.shape}) must be 1-D and of one length (paired observations)")
    if not (np.isfinite(xa).all() and np.isfinite(ya).all()):
        raise ValueError("x and y must be finite: drop the observations whose measure is undefined first")
    if len(xa) < 3:
        raise ValueError(f"{len(xa)} points cannot estimate a correlation; need at least 3")
    r = _pearson(xa, ya)
    boots = [v for v in (_pearson(xa[i], ya[i]) for i in _resamples(len(xa), n_boot, seed, 3)) if not math.isnan(v)]
    if len(boots) < 10:
        return r, math.nan, math.nan
    lo, hi = np.quantile(boots, [(1 - level) / 2, 1 - (1 - level) / 2])
    return r, float(lo), float(hi)


def _residual(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``a`` minus its least-squares fit on an intercept and ``z`` (one covariate ``[n]`` or several ``[n, k]``)."""
    design = np.column_stack([np.ones(len(a)), z])
    coef, *_ = np.linalg.lstsq(design, a, rcond=None)
    return a - design @ coef


def partial_correlation_ci(x: Sequence[float], y: Sequence[float], z: Sequence[float], n_boot: int = 2000,
                           seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """The correlation of ``x`` and ``y`` with ``z`` partialled out (both regressed on ``z``, residuals correlated),
    with a percentile bootstrap interval over resampled triples (notebook 08: does A tell anything about robustness
    beyond accuracy?). Resamples of fewer than 4 distinct points (whose residuals are rounding noise) are skipped.

    Raises:
        ValueError: as :func:`correlation_ci`, and for fewer than 4 points.
    """
    xa, ya, za = (np.asarray(v, dtype=float) for v in (x, y, z))
    if not (xa.shape == ya.shape == za.shape) or xa.ndim != 1:
        raise ValueError("x, y and z must be 1-D and of one length")
    if len(xa) < 4:
        raise ValueError(f"{len(xa)} points cannot estimate a partial correlation; need at least 4")
    if not (np.isfinite(xa).all() and np.isfinite(ya).all() and np.isfinite(za).all()):
        raise ValueError("x, y and z must be finite")

    def pc(i):
        return _pearson(_residual(xa[i], za[i]), _residual(ya[i], za[i]))

    r = pc(np.arange(len(xa)))
    boots = [v for v in (pc(i) for i in _resamples(len(xa), n_boot, seed, 4)) if not math.isnan(v)]
    if len(boots) < 10:
        return r, math.nan, math.nan
    lo, hi = np.quantile(boots, [(1 - level) / 2, 1 - (1 - level) / 2])
    return r, float(lo), float(hi)


def zscore_within(values: Sequence[float], groups: Sequence[Hashable]) -> np.ndarray:
    """``values`` z-scored within each group (population std), so that one covariate has one scale across groups
    whose metrics differ (Δl ≈ 10 on the numerals, a probability difference ≤ 1 on greater-than). A group of one
    value, or without spread, scores 0.

    Raises:
        ValueError: if the lengths differ or a value is not finite.
    """
    v = np.asarray(values, dtype=float)
    g = list(groups)
    if v.ndim != 1 or len(v) != len(g):
        raise ValueError(f"values ({v.shape}) and groups ({len(g)}) must be 1-D and of one length")
    if not np.isfinite(v).all():
        raise ValueError("values must be finite")
    out = np.zeros_like(v)
    for key in dict.fromkeys(g):
        idx = np.array([k == key for k in g])
        sd = v[idx].std()
        if idx.sum() > 1 and sd > 1e-12 * max(1.0, float(np.abs(v[idx]).max())):
            out[idx] = (v[idx] - v[idx].mean()) / sd
    return out


class ClusteredCorrelation(NamedTuple):
    """A (partial) correlation with a bootstrap interval over independent units (:func:`clustered_correlation_ci`)."""

    r: float                 #: Pearson's r of the points (of the residuals, when covariates were given)
    low: float               #: the interval's bounds (NaN when fewer than 10 resamples were usable)
    high: float
    points: int              #: observations
    units: int               #: independent units (clusters) the bootstrap resamples
    covariates: int          #: covariates partialled out


def clustered_correlation_ci(x: Sequence[float], y: Sequence[float], units: Sequence[Hashable],
                             covariates: Sequence[Sequence[float]] = (), n_boot: int = 2000, seed: int = 0,
                             level: float = 0.95) -> ClusteredCorrelation:
    """Pearson's r of ``x`` and ``y``, with ``covariates`` partialled out (both regressed on them, residuals
    correlated), and a percentile bootstrap interval that resamples whole **units** (notebook 08: the points of one
    model on several tasks are not independent, so the model is the unit).

    Each resample draws as many units as there are, with replacement (``default_rng(seed)``), and takes every point
    of each. Resamples with fewer than ``3 + len(covariates)`` distinct units, or whose covariates are collinear
    there (the partial correlation would not control them), or where a residual has no spread, are skipped.

    Args:
        x, y: paired observations.
        units: the unit of each observation (e.g. the model's name).
        covariates: zero or more sequences, one value per observation (e.g. depth, a metric z-scored per task).

    Raises:
        ValueError: on mismatched lengths, non-finite values, or fewer units than the estimate needs.
    """
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    za = np.asarray(covariates, dtype=float).reshape(len(covariates), -1).T if len(covariates) else np.zeros((len(xa), 0))
    u = list(units)
    if xa.ndim != 1 or not (xa.shape == ya.shape and len(u) == len(xa) and za.shape[0] == len(xa)):
        raise ValueError("x, y, units and every covariate must be 1-D and of one length (one value per observation)")
    if not (np.isfinite(xa).all() and np.isfinite(ya).all() and np.isfinite(za).all()):
        raise ValueError("x, y and the covariates must be finite: drop the observations whose measure is undefined")
    k = za.shape[1]
    names = list(dict.fromkeys(u))
    need = 3 + k
    if len(names) < need:
        raise ValueError(f"{len(names)} independent units cannot estimate a correlation with {k} covariate(s); need at "
                         f"least {need}")
    members = [np.array([i for i, v in enumerate(u) if v == name]) for name in names]

    def estimate(idx: np.ndarray) -> float:
        if k:      # collinear covariates in this resample (e.g. one depth only): the partial r would not control them
            zs = za[idx] - za[idx].mean(axis=0)
            scale = np.abs(zs).max(axis=0)
            if (scale <= 1e-9 * np.maximum(1.0, np.abs(za[idx]).max(axis=0))).any():
                return math.nan
            sv = np.linalg.svd(zs / scale, compute_uv=False)
            if sv.min() <= 1e-6 * sv.max():
                return math.nan
        if k:
            return _pearson(_residual(xa[idx], za[idx]), _residual(ya[idx], za[idx]))
        return _pearson(xa[idx], ya[idx])

    r = estimate(np.arange(len(xa)))
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(names), len(names))
        if len(np.unique(pick)) < need:
            continue
        v = estimate(np.concatenate([members[j] for j in pick]))
        if not math.isnan(v):
            boots.append(v)
    lo = hi = math.nan
    if len(boots) >= 10:
        lo, hi = (float(q) for q in np.quantile(boots, [(1 - level) / 2, 1 - (1 - level) / 2]))
    return ClusteredCorrelation(r, lo, hi, len(xa), len(names), k)


# --------------------------------------------------------------------------------------------- the study's questions
__all__ += ["STUDENTS", "CONTROLS", "TASKS", "SHIFT_VARIANTS", "NOISE_LEVEL", "student_profile", "discarded_functions",
            "run_open_questions", "RESULTS_PATH", "load_open_questions"]

#: the capacity sweep's distilled students (depth 3, 6, 9 of the teacher's 12) and their copies before distillation
STUDENTS: tuple[str, ...] = ("small-s3", "small", "small-s9")
CONTROLS: tuple[str, ...] = ("small-s3-init", "small-init", "small-s9-init")
TASKS: tuple[str, ...] = ("numerals", "number_words", "ioi", "qa", "greater_than")
SHIFT_VARIANTS: tuple[str, ...] = ("range_shift", "long7", "mixed", "large")
#: the weight-noise level of the robustness measure (σ × each weight's std; notebook 06 shows the whole curve)
NOISE_LEVEL = 0.3
#: the tasks on which the copies before distillation are profiled
CONTROL_TASKS: tuple[str, ...] = ("numerals",)
NOISE_SEEDS = (0, 1, 2)
#: where ``python -m dcirc_utils.studies.open_questions`` writes its results (shipped, so that notebook 08 runs in
#: minutes; the notebook recomputes whatever does not match the pairs' current weights)
RESULTS_PATH = DATA_DIR / "results" / "open_questions.json"


@dataclass(frozen=True, eq=False)
class DiscardedFunctions(Record):
    """Which teacher circuit components have a counterpart in the student's circuit (:func:`discarded_functions`;
    reads as a mapping of its fields).

    Attributes:
        kept, discarded: ``"teacher->student"`` strings (e.g. ``"4.4->2.4"``), teacher component and its most
            similar student component, for those whose counterpart is in the student's circuit and for the others.
        share_discarded: ``len(discarded) / (len(kept) + len(discarded))`` (``nan`` for an empty teacher circuit).
    """

    kept: list[str]
    discarded: list[str]
    share_discarded: float


def discarded_functions(teacher, student, prompts, t_circuit, s_circuit) -> DiscardedFunctions:
    """Which of the teacher's circuit components have no counterpart in the student's circuit (notebook 08).

    Each teacher circuit component takes the student component most similar to it (heads: row-wise cosine of
    batch-mean attention patterns on BOS-prefixed prompts; MLPs: principal-angle similarity of their output
    subspaces): the teacher→student direction of the study's BERT runs. A teacher component is *kept* when that
    counterpart is in the student's circuit, *discarded* otherwise.

    Returns:
        :class:`DiscardedFunctions` (``kept``, ``discarded``: components as strings; ``share_discarded``).
    """
    tokens = prompts.tokens(teacher.tokenizer, bos=True)
    sim = head_similarity(attention_patterns(teacher, tokens), attention_patterns(student, tokens))  # [s, t]
    table = mlp_similarity_table(mlp_outputs(teacher, tokens), mlp_outputs(student, tokens), "principal")  # [t, s]
    s_set = set(s_circuit)
    kept, dropped = [], []
    for c in t_circuit:
        if c.is_mlp:
            match = Component(int(table[c.layer].argmax()))
        else:
            j = int(sim[:, c.layer * teacher.n_heads + c.head].argmax())
            match = Component(j // student.n_heads, j % student.n_heads)
        (kept if match in s_set else dropped).append(f"{c}->{match}")
    n = len(kept) + len(dropped)
    return DiscardedFunctions(kept=kept, discarded=dropped, share_discarded=len(dropped) / n if n else math.nan)


def _discovery_name(pair, role: str, task: str) -> str:
    """The cache name of a discovery: the teacher's is shared by every student of the sweep (one teacher, found once
    per task: its weights are part of the key anyway), a student's is its pair's."""
    return f"oq-teacher-{task}" if role == "teacher" else f"oq-{pair.name}-{task}"


def _full_drops(engine) -> dict:
    """:func:`~dcirc_utils.methods.brittleness.full_model_drops`, cached by what the engine computes on (the
    teacher's are shared by every student of the sweep)."""
    from ..core.components import parse_component
    key = {"inputs": engine_fingerprint(engine)}
    return cached("full-drops", key, lambda: br.full_model_drops(engine),
                  lambda d: {str(c): v for c, v in d.items()},
                  lambda d: {parse_component(c): v for c, v in d.items()})


def student_profile(pair, task: str, n: int = 100, seed: int = 0, refresh: bool = False) -> dict:
    """Everything notebook 08 asks of one (student, task): accuracy and metric of both models, circuit sizes and
    scores, brittleness (sensitivity ratios of matched components, the worst single ablation, Gini of influence,
    backup), A under both recipes, the drop under weight noise, and the teacher functions the student discards.
    Cached on disk by both models' weights, the prompts and ``n``.

    A profile is a JSON object (cached, and shipped in :data:`RESULTS_PATH`), so it stays a plain ``dict``: a
    profile whose student does not do the task stops after the accuracies with an ``"error"``, and
    ``"discarded"`` holds :func:`discarded_functions`' fields as a dict.

    Raises:
        ValueError: if the pair's tokenizer cannot make the task.
    """
    prompts = make_task(task, n, seed, tokenizer=pair.tokenizer)
    key = {"teacher": model_fingerprint(pair.teacher.model), "student": model_fingerprint(pair.student.model),
           "prompts": prompts_digest(prompts), "pair": pair.name}

    def compute() -> dict:
        out: dict = {"pair": pair.name, "task": task, "student_layers": pair.student.n_layers}
        ev = {r: evaluate_task(a, prompts, corrupted=False) for r, a in pair.models.items()}
        for r in ("teacher", "student"):
            out[f"{r}_accuracy"], out[f"{r}_value"] = ev[r]["accuracy"], ev[r]["value"]
        engines = {r: Engine.for_prompts(a, prompts, progress=False, check_baseline=False)
                   for r, a in pair.models.items()}
        try:
            found = {r: discover(engines[r], _discovery_name(pair, r, task), r, edges=False) for r in pair.models}
        except ValueError as err:                  # a degenerate baseline: the student does not do the task
            out["error"] = str(err)
            return out
        circ = {r: d.circuit for r, d in found.items()}
        for r in ("teacher", "student"):
            out[f"{r}_circuit_size"] = len(circ[r].components)
            out[f"{r}_components"] = len(engines[r].components)
            out[f"{r}_circuit_score"] = circ[r].score
        full = {r: _full_drops(engines[r]) for r in pair.models}
        infl = {r: {c: abs(v) for c, v in d.items()} for r, d in full.items()}
        for r in ("teacher", "student"):
            out[f"{r}_gini"] = gini(list(infl[r].values())) if sum(infl[r].values()) > 0 else math.nan
            out[f"{r}_worst_drop"] = min(full[r].values())
        head_m, mlp_m = study_matches(pair.teacher, pair.student, prompts.tokens(pair.tokenizer, bos=True),
                                      mlp_similarity="principal")
        ratios = br.sensitivity_ratios(full["student"], full["teacher"], head_m + mlp_m)
        substantive = [r.ratio for r in ratios if br.is_substantive(r)]
        out["ratio_max_substantive"] = max(substantive) if substantive else math.nan
        out["ratio_median"] = float(np.median([r.ratio for r in ratios if math.isfinite(r.ratio)]))
        out["flagged_substantive"] = len([x for x in substantive if x > 2.0])
        backup = br.backup_heads(engines["student"], top_k=1, full_drops=full["student"])
        out["backup_max_rise"] = backup.rows[0].change if backup.rows else math.nan
        out["discarded"] = discarded_functions(pair.teacher, pair.student, prompts, circ["teacher"].components,
                                               circ["student"].components).to_dict()
        out["student_circuit"] = [str(c) for c in circ["student"].components]
        out["teacher_circuit"] = [str(c) for c in circ["teacher"].components]
        for name, recipe in (("course", COURSE), ("study", study_recipe_for(task))):
            out[f"A_{name}"] = task_alignment(pair, task, recipe, n, seed)["A"]
        clean = engines["student"].clean_value
        noisy = []
        for s in NOISE_SEEDS:
            with add_weight_noise(pair.student.model, NOISE_LEVEL, s):
                noisy.append(evaluate_task(pair.student, prompts, corrupted=False)["value"])
        out["noise_retained"] = float(np.mean(noisy)) / clean if abs(clean) > 1e-9 else math.nan
        return out

    return cached("open-questions", key, compute, refresh=refresh)


def shift_profile(pair, n: int = 100, seeds: Sequence[int] = (0, 1)) -> list[dict]:
    """Accuracy and circuit score of teacher and student on the numeral task and its unseen variants, per seed
    (the circuits are found on the numeral prompts of seed 0; notebook 08's real-shift question)."""
    prompts = make_task("numerals", n, 0, tokenizer=pair.tokenizer)
    circuits = {r: discover(Engine.for_prompts(a, prompts), _discovery_name(pair, r, "numerals"), r,
                          edges=False).circuit.components
                for r, a in pair.models.items()}
    return shift_study(pair, ("numerals",) + SHIFT_VARIANTS, n, list(seeds), circuits)


def tasks_for(name: str, tasks: Sequence[str] = TASKS) -> tuple[str, ...]:
    """The tasks profiled for a pair: every task for a distilled student, the numeral task alone for a copy before
    distillation (:data:`CONTROL_TASKS`; the copies answer the capacity question, not the cross-task one)."""
    return tuple(t for t in tasks if t in CONTROL_TASKS) if name in CONTROLS else tuple(tasks)


def _profile_pair(out: dict, pair, tasks: Sequence[str], n: int) -> None:
    """Append one pair's profiles (:func:`tasks_for`) and shift rows to ``out`` (a task it cannot make is recorded
    with its error)."""
    for task in tasks_for(pair.name, tasks):
        try:
            out["profiles"].append(student_profile(pair, task, n))
        except ValueError as err:
            out["profiles"].append({"pair": pair.name, "task": task, "error": str(err)})
    out["shift"] += [dict(r, pair=pair.name) for r in shift_profile(pair, n)]


def run_open_questions(n: int = 100, students: Sequence[str] = STUDENTS + CONTROLS, tasks: Sequence[str] = TASKS,
                       progress: bool = True) -> dict:
    """Compute every (student, task) profile (:func:`tasks_for`) and the shift rows and write :data:`RESULTS_PATH`
    (the command line)."""
    from tqdm.auto import tqdm

    from ..models.pairs import PairUnavailableError, load_pair
    t0 = time.perf_counter()
    out: dict = {"n": n, "profiles": [], "shift": [], "fingerprints": {}, "missing": {}}
    for name in tqdm(students, desc="students", disable=not progress):
        try:
            pair = load_pair(name, device="cpu")
        except PairUnavailableError as err:
            out["missing"][name] = str(err)
            continue
        out["fingerprints"][name] = [model_fingerprint(pair.teacher.model), model_fingerprint(pair.student.model)]
        _profile_pair(out, pair, tasks, n)
    out["wall_time_s"] = time.perf_counter() - t0
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(out, indent=1, default=float) + "\n")
    return out


def load_open_questions() -> dict | None:
    """The shipped results of :func:`run_open_questions`, or ``None`` when there are none."""
    return json.loads(RESULTS_PATH.read_text()) if RESULTS_PATH.exists() else None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dcirc_utils.studies.open_questions [--n 100]``: recompute notebook 08's results."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m dcirc_utils.studies.open_questions", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--students", nargs="*", default=None)
    args = ap.parse_args(argv)
    out = run_open_questions(args.n, tuple(args.students) if args.students else STUDENTS + CONTROLS)
    print(f"{len(out['profiles'])} profiles, {len(out['shift'])} shift rows in {out['wall_time_s']:.0f} s -> "
          f"{RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# --------------------------------------------------------------------------------------------- notebook 08's tables
__all__ += ["tasks_for", "CONTROL_TASKS", "load_or_compute", "capacity_rows", "CircuitOverlap", "circuit_overlap",
            "shift_rows", "RobustnessPoint", "robustness_points", "SHIFT_FIRST", "DiscardedFunctions"]

#: the in-distribution variant the shift losses are measured from
SHIFT_FIRST = "numerals"


def load_or_compute(students: Sequence[str] = STUDENTS + CONTROLS, tasks: Sequence[str] = TASKS, n: int = 100,
                    progress: bool = False) -> dict:
    """Notebook 08's results: the shipped :data:`RESULTS_PATH` for every pair whose weights it was computed on, and
    a fresh (cached) computation for any pair whose weights differ or that it lacks.

    Returns:
        The :func:`run_open_questions` dict, with ``"recomputed"``: the pairs computed here.

    Raises:
        ValueError: if the shipped file was computed with another number of prompts than ``n``.
    """
    from ..models.pairs import PairUnavailableError, load_pair
    shipped = load_open_questions() or {"n": n, "profiles": [], "shift": [], "fingerprints": {}, "missing": {}}
    if shipped.get("n", n) != n:
        raise ValueError(f"{RESULTS_PATH} holds results for n = {shipped['n']} prompts, not {n}: pass n={shipped['n']} "
                         "or recompute with python -m dcirc_utils.studies.open_questions --n " + str(n))
    out = {"n": n, "profiles": [], "shift": [], "fingerprints": {}, "missing": {}, "recomputed": [],
           "wall_time_s": shipped.get("wall_time_s")}
    for name in students:
        try:
            pair = load_pair(name, device="cpu")
        except PairUnavailableError as err:
            out["missing"][name] = str(err)
            continue
        fp = [model_fingerprint(pair.teacher.model), model_fingerprint(pair.student.model)]
        out["fingerprints"][name] = fp
        if shipped["fingerprints"].get(name) == fp:
            out["profiles"] += [p for p in shipped["profiles"] if p["pair"] == name and p["task"] in tasks]
            out["shift"] += [r for r in shipped["shift"] if r["pair"] == name]
            continue
        out["recomputed"].append(name)
        _profile_pair(out, pair, tasks, n)
    return out


def capacity_rows(oq: dict, task: str = "numerals") -> list[dict]:
    """One row per pair of the sweep on ``task``: student depth, compression (student/teacher layers), distilled or
    copy, and the profile's measures (circuit share = circuit size / components) (notebook 08, question 1)."""
    rows = []
    for p in oq["profiles"]:
        if p["task"] != task or p.get("error"):
            continue
        r = dict(p)
        r["distilled"] = not p["pair"].endswith("-init")
        r["compression"] = p["student_layers"] / 12
        for role in ("teacher", "student"):
            r[f"{role}_circuit_share"] = p[f"{role}_circuit_size"] / p[f"{role}_components"]
        r["share_discarded"] = p["discarded"]["share_discarded"]
        rows.append(r)
    return sorted(rows, key=lambda r: (not r["distilled"], r["student_layers"]))


@dataclass(frozen=True, eq=False)
class CircuitOverlap(Record):
    """Which of a model's circuit components recur across tasks (:func:`circuit_overlap`; reads as a mapping).

    Attributes:
        tasks: the tasks with a circuit, sorted.
        in_every_task, in_any_task: the components (as strings, sorted) in every task's circuit and in at least one.
        jaccard: ``len(in_every_task) / len(in_any_task)`` (``nan`` with no circuit).
    """

    tasks: list[str]
    in_every_task: list[str]
    in_any_task: list[str]
    jaccard: float


def circuit_overlap(oq: dict, pair: str, role: str = "student") -> CircuitOverlap:
    """Which of a model's circuit components recur across tasks (notebook 08, question 2): a
    :class:`CircuitOverlap` (``tasks``, ``in_every_task``, ``in_any_task``, ``jaccard``)."""
    sets = {p["task"]: set(p[f"{role}_circuit"]) for p in oq["profiles"]
            if p["pair"] == pair and not p.get("error") and f"{role}_circuit" in p}
    if not sets:
        return CircuitOverlap(tasks=[], in_every_task=[], in_any_task=[], jaccard=math.nan)
    every, any_ = set.intersection(*sets.values()), set.union(*sets.values())
    return CircuitOverlap(tasks=sorted(sets), in_every_task=sorted(every), in_any_task=sorted(any_),
                          jaccard=len(every) / len(any_) if any_ else math.nan)


def shift_rows(oq: dict, pair: str) -> list[dict]:
    """The shift rows of one pair (teacher and student, every variant and seed) (notebook 08, question 3)."""
    return [r for r in oq["shift"] if r["pair"] == pair]


@dataclass(frozen=True, eq=False)
class RobustnessPoint(Record):
    """One (pair, task) profile as a point of question 4 (:func:`robustness_points`; reads as a mapping).

    Attributes:
        pair, task: the pair's and the task's names; ``distilled``: False for a copy before distillation.
        student_layers: the student's depth (``None`` if the profile lacks it).
        A_course, A_study: A under the course's and the study's recipe (unitless; ``A_study`` may be ``None``).
        student_value, student_accuracy: the student's clean metric (Δl, logits) and accuracy (share, 0–1).
        noise_retained: the share of the student's clean Δl kept under weight noise (mean over noise seeds).
        worst_drop: the worst single-component full-model drop (points of % clean; less negative is more robust).
        shift_loss: on the numeral task, the accuracy lost under the unseen variants (percentage points, student,
            mean over seeds and variants); ``nan`` on other tasks or without shift rows.
    """

    pair: str
    task: str
    distilled: bool
    student_layers: int | None
    A_course: float
    A_study: float | None
    student_value: float
    student_accuracy: float
    noise_retained: float
    worst_drop: float
    shift_loss: float


def robustness_points(oq: dict) -> list[RobustnessPoint]:
    """One :class:`RobustnessPoint` per (pair, task) profile for question 4: A under both recipes, plain
    performance (the student's clean metric and accuracy), the student's depth (``student_layers``, what section 4's
    figure colours by) and three robustness measures: the share of the clean metric kept under weight noise
    (``noise_retained``), the worst single-component full-model drop (``worst_drop``, points of % clean; less
    negative is more robust) and, on the numeral task, the mean accuracy lost under the unseen variants
    (``shift_loss``, points; from the shift rows, student, averaged over seeds and variants).
    """
    loss: dict[str, float] = {}
    for name in {r["pair"] for r in oq["shift"]}:
        rows = [r for r in oq["shift"] if r["pair"] == name and r["model"] == "student" and not r.get("error")]
        base = [r["accuracy"] for r in rows if r["variant"] == SHIFT_FIRST]
        other = [r["accuracy"] for r in rows if r["variant"] != SHIFT_FIRST]
        if base and other:
            loss[name] = 100.0 * (float(np.mean(base)) - float(np.mean(other)))
    points = []
    for p in oq["profiles"]:
        if p.get("error") or p.get("A_course") is None:
            continue
        points.append(RobustnessPoint(
            pair=p["pair"], task=p["task"], distilled=not p["pair"].endswith("-init"),
            student_layers=p.get("student_layers"), A_course=p["A_course"], A_study=p.get("A_study"),
            student_value=p["student_value"], student_accuracy=p["student_accuracy"],
            noise_retained=p["noise_retained"], worst_drop=p["student_worst_drop"],
            shift_loss=loss.get(p["pair"], math.nan) if p["task"] == "numerals" else math.nan))
    return points
