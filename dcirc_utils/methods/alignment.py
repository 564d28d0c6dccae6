"""The study's alignment metric A between a teacher and its student, and the fit of its decay under noise (notebook 06).

Alignment (arXiv 2505.10822; ``data/reference/paper-results.md``)::

    A = (1/|M|) · Σ_{i ∈ M} S_i · (1 − |I^S_i − I^T_i|)

over a set ``M`` of matched components: each student component ``i`` (a head or an MLP) is paired with a teacher
component; ``S_i`` is the similarity of the pair (heads: cosine of mean attention patterns; MLPs: similarity of
output subspaces, see :mod:`dcirc_utils.methods.heads` and :mod:`dcirc_utils.methods.mlps`), ``I^S_i`` and ``I^T_i`` are the
influences of the two components, each model's influences normalised to sum to 1 over all its components
(:func:`dcirc_utils.methods.discovery.influences`). A is 1 exactly when every matched pair is identical (S = 1) and equally
influential; it falls as similarities fall or influence moves between components.

This module takes similarities and influences as plain numbers (sequences, arrays or dicts), so it does not depend
on how they were computed. Under growing weight noise in the student (:mod:`dcirc_utils.methods.noise`), A decays roughly
inverse-logarithmically towards a plateau; :func:`fit_inverse_log_decay` fits that curve.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from jaxtyping import Float

from ..core.components import Component
from ..core.records import Record
from ..engine import Engine
from .concentration import gini
from .discovery import influences
from .matching import normalise_matches

__all__ = ["alignment_terms", "alignment", "AlignmentTerm", "AlignmentResult", "matched_alignment",
           "assemble_alignment", "normalise_influences", "AlignmentMeasure", "make_alignment_measure", "DecayFit",
           "inverse_log_decay", "fit_inverse_log_decay"]

#: Slack allowed beyond the documented ranges for floating-point round-off (values are clipped back into range).
RANGE_TOL = 1e-6


# --------------------------------------------------------------------------------------------- the metric
def _vector(x: Any, name: str) -> np.ndarray:
    if isinstance(x, Mapping):
        raise ValueError(f"{name} is a dict: alignment() takes aligned sequences (element i of every input belongs "
                         "to the same matched pair); use matched_alignment() for dicts keyed by component")
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one value per matched pair), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values at positions {np.flatnonzero(~np.isfinite(arr))[:5]}: "
                         "every matched pair needs a finite value (was a similarity left undefined?)")
    return arr


def _check_range(arr: np.ndarray, lo: float, hi: float, name: str, hint: str) -> np.ndarray:
    bad = (arr < lo - RANGE_TOL) | (arr > hi + RANGE_TOL)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}], but element {i} is {arr[i]:.6g}: {hint}")
    return np.clip(arr, lo, hi)


def alignment_terms(similarities: Sequence[float] | Float[np.ndarray, "m"],
                    student_influence: Sequence[float] | Float[np.ndarray, "m"],
                    teacher_influence: Sequence[float] | Float[np.ndarray, "m"],
                    similarity_range: str = "signed") -> Float[np.ndarray, "m"]:
    """The per-pair terms ``S_i · (1 − |I^S_i − I^T_i|)`` of :func:`alignment` (notebook 06).

    Args, Raises: as :func:`alignment`.
    """
    S = _vector(similarities, "similarities")
    IS = _vector(student_influence, "student_influence")
    IT = _vector(teacher_influence, "teacher_influence")
    if not (len(S) == len(IS) == len(IT)):
        raise ValueError(f"similarities ({len(S)}), student_influence ({len(IS)}) and teacher_influence ({len(IT)}) "
                         "must have one entry per matched pair, in the same order")
    if len(S) == 0:
        raise ValueError("no matched pairs: A is an average over matched components, so at least one is needed")
    if similarity_range == "signed":
        S = _check_range(S, -1.0, 1.0, "similarities", "they are cosines; compute them as cosines of unit vectors")
    elif similarity_range == "unit":
        S = _check_range(S, 0.0, 1.0, "similarities", "with similarity_range='unit' they must be non-negative "
                         "(take |cos|, as the study did for MLP subspaces, or pass similarity_range='signed')")
    else:
        raise ValueError(f"similarity_range must be 'signed' ([-1, 1]) or 'unit' ([0, 1]), got {similarity_range!r}")
    hint = ("influences are shares of a model's total influence; normalise them to sum to 1 "
            "(normalise_influences or discovery.influences)")
    IS = _check_range(IS, 0.0, 1.0, "student_influence", hint)
    IT = _check_range(IT, 0.0, 1.0, "teacher_influence", hint)
    return S * (1.0 - np.abs(IS - IT))


def alignment(similarities: Sequence[float] | Float[np.ndarray, "m"],
              student_influence: Sequence[float] | Float[np.ndarray, "m"],
              teacher_influence: Sequence[float] | Float[np.ndarray, "m"],
              similarity_range: str = "signed") -> float:
    """The study's alignment of a student with its teacher over matched components (notebook 06).

    .. math::

        A = \\frac{1}{|M|} \\sum_{i \\in M} S_i \\, \\bigl(1 - |I^S_i - I^T_i|\\bigr)

    Element ``i`` of the three inputs belongs to the same matched pair ``i`` (student component, its teacher
    component). With S = 1 and identical influences A = 1, its maximum; with ``similarity_range="signed"`` A lies in
    [−1, 1], with ``"unit"`` in [0, 1].

    Args:
        similarities: ``[m]`` similarity ``S_i`` of each pair; in [−1, 1] (cosines, ``similarity_range="signed"``,
            the default) or in [0, 1] (``"unit"``, e.g. the study's |mean cosine| of MLP subspaces).
        student_influence: ``[m]`` influence ``I^S_i`` of each pair's student component, in [0, 1] (a share of the
            student's total influence).
        teacher_influence: ``[m]`` influence ``I^T_i`` of each pair's teacher component, in [0, 1].
        similarity_range: ``"signed"`` or ``"unit"`` (which range the similarities are checked against).

    Returns:
        A, a float.

    Raises:
        ValueError: when the inputs differ in length, are empty, hold NaN, or leave their range (the message names
            the input, the element and the fix).
    """
    return float(alignment_terms(similarities, student_influence, teacher_influence, similarity_range).mean())


def normalise_influences(influence: Mapping[Component, float]) -> dict[Component, float]:
    """Influences rescaled to sum to 1 over all components of the model (the study's normalisation; notebook 06).

    Raises:
        ValueError: if an influence is negative or NaN (take ``abs`` of score drops first) or all are zero.
    """
    vals = {k: float(v) for k, v in influence.items()}
    bad = [k for k, v in vals.items() if not v >= 0.0]
    if bad:
        raise ValueError(f"influences must be non-negative numbers, but {bad[:3]} are {[vals[k] for k in bad[:3]]}: "
                         "use |drop of the score| when the component is ablated (discovery.influences)")
    total = sum(vals.values())
    if total <= 0.0:
        raise ValueError("every influence is zero: nothing to normalise (did the ablation scan change anything?)")
    return {k: v / total for k, v in vals.items()}


@dataclass(frozen=True, eq=False)
class AlignmentTerm(Record):
    """One matched pair's term of A (a row of :class:`AlignmentResult`; reads as a mapping of its fields).

    Attributes:
        student, teacher: the matched components.
        kind: ``"head"`` or ``"mlp"``.
        similarity: ``S_i``, the pair's similarity as given (a cosine in [−1, 1], or a |cos| in [0, 1]; unitless).
        student_influence, teacher_influence: ``I^S_i`` and ``I^T_i``, each component's share of its model's total
            influence (in [0, 1]).
        term: ``S_i · (1 − |I^S_i − I^T_i|)``, the pair's contribution to A before averaging (unitless).
    """

    student: Component
    teacher: Component
    kind: str
    similarity: float
    student_influence: float
    teacher_influence: float
    term: float


@dataclass
class AlignmentResult:
    """A over matched components, with the per-pair terms (plain data; notebook 06).

    Attributes:
        value: A over every matched pair (heads and MLPs).
        value_heads, value_mlps: A over the head pairs only and the MLP pairs only (``nan`` when there are none).
        rows: one :class:`AlignmentTerm` per pair.
    """

    value: float
    value_heads: float
    value_mlps: float
    rows: list[AlignmentTerm] = field(default_factory=list)

    @property
    def n_matched(self) -> int:
        return len(self.rows)


def _influence_of(infl: Mapping[Component, float], c: Component, which: str) -> float:
    if c in infl:
        return infl[c]
    raise ValueError(f"{which} influence of {c} is missing: pass the influences of every component of the model "
                     "(discovery.influences(engine) scans all of them)")


def matched_alignment(head_matches: Any, mlp_matches: Any, student_influence: Mapping[Component, float],
                      teacher_influence: Mapping[Component, float], normalise: bool = True,
                      similarity_range: str = "signed") -> AlignmentResult:
    """A over the matched heads and MLPs of a teacher/student pair (notebook 06).

    Args:
        head_matches: each student head → its best teacher head, with the similarity (any form
            :func:`normalise_matches` reads, e.g. ``{Component(2, 4): (Component(4, 4), 0.93)}`` or
            ``[("2.4", "4.4", 0.93)]``, or the matches of :func:`dcirc_utils.methods.matching.match_heads`).
        mlp_matches: the same for MLPs (``None`` or empty to use heads only).
        student_influence, teacher_influence: ``{component: influence}`` of every component of each model
            (:func:`dcirc_utils.methods.discovery.influences`).
        normalise: rescale each model's influences to sum to 1 over all its components first (the study's
            normalisation; a no-op for the output of ``discovery.influences``).
        similarity_range: see :func:`alignment` (MLP similarities that are |cos| fit either range).

    Raises:
        ValueError: if there are no matches, a match has no similarity, or an influence is missing.
    """
    heads, mlps = normalise_matches(head_matches), normalise_matches(mlp_matches)
    pairs = [(m, "head") for m in heads] + [(m, "mlp") for m in mlps]
    if not pairs:
        raise ValueError("no matched components: pass head_matches and/or mlp_matches")
    missing = [str(m.student) for m, _ in pairs if math.isnan(m.similarity)]
    if missing:
        raise ValueError(f"the matches of {missing[:5]} carry no similarity: A weights each pair by its similarity; "
                         "pass (student, teacher, similarity) (use 1.0 only as a stated placeholder)")
    IS = normalise_influences(student_influence) if normalise else dict(student_influence)
    IT = normalise_influences(teacher_influence) if normalise else dict(teacher_influence)
    i_s = [_influence_of(IS, m.student, "student") for m, _ in pairs]
    i_t = [_influence_of(IT, m.teacher, "teacher") for m, _ in pairs]
    return assemble_alignment([(kind, m) for m, kind in pairs], i_s, i_t, similarity_range)


def assemble_alignment(pairs: Sequence[tuple[str, Any]], student_influence: Sequence[float],
                       teacher_influence: Sequence[float], similarity_range: str = "signed",
                       clip: bool = False) -> AlignmentResult:
    """A from its matched pairs and their influences: the one place every recipe's A is put together
    (:func:`matched_alignment`, :func:`dcirc_utils.methods.recipes.recipe_alignment_from_parts`).

    Args:
        pairs: ``(kind, match)`` per matched pair, ``kind`` ``"head"`` or ``"mlp"``, ``match`` with ``student``,
            ``teacher`` and ``similarity`` (a :class:`~dcirc_utils.methods.matching.Match`); a pair listed twice
            counts twice.
        student_influence, teacher_influence: each pair's influences, in the same order.
        similarity_range: see :func:`alignment`.
        clip: clip similarities to [-1, 1] and influences to [0, 1] before the terms (the study's recipes: float32
            similarities can exceed 1 by rounding); the rows keep the values as given.

    Returns:
        :class:`AlignmentResult`: A over all pairs, over the head pairs and over the MLP pairs, and one row per pair.
    """
    S = [m.similarity for _, m in pairs]
    if clip:
        terms = alignment_terms(np.clip(S, -1.0, 1.0), np.clip(student_influence, 0.0, 1.0),
                                np.clip(teacher_influence, 0.0, 1.0), similarity_range)
    else:
        terms = alignment_terms(S, student_influence, teacher_influence, similarity_range)
    rows = [AlignmentTerm(student=m.student, teacher=m.teacher, kind=kind, similarity=s, student_influence=a,
                          teacher_influence=b, term=float(t))
            for (kind, m), s, a, b, t in zip(pairs, S, student_influence, teacher_influence, terms)]
    kinds = np.array([kind for kind, _ in pairs])

    def mean_of(kind: str) -> float:
        sel = terms[kinds == kind]
        return float(sel.mean()) if len(sel) else math.nan

    return AlignmentResult(float(terms.mean()), mean_of("head"), mean_of("mlp"), rows)


@dataclass(frozen=True, eq=False)
class AlignmentMeasure(Record):
    """A of one (perturbed) student, and what it is made of: what :func:`make_alignment_measure`'s measure returns
    (a row of the noise sweep; reads as a mapping of its fields).

    Attributes:
        alignment: A over every matched pair; ``alignment_heads``, ``alignment_mlps`` over the head and the MLP
            pairs (``nan`` when there are none). Unitless, in [−1, 1].
        mean_similarity: the mean ``S_i`` over the matched pairs.
        influence_term: ``mean_similarity − alignment = (1/|M|) Σ S_i·|I^S_i − I^T_i|``, the part of the fall of A
            that influences cause (at most ``2/|M|`` when S ≤ 1 and no teacher component is matched twice).
        clean_value: the student's clean task metric on the engine's prompts (Δl in logits for logit-difference
            tasks).
        influence_gini: the Gini coefficient of the student's influences (0: spread evenly; 1: all in one
            component).
    """

    alignment: float
    alignment_heads: float
    alignment_mlps: float
    mean_similarity: float
    influence_term: float
    clean_value: float
    influence_gini: float


def make_alignment_measure(teacher_influence: Mapping[Component, float], engine_factory: Callable[[Any], Engine],
                           matches_fn: Callable[[Any], tuple[Any, Any]],
                           similarity_range: str = "signed") -> Callable[[Any], AlignmentMeasure]:
    """A ``measure_fn`` for :func:`dcirc_utils.methods.noise.noise_sweep`: A of a (perturbed) student (notebook 06).

    For each student it builds a fresh engine (``engine_factory(student)``, so that the mean-ablation values are the
    perturbed model's own), scans its influences (:func:`dcirc_utils.methods.discovery.influences`), asks
    ``matches_fn(student)`` for ``(head_matches, mlp_matches)`` with similarities, and returns an
    :class:`AlignmentMeasure` (``alignment``, ``alignment_heads``, ``alignment_mlps``, ``mean_similarity``,
    ``influence_term``, ``clean_value``, ``influence_gini``).

    Args:
        teacher_influence: the (unperturbed) teacher's influences.
        engine_factory: ``model → Engine`` on the task's prompts (pass ``check_baseline=False``: heavy noise can
            destroy the task, and A is still defined).
        matches_fn: ``model → (head_matches, mlp_matches)``; recompute similarities on the perturbed student, or
            return fixed matches with ``S = 1`` as an explicitly stated placeholder.
    """
    def measure(student) -> AlignmentMeasure:
        engine = engine_factory(student)
        infl = influences(engine)
        head_m, mlp_m = matches_fn(student)
        res = matched_alignment(head_m, mlp_m, infl, teacher_influence, similarity_range=similarity_range)
        mean_s = float(np.mean([r.similarity for r in res.rows]))
        return AlignmentMeasure(alignment=res.value, alignment_heads=res.value_heads, alignment_mlps=res.value_mlps,
                                mean_similarity=mean_s, influence_term=mean_s - res.value,
                                clean_value=engine.clean_value, influence_gini=gini(list(infl.values())))

    return measure


# --------------------------------------------------------------------------------------------- decay under noise
def inverse_log_decay(sigma, plateau: float, amplitude: float, rate: float, sigma0: float):
    """``A(σ) = plateau + amplitude / (1 + rate · ln(1 + σ/σ0))`` (notebook 06).

    ``A(0) = plateau + amplitude``; A falls monotonically (for ``amplitude, rate > 0``) and tends to ``plateau`` as
    σ → ∞, slowly: halfway down at ``σ = σ0 · (e^{1/rate} − 1)``. ``sigma0`` sets the noise scale at which the
    decay starts.
    """
    sigma = np.asarray(sigma, dtype=float)
    return plateau + amplitude / (1.0 + rate * np.log1p(sigma / sigma0))


@dataclass
class DecayFit:
    """The fitted inverse-logarithmic decay (plain data; call it to evaluate the curve).

    Attributes:
        plateau, amplitude, rate, sigma0: the parameters of :func:`inverse_log_decay`.
        stderr: standard errors of the fitted parameters (``nan`` for a fixed ``sigma0``).
        rmse: root-mean-square residual on the data.
        r2: coefficient of determination on the data.
        fit_sigma0: whether ``sigma0`` was fitted or held fixed.
        at_bounds: names of fitted parameters that ended on a bound of the fit: the data do not determine them
            (typically the plateau when the levels stop before A levels off); report them as limits, not values.
    """

    plateau: float
    amplitude: float
    rate: float
    sigma0: float
    stderr: dict[str, float]
    rmse: float
    r2: float
    fit_sigma0: bool
    at_bounds: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, float]:
        return {"plateau": self.plateau, "amplitude": self.amplitude, "rate": self.rate, "sigma0": self.sigma0}

    @property
    def start(self) -> float:
        """A(0) = plateau + amplitude."""
        return self.plateau + self.amplitude

    def __call__(self, sigma):
        return inverse_log_decay(sigma, self.plateau, self.amplitude, self.rate, self.sigma0)


def fit_inverse_log_decay(levels: Sequence[float] | Float[np.ndarray, "n"], values: Sequence[float] |
                          Float[np.ndarray, "n"], sigma0: float | None = None, errors: Sequence[float] | None = None,
                          maxfev: int = 20000) -> DecayFit:
    """Fit ``A(σ) = plateau + amplitude / (1 + rate · ln(1 + σ/σ0))`` to A measured at noise levels σ (notebook 06).

    ``scipy.optimize.curve_fit`` with bounds: ``amplitude ≥ 0`` and ``rate > 0`` (a decay), ``plateau`` within the
    data's range widened by its span, ``sigma0`` between 1e-3 × and 10 × the largest level. Repeated levels (one
    point per seed) are fine: every point is fitted.

    Args:
        levels: ``[n]`` noise levels σ ≥ 0.
        values: ``[n]`` measured A (or any decaying metric) at those levels.
        sigma0: hold ``sigma0`` fixed at this value (three parameters fitted: better determined when the levels are
            few); ``None`` fits it too (needs at least 5 distinct levels).
        errors: optional ``[n]`` standard deviations of the values (weights of the fit).
        maxfev: evaluation budget of the optimiser.

    Raises:
        ValueError: on mismatched lengths, negative levels, NaN values, too few distinct levels, or a failed fit.
    """
    from scipy.optimize import curve_fit

    x = np.asarray(levels, dtype=float).ravel()
    y = np.asarray(values, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"levels ({x.size}) and values ({y.size}) must have one entry per measurement")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("levels and values must be finite: drop the runs whose metric is undefined before fitting")
    if (x < 0).any():
        raise ValueError(f"noise levels must be ≥ 0, got {x[x < 0][:3]}")
    n_free = 3 if sigma0 is not None else 4
    n_distinct = len(np.unique(x))
    if n_distinct < n_free + (1 if sigma0 is None else 0):
        raise ValueError(f"{n_distinct} distinct noise levels cannot determine {n_free} parameters: measure more "
                         "levels" + ("" if sigma0 is not None else " or hold sigma0 fixed (sigma0=...)"))
    top = float(x.max())
    if top <= 0:
        raise ValueError("every noise level is 0: nothing to fit")
    lo_v, hi_v = float(y.min()), float(y.max())
    span = max(hi_v - lo_v, 1e-6)
    plateau_b = (lo_v - span, hi_v)
    amp_b = (0.0, 4.0 * span + abs(hi_v))
    rate_b = (1e-6, 1e4)
    order = np.argsort(x)
    y0 = float(y[order][0])
    p_start = [min(max(lo_v, plateau_b[0]), plateau_b[1]), min(max(y0 - lo_v, 1e-6), amp_b[1]), 1.0]
    bounds_lo, bounds_hi = [plateau_b[0], amp_b[0], rate_b[0]], [plateau_b[1], amp_b[1], rate_b[1]]
    positive = x[x > 0]
    if sigma0 is None:
        s_lo, s_hi = 1e-3 * top, 10.0 * top
        p_start.append(float(np.clip(positive.min(), s_lo, s_hi)))
        bounds_lo.append(s_lo)
        bounds_hi.append(s_hi)
        f = inverse_log_decay
    else:
        if not sigma0 > 0:
            raise ValueError(f"sigma0 must be positive, got {sigma0}")
        f = lambda s, p, a, r: inverse_log_decay(s, p, a, r, sigma0)  # noqa: E731
    sig = None if errors is None else np.maximum(np.asarray(errors, dtype=float).ravel(), 1e-12)
    if sig is not None and sig.shape != y.shape:
        raise ValueError(f"errors ({sig.size}) must have one entry per value ({y.size})")
    best = None
    # a few starts for the rate: the curve's shape is sensitive to it and the least-squares problem is not convex
    for r0 in (1.0, 0.1, 10.0):
        start = list(p_start)
        start[2] = r0
        try:
            popt, pcov = curve_fit(f, x, y, p0=start, bounds=(bounds_lo, bounds_hi), sigma=sig,
                                   absolute_sigma=sig is not None, maxfev=maxfev)
        except (RuntimeError, ValueError):
            continue
        res = float(np.sum((f(x, *popt) - y) ** 2))
        if best is None or res < best[0]:
            best = (res, popt, pcov)
    if best is None:
        raise ValueError("the inverse-logarithmic fit did not converge: check that the values decay with the "
                         "noise level, or hold sigma0 fixed")
    res, popt, pcov = best
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(pcov)) if pcov is not None else np.full(len(popt), np.nan)
    names = ["plateau", "amplitude", "rate", "sigma0"]
    params = list(popt) + ([] if sigma0 is None else [sigma0])
    stderr = {n: float(s) for n, s in zip(names, list(se) + ([] if sigma0 is None else [math.nan]))}
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    at_bounds = [n for n, v, lo, hi in zip(names, popt, bounds_lo, bounds_hi)
                 if min(abs(v - lo), abs(hi - v)) <= 1e-6 * max(1.0, abs(lo), abs(hi))]
    return DecayFit(*(float(p) for p in params), stderr=stderr, rmse=math.sqrt(res / len(y)),
                    r2=1.0 - res / ss_tot if ss_tot > 0 else math.nan, fit_sigma0=sigma0 is None,
                    at_bounds=at_bounds)
