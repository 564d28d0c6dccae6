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
