"""report/plots/bars.py: grouped bars (with values and error bars), histograms and the alignment bars."""
import numpy as np
import pytest

from dcirc_utils.report import plots
from tests.helpers import fig_size

pytestmark = pytest.mark.usefixtures("close_figures")


def test_grouped_bars_are_projector_sized_write_values_and_check_inputs():
    fig = plots.grouped_bars(["a", "b", "c"], {"x": [1, 2, np.nan], "y": [3, 2, 1]}, "acc", hline=2,
                             value_format="{:.0f}")
    w, h = fig_size(fig)
    assert w >= 6 and h >= 3.5
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3", "2", "1"]      # a NaN draws no bar and no value
    assert ax.get_ylabel() == "acc" and [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="values for 3 labels"):
        plots.grouped_bars(["a", "b", "c"], {"x": [1]}, "acc")


def test_logit_diff_hist_takes_its_size_and_keeps_the_legend_off_the_bars():
    fig = plots.logit_diff_hist({"t": [1.0, 2.0, 3.0]}, figsize=(6, 3.5))
    assert fig_size(fig) == (6.0, 3.5)
    fig = plots.logit_diff_hist({"teacher": [1.0, 2.0, 3.0], "student": [0.5, 1.5]})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["teacher (mean 2.00)", "student (mean 1.00)"]
    legend_box = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    assert legend_box.x0 >= ax.get_window_extent().x1 - 1                   # to the right of the axes


def test_grouped_errorbars_draws_mean_and_std_over_replicas_and_marks_missing_values():
    """seaborn aggregates the replicas: each bar is their mean, its error bar ± their std (ddof = 1, as
    summarise_shift), each replica a dot on its bar; an all-NaN group writes the missing label where its bar would
    stand."""
    import math

    from dcirc_utils.studies.shift import summarise_shift
    acc = {("a", "T"): [90, 94, 86], ("a", "S"): [85, 80, 81], ("b", "T"): [80, 70, 72], ("b", "S"): [60, 66, 63]}
    score = {("a", "T"): [70.0, 74.0], ("a", "S"): [math.nan, None], ("b", "T"): [60.0, math.nan],
             ("b", "S"): [50.0, 58.0]}
    rows = [{"variant": v, "model": m, "seed": s, "accuracy": x} for (v, m), xs in acc.items()
            for s, x in enumerate(xs)]
    srows = [{"variant": v, "model": m, "seed": s, "circuit_score": x} for (v, m), xs in score.items()
             for s, x in enumerate(xs)]
    fig = plots.grouped_errorbars({"accuracy (%)": (rows, "accuracy"), "score (%)": (srows, "circuit_score")},
                                  x="variant", hue="model", title="t", hlines={"score (%)": 80},
                                  hue_order=["T", "S"])
    assert len(fig.axes) == 2 and fig.get_size_inches()[0] >= 6 and fig.get_size_inches()[1] >= 3.5
    w = 0.8 / 2
    for ax, data, key in ((fig.axes[0], rows, "accuracy"), (fig.axes[1], srows, "circuit_score")):
        summary = {(r["variant"], r["model"]): r for r in summarise_shift(
            [dict(r, **{key: math.nan if r[key] is None else r[key]}) for r in data], (key,))
            if not math.isnan(r[key])}
        drawn = {}
        for bar in ax.patches:
            centre = bar.get_x() + bar.get_width() / 2
            group = (["a", "b"][round(centre)], "T" if centre < round(centre) else "S")
            assert centre == pytest.approx(round(centre) + (-w / 2 if group[1] == "T" else w / 2))
            drawn[group] = bar.get_height()
        assert drawn == pytest.approx({g: s[key] for g, s in summary.items()})          # the mean of the replicas
        # each error bar (one line: its caps and its stem, NaN-separated) spans mean ± std; one replica: none
        bars = [y for ln in ax.lines if np.isnan(y := np.asarray(ln.get_ydata(), float)).any()]
        spans = sorted(v for y in bars if np.isfinite(y).any() for v in (np.nanmin(y), np.nanmax(y)))
        expected = sorted(y for s in summary.values() if s[key + " std"] > 0
                          for y in (s[key] - s[key + " std"], s[key] + s[key + " std"]))
        assert len(expected) == 2 * sum(s[key + " std"] > 0 for s in summary.values()) > 0
        assert spans == pytest.approx(expected)
        centres = {("a", "T"): -w / 2, ("a", "S"): w / 2, ("b", "T"): 1 - w / 2, ("b", "S"): 1 + w / 2}
        dots = sorted((round(float(px), 6), float(py)) for c in ax.collections for px, py in c.get_offsets())
        replicas = sorted((round(centres[(r["variant"], r["model"])], 6), float(r[key])) for r in data
                          if r[key] is not None and not math.isnan(r[key]))
        assert dots == replicas                                        # one dot per replica, on its group's bar
    assert [t.get_text() for t in fig.axes[0].texts] == []
    [missing] = fig.axes[1].texts                                      # (a, S): both scores undefined
    assert missing.get_text() == "n/a" and missing.xy[0] == pytest.approx(0 + w / 2)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["T", "S"]
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["a", "b"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy (%)", "score (%)"]
    with pytest.raises(ValueError, match="has no 'accuracy'"):
        plots.grouped_errorbars({"y": ([{"variant": "a", "model": "T"}], "accuracy")}, x="variant", hue="model")
    with pytest.raises(ValueError, match="has no rows"):
        plots.grouped_errorbars({"y": ([], "accuracy")}, x="variant", hue="model")
    with pytest.raises(ValueError, match="at least one panel"):
        plots.grouped_errorbars({}, x="variant", hue="model")


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
