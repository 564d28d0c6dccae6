"""Helpers added for notebooks 05 and 06: shift degradation and masking, the recipe table, and their figures."""
import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from dcirc_utils.methods.alignment import fit_inverse_log_decay  # noqa: E402
from dcirc_utils.methods.recipes import COURSE, STUDY_IOI, STUDY_SEQUENCE  # noqa: E402
from dcirc_utils.report import plots  # noqa: E402
from dcirc_utils.report.tables import recipe_table  # noqa: E402
from dcirc_utils.studies.shift import shift_degradation, undefined_unless_solved  # noqa: E402


def _row(variant, model, seed, accuracy, value, score):
    return {"variant": variant, "model": model, "seed": seed, "n": 10, "accuracy": accuracy, "value": value,
            "p_correct": 0.5, "circuit_score": score, "error": None}


def _rows():
    rows = []
    for s, jitter in zip((0, 1, 2), (0.0, 0.5, -0.5)):
        rows += [_row("numerals", "teacher", s, 1.0, 10.0, 80.0 + jitter), _row("numerals", "student", s, 1.0, 10.0, 80.0),
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


def test_recipe_table_marks_shared_choices():
    df = recipe_table([COURSE, STUDY_SEQUENCE, STUDY_IOI])
    assert list(df.columns) == ["what it decides", COURSE.name, STUDY_SEQUENCE.name, STUDY_IOI.name, "same in all"]
    assert df.loc["bos", "same in all"] == "yes" and df.loc["ablation", "same in all"] == "no"
    assert df.loc["duplicate_below", COURSE.name] == "—" and df.loc["duplicate_below", STUDY_SEQUENCE.name] == "0.95"
    with pytest.raises(ValueError, match="distinct names"):
        recipe_table([COURSE, COURSE])
    with pytest.raises(ValueError, match="at least one"):
        recipe_table([])


def test_grouped_errorbars_marks_missing_values():
    fig = plots.grouped_errorbars(["a", "b"], {"accuracy (%)": {"T": ([90, 80], [1, 2]), "S": ([85, np.nan], [1, 0])},
                                               "score (%)": {"T": ([70, 60], [3, 3])}},
                                  title="t", hlines={"score (%)": 80})
    assert len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["n/a"]
    assert fig.get_size_inches()[0] >= 6 and fig.get_size_inches()[1] >= 3.5
    with pytest.raises(ValueError, match="one mean and one std"):
        plots.grouped_errorbars(["a"], {"y": {"T": ([1, 2], [0, 0])}})
    with pytest.raises(ValueError, match="at least one panel"):
        plots.grouped_errorbars(["a"], {})


def test_alignment_bars_draws_study_marker_and_missing():
    rows = [{"task": "numerals", "pair": "p", "recipe": "course", "A": 0.9, "study A": 0.895},
            {"task": "numerals", "pair": "p", "recipe": "study", "A": 0.8, "study A": 0.895},
            {"task": "ioi", "pair": "p", "recipe": "course", "A": None, "study A": 0.9},
            {"task": "ioi", "pair": "p", "recipe": "study", "A": 0.7, "study A": 0.9},
            {"task": "gt", "pair": "p", "recipe": "course", "A": 0.6, "study A": None}]
    fig = plots.alignment_bars(rows, title="A")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["n/a"]
    assert len(ax.collections) >= 2       # the study's diamonds (scatter) and dashed lines
    labels = ax.get_legend_handles_labels()[1]
    assert "study's value" in labels and "p · course" in labels
    assert ax.get_ylim()[0] == pytest.approx(0.5) and "axis from 0.5" in ax.get_ylabel()
    assert plots.alignment_bars(rows, zoom=False).axes[0].get_ylim()[0] == 0.0
    with pytest.raises(ValueError, match="no alignment rows"):
        plots.alignment_bars([])


def test_noise_curves_normalises_and_draws_fit():
    levels = [0.0, 0.1, 0.3, 1.0, 3.0, 10.0]
    a = [0.9, 0.88, 0.8, 0.6, 0.45, 0.4]
    stats = {"A": [{"level": lv, "mean": v, "std": 0.01} for lv, v in zip(levels, a)],
             "Δl": [{"level": lv, "mean": 10 * v ** 3, "std": 0.5} for lv, v in zip(levels, a)]}
    fit = fit_inverse_log_decay(levels, a)
    fig = plots.noise_curves(stats, fits={"A": fit}, references={"study plateau / A(0)": 0.2 / 0.895})
    ax = fig.axes[0]
    first = ax.lines[0].get_ydata() if ax.lines else None
    assert first is not None
    ys = [np.asarray(line.get_ydata(), float) for line in ax.lines]
    assert any(np.isclose(y[0], 1.0) for y in ys if y.size)           # a normalised series starts at 1
    assert any("fit" in lab for lab in ax.get_legend_handles_labels()[1])
    with pytest.raises(ValueError, match="cannot be normalised"):
        plots.noise_curves({"z": [{"level": 0.0, "mean": 0.0, "std": 0.0}, {"level": 1.0, "mean": 1.0, "std": 0}]})
    with pytest.raises(ValueError, match="at least one"):
        plots.noise_curves({})


def test_drop_summary_clips_like_the_study():
    from dcirc_utils.core.components import Component as C
    from dcirc_utils.report.tables import drop_summary
    full = {"T": {C(0, 0): -10.0, C(0, 1): 4.0, C(0): -50.0}, "S": {C(0, 0): -2.0, C(0, 1): -1.0}}
    circ = {"T": {C(0, 0): -20.0, C(0): -40.0}, "S": {C(0): -5.0}}
    df = drop_summary(full, circ)
    assert df.loc["T", "mean full-model head drop"] == pytest.approx(-3.0)
    assert df.loc["T", "mean full-model head drop, clipped"] == pytest.approx(-5.0)
    assert df.loc["T", "its head"] == "0.0" and df.loc["T", "largest full-model head drop"] == -10.0
    assert df.loc["T", "circuit heads"] == 1 and df.loc["T", "mean circuit-head removal drop"] == -20.0
    assert df.loc["S", "circuit heads"] == 0 and math.isnan(df.loc["S", "mean circuit-head removal drop"])
    assert df.loc["S", "its circuit head"] == "—"
    assert "circuit heads" not in drop_summary(full).columns


def test_init_map_table_counts_recovered_heads():
    from dcirc_utils.core.components import Component as C
    from dcirc_utils.methods.matching import Match
    from dcirc_utils.report.tables import init_map_table
    heads = [Match(C(0, 0), C(0, 0), 1.0), Match(C(0, 1), C(0, 0), 0.8), Match(C(1, 0), C(2, 0), 0.9),
             Match(C(1, 1), C(2, 1), 0.7)]
    mlps = [Match(C(0), C(0), 0.99), Match(C(1), C(1), 0.5)]
    df = init_map_table(heads, mlps, [0, 2])
    assert df.loc[0, "heads matched to their source"] == 1 and df.loc[1, "heads matched to their source"] == 2
    assert df.loc[1, "copied from block"] == 2 and df.loc[1, "its MLP matched to"] == "MLP1"
    assert df.loc[0, "mean S of its heads"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="layer_map has 1"):
        init_map_table(heads, mlps, [0])


def test_frame_of_no_rows_is_an_empty_table_and_a_missing_index_is_named():
    # notebook 05 shows its per-set table even when no set was measured (a pair that does not solve the task)
    from dcirc_utils.report.tables import frame
    empty = frame([], index="model", digits=2)
    assert len(empty) == 0 and empty.index.name == "model"
    with pytest.raises(ValueError, match="'model'"):
        frame([{"name": "a", "x": 1.0}], index="model")
    assert frame([{"model": "a", "x": 1.23456}], index="model", digits=2).loc["a", "x"] == 1.23
