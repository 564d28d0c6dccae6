"""The open-questions study (dcirc_utils.studies.open_questions) on the mini pair: one profile, its invariants, and
the correlations with bootstrap intervals."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dcirc_utils.studies.open_questions import (correlation_ci, discarded_functions, partial_correlation_ci,
                                                student_profile)


def test_profile_of_the_mini_student(mini_pair, tmp_path, monkeypatch):
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    p = student_profile(mini_pair, "numerals", n=8)
    assert p["student_layers"] == 3 and 0 <= p["student_accuracy"] <= 1
    assert 0 < p["student_circuit_size"] <= p["student_components"] == 15
    assert p["teacher_circuit_score"] >= 80.0 - 1e-6 and p["student_worst_drop"] < 0
    assert 0 <= p["student_gini"] < 1 and 0 < p["A_course"] <= 1 and 0 < p["A_study"] <= 1
    d = p["discarded"]
    assert len(d["kept"]) + len(d["discarded"]) == p["teacher_circuit_size"]
    assert 0 <= d["share_discarded"] <= 1 and math.isfinite(p["noise_retained"])
    assert student_profile(mini_pair, "numerals", n=8) == p          # cached


def test_a_model_discards_nothing_of_itself(mini_pair):
    from dcirc_utils.core.components import Component
    from dcirc_utils.core.tasks import make_task
    t = mini_pair.teacher
    circuit = [Component(0, 1), Component(2, 2), Component(3)]
    d = discarded_functions(t, t, make_task("numerals", 6, 0, tokenizer=mini_pair.tokenizer), circuit, circuit)
    assert d["discarded"] == [] and d["share_discarded"] == 0


def test_partial_correlation_removes_a_shared_driver():
    rng = np.random.default_rng(0)
    z = rng.normal(size=40)
    x, y = z + 0.3 * rng.normal(size=40), z + 0.3 * rng.normal(size=40)
    r, lo, hi = correlation_ci(x, y, 300)
    assert r > 0.8 and lo <= r <= hi
    pr, plo, phi = partial_correlation_ci(x, y, z, 300)
    assert abs(pr) < 0.4 and plo <= pr <= phi
    with pytest.raises(ValueError, match="at least 4"):
        partial_correlation_ci([1, 2, 3], [1, 2, 3], [1, 2, 3])


def test_bootstrap_intervals_do_not_depend_on_float_rounding():
    """The same data to 1e-12 (what another CPU's BLAS kernels give) must give the same interval: resamples whose
    residuals are rounding noise are skipped. Before, a 6-point partial correlation's bound moved by up to 0.99 under
    such perturbations (notebook 08 read 0.361 on an AMD machine, 0.367 on an Intel one)."""
    import numpy as np

    from dcirc_utils.studies.open_questions import correlation_ci, partial_correlation_ci
    rng = np.random.default_rng(1)
    tied = [(np.array([1, 1, 1, 2, 2, 3.0]), np.array([0.5, 0.5, 0.7, 0.9, 0.9, 1.0]),
             np.array([9.0, 9, 9, 11, 11, 12]))]                 # ties and a z collinear with x: degenerate resamples
    for x, y, z in tied + [tuple(rng.normal(size=(3, 6))) for _ in range(20)]:
        base_p, base_r = partial_correlation_ci(x, y, z, n_boot=500), correlation_ci(x, y, n_boot=500)
        for k in range(3):
            e = np.random.default_rng(k).normal(size=(3, 6)) * 1e-12
            assert np.allclose(partial_correlation_ci(x + e[0], y + e[1], z + e[2], n_boot=500), base_p, atol=1e-9,
                               equal_nan=True)
            assert np.allclose(correlation_ci(x + e[0], y + e[1], n_boot=500), base_r, atol=1e-9, equal_nan=True)


def test_zscore_within_each_group_hand_computed():
    from dcirc_utils.studies.open_questions import zscore_within
    z = zscore_within([10.0, 12.0, 0.2, 0.6, 5.0], ["a", "a", "b", "b", "c"])
    assert z.tolist() == pytest.approx([-1.0, 1.0, -1.0, 1.0, 0.0])        # a lone value scores 0
    assert zscore_within([3.0, 3.0], ["a", "a"]).tolist() == [0.0, 0.0]  # no spread: 0, not NaN
    with pytest.raises(ValueError, match="one length"):
        zscore_within([1.0, 2.0], ["a"])


def test_clustered_correlation_resamples_units_and_controls_covariates():
    from dcirc_utils.studies.open_questions import clustered_correlation_ci
    rng = np.random.default_rng(0)
    n_units, per = 12, 3
    units = np.repeat(np.arange(n_units), per)
    depth = np.repeat(rng.integers(1, 4, n_units).astype(float), per)      # a unit-level driver of both x and y
    x, y = depth + 0.2 * rng.normal(size=len(units)), depth + 0.2 * rng.normal(size=len(units))
    plain = clustered_correlation_ci(x, y, units, n_boot=300)
    assert plain.r > 0.8 and plain.low <= plain.r <= plain.high
    assert (plain.points, plain.units, plain.covariates) == (36, 12, 0)
    part = clustered_correlation_ci(x, y, units, [depth], n_boot=300)
    assert abs(part.r) < 0.4 and part.low <= part.r <= part.high and part.covariates == 1
    # counting each unit's points twice adds no information: the same estimate and the same interval
    twice = clustered_correlation_ci(np.repeat(x, 2), np.repeat(y, 2), np.repeat(units, 2), [np.repeat(depth, 2)],
                                     n_boot=300)
    assert twice[:3] == pytest.approx(part[:3]) and twice.points == 72 and twice.units == 12
    # the same data to 1e-12 (another CPU's rounding) gives the same interval
    e = np.random.default_rng(1).normal(size=(3, len(x))) * 1e-12
    again = clustered_correlation_ci(x + e[0], y + e[1], units, [depth + e[2]], n_boot=300)
    assert np.allclose(again[:3], part[:3], atol=1e-9, equal_nan=True)
    with pytest.raises(ValueError, match="independent units"):
        clustered_correlation_ci(x[:9], y[:9], units[:9], [depth[:9]])        # 3 units, one covariate: need 4
    with pytest.raises(ValueError, match="one length"):
        clustered_correlation_ci(x, y[:-1], units)
