"""The alignment metric (hand-computed values, validation), the inverse-log decay fit, and weight noise on the mini
student (level 0 and restore bit-exact, seeds reproducible, engines see the perturbation)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from dcirc_utils.core.components import Component, parse_component
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine
from dcirc_utils.methods.alignment import (alignment, alignment_terms, fit_inverse_log_decay, inverse_log_decay,
                                           make_alignment_measure, matched_alignment, normalise_influences)
from dcirc_utils.methods.discovery import influences
from dcirc_utils.methods.matching import Match, mlp_similarity_table, normalise_matches, study_matches
from dcirc_utils.methods.noise import (add_weight_noise, mean_std, noise_sweep, noise_targets, perturb_weights_,
                                       restore_weights_)


# --------------------------------------------------------------------------------------------- the metric
def test_alignment_of_a_model_with_itself_is_the_maximum_one():
    infl = np.array([0.5, 0.3, 0.15, 0.05])
    assert alignment(np.ones(4), infl, infl) == pytest.approx(1.0, abs=1e-12)
    # any smaller similarity or any influence difference lowers it
    assert alignment([1, 1, 1, 0.9], infl, infl) < 1.0
    assert alignment(np.ones(4), [0.4, 0.4, 0.15, 0.05], infl) < 1.0


def test_alignment_equals_the_hand_computed_value():
    S = [1.0, 0.5, 0.8]
    IS = [0.5, 0.3, 0.2]
    IT = [0.4, 0.4, 0.2]
    # terms: 1.0·(1 − |0.5 − 0.4|) = 0.9 ; 0.5·(1 − |0.3 − 0.4|) = 0.45 ; 0.8·(1 − |0.2 − 0.2|) = 0.8
    # A = (0.9 + 0.45 + 0.8) / 3 = 2.15 / 3 = 0.71666...
    np.testing.assert_allclose(alignment_terms(S, IS, IT), [0.9, 0.45, 0.8], rtol=0, atol=1e-12)
    assert alignment(S, IS, IT) == pytest.approx(2.15 / 3, abs=1e-12)
    # negative cosines are allowed in the signed range: −0.5·(1 − 0) = −0.5 ; A = (0.9 − 0.5)/2 = 0.2
    assert alignment([1.0, -0.5], [0.5, 0.5], [0.4, 0.5]) == pytest.approx(0.2, abs=1e-12)


def test_alignment_falls_when_influences_are_permuted():
    infl = np.array([0.6, 0.3, 0.1])
    permuted = infl[[2, 0, 1]]  # [0.1, 0.6, 0.3]: |diffs| = 0.5, 0.3, 0.2 -> terms 0.5, 0.7, 0.8
    assert alignment(np.ones(3), infl, infl) == pytest.approx(1.0)
    assert alignment(np.ones(3), permuted, infl) == pytest.approx((0.5 + 0.7 + 0.8) / 3)
    assert alignment(np.ones(3), permuted, infl) < alignment(np.ones(3), infl, infl)


@pytest.mark.parametrize("args,kwargs,needle", [
    (([1, 1], [0.5, 0.5], [1.0]), {}, "one entry per matched pair"),
    (([], [], []), {}, "at least one"),
    (([1.2, 1], [0.5, 0.5], [0.5, 0.5]), {}, "similarities must lie in [-1, 1]"),
    (([-0.2, 1], [0.5, 0.5], [0.5, 0.5]), {"similarity_range": "unit"}, "similarities must lie in [0, 1]"),
    (([1, 1], [1.5, 0.5], [0.5, 0.5]), {}, "student_influence must lie in [0, 1]"),
    (([1, 1], [0.5, 0.5], [-0.1, 0.5]), {}, "teacher_influence must lie in [0, 1]"),
    (([1, float("nan")], [0.5, 0.5], [0.5, 0.5]), {}, "NaN"),
    (([1, 1], [0.5, 0.5], [0.5, 0.5]), {"similarity_range": "cosine"}, "similarity_range"),
    (([[1, 1]], [0.5, 0.5], [0.5, 0.5]), {}, "one-dimensional"),
])
def test_alignment_rejects_bad_inputs_with_clear_errors(args, kwargs, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        alignment(*args, **kwargs)


def test_alignment_tolerates_round_off_at_the_range_edges():
    assert alignment([1.0 + 1e-9], [1.0 + 1e-9], [1.0]) == pytest.approx(1.0)


def test_normalise_matches_reads_every_form():
    a, b = Component(2, 4), Component(4, 4)
    expected = [Match(a, b, 0.9)]
    assert normalise_matches({a: (b, 0.9)}) == expected
    assert normalise_matches({"2.4": ("4.4", 0.9)}) == expected
    assert normalise_matches([("2.4", "4.4", 0.9)]) == expected
    assert normalise_matches([Match(a, b, 0.9)]) == expected
    assert math.isnan(normalise_matches({a: b})[0].similarity)
    with pytest.raises(ValueError, match="matched twice"):
        normalise_matches([(a, b, 0.9), (a, Component(1, 1), 0.5)])
    with pytest.raises(ValueError, match="cannot read component"):
        normalise_matches([("head 2", "4.4", 0.9)])


def test_matched_alignment_from_dicts_matches_hand_computation():
    # student: heads 0.0, 0.1 and MLP0; teacher: heads 0.0, 1.1 and MLPs 0, 1 (raw influences, normalised inside)
    s_infl = {Component(0, 0): 2.0, Component(0, 1): 1.0, Component(0): 1.0}  # -> 0.5, 0.25, 0.25
    t_infl = {parse_component(k): v for k, v in {"0.0": 4.0, "1.1": 2.0, "MLP0": 1.0, "MLP1": 3.0}.items()}
    # -> 0.4, 0.2, 0.1, 0.3
    heads = [("0.0", "0.0", 1.0), ("0.1", "1.1", 0.5)]
    mlps = {"MLP0": ("MLP1", 0.8)}
    res = matched_alignment(heads, mlps, s_infl, t_infl)
    # heads: 1.0·(1 − |0.5 − 0.4|) = 0.9 ; 0.5·(1 − |0.25 − 0.2|) = 0.475 ; MLP: 0.8·(1 − |0.25 − 0.3|) = 0.76
    assert res.value == pytest.approx((0.9 + 0.475 + 0.76) / 3)
    assert res.value_heads == pytest.approx((0.9 + 0.475) / 2)
    assert res.value_mlps == pytest.approx(0.76)
    assert res.n_matched == 3
    assert [r["kind"] for r in res.rows] == ["head", "head", "mlp"]
    # influences are keyed by Component only (one identity per component)
    with pytest.raises(ValueError, match="influence of 0.0 is missing"):
        matched_alignment(heads, mlps, s_infl, {str(k): v for k, v in t_infl.items()})
    with pytest.raises(ValueError, match="carry no similarity"):
        matched_alignment({"0.0": "0.0"}, None, s_infl, t_infl)
    with pytest.raises(ValueError, match="influence of 3.3 is missing"):
        matched_alignment([("3.3", "0.0", 1.0)], None, s_infl, t_infl)


def test_normalise_influences():
    out = normalise_influences({Component(0, 0): 3.0, Component(0): 1.0})
    assert out == {Component(0, 0): 0.75, Component(0): 0.25}
    with pytest.raises(ValueError, match="non-negative"):
        normalise_influences({Component(0, 0): -1.0})
    with pytest.raises(ValueError, match="zero"):
        normalise_influences({Component(0, 0): 0.0})


# --------------------------------------------------------------------------------------------- decay fit
def test_fit_recovers_known_parameters_with_fixed_sigma0():
    levels = np.array([0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0])
    truth = dict(plateau=0.2, amplitude=0.7, rate=1.5, sigma0=0.05)
    rng = np.random.default_rng(0)
    levels5 = np.repeat(levels, 5)
    values = inverse_log_decay(levels5, **truth) + rng.normal(0, 0.002, levels5.size)
    fit = fit_inverse_log_decay(levels5, values, sigma0=0.05)
    assert fit.plateau == pytest.approx(0.2, abs=0.02)
    assert fit.amplitude == pytest.approx(0.7, abs=0.02)
    assert fit.rate == pytest.approx(1.5, rel=0.05)
    assert fit.start == pytest.approx(0.9, abs=0.005)
    assert fit.rmse < 0.004 and fit.r2 > 0.999
    assert fit.at_bounds == []
    np.testing.assert_allclose(fit(levels), inverse_log_decay(levels, **truth), atol=0.005)


def test_fit_recovers_all_four_parameters_from_noise_free_data():
    levels = np.array([0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0])
    truth = dict(plateau=0.25, amplitude=0.65, rate=0.8, sigma0=0.02)
    fit = fit_inverse_log_decay(levels, inverse_log_decay(levels, **truth))
    for k, v in truth.items():
        assert fit.params[k] == pytest.approx(v, rel=1e-3), k
    assert fit.fit_sigma0


def test_fit_reports_parameters_the_data_do_not_determine():
    # a straight decline that never levels off: the plateau runs to its bound
    levels = np.array([0, 0.01, 0.03, 0.1, 0.3, 1.0])
    fit = fit_inverse_log_decay(levels, 0.9 - 0.1 * levels, sigma0=0.01)
    assert "plateau" in fit.at_bounds


def test_fit_rejects_too_few_levels_and_bad_input():
    with pytest.raises(ValueError, match="distinct noise levels"):
        fit_inverse_log_decay([0, 0.1, 0.1], [1, 0.5, 0.5])
    with pytest.raises(ValueError, match="one entry per measurement"):
        fit_inverse_log_decay([0, 0.1, 0.3], [1, 0.5])
    with pytest.raises(ValueError, match="≥ 0"):
        fit_inverse_log_decay([-1, 0.1, 0.3, 1, 2], [1, 0.5, 0.4, 0.3, 0.2])


# --------------------------------------------------------------------------------------------- weight noise
@pytest.fixture(scope="module")
def student_setup(mini_pair):
    ps = make_prompts(12, seed=0, tokenizer=mini_pair.tokenizer)
    clean, corr = ps.tokens(mini_pair.tokenizer), ps.tokens(mini_pair.tokenizer, "corrupted")
    return mini_pair.student, clean, corr, ps.metric(mini_pair.tokenizer)


def _logits(adapter, tokens):
    with torch.inference_mode():
        return adapter.model(tokens)


def test_noise_targets_are_weight_matrices_only(student_setup):
    model = student_setup[0].model
    targets = noise_targets(model)
    assert targets and all(p.ndim >= 2 for _, p in targets)
    with_vectors = noise_targets(model, include_vectors=True)
    assert len(with_vectors) > len(targets)
    assert len({p.untyped_storage().data_ptr() for _, p in targets}) == len(targets)


def test_level_zero_leaves_the_model_bit_identical(student_setup):
    adapter, clean = student_setup[:2]
    model = adapter.model
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    base = _logits(adapter, clean)
    with add_weight_noise(model, 0.0, seed=3) as noisy:
        assert noisy is model
        assert torch.equal(_logits(adapter, clean), base)
        assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_seed_reproduces_the_perturbation_and_restore_is_exact(student_setup):
    adapter, clean = student_setup[:2]
    model = adapter.model
    base = _logits(adapter, clean)
    with add_weight_noise(model, 0.1, seed=0):
        a = _logits(adapter, clean)
    assert torch.equal(_logits(adapter, clean), base), "restore must be bit-exact"
    with add_weight_noise(model, 0.1, seed=0):
        b = _logits(adapter, clean)
    with add_weight_noise(model, 0.1, seed=1):
        c = _logits(adapter, clean)
    assert (a - base).abs().max() > 1e-2, "noise must change the logits"
    assert torch.equal(a, b), "the same seed must give the same perturbed model"
    assert (a - c).abs().max() > 1e-2, "another seed must give another perturbation"
    assert torch.equal(_logits(adapter, clean), base)


def test_noise_scales_with_each_weights_std(student_setup):
    model = student_setup[0].model
    name, p = noise_targets(model)[0]
    std = float(p.float().std())
    before = p.detach().clone()
    originals = perturb_weights_(model, 0.5, seed=7)
    try:
        delta = p.detach() - before
        assert float(delta.std()) == pytest.approx(0.5 * std, rel=0.1)
    finally:
        restore_weights_(model, originals)
    assert torch.equal(p, before)


def test_restore_happens_on_exceptions_and_engines_see_the_noise(student_setup):
    adapter, clean, corr, metric = student_setup
    base = _logits(adapter, clean)
    ld0 = Engine(adapter, clean, corr, metric, progress=False).clean_value
    with pytest.raises(RuntimeError, match="inside"):
        with add_weight_noise(adapter.model, 0.3, seed=2):
            ld_noisy = Engine(adapter, clean, corr, metric, progress=False, check_baseline=False).clean_value
            raise RuntimeError("inside")
    assert abs(ld_noisy - ld0) > 1e-3, "the engine's own forward must see the perturbed weights"
    assert torch.equal(_logits(adapter, clean), base)
    assert Engine(adapter, clean, corr, metric, progress=False).clean_value == ld0
    with pytest.raises(ValueError, match="≥ 0"):
        with add_weight_noise(adapter.model, -0.1, seed=0):
            pass


def test_noise_sweep_rows_and_mean_std(mini_pair, student_setup):
    model, clean = student_setup[:2]
    base = _logits(model, clean)
    calls = []

    def measure(m):
        calls.append(1)
        return {"mean_logit": float(_logits(m, clean)[:, -1].mean())}

    rows = noise_sweep(mini_pair.teacher, model, [0.0, 0.05], [0, 1], measure, progress=False)
    assert [(r["level"], r["seed"]) for r in rows] == [(0.0, 0), (0.0, 1), (0.05, 0), (0.05, 1)]
    assert len(calls) == 3, "level 0 is measured once"
    assert rows[0]["mean_logit"] == rows[1]["mean_logit"] != rows[2]["mean_logit"]
    stats = mean_std(rows, "mean_logit")
    assert [s["level"] for s in stats] == [0.0, 0.05] and stats[0]["std"] == 0.0 and stats[0]["n"] == 2
    vals = [rows[2]["mean_logit"], rows[3]["mean_logit"]]
    assert stats[1]["mean"] == pytest.approx(np.mean(vals)) and stats[1]["std"] == pytest.approx(np.std(vals, ddof=1))
    assert torch.equal(_logits(model, clean), base)
    with pytest.raises(ValueError, match="share weight memory"):
        noise_sweep(model, model, [0.1], [0], measure, progress=False)


def test_alignment_measure_on_the_unperturbed_pair_with_fixed_matches(mini_pair, student_setup):
    """With S = 1 placeholders and the student compared with itself, the measure returns A = 1."""
    model, clean, corr, metric = student_setup
    factory = lambda m: Engine(m, clean, corr, metric, progress=False, check_baseline=False)  # noqa: E731
    infl = influences(factory(model))
    same = [(comp, comp, 1.0) for comp in infl]
    measure = make_alignment_measure(infl, factory, lambda m: (same, None))
    out = measure(model)
    assert out["alignment"] == pytest.approx(1.0, abs=1e-9)
    assert out["mean_similarity"] == pytest.approx(1.0) and out["influence_term"] == pytest.approx(0.0, abs=1e-9)
    # S = 1 with the student's influences against permuted ones: A = 1 − (1/|M|) Σ|ΔI|, never below 1 − 2/|M|
    comps = sorted(infl)
    shuffled = dict(zip(comps, [infl[c] for c in comps[::-1]]))
    out = make_alignment_measure(shuffled, factory, lambda m: (same, None))(model)
    diff = sum(abs(infl[c] - shuffled[c]) for c in comps) / len(comps)
    assert out["influence_term"] == pytest.approx(diff, abs=1e-9) and out["alignment"] == pytest.approx(1 - diff)
    assert out["alignment"] >= 1 - 2 / len(comps)
    assert 0.0 <= out["influence_gini"] < 1.0


def test_noise_curves_draws_the_means_and_the_fit():
    from dcirc_utils.report.plots import noise_curves
    levels = [0.0, 0.01, 0.1, 1.0]
    rows = [{"level": lv, "seed": s, "A": float(inverse_log_decay(lv, 0.2, 0.7, 1.0, 0.01)) + 0.01 * s}
            for lv in levels for s in range(2)]
    stats = mean_std(rows, "A")
    fit = fit_inverse_log_decay([r["level"] for r in rows], [r["A"] for r in rows], sigma0=0.01)
    fig = noise_curves(rows, {"A": "A"}, fits={"A": fit}, normalise=False, references={"study A": 0.895})
    ax = fig.axes[0]
    assert ax.get_xscale() == "symlog"
    [bars] = ax.containers                                          # the one metric's mean ± std
    order = sorted(stats, key=lambda r: r["level"])
    np.testing.assert_allclose(np.asarray(bars.lines[0].get_xdata(), float), [r["level"] for r in order])
    np.testing.assert_allclose(np.asarray(bars.lines[0].get_ydata(), float), [r["mean"] for r in order])
    fitted = next(line for line in ax.lines if line.get_label() == "A: inverse-log fit")
    np.testing.assert_allclose(fitted.get_ydata(), fit(fitted.get_xdata()))
    assert "study A" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_a_model_compared_with_itself_through_the_study_matches_scores_one(mini_pair, student_setup):
    """Real similarities (heads.py, mlps.py): the student against itself matches every component to itself with
    S = 1 (principal-angle MLP similarity), so A = 1; against the teacher A is lower."""
    model, clean, corr, metric = student_setup
    head_m, mlp_m = study_matches(model, model, clean, mlp_similarity="principal")
    assert all(m.student == m.teacher for m in head_m + mlp_m)
    assert all(m.similarity == pytest.approx(1.0, abs=1e-5) for m in head_m + mlp_m)
    infl = influences(Engine(model, clean, corr, metric, progress=False))
    assert matched_alignment(head_m, mlp_m, infl, infl).value == pytest.approx(1.0, abs=1e-5)
    t_infl = influences(Engine(mini_pair.teacher, clean, corr, metric, progress=False))
    head_t, mlp_t = study_matches(mini_pair.teacher, model, clean)
    assert len(head_t) == 12 and len(mlp_t) == 3
    assert all(0.0 <= m.similarity <= 1.0 + 1e-6 for m in head_t + mlp_t)
    assert matched_alignment(head_t, mlp_t, infl, t_infl).value < 1.0


def test_study_matches_mlp_table_equals_the_per_pair_measures(mini_pair, student_setup):
    """The once-per-output singular vectors give exactly the numbers of mlps.subspace_similarity and
    mlps.principal_angle_similarity applied pair by pair."""
    from dcirc_utils.methods.mlps import (all_pairs_similarity, mlp_outputs, principal_angle_similarity,
                                          subspace_similarity)
    model, clean = student_setup[:2]
    t_out, s_out = mlp_outputs(mini_pair.teacher, clean), mlp_outputs(model, clean)
    for name, fn in (("study", subspace_similarity), ("principal", principal_angle_similarity)):
        fast = mlp_similarity_table(t_out, s_out, name, 3)
        slow = all_pairs_similarity(t_out, s_out, lambda a, b: fn(a, b, 3))
        assert fast.shape == (6, 3)
        torch.testing.assert_close(fast, slow, rtol=0, atol=1e-6)
