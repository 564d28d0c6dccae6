"""report/plots/curves.py: lines by token position, training curves and noise sweeps draw the values they are given."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from dcirc_utils.methods.alignment import fit_inverse_log_decay
from dcirc_utils.report import plots

pytestmark = pytest.mark.usefixtures("close_figures")


def test_training_curves_one_panel_per_phase_and_check_inputs():
    fig = plots.training_curves({"teacher": {"CE": np.linspace(6, 1, 100)},
                                 "student": {"loss": np.linspace(1, 0.5, 60), "KL": np.linspace(0.3, 0.01, 60)}})
    assert len(fig.axes) == 2 and fig.get_size_inches()[1] >= 3.5
    assert [ax.get_title() for ax in fig.axes] == ["teacher", "student"]
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["loss", "KL"]
    smooth = next(ln for ln in fig.axes[0].lines if ln.get_label() == "CE")
    assert len(smooth.get_ydata()) == 100 - 25 + 1 and fig.axes[0].get_yscale() == "log"   # a 25-step average
    short = plots.training_curves({"t": {"CE": [3.0, 2.0]}}, window=5, logy=False)     # shorter than the window
    ax = short.axes[0]
    assert ax.get_yscale() == "linear"
    assert [list(ln.get_ydata()) for ln in ax.lines] == [[3.0, 2.0], [3.0, 2.0]]        # raw and unsmoothed
    with pytest.raises(ValueError):
        plots.training_curves({})
    with pytest.raises(ValueError):
        plots.training_curves({"t": {"CE": [1.0]}}, window=0)


def test_by_position_dashes_named_series_and_keeps_colours_distinct():
    series = {f"s{i}": [0.1 * i, 0.2, 0.3] for i in range(12)}
    fig = plots.by_position(series, ["BOS", "a", "b"], dashed=["s3", "s7"], legend_outside=True)
    lines = [ln for ln in fig.axes[0].lines if ln.get_label() in series]
    assert [ln.get_label() for ln in lines] == list(series)
    assert {ln.get_label() for ln in lines if ln.get_linestyle() == "--"} == {"s3", "s7"}
    assert len({ln.get_color() for ln in lines}) == 12
    legend = fig.axes[0].get_legend()
    assert legend is not None and len(legend.get_texts()) == 12
    plt.close(fig)


def test_noise_curves_draw_mean_and_std_over_draws_normalised_with_the_fit():
    """seaborn aggregates the draws: at each level the mean ± std (ddof = 1, as noise.mean_std) of the seeds, divided
    by the mean at σ = 0; every draw is a dot; the fit is divided by the same value."""
    from dcirc_utils.methods.noise import mean_std
    levels = [0.0, 0.1, 0.3, 1.0, 3.0, 10.0]
    a = [0.9, 0.88, 0.8, 0.6, 0.45, 0.4]
    rng = np.random.default_rng(0)
    rows = [{"level": lv, "seed": s, "A": v + (0 if lv == 0 else float(rng.normal(0, 0.02))),
             "dl": 10 * v ** 3 + (0 if lv == 0 else float(rng.normal(0, 0.3)))}
            for lv, v in zip(levels, a) for s in range(3)]
    rows.append({"level": 1.0, "seed": 3, "A": float("nan"), "dl": None})       # an undefined draw is left out
    fit = fit_inverse_log_decay([r["level"] for r in rows[:-1]], [r["A"] for r in rows[:-1]])
    fig = plots.noise_curves(rows, {"A": "A", "Δl": "dl"}, fits={"A": fit},
                             references={"study plateau / A(0)": 0.2 / 0.895})
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and ax.get_xscale() == "symlog"
    bars = {c.get_label(): c for c in ax.containers}                              # each metric's mean ± std
    for label, key, start in (("A (σ = 0: 0.9)", "A", 0.9), ("Δl (σ = 0: 7.29)", "dl", 7.29)):
        stats = mean_std([r for r in rows if r[key] is not None], key)
        line = next(ln for ln in ax.lines if ln.get_label() == label)            # the legend's line: the means
        np.testing.assert_allclose(line.get_xdata().astype(float), levels)
        np.testing.assert_allclose(line.get_ydata().astype(float), [s["mean"] / start for s in stats])
        [errs] = [c for c in bars.values() if np.allclose(c.lines[0].get_ydata().astype(float),
                                                          line.get_ydata().astype(float))]
        segments = errs.lines[2][0].get_segments()                               # one vertical segment per level
        np.testing.assert_allclose([seg[1][1] - seg[0][1] for seg in segments],
                                   [2 * s["std"] / start for s in stats], atol=1e-12)
    dots = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets()) == 18])
    np.testing.assert_allclose(sorted(dots[:, 1]), sorted([r["A"] / 0.9 for r in rows[:-1]] +
                                                          [r["dl"] / 7.29 for r in rows[:-1]]))
    fitted = next(ln for ln in ax.lines if ln.get_label() == "A: inverse-log fit")
    np.testing.assert_allclose(fitted.get_ydata(), fit(fitted.get_xdata()) / 0.9)
    assert "study plateau / A(0)" in [t.get_text() for t in ax.get_legend().get_texts()]
    with pytest.raises(ValueError, match="cannot be normalised"):
        plots.noise_curves([{"level": 0.0, "z": 0.0}, {"level": 1.0, "z": 1.0}], {"z": "z"})
    with pytest.raises(ValueError, match="has no 'z'"):
        plots.noise_curves([{"level": 0.0}], {"z": "z"})
    with pytest.raises(ValueError, match="at least one"):
        plots.noise_curves(rows, {})


def _faithfulness_series():
    sizes = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
    ramp = np.clip((np.log10(sizes) + 1) / 3, 0, 1)

    def band(shift):
        m = np.clip(ramp + shift, 0, 1.05)
        return {"sizes": sizes, "mean": list(m), "low": list(m - 0.04), "high": list(m + 0.04)}

    return sizes, {"teacher": {"exact": band(0.0), "first-order": band(-0.05)},
                   "student": {"exact": band(0.1), "first-order": band(0.05)},
                   "copy": {"exact": {"sizes": sizes, "mean": list(ramp)}}}


def test_faithfulness_curves_draw_each_model_per_ranking_on_a_log_axis_with_bands_and_points():
    from dcirc_utils.report.readability import NOTEBOOK_RC
    sizes, series = _faithfulness_series()
    with plt.rc_context(NOTEBOOK_RC):
        fig = plots.faithfulness_curves(series, points={"teacher": (28.2, 0.80), "student": (20.5, 0.83)},
                                        title="small: faithfulness of the top-k circuits")
        assert plots.figure_readability_problems(fig) == []
    exact, first = fig.axes[:2]
    assert [ax.get_title() for ax in fig.axes] == ["exact", "first-order"]
    assert exact.get_xscale() == "log" and first.get_xscale() == "log"
    lines = {ln.get_label(): ln for ln in exact.lines if ln.get_label() in series}
    assert set(lines) == {"teacher", "student", "copy"}
    np.testing.assert_allclose(lines["student"].get_xdata(), sizes)
    np.testing.assert_allclose(lines["student"].get_ydata(), series["student"]["exact"]["mean"])
    assert lines["copy"].get_linestyle() == "--" and lines["teacher"].get_linestyle() == "-"
    assert lines["teacher"].get_color() != lines["student"].get_color()
    assert {ln.get_label() for ln in first.lines if ln.get_label() in series} == {"teacher", "student"}  # no copy
    # the bands span low to high: teacher's and student's (the copy has none), in each model's colour
    bands = exact.collections
    assert len(bands) == 2
    ys = np.concatenate([p.vertices[:, 1] for p in bands[0].get_paths()])
    lo, hi = series["teacher"]["exact"]["low"], series["teacher"]["exact"]["high"]
    assert ys.min() == pytest.approx(min(lo)) and ys.max() == pytest.approx(max(hi))
    # the 80 % points, marked in every panel in the model's colour
    for ax in (exact, first):
        stars = [ln for ln in ax.lines if ln.get_marker() == "*"]
        assert sorted((float(s.get_xdata()[0]), float(s.get_ydata()[0])) for s in stars) == [(20.5, 0.83),
                                                                                              (28.2, 0.80)]
    star = next(ln for ln in exact.lines if ln.get_marker() == "*" and ln.get_xdata()[0] == 28.2)
    assert star.get_color() == lines["teacher"].get_color()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["teacher", "student", "copy"] and "node pruning at 80 %" in legend
    assert [t.get_text() for t in exact.get_xticklabels()] == ["0.1", "1", "10", "100"]


def test_faithfulness_curves_check_inputs():
    sizes, series = _faithfulness_series()
    with pytest.raises(ValueError, match="at least one model"):
        plots.faithfulness_curves({})
    with pytest.raises(ValueError, match="points name models without curves"):
        plots.faithfulness_curves(series, points={"grandparent": (10, 0.5)})
    with pytest.raises(ValueError, match="equally long"):
        plots.faithfulness_curves({"teacher": {"exact": {"sizes": sizes, "mean": [0.5]}}})
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        plots.faithfulness_curves({"teacher": {"exact": {"sizes": [0, 100], "mean": [0.0, 1.0]}}})
    with pytest.raises(ValueError, match="one value per size"):
        plots.faithfulness_curves({"teacher": {"exact": {"sizes": [1, 100], "mean": [0.0, 1.0], "low": [0.0],
                                                         "high": [0.1, 1.0]}}})
