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


def test_noise_curves_normalises_and_draws_fit():
    levels = [0.0, 0.1, 0.3, 1.0, 3.0, 10.0]
    a = [0.9, 0.88, 0.8, 0.6, 0.45, 0.4]
    stats = {"A": [{"level": lv, "mean": v, "std": 0.01} for lv, v in zip(levels, a)],
             "Δl": [{"level": lv, "mean": 10 * v ** 3, "std": 0.5} for lv, v in zip(levels, a)]}
    fit = fit_inverse_log_decay(levels, a)
    fig = plots.noise_curves(stats, fits={"A": fit}, references={"study plateau / A(0)": 0.2 / 0.895})
    ax = fig.axes[0]
    data = {c.get_label(): c.lines[0] for c in ax.containers}                 # each metric's error-bar line
    np.testing.assert_allclose(data["A (σ = 0: 0.9)"].get_ydata(), np.array(a) / 0.9)
    np.testing.assert_allclose(data["Δl (σ = 0: 7.29)"].get_ydata(), np.array(a) ** 3 / 0.9 ** 3)
    np.testing.assert_allclose(data["A (σ = 0: 0.9)"].get_xdata(), levels)
    assert any("fit" in lab for lab in ax.get_legend_handles_labels()[1])
    with pytest.raises(ValueError, match="cannot be normalised"):
        plots.noise_curves({"z": [{"level": 0.0, "mean": 0.0, "std": 0.0}, {"level": 1.0, "mean": 1.0, "std": 0}]})
    with pytest.raises(ValueError, match="at least one"):
        plots.noise_curves({})
