"""Brittleness measures (dcirc_utils.methods.brittleness, .concentration, studies.shift): removal drops against
direct engine and naive computations on the mini teacher, sensitivity ratios, Gini and top share, backup heads, the
distribution-shift table and the heatmap grid."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dcirc_utils.core.components import Component, all_components, parse_component
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine
from dcirc_utils.methods.brittleness import (backup_heads, circuit_removal_drops, circuit_score, drops_grid,
                                             full_model_drops, sensitivity_ratios)
from dcirc_utils.methods.concentration import gini, lorenz_curve, top_share
from dcirc_utils.methods.evaluation import evaluate_task
from dcirc_utils.studies.shift import shift_study

from .. import naive_reference as naive


# --------------------------------------------------------------------------------------------- concentration
def test_gini_uniform_is_zero_and_one_hot_is_n_minus_one_over_n():
    for n in (1, 2, 5, 12):
        assert gini(np.full(n, 0.3)) == pytest.approx(0.0, abs=1e-12)
        one_hot = np.zeros(n)
        one_hot[n // 2] = 1.0
        assert gini(one_hot) == pytest.approx((n - 1) / n, abs=1e-12)


def test_gini_hand_computed_and_input_forms():
    # [1, 2, 3]: Σ_i Σ_j |x_i − x_j| = 2·(1 + 2 + 1) = 8 ; 2 n² x̄ = 2·9·2 = 36 ; G = 8/36 = 0.2222...
    assert gini([1, 2, 3]) == pytest.approx(8 / 36, abs=1e-12)
    assert gini({Component(0, 0): 3.0, Component(0, 1): 1.0, Component(0): 2.0}) == pytest.approx(8 / 36)
    assert gini([3, 1, 2]) == pytest.approx(8 / 36) and gini([0.1, 0.2, 0.3]) == pytest.approx(8 / 36)  # order, scale
    with pytest.raises(ValueError, match="non-negative"):
        gini([1.0, -0.5])
    with pytest.raises(ValueError, match="undefined"):
        gini([0.0, 0.0])
    with pytest.raises(ValueError, match="empty"):
        gini([])


def test_top_share():
    assert top_share([1, 2, 3, 4]) == pytest.approx(0.4)
    assert top_share([1, 2, 3, 4], k=2) == pytest.approx(0.7)
    assert top_share(np.full(4, 0.25), k=4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k must be"):
        top_share([1, 2], k=0)
    frac, cum = lorenz_curve([1, 3])
    assert frac.tolist() == [0.0, 0.5, 1.0] and cum.tolist() == [0.0, 0.75, 1.0]


# --------------------------------------------------------------------------------------------- sensitivity
def test_sensitivity_ratio_flags_above_two():
    s24, s41, s07, s09 = Component(2, 4), Component(4, 1), Component(0, 7), Component(0, 9)
    t44, t711, t01 = Component(4, 4), Component(7, 11), Component(0, 1)
    student = {s24: -87.73, s41: -20.0, s07: -5.0, s09: -3.0, Component(1, 1): -1.0}
    teacher = {t44: -33.18, t711: -10.0, t01: 0.0}
    matches = {s24: t44, s41: t711, s07: t01, s09: Component(9, 9), "1.1": ("0.1", 0.7)}  # user input: parsed
    rows = sensitivity_ratios(student, teacher, matches)
    by = {r.student: r for r in rows}
    assert by[s24].ratio == pytest.approx(87.73 / 33.18) and by[s24].flagged  # the study's headline, 2.64
    assert by[s41].ratio == pytest.approx(2.0) and not by[s41].flagged  # exactly 2 is not "> 2"
    assert by[s07].ratio == math.inf and by[s07].flagged  # the teacher counterpart does not matter at all
    assert math.isnan(by[s09].teacher_drop) and math.isnan(by[s09].ratio) and not by[s09].flagged
    assert by[Component(1, 1)].ratio == math.inf and by[Component(1, 1)].flagged  # parsed match, (teacher, sim)
    # sorted by ratio, largest first (ties by student component), undefined ratios last
    assert [r.student for r in rows] == [s07, Component(1, 1), s24, s41, s09]
    assert sum(r.flagged for r in sensitivity_ratios(student, teacher, matches, threshold=1.5)) == 4


# --------------------------------------------------------------------------------------------- engine measures
@pytest.fixture(scope="module")
def teacher_engine(mini_pair):
    ps = make_prompts(8, seed=0, tokenizer=mini_pair.tokenizer)
    clean, corr = ps.tokens(mini_pair.tokenizer), ps.tokens(mini_pair.tokenizer, "corrupted")
    c, i = ps.answer_ids(mini_pair.tokenizer)
    engine = Engine(mini_pair.teacher, clean, corr, ps.metric(mini_pair.tokenizer), progress=False)
    return engine, (mini_pair.teacher.model, clean, corr, c, i)


CIRCUIT = [Component(0, 0), Component(0, 1), Component(1, 2), Component(2, 3), Component(3, 0), Component(4, 1),
           Component(5, 2)] + [Component(l) for l in range(6)]


def test_circuit_removal_drop_agrees_with_a_direct_engine_computation(teacher_engine):
    engine, (model, clean, corr, c, i) = teacher_engine
    drops = circuit_removal_drops(engine, CIRCUIT)
    assert set(drops) == set(CIRCUIT)
    target = Component(4, 1)
    outside = [x for x in engine.components if x not in CIRCUIT]
    ld_circuit = float(engine.evaluate([[]], engine.mean_ablation(outside))[0])
    ld_removed = float(engine.evaluate([[]], engine.mean_ablation(outside + [target]))[0])
    direct = 100.0 * (ld_removed - ld_circuit) / engine.clean_value
    assert drops[target] == pytest.approx(direct, abs=1e-3)
    # and with the naive reference (one run_with_hooks forward per variant)
    means = naive.corrupted_means(model, corr)
    ref_c = naive.ablated_logit_diff(model, clean, c, i, outside, means)
    ref_r = naive.ablated_logit_diff(model, clean, c, i, outside + [target], means)
    assert drops[target] == pytest.approx(100.0 * (ref_r - ref_c) / engine.clean_value, abs=1e-3)
    assert circuit_score(engine, CIRCUIT) == pytest.approx(100.0 * ld_circuit / engine.clean_value, abs=1e-4)
    assert circuit_removal_drops(engine, CIRCUIT, [target]) == pytest.approx({target: drops[target]}, abs=1e-4)
    with pytest.raises(ValueError, match="not in the circuit"):
        circuit_removal_drops(engine, CIRCUIT, [Component(5, 3)])
    with pytest.raises(ValueError, match="not components of this model"):
        circuit_removal_drops(engine, [Component(9, 0)])


def test_full_model_drops_and_the_whole_model_as_circuit(teacher_engine):
    engine, (model, clean, corr, c, i) = teacher_engine
    comps = [Component(0, 0), Component(3, 2), Component(5)]
    drops = full_model_drops(engine, comps)
    means = naive.corrupted_means(model, corr)
    for comp in comps:
        ref = naive.ablated_logit_diff(model, clean, c, i, [comp], means)
        assert drops[comp] == pytest.approx(100.0 * ref / engine.clean_value - 100.0, abs=1e-3)
    # removing a component from the "circuit" that is the whole model is the full-model drop
    whole = circuit_removal_drops(engine, engine.components, comps)
    assert whole == pytest.approx(drops, abs=1e-3)
    assert circuit_score(engine, engine.components) == pytest.approx(100.0, abs=1e-4)


def test_backup_heads(teacher_engine):
    engine, _ = teacher_engine
    full = full_model_drops(engine)
    res = backup_heads(engine, top_k=3)
    heads = [x for x in engine.components if not x.is_mlp]
    assert res.ablated == min(heads, key=lambda h: full[h])
    assert res.ablated_drop == pytest.approx(full[res.ablated], abs=1e-4)
    assert len(res.rows) == 3 and len(res.all_rows) == len(heads) - 1
    assert all(not r.component.is_mlp and r.component != res.ablated for r in res.all_rows)
    changes = [r.change for r in res.all_rows]
    assert changes == sorted(changes, reverse=True)
    for r in res.all_rows:
        assert r.before == pytest.approx(-full[r.component], abs=1e-4)
        assert r.change == pytest.approx(r.after - r.before)
    # "after" for one head, directly: score(full − h) − score(full − h − c)
    r = res.rows[0]
    lds = engine.evaluate([engine.mean_ablation([res.ablated]), engine.mean_ablation([res.ablated, r.component])])
    assert r.after == pytest.approx(engine.score(lds[0]) - engine.score(lds[1]), abs=1e-3)
    # reusing the full-model drops gives the same result without the first scan
    reused = backup_heads(engine, top_k=3, full_drops=full)
    assert reused.ablated == res.ablated and reused.ablated_drop == pytest.approx(res.ablated_drop, abs=1e-4)
    for a, b in zip(reused.all_rows, res.all_rows):
        assert a.component == b.component and a.before == pytest.approx(b.before, abs=1e-4)
        assert a.after == pytest.approx(b.after, abs=1e-4)
    with pytest.raises(ValueError, match="full_drops has no value"):
        backup_heads(engine, full_drops={Component(0, 0): -1.0})
    chosen = backup_heads(engine, Component(2, 1), top_k=2)
    assert chosen.ablated == Component(2, 1)
    with pytest.raises(ValueError, match="must be a head"):
        backup_heads(engine, Component(2))


def test_shift_study_rows(mini_pair):
    circuits = {"teacher": all_of(mini_pair.teacher), "student": [Component(0), Component(1), Component(2)]}
    rows = shift_study(mini_pair, variants=("numerals", "long7"), n=6, circuits=circuits)
    assert [(r["variant"], r["model"]) for r in rows] == [("numerals", "teacher"), ("numerals", "student"),
                                                          ("long7", "teacher"), ("long7", "student")]
    for r in rows:
        assert r["error"] is None and r["n"] == 6 and 0.0 <= r["accuracy"] <= 1.0 and math.isfinite(r["value"])
    assert rows[0]["circuit_score"] == pytest.approx(100.0, abs=1e-3)  # the whole teacher is its own circuit
    # the same accuracy and Δl as a full evaluate (which also runs the corrupted prompts)
    ev = evaluate_task(mini_pair.student, make_prompts(6, 0, "long", mini_pair.tokenizer, length=7))
    assert rows[3]["accuracy"] == ev["accuracy"] and rows[3]["value"] == pytest.approx(ev["value"], abs=1e-6)
    assert math.isfinite(ev["corrupted_value"])
    assert math.isfinite(rows[1]["circuit_score"]) and rows[1]["circuit_score"] < 100.0
    with pytest.raises(ValueError, match="keyed by"):
        shift_study(mini_pair, variants=("numerals",), n=2, circuits={"gpt2": []})


def all_of(adapter):
    return all_components(adapter.n_layers, adapter.n_heads)


def test_drops_grid():
    heads, mlps = drops_grid({Component(1, 2): -5.0, Component(0): -2.0, Component(0, 0): 1.0}, n_layers=2, n_heads=3)
    assert heads.shape == (2, 3) and mlps.shape == (2,)
    assert heads[1, 2] == -5.0 and heads[0, 0] == 1.0 and mlps[0] == -2.0
    assert np.isnan(heads[0, 1]) and np.isnan(mlps[1])
    with pytest.raises(ValueError, match="outside"):
        drops_grid({Component(2, 0): 1.0}, n_layers=2, n_heads=3)


def test_brittleness_figures_draw_from_plain_rows():
    from dcirc_utils.report.plots import concentration_curve, sensitivity_scatter
    P = parse_component
    rows = sensitivity_ratios({P("2.4"): -87.73, P("4.1"): -10.0}, {P("4.4"): -33.18, P("7.11"): -41.64},
                              {"2.4": "4.4", "4.1": "7.11"})
    fig = sensitivity_scatter(rows)
    assert [t.get_text() for t in fig.axes[0].texts] == ["2.4/4.4"]  # only the flagged pair is labelled
    fig = concentration_curve({"teacher": np.full(8, 0.125), "student": [0.7, 0.2, 0.1]})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("teacher (Gini 0.00") and labels[1].startswith("student (Gini 0.40")


def test_shift_study_over_seeds_and_summary(mini_pair):
    from dcirc_utils.studies.shift import summarise_shift
    rows = shift_study(mini_pair, variants=("numerals",), n=4, seed=[0, 1])
    assert [(r["seed"], r["model"]) for r in rows] == [(0, "teacher"), (0, "student"), (1, "teacher"), (1, "student")]
    summ = summarise_shift(rows)
    t = next(s for s in summ if s["model"] == "teacher")
    accs = [r["accuracy"] for r in rows if r["model"] == "teacher"]
    assert t["seeds"] == 2 and t["accuracy"] == pytest.approx(sum(accs) / 2)
    assert t["accuracy std"] == pytest.approx(float(np.std(accs, ddof=1)))
    assert math.isnan(t["circuit_score"]) and math.isnan(t["circuit_score std"])
