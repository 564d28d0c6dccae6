"""studies/shift.py's pure helpers: masking undefined circuit scores and the degradation verdicts."""
import math

import pytest

from dcirc_utils.studies.shift import shift_degradation, undefined_unless_solved


def _row(variant, model, seed, accuracy, value, score):
    return {"variant": variant, "model": model, "seed": seed, "n": 10, "accuracy": accuracy, "value": value,
            "p_correct": 0.5, "circuit_score": score, "error": None}


def _rows():
    rows = []
    for s, jitter in zip((0, 1, 2), (0.0, 0.5, -0.5)):
        rows += [_row("numerals", "teacher", s, 1.0, 10.0, 80.0 + jitter),
                 _row("numerals", "student", s, 1.0, 10.0, 80.0),
                 # the student loses 30 pp of accuracy more than the teacher; Δl the same; score within spread
                 _row("far", "teacher", s, 0.9, 8.0, 70.0 + 3 * jitter), _row("far", "student", s, 0.6, 8.0, 70.0),
                 _row("broken", "teacher", s, 0.0, -0.4 + jitter, 95.0), _row("broken", "student", s, 0.0, 0.2, 300.0)]
    return rows


def test_undefined_unless_solved_masks_small_and_negative_baselines():
    rows = undefined_unless_solved(_rows(), min_value=1.0)
    broken = [r for r in rows if r["variant"] == "broken"]
    assert all(math.isnan(r["circuit_score"]) for r in broken)
    assert all("undefined" in r["error"] for r in broken)
    assert all(not math.isnan(r["circuit_score"]) and r["error"] is None for r in rows if r["variant"] != "broken")
    assert not math.isnan(_rows()[4]["circuit_score"])  # the input is not changed


def test_shift_degradation_verdicts_and_units():
    out = shift_degradation(undefined_unless_solved(_rows()))
    by = {(r["variant"], r["measure"]): r for r in out}
    assert [r["variant"] for r in out] == ["far"] * 3 + ["broken"] * 3
    acc = by[("far", "accuracy")]
    assert acc["teacher loss"] == pytest.approx(10.0) and acc["student loss"] == pytest.approx(40.0)
    assert acc["gap"] == pytest.approx(30.0) and acc["gap std"] == pytest.approx(0.0)
    assert acc["verdict"] == "student faster" and acc["units"] == "pp of accuracy"
    assert by[("far", "value")]["teacher loss"] == pytest.approx(20.0)        # % of the baseline Δl
    assert by[("far", "value")]["verdict"] == "within spread"                  # gap 0
    assert by[("far", "circuit_score")]["verdict"] == "within spread"          # gap ≈ 0 with a spread
    assert by[("broken", "circuit_score")]["verdict"] == "undefined"
    assert by[("broken", "accuracy")]["verdict"] == "teacher faster" or by[("broken", "accuracy")]["gap"] == 0
    swapped = shift_degradation(_rows(), first="student", second="teacher", measures=("accuracy",))
    assert swapped[0]["verdict"] == "student faster" and swapped[0]["gap"] == pytest.approx(-30.0)


def test_shift_degradation_min_effect_and_errors():
    rows = [_row("numerals", m, 0, 1.0, 10.0, 80.0) for m in ("teacher", "student")]
    rows += [_row("x", "teacher", 0, 1.0, 9.99, 80.0), _row("x", "student", 0, 1.0, 9.98, 80.0)]
    out = shift_degradation(rows, measures=("value",))
    assert out[0]["verdict"] == "within spread" and out[0]["seeds"] == 1    # 0.1 % is below min_effect
    with pytest.raises(ValueError, match="unknown measures"):
        shift_degradation(rows, measures=("speed",))
    with pytest.raises(ValueError, match="no 'numerals' row"):
        shift_degradation(rows, first="copy")
