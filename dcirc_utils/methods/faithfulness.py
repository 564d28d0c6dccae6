"""Faithfulness across circuit sizes, scored as MIB scores circuits: CPR and CMD (notebook 02, issue 26).

Node pruning (``methods.discovery``) finds one circuit per model, at one threshold (80 % of the clean metric). The
Mechanistic Interpretability Benchmark (MIB; Mueller et al. 2025, arXiv 2504.13151, circuit-localization track, its
code ``hannamw/MIB-circuit-track``, ``MIB_circuit_track/evaluation.py``) scores a *ranking* of the model's parts
instead: the circuit of size k is the top-k parts of the ranking, with everything else ablated, for every size of
:data:`MIB_SIZES`, and the curve of faithfulness against size is summarised by two areas.

What MIB does, and what this module does (like for like where it can; an *analogue* where the course differs):

* **Faithfulness** of a circuit ``C``: ``f(C) = (m(C) − m(∅)) / (m(N) − m(∅))``, with ``m`` the task metric averaged
  over the prompts (MIB: the logit difference; here the engine's metric, Δl for the numeral task), ``m(N)`` the full
  model on the clean prompts and ``m(∅)`` the empty circuit. Same formula here.
* **Sizes**: 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50 and 100 % of the scored parts (MIB's ``percentages``), each rounded
  *down* to whole parts (MIB: ``int(pct * n_scored_items)``; here ``floor`` with a 1e-9 guard against float
  artefacts such as ``0.29 · 100 = 28.999…``). MIB sets no minimum: a size that rounds to 0 parts is the empty
  circuit, whose faithfulness is 0 by definition. Here the same (on the ``small`` teacher's 156 components, 0.1 %,
  0.2 % and 0.5 % are 0 components).
* **The empty circuit and the full model**: MIB's ``m(∅)`` is the graph with none of its parts (``apply_topn(0)``),
  every edge ablated; ``m(N)`` is the unmodified model (``evaluate_baseline``). Here ``m(∅)`` is the model with every
  head and MLP mean-ablated (the embeddings and the unembedding, which are no components, stay) and ``m(N)`` the
  engine's clean value. A size of 0 parts *is* the empty circuit and 100 % *is* the full model, so ``f`` is exactly 0
  and 1 there.
* **The ranking**: MIB's attribution scores are the estimated *drop* of the metric when a part is corrupted (EAP:
  ``(a_corrupt − a_clean) · ∂(−m)/∂a``; positive = the part helps the task). Its top-k takes the k largest scores,
  either by signed value or by magnitude (``absolute``); MIB's results table reads **CPR from the signed ranking and
  CMD from the absolute one** (``print_results.py`` prefers the ``abs-False`` run for CPR and the ``abs-True`` run for
  CMD). Here :func:`faithfulness_curve` takes ``order="signed"`` or ``"absolute"``, scores in MIB's sign
  (:func:`importance` turns the course's effects, ``m(ablated) − m(clean)``, into it), and :func:`mib_curves`
  computes both, its ``cpr`` from the signed curve and its ``cmd`` from the absolute one. Ties are broken by
  component order, so the ranking is deterministic.
* **The areas**: trapezoids between consecutive sizes, with ``x`` the size as a *fraction* on a *linear* axis
  (MIB's default ``log_scale=False``, which its ``run_evaluation.py`` does not change), over the sizes alone (no point
  at 0): **CPR** = area under ``f`` (higher is better; at most 0.999 when ``f = 1`` from 0.1 % to 100 %), **CMD** =
  the trapezoids of ``|1 − f|`` (lower is better; 0 for a curve at 1). No further normalisation. On the linear axis
  the sizes from 20 % up hold 80 % of the width, so the small circuits weigh little in either area; MIB *plots* the
  curves on a log axis (``log_x=True`` computes the areas on it, for comparison only).

Where the course differs (each an analogue, not MIB's number):

* **nodes, not edges**: the parts are the heads and MLPs (``Component``), MIB's node level (``level="node"``), not
  its edges (MIB's main results);
* **mean ablation, not patching**: a part outside the circuit is replaced by its per-position mean over the
  corrupted prompts (the course's and the study's ablation; MIB's default intervention patches each prompt's own
  counterfactual activation);
* **the rankings**: ``exact`` (each component's single-component mean-ablation drop, measured by the engine),
  ``first-order`` (its gradient estimate) and ``eap-ig`` (integrated gradients, ``methods.eap_ig``) are node scores
  of mean ablation on the clean prompts (:func:`ranking_scores`).

One curve is one :meth:`~dcirc_utils.engine.Engine.run` call (every size is a variant of one batched run;
:func:`mib_curves` runs both orders in one call).
``tests/unit/test_faithfulness.py`` checks a point against separate naive forwards with TransformerLens hooks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from ..core.components import Component, parse_component
from ..core.metrics import MIN_CLEAN_LOGIT_DIFF, DegenerateBaselineError
from ..engine import Engine

__all__ = ["MIB_SIZES", "ORDERS", "RANKINGS", "RankingUnavailableError", "FaithfulnessCurve", "MIBCurves",
           "CircuitFaithfulness", "check_sizes", "components_at", "cpr", "cmd", "importance", "ranking_scores",
           "faithfulness_curve", "mib_curves", "circuit_faithfulness", "first_size_reaching", "curve_band"]

#: MIB's circuit sizes, in % of the scored parts (``percentages`` of ``evaluate_area_under_curve``).
MIB_SIZES: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
#: How a ranking orders the scores: by signed value (largest first; MIB's CPR) or by magnitude (MIB's CMD).
ORDERS: tuple[str, ...] = ("signed", "absolute")
#: The rankings :func:`ranking_scores` computes.
RANKINGS: tuple[str, ...] = ("exact", "first-order", "eap-ig")


class RankingUnavailableError(ValueError):
    """A ranking this checkout cannot compute (``"eap-ig"`` without ``dcirc_utils.methods.eap_ig``); the message
    says how to pass the scores instead."""


# --------------------------------------------------------------------------------------------- sizes and areas
def check_sizes(sizes: Iterable[float], min_points: int = 1) -> tuple[float, ...]:
    """``sizes`` (in % of the model's components) as a tuple of floats, checked.

    Raises:
        ValueError: for no sizes (or fewer than ``min_points``), a size that is not a finite number in (0, 100], or
            sizes not strictly increasing; the message names the value and the fix.
    """
    try:
        out = tuple(float(s) for s in sizes)
    except (TypeError, ValueError) as err:
        raise ValueError(f"sizes must be numbers (percent of the components), e.g. MIB_SIZES = {MIB_SIZES}; "
                         f"got {sizes!r}") from err
    if len(out) < max(1, min_points):
        raise ValueError(f"give at least {max(1, min_points)} circuit size(s) in percent, e.g. MIB_SIZES = "
                         f"{MIB_SIZES}; got {len(out)}")
    bad = [s for s in out if not (math.isfinite(s) and 0.0 < s <= 100.0)]
    if bad:
        raise ValueError(f"circuit sizes are percentages of the model's components in (0, 100]; got {bad[0]!r}. "
                         "Fix: write 10 for 10 % (not 0.1), and drop sizes of 0 or above 100 (the empty circuit is "
                         "the reference m(∅), not a size)")
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"circuit sizes must be strictly increasing, got {out}: sort them and drop repeats")
    return out


def components_at(size: float, total: int) -> int:
    """Whole components in a circuit of ``size`` % of ``total``: rounded down, as MIB's ``int(pct · n)`` (a 1e-9
    guard keeps float artefacts such as ``0.29 · 100 = 28.999…`` from losing a component). May be 0 (the empty
    circuit): MIB sets no minimum."""
    if total < 1:
        raise ValueError(f"a model has at least one component, got total={total}")
    return min(total, int(math.floor(size / 100.0 * total + 1e-9)))


def _area(sizes: Sequence[float], ys: Sequence[float], log_x: bool, what: str) -> float:
    xs = check_sizes(sizes, min_points=2)
    ys = [float(y) for y in ys]
    if len(ys) != len(xs):
        raise ValueError(f"{what}: {len(xs)} sizes but {len(ys)} faithfulness values; give one value per size")
    if not all(math.isfinite(y) for y in ys):
        raise ValueError(f"{what}: faithfulness values must be finite, got {ys}")
    fx = [math.log(x / 100.0) if log_x else x / 100.0 for x in xs]
    return float(sum((fx[i + 1] - fx[i]) * (ys[i] + ys[i + 1]) / 2.0 for i in range(len(xs) - 1)))


def cpr(sizes: Sequence[float], faithfulness: Sequence[float], log_x: bool = False) -> float:
    """MIB's CPR (circuit performance ratio): the area under the faithfulness curve, trapezoids between consecutive
    sizes with ``x`` = size / 100 on a linear axis (MIB's default; ``log_x=True``: ``x = ln(size / 100)``).

    Raises:
        ValueError: for fewer than 2 sizes, sizes outside (0, 100] or not increasing, or values that are not finite
            or not one per size.
    """
    return _area(sizes, faithfulness, log_x, "cpr")


def cmd(sizes: Sequence[float], faithfulness: Sequence[float], log_x: bool = False) -> float:
    """MIB's CMD (circuit–model distance): the trapezoids of ``|1 − f|`` between consecutive sizes, on the axis of
    :func:`cpr` (MIB averages the two ends' ``|1 − f|``, so a segment where ``f`` crosses 1 counts as its trapezoid,
    not as the exact area between the curve and 1). Raises as :func:`cpr`."""
    return _area(sizes, [abs(1.0 - float(f)) for f in faithfulness], log_x, "cmd")


# --------------------------------------------------------------------------------------------- result types
@dataclass(frozen=True)
class FaithfulnessCurve:
    """Faithfulness of the top-k circuits of one ranking at each size (plain data; ``to_dict``/``from_dict``).

    Attributes:
        ranking: the ranking's name (``"exact"``, ``"first-order"``, ``"eap-ig"`` or a caller's).
        order: ``"signed"`` or ``"absolute"`` (how the scores were ordered).
        sizes: the circuit sizes in % of the components.
        n_components: whole components at each size (:func:`components_at`; 0 is the empty circuit).
        total: the model's components (heads and MLPs).
        values: the mean metric of each circuit, ``m(C_k)`` (the empty circuit's and the full model's exactly).
        full_value: ``m(N)``, the full model's clean metric.
        empty_value: ``m(∅)``, every component mean-ablated.
        faithfulness: ``f(C_k) = (m(C_k) − m(∅)) / (m(N) − m(∅))`` at each size.
        ranked: the components in ranking order (the circuit of size k is the first k).
    """

    ranking: str
    order: str
    sizes: tuple[float, ...]
    n_components: tuple[int, ...]
    total: int
    values: tuple[float, ...]
    full_value: float
    empty_value: float
    faithfulness: tuple[float, ...]
    ranked: tuple[Component, ...]

    @property
    def fractions(self) -> tuple[float, ...]:
        """The sizes as fractions of the components (MIB's ``percentages``)."""
        return tuple(s / 100.0 for s in self.sizes)

    @property
    def cpr(self) -> float:
        """:func:`cpr` of this curve (linear axis, as MIB)."""
        return cpr(self.sizes, self.faithfulness)

    @property
    def cmd(self) -> float:
        """:func:`cmd` of this curve (linear axis, as MIB)."""
        return cmd(self.sizes, self.faithfulness)

    def circuit(self, k: int) -> list[Component]:
        """The circuit of the first ``k`` ranked components, sorted."""
        return sorted(self.ranked[:k])

    def to_dict(self) -> dict:
        return {"ranking": self.ranking, "order": self.order, "sizes": list(self.sizes),
                "n_components": list(self.n_components), "total": self.total, "values": list(self.values),
                "full_value": self.full_value, "empty_value": self.empty_value,
                "faithfulness": list(self.faithfulness), "ranked": [str(c) for c in self.ranked],
                "cpr": self.cpr, "cmd": self.cmd}

    @classmethod
    def from_dict(cls, d: Mapping) -> "FaithfulnessCurve":
        return cls(d["ranking"], d["order"], tuple(float(s) for s in d["sizes"]),
                   tuple(int(k) for k in d["n_components"]), int(d["total"]), tuple(float(v) for v in d["values"]),
                   float(d["full_value"]), float(d["empty_value"]), tuple(float(f) for f in d["faithfulness"]),
                   tuple(parse_component(c) for c in d["ranked"]))


@dataclass(frozen=True)
class MIBCurves:
    """One ranking scored as MIB scores it: the signed curve (its area is the CPR) and the absolute curve (its
    ``|1 − f|`` area is the CMD)."""

    signed: FaithfulnessCurve
    absolute: FaithfulnessCurve

    @property
    def ranking(self) -> str:
        return self.signed.ranking

    @property
    def cpr(self) -> float:
        """CPR as MIB reports it: from the signed ranking."""
        return self.signed.cpr

    @property
    def cmd(self) -> float:
        """CMD as MIB reports it: from the absolute ranking."""
        return self.absolute.cmd

    def to_dict(self) -> dict:
        return {"ranking": self.ranking, "cpr": self.cpr, "cmd": self.cmd, "signed": self.signed.to_dict(),
                "absolute": self.absolute.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "MIBCurves":
        return cls(FaithfulnessCurve.from_dict(d["signed"]), FaithfulnessCurve.from_dict(d["absolute"]))


@dataclass(frozen=True)
class CircuitFaithfulness:
    """One given circuit (e.g. node pruning's at 80 %) on the faithfulness axes: its size and its ``f``."""

    n_components: int
    total: int
    value: float
    full_value: float
    empty_value: float
    faithfulness: float

    @property
    def size(self) -> float:
        """The circuit's size in % of the components."""
        return 100.0 * self.n_components / self.total

    def to_dict(self) -> dict:
        return {"n_components": self.n_components, "total": self.total, "size": self.size, "value": self.value,
                "full_value": self.full_value, "empty_value": self.empty_value, "faithfulness": self.faithfulness}


# --------------------------------------------------------------------------------------------- rankings
def importance(effects: Mapping[Component, float]) -> dict[Component, float]:
    """The course's effects (``m(ablated) − m(clean)``: negative when a component helps, as
    ``attribution.exact_effects`` and ``first_order_effects`` return them) in MIB's sign: the drop of the metric when
    the component is ablated (positive when it helps)."""
    return {c: -float(v) for c, v in effects.items()}


def ranking_scores(engine: Engine, ranking: str, components: Iterable[Component] | None = None,
                   steps: int | None = None) -> dict[Component, float]:
    """A ranking's scores of every component in MIB's sign (:func:`importance`), for mean ablation on the clean
    prompts (the course's quantity; notebook 02, ``studies.faithfulness``).

    * ``"exact"``: the single-component mean-ablation drop measured by the engine
      (``attribution.exact_effects(engine, which="clean", toward="mean")``, one batched ablation scan);
    * ``"first-order"``: its gradient estimate (``attribution.first_order_effects``, same arguments);
    * ``"eap-ig"``: integrated gradients (``methods.eap_ig.eap_ig_effects``, ``steps`` steps; imported when
      asked for). Any other scores (a mapping) go to :func:`faithfulness_curve` directly.

    Raises:
        ValueError: for an unknown ranking.
        RankingUnavailableError: for ``"eap-ig"`` when this checkout has no ``dcirc_utils.methods.eap_ig``.
    """
    from . import attribution as at
    if ranking == "exact":
        return importance(at.exact_effects(engine, components, which="clean", toward="mean"))
    if ranking == "first-order":
        return importance(at.first_order_effects(engine, components, which="clean", toward="mean"))
    if ranking == "eap-ig":
        try:
            from .eap_ig import eap_ig_effects
        except ImportError as err:
            raise RankingUnavailableError("the 'eap-ig' ranking needs dcirc_utils.methods.eap_ig (eap_ig_effects), "
                                          "which this checkout does not have: compute the scores elsewhere and "
                                          f"pass them to faithfulness_curve as a mapping ({err})") from err
        kw = {} if steps is None else {"steps": steps}
        return importance(eap_ig_effects(engine, components, which="clean", toward="mean", **kw))
    raise ValueError(f"unknown ranking {ranking!r}: choose one of {RANKINGS}, or pass your own scores (a mapping "
                     "component → score) to faithfulness_curve")


def _checked_scores(engine: Engine, scores: Mapping) -> dict[Component, float]:
    if not isinstance(scores, Mapping):
        raise ValueError(f"scores must be a mapping component → score (e.g. ranking_scores(engine, 'exact')), got "
                         f"{type(scores).__name__}")
    if not scores:
        raise ValueError("scores is empty: score every component of the model, e.g. ranking_scores(engine, 'exact')")
    keys = engine.check_components(list(scores))            # names components outside the model
    out: dict[Component, float] = {}
    for key, c in zip(scores, keys):
        if c in out:
            raise ValueError(f"component {c} is scored twice (as {key!r} and as another key): give each once")
        v = float(scores[key])
        if not math.isfinite(v):
            raise ValueError(f"the score of {c} is {v}: every score must be finite")
        out[c] = v
    missing = [c for c in engine.components if c not in out]
    if missing:
        more = " ..." if len(missing) > 5 else ""
        raise ValueError(f"scores cover {len(out)} of the model's {len(engine.components)} components (missing "
                         f"{', '.join(map(str, missing[:5]))}{more}): a circuit's size is a share of every component, "
                         "so score all of them (ranking_scores does)")
    return out


def _ranked(scores: Mapping[Component, float], order: str) -> list[Component]:
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS} (MIB: 'signed' for CPR, 'absolute' for CMD), got {order!r}")
    key: Callable[[float], float] = abs if order == "absolute" else (lambda v: v)
    return [c for c, _ in sorted(scores.items(), key=lambda kv: (-key(kv[1]), kv[0]))]


def _faithfulness(value: float, full: float, empty: float) -> float:
    return (value - empty) / (full - empty)


def _check_denominator(full: float, empty: float, engine: Engine) -> None:
    if not (math.isfinite(full) and math.isfinite(empty)) or abs(full - empty) < MIN_CLEAN_LOGIT_DIFF:
        raise DegenerateBaselineError(
            f"{engine.adapter.label!r}: the full model's {engine.metric.name} ({full:.4g}) and the empty circuit's "
            f"({empty:.4g}, every component mean-ablated) differ by less than {MIN_CLEAN_LOGIT_DIFF:g}, so "
            "faithfulness (a share of that difference) means nothing: the model does not do the task on these "
            "prompts. Use prompts it solves, or leave the model out.")


# --------------------------------------------------------------------------------------------- curves
def _curves(engine: Engine, scores: Mapping, sizes: Sequence[float], orders: Sequence[str],
            ranking: str) -> list[FaithfulnessCurve]:
    """The curves of one ranking in each of ``orders``, from one batched :meth:`Engine.run` (circuits that two orders
    share, and the empty circuit, run once)."""
    if not isinstance(engine, Engine):
        raise ValueError(f"faithfulness_curve takes the model's Engine, got {type(engine).__name__}: build it with "
                         "Engine.for_prompts(adapter, prompts)")
    sizes = check_sizes(sizes)
    checked = _checked_scores(engine, scores)
    rankeds = [_ranked(checked, order) for order in orders]
    total = len(checked)
    ks = [components_at(s, total) for s in sizes]
    ablated: dict[frozenset, int] = {frozenset(engine.components): 0}     # the empty circuit first
    for ranked in rankeds:
        for k in ks:
            if 0 < k < total:
                ablated.setdefault(frozenset(ranked[k:]), len(ablated))
    variants = [engine.mean_ablation(sorted(out)) for out in ablated]
    means = engine.run(variants, desc=f"faithfulness curve ({ranking})", progress=False)[0].mean(-1).tolist()
    empty, full = float(means[0]), float(engine.clean_value)
    _check_denominator(full, empty, engine)
    curves = []
    for order, ranked in zip(orders, rankeds):
        values = tuple(empty if k == 0 else full if k == total else float(means[ablated[frozenset(ranked[k:])]])
                       for k in ks)
        faith = tuple(0.0 if k == 0 else 1.0 if k == total else _faithfulness(v, full, empty)
                      for k, v in zip(ks, values))
        curves.append(FaithfulnessCurve(ranking, order, sizes, tuple(ks), total, values, full, empty, faith,
                                        tuple(ranked)))
    return curves


def faithfulness_curve(engine: Engine, scores: Mapping[Component, float], sizes: Sequence[float] = MIB_SIZES,
                       order: str = "absolute", ranking: str = "custom") -> FaithfulnessCurve:
    """Faithfulness of the top-k circuits of a ranking, at each size (the module docstring says what MIB does and
    where this is an analogue); one batched :meth:`Engine.run` call for the whole curve.

    The circuit of size ``s`` is the first :func:`components_at` ``(s, total)`` components of the ranking; every
    other component is mean-ablated (its per-position mean over the corrupted prompts). ``k = 0`` is the empty
    circuit (``f = 0``) and ``k = total`` the full model (``f = 1``), exactly.

    Args:
        engine: the model and prompts.
        scores: a score for every component of the model, in MIB's sign (larger = more important; e.g.
            :func:`ranking_scores`, or :func:`importance` of the course's effects); keys may be components or their
            names (``"4.10"``, ``"MLP3"``).
        sizes: circuit sizes in % of the components, strictly increasing, in (0, 100] (default :data:`MIB_SIZES`).
        order: ``"absolute"`` (top-k by ``|score|``; MIB's CMD) or ``"signed"`` (the k largest; MIB's CPR).
        ranking: the ranking's name, carried into the result.

    Raises:
        ValueError: for empty scores, a component outside the model, a missing, repeated or non-finite score, sizes
            outside (0, 100] or not increasing, or an unknown order.
        DegenerateBaselineError: when the full model and the empty circuit differ by less than
            ``MIN_CLEAN_LOGIT_DIFF`` (faithfulness would divide by about 0).
    """
    _ranked({}, order)                                    # an unknown order fails before any work
    return _curves(engine, scores, sizes, (order,), ranking)[0]


def mib_curves(engine: Engine, scores: Mapping[Component, float], sizes: Sequence[float] = MIB_SIZES,
               ranking: str = "custom") -> MIBCurves:
    """The signed and the absolute curve of one ranking, from one batched :meth:`Engine.run` (a circuit both orders
    share runs once): MIB's CPR comes from the first, its CMD from the second. Raises as :func:`faithfulness_curve`."""
    signed, absolute = _curves(engine, scores, sizes, ORDERS, ranking)
    return MIBCurves(signed, absolute)


def circuit_faithfulness(engine: Engine, circuit: Iterable[Component]) -> CircuitFaithfulness:
    """The faithfulness of a given circuit (everything outside it mean-ablated), e.g. node pruning's at 80 %, to
    mark beside the curves: one :meth:`Engine.run` with the empty circuit.

    Raises:
        ValueError: for a component outside the model.
        DegenerateBaselineError: as :func:`faithfulness_curve`.
    """
    circuit = sorted(set(engine.check_components(circuit)))
    total = len(engine.components)
    variants = [engine.mean_ablation(engine.components), engine.circuit_base(circuit)]
    empty, value = (float(v) for v in engine.run(variants, progress=False)[0].mean(-1).tolist())
    full = float(engine.clean_value)
    _check_denominator(full, empty, engine)
    if len(circuit) == total:
        value = full
    f = 0.0 if not circuit else 1.0 if len(circuit) == total else _faithfulness(value, full, empty)
    return CircuitFaithfulness(len(circuit), total, value, full, empty, f)


# --------------------------------------------------------------------------------------------- reading curves
def first_size_reaching(curve: FaithfulnessCurve, level: float = 0.8) -> tuple[float, int] | None:
    """The smallest size of the curve (in %, and in components) whose circuit keeps at least ``level`` of the
    full model's behaviour (``f ≥ level``); ``None`` when no size does. No interpolation: the answer is one of the
    curve's own sizes."""
    for s, k, f in zip(curve.sizes, curve.n_components, curve.faithfulness):
        if f >= level:
            return s, k
    return None


def curve_band(curves: Sequence[FaithfulnessCurve]) -> dict[str, list[float]]:
    """Several curves of one ranking and order (e.g. one per disjoint prompt set) as a band: per size, the mean,
    minimum and maximum faithfulness (``report.plots.faithfulness_curves`` draws it).

    Raises:
        ValueError: for no curves, or curves of different sizes, rankings or orders.
    """
    if not curves:
        raise ValueError("give at least one curve")
    first = curves[0]
    for c in curves[1:]:
        if (c.sizes, c.ranking, c.order) != (first.sizes, first.ranking, first.order):
            raise ValueError("the curves of a band must share sizes, ranking and order")
    cols = list(zip(*(c.faithfulness for c in curves)))
    return {"sizes": list(first.sizes), "mean": [sum(v) / len(v) for v in cols], "low": [min(v) for v in cols],
            "high": [max(v) for v in cols]}
