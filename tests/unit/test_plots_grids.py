"""report/plots/grids.py: heatmaps, layer × head heatmaps and role-score grids, each on the colour scale it claims;
and report/plots/_style.py's text colour on a cell."""
import matplotlib
import numpy as np
import pytest

from dcirc_utils.report import plots
from tests.helpers import fig_size

pytestmark = pytest.mark.usefixtures("close_figures")


def test_layer_head_heatmaps_share_one_colour_scale():
    t = (np.arange(12.0).reshape(4, 3) - 6, np.array([1.0, -2, 3, np.nan]))
    s = (np.full((2, 3), np.nan), None)
    fig = plots.layer_head_heatmaps({"teacher": t, "student": s}, title="drops", label="pp")
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 3 and {im.get_clim() for im in images} == {(-6.0, 6.0)}
    w, h = fig_size(fig)
    assert w >= 6 and h >= 3.5
    fixed = plots.layer_head_heatmaps({"teacher": t}, vmin=-1, vmax=2)
    assert {im.get_clim() for ax in fixed.axes for im in ax.get_images()} == {(-1.0, 2.0)}
    with pytest.raises(ValueError, match="different numbers of heads"):
        plots.layer_head_heatmaps({"a": (np.zeros((2, 3)), None), "b": (np.zeros((2, 4)), None)})
    with pytest.raises(ValueError):
        plots.layer_head_heatmaps({})


def test_head_scores_grid_uses_one_colour_scale():
    scores = {"a": np.array([[0.1, 0.2], [0.0, 0.2]]), "b": np.array([[0.9, 1.0], [np.nan, 0.5]])}
    fig = plots.head_scores_grid(scores)
    assert {im.get_clim() for ax in fig.axes for im in ax.get_images()} == {(0.0, 1.0)}
    fixed = plots.head_scores_grid({"a": scores["a"]}, vmin=0.0, vmax=1.0)
    assert {im.get_clim() for ax in fixed.axes for im in ax.get_images()} == {(0.0, 1.0)}
    assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 1        # one colour bar for all panels
    with pytest.raises(ValueError, match="different shapes"):
        plots.head_scores_grid({"a": np.zeros((2, 2)), "b": np.zeros((3, 2))})


def test_annotation_colour_contrasts_with_its_cell():
    assert plots.text_colour_on((1.0, 1.0, 0.0, 1.0)) == "black"             # yellow
    assert plots.text_colour_on((0.0, 0.0, 0.3, 1.0)) == "white"             # dark blue
    m = np.array([[-1.0, 0.0, 1.0]])
    fig = plots.heatmap(m, annotate=True, cmap="RdBu_r", center=0.0)
    colours = [t.get_color() for t in fig.axes[0].texts]
    assert colours == ["white", "black", "white"]                            # dark blue, white, dark red cells
    fig = plots.heatmap(np.array([[0.0, 1.0]]), annotate=True, cmap="magma")
    assert [t.get_color() for t in fig.axes[0].texts] == ["white", "black"]
    assert matplotlib.colormaps["magma"](0.0)[0] < 0.01


def test_attention_view_falls_back_to_the_static_figure_without_circuitsvis(monkeypatch, capsys):
    """circuitsvis is the optional extra `interactive`: without it the view is attention_grid of the same heads (the
    same weights, the prompt's tokens on both axes), with a one-line note naming the extra."""
    import sys

    from matplotlib.figure import Figure
    tokens = [f"t{i}" for i in range(5)]
    rng = np.random.default_rng(0)
    pattern = np.tril(rng.random((2, 5, 5)))
    pattern /= pattern.sum(-1, keepdims=True)
    monkeypatch.setitem(sys.modules, "circuitsvis", None)               # `import circuitsvis...` raises ImportError
    monkeypatch.setitem(sys.modules, "circuitsvis.attention", None)
    fig = plots.attention_view(tokens, pattern, ["T 0.1", "S 0.1"])
    note = capsys.readouterr().out
    assert isinstance(fig, Figure)
    assert note.count("\n") == 1 and "circuitsvis is not installed" in note and "[interactive]" in note
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in panels] == ["T 0.1", "S 0.1"]
    for ax, head in zip(panels, pattern):
        np.testing.assert_allclose(ax.get_images()[0].get_array(), head)   # the same weights, unrounded
        assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    with pytest.raises(ValueError, match="do not fit"):                   # the inputs are checked either way
        plots.attention_view(tokens[:3], pattern)
    one = plots.attention_view(tokens, pattern[0])                        # one head, default name
    assert [ax.get_title() for ax in one.axes if ax.get_images()] == ["head 0"]
