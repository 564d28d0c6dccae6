"""methods/faithfulness.py: MIB's faithfulness curves, CPR and CMD (issue 26).

The areas against hand-computed values; a curve's points against separate naive forwards (TransformerLens hooks,
tests/naive_reference.py, one forward per circuit) on the offline ``mini`` pair; the invariants MIB's definitions
give (f = 0 for the empty circuit, 1 for the full model, sizes rounded down to whole components); one engine run per
curve; and the errors bad inputs get."""
from __future__ import annotations

import importlib.util
import math

import pytest

from dcirc_utils.core.components import Component
from dcirc_utils.core.metrics import DegenerateBaselineError
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine
from dcirc_utils.methods import attribution as at
from dcirc_utils.methods import faithfulness as fm

from .. import naive_reference as naive
from ..helpers import REL, prompt_data


# --------------------------------------------------------------------------------------------- areas, by hand
def test_cpr_and_cmd_are_mibs_trapezoids_on_the_linear_size_axis():
    # x = 0.1, 0.5, 1.0; f = 0.2, 0.6, 1.0
    # CPR = 0.4 · (0.2 + 0.6) / 2 + 0.5 · (0.6 + 1.0) / 2 = 0.16 + 0.40
    # CMD = 0.4 · (0.8 + 0.4) / 2 + 0.5 · (0.4 + 0.0) / 2 = 0.24 + 0.10
    assert fm.cpr([10, 50, 100], [0.2, 0.6, 1.0]) == pytest.approx(0.56, abs=1e-12)
    assert fm.cmd([10, 50, 100], [0.2, 0.6, 1.0]) == pytest.approx(0.34, abs=1e-12)
    # a curve at 1 over MIB's sizes: CPR is the width 1 − 0.001, CMD is 0 (no normalisation, as MIB)
    ones = [1.0] * len(fm.MIB_SIZES)
    assert fm.cpr(fm.MIB_SIZES, ones) == pytest.approx(0.999, abs=1e-12)
    assert fm.cmd(fm.MIB_SIZES, ones) == 0.0
    # f crossing 1 inside a segment: MIB averages the ends' |1 − f| (0.5 and 0.2), it does not split at the crossing
    assert fm.cmd([50, 100], [0.5, 1.2]) == pytest.approx(0.5 * (0.5 + 0.2) / 2, abs=1e-12)
    # f above 1 counts in CMD as much as f below it
    assert fm.cmd([50, 100], [1.3, 1.3]) == pytest.approx(0.15, abs=1e-12)
    # the log axis (MIB's option): x = ln(size / 100); f = 0, 0.5, 1 at 1, 10, 100 % → ln 10 · (0.25 + 0.75)
    assert fm.cpr([1, 10, 100], [0.0, 0.5, 1.0], log_x=True) == pytest.approx(math.log(10), abs=1e-12)


def test_areas_refuse_bad_inputs():
    with pytest.raises(ValueError, match="at least 2"):
        fm.cpr([100], [1.0])
    with pytest.raises(ValueError, match="one value per size"):
        fm.cmd([10, 100], [0.5])
    with pytest.raises(ValueError, match="finite"):
        fm.cpr([10, 100], [0.5, float("nan")])
    with pytest.raises(ValueError, match="strictly increasing"):
        fm.cpr([50, 10], [0.5, 0.1])


def test_sizes_round_down_to_whole_components_as_mib_with_no_minimum():
    assert [fm.components_at(s, 156) for s in fm.MIB_SIZES] == [0, 0, 0, 1, 3, 7, 15, 31, 78, 156]   # small T
    assert [fm.components_at(s, 78) for s in fm.MIB_SIZES] == [0, 0, 0, 0, 1, 3, 7, 15, 39, 78]      # small S
    assert [fm.components_at(s, 30) for s in fm.MIB_SIZES] == [0, 0, 0, 0, 0, 1, 3, 6, 15, 30]       # mini T
    assert 0.29 * 100 < 29 and fm.components_at(29, 100) == 29          # float artefact guarded, not rounded up
    assert fm.components_at(29.9, 100) == 29                            # otherwise always down


@pytest.mark.parametrize("sizes,match", [((), "at least 1"), ((0,), r"\(0, 100\]"), ((150,), r"\(0, 100\]"),
                                         ((-5, 10), r"\(0, 100\]"), ((float("nan"),), r"\(0, 100\]"),
                                         ((10, 5), "strictly increasing"), ((10, 10), "strictly increasing"),
                                         (("ten",), "numbers")])
def test_bad_sizes_are_named(sizes, match):
    with pytest.raises(ValueError, match=match):
        fm.check_sizes(sizes)


def _curve(sizes, faith, ranking="exact", order="signed"):
    ks = tuple(fm.components_at(s, 10) for s in sizes)
    return fm.FaithfulnessCurve(ranking, order, tuple(sizes), ks, 10, tuple(faith), 1.0, 0.0, tuple(faith),
                                tuple(Component(0, h) for h in range(10)))


def test_reading_a_curve_and_a_band():
    c = _curve((10, 20, 50, 100), (0.3, 0.79, 0.85, 1.0))
    assert fm.first_size_reaching(c, 0.8) == (50.0, 5)
    assert fm.first_size_reaching(c, 0.3) == (10.0, 1)
    assert fm.first_size_reaching(c, 1.01) is None
    band = fm.curve_band([c, _curve((10, 20, 50, 100), (0.1, 0.9, 0.95, 1.0))])
    assert band["sizes"] == [10, 20, 50, 100]
    assert band["mean"] == pytest.approx([0.2, 0.845, 0.9, 1.0])
    assert band["low"] == [0.1, 0.79, 0.85, 1.0] and band["high"] == [0.3, 0.9, 0.95, 1.0]
    with pytest.raises(ValueError, match="share sizes"):
        fm.curve_band([c, _curve((10, 100), (0.1, 1.0))])
    with pytest.raises(ValueError, match="at least one"):
        fm.curve_band([])
    again = fm.FaithfulnessCurve.from_dict(c.to_dict())
    assert again == c and c.to_dict()["cpr"] == c.cpr
    assert c.circuit(3) == [Component(0, 0), Component(0, 1), Component(0, 2)]


def test_importance_is_mibs_sign():
    assert fm.importance({Component(0, 1): -2.5, Component(1): 0.5}) == {Component(0, 1): 2.5, Component(1): -0.5}


# --------------------------------------------------------------------------------------------- on the mini pair
@pytest.fixture(scope="module")
def data(mini_pair):
    return prompt_data(mini_pair.tokenizer, n=8, seed=2)


@pytest.fixture(scope="module")
def engine(mini_pair):
    return Engine.for_prompts(mini_pair.teacher, make_prompts(8, seed=2, tokenizer=mini_pair.tokenizer),
                              progress=False)


@pytest.fixture(scope="module")
def exact(engine):
    return fm.ranking_scores(engine, "exact")


def test_exact_ranking_is_the_single_component_drop(engine, exact):
    """MIB's sign: the drop of Δl when the component alone is mean-ablated, so the signed top-1 is the component
    whose ablation costs most."""
    scan = engine.ablation_scan()
    assert exact == pytest.approx({c: engine.clean_value - v for c, v in scan.items()})
    first = fm.faithfulness_curve(engine, exact, order="signed").ranked[0]
    assert first == min(scan, key=scan.get)
    fo = fm.ranking_scores(engine, "first-order")
    assert fo == pytest.approx(fm.importance(at.first_order_effects(engine, which="clean", toward="mean")))


@pytest.mark.parametrize("order", fm.ORDERS)
def test_curve_points_equal_separate_naive_forwards(mini_pair, data, engine, exact, order):
    """Every point of the curve, the empty circuit and the full model against one TransformerLens forward each
    (naive hooks), with the top-k chosen here from the scores independently of the module."""
    model = mini_pair.teacher.model
    clean, corr, c, i = data
    means = naive.corrupted_means(model, corr)
    comps = sorted(exact)
    key = (lambda v: abs(v)) if order == "absolute" else (lambda v: v)
    curve = fm.faithfulness_curve(engine, exact, order=order, ranking="exact")
    full = naive.ablated_logit_diff(model, clean, c, i, [], means)
    empty = naive.ablated_logit_diff(model, clean, c, i, comps, means)
    scale = max(abs(full), abs(empty))
    assert abs(curve.full_value - full) <= REL * scale and abs(curve.empty_value - empty) <= REL * scale
    checked = 0
    for size, k, value, f in zip(curve.sizes, curve.n_components, curve.values, curve.faithfulness):
        assert k == math.floor(size / 100 * len(comps) + 1e-9)
        top = sorted(comps, key=lambda x: (-key(exact[x]), x))[:k]
        ref = naive.ablated_logit_diff(model, clean, c, i, [x for x in comps if x not in top], means)
        assert abs(value - ref) <= REL * scale, (size, value, ref)
        assert f == pytest.approx((ref - empty) / (full - empty), abs=1e-3)
        checked += 0 < k < len(comps)
    assert checked >= 4                               # not vacuous: several proper circuits were compared


def test_invariants_of_a_curve(engine, exact):
    curve = fm.faithfulness_curve(engine, exact, ranking="exact")
    total = len(engine.components)
    assert curve.total == total == 30 and curve.sizes == fm.MIB_SIZES
    assert curve.n_components == (0, 0, 0, 0, 0, 1, 3, 6, 15, 30)
    assert curve.faithfulness[-1] == 1.0 and curve.values[-1] == curve.full_value == engine.clean_value
    assert all(f == 0.0 and v == curve.empty_value for k, f, v in zip(curve.n_components, curve.faithfulness,
                                                                     curve.values) if k == 0)
    assert sorted(curve.ranked) == sorted(engine.components)
    mags = [abs(exact[c]) for c in curve.ranked]
    assert mags == sorted(mags, reverse=True)
    # the empty circuit is every component mean-ablated, as the engine measures it on its own
    alone = float(engine.evaluate([engine.mean_ablation(engine.components)], progress=False)[0])
    assert curve.empty_value == pytest.approx(alone, abs=1e-5)
    # a given circuit's faithfulness is the curve's at the same circuit
    k = curve.n_components[-2]
    point = fm.circuit_faithfulness(engine, curve.circuit(k))
    assert point.n_components == k and point.size == pytest.approx(100 * k / total)
    assert point.faithfulness == pytest.approx(curve.faithfulness[-2], abs=1e-5)
    assert fm.circuit_faithfulness(engine, []).faithfulness == 0.0
    assert fm.circuit_faithfulness(engine, engine.components).faithfulness == 1.0
    # the MIB pair: CPR from the signed curve, CMD from the absolute one
    both = fm.mib_curves(engine, exact, ranking="exact")
    assert both.signed.order == "signed" and both.absolute.order == "absolute"
    assert both.absolute.faithfulness == pytest.approx(curve.faithfulness, abs=1e-6)
    assert both.cpr == both.signed.cpr and both.cmd == both.absolute.cmd
    assert fm.MIBCurves.from_dict(both.to_dict()) == both


def test_one_engine_run_per_curve(engine, exact, monkeypatch):
    calls = []
    real = Engine.run

    def counting(self, *args, **kwargs):
        calls.append(len(args[0]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "run", counting)
    fm.faithfulness_curve(engine, exact)
    assert len(calls) == 1 and calls[0] == 1 + 4      # the empty circuit and the sizes of 1, 3, 6 and 15 components
    calls.clear()
    fm.mib_curves(engine, exact)
    assert len(calls) == 1 and calls[0] <= 1 + 2 * 4  # both orders in one run, shared circuits once


def test_bad_inputs_get_clear_errors(engine, exact):
    with pytest.raises(ValueError, match="empty"):
        fm.faithfulness_curve(engine, {})
    with pytest.raises(ValueError, match="outside"):
        fm.faithfulness_curve(engine, {**exact, Component(9, 0): 1.0})
    with pytest.raises(ValueError, match="cover 29 of the model's 30"):
        fm.faithfulness_curve(engine, {c: v for c, v in exact.items() if c != Component(0)})
    with pytest.raises(ValueError, match="finite"):
        fm.faithfulness_curve(engine, {**exact, Component(0): float("nan")})
    with pytest.raises(ValueError, match="twice"):
        fm.faithfulness_curve(engine, {**exact, "0.1": 3.0})
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        fm.faithfulness_curve(engine, exact, sizes=(0, 50, 100))
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        fm.faithfulness_curve(engine, exact, sizes=(50, 100.5))
    with pytest.raises(ValueError, match="order must be one of"):
        fm.faithfulness_curve(engine, exact, order="by size")
    with pytest.raises(ValueError, match="mapping"):
        fm.faithfulness_curve(engine, [1.0, 2.0])
    with pytest.raises(ValueError, match="Engine"):
        fm.faithfulness_curve(engine.adapter, exact)
    with pytest.raises(ValueError, match="unknown ranking"):
        fm.ranking_scores(engine, "random")
    with pytest.raises(ValueError, match="outside"):
        fm.circuit_faithfulness(engine, [Component(0, 7)])


def test_a_model_whose_empty_circuit_does_as_well_as_the_full_model_is_refused(engine, exact, monkeypatch):
    empty = float(engine.evaluate([engine.mean_ablation(engine.components)], progress=False)[0])
    monkeypatch.setattr(engine, "clean_value", empty + 1e-5)
    with pytest.raises(DegenerateBaselineError, match="does not do the task"):
        fm.faithfulness_curve(engine, exact)


def test_eap_ig_plugs_in_or_says_why_not(engine):
    """The ``eap-ig`` ranking comes from ``methods.eap_ig`` when the checkout has it (then it scores every component
    and makes a curve); without it the error says how to pass the scores instead."""
    if importlib.util.find_spec("dcirc_utils.methods.eap_ig") is None:
        with pytest.raises(fm.RankingUnavailableError, match="pass them to faithfulness_curve"):
            fm.ranking_scores(engine, "eap-ig")
        return
    scores = fm.ranking_scores(engine, "eap-ig")
    assert set(scores) == set(engine.components) and all(math.isfinite(v) for v in scores.values())
    assert fm.faithfulness_curve(engine, scores, ranking="eap-ig").faithfulness[-1] == 1.0
