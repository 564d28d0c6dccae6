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
