"""The report helpers added for notebooks 01, 02 and 09: offline-pair tables, circuit differences and projector figures."""
import math

import numpy as np
import pytest

from dcirc_utils.core.components import Component
from dcirc_utils.methods.discovery import Circuit
from dcirc_utils.report import plots
from dcirc_utils.report.tables import circuit_diff_table, offline_eval_table, sweep_table, token_share_table

PROMPTS = {
    "numerals": {"n": 4, "example": "A done in 1. -> 2", "metric": "Δl",
                 "teacher": {"top1": 1.0, "logit_diff": 9.387}, "student": {"top1": 0.75, "logit_diff": 9.468},
                 "student_init": {"top1": 0.5, "logit_diff": 4.9}},
    "greater_than": {"n": 4, "metric": "P(>YY) − P(≤YY)", "teacher": {"top1": 1.0, "prob_diff": 0.8},
                     "student": {"top1": 1.0, "prob_diff": 0.82}},
}


def test_offline_eval_table_rows_columns_and_missing_models():
    df = offline_eval_table(PROMPTS, {"teacher": "teacher", "student": "student", "student_init": "at init"})
    assert list(df.index) == ["numerals", "greater_than"]
    assert df.loc["numerals", "student top-1 %"] == 75.0
    assert df.loc["numerals", "teacher metric"] == pytest.approx(9.39)
    assert df.loc["greater_than", "student metric"] == pytest.approx(0.82)      # prob_diff read as the metric
    assert math.isnan(df.loc["greater_than", "at init top-1 %"])                 # a model missing from one set
    assert "example" in offline_eval_table(PROMPTS, example=True).columns
    assert "ghost top-1 %" not in offline_eval_table(PROMPTS, ("teacher", "ghost")).columns
    with pytest.raises(ValueError, match="no prompt set has any"):
        offline_eval_table(PROMPTS, ("ghost",))


def test_token_share_table_orders_kinds_and_ends_with_the_template_family():
    shares = {"ioi": {"docs": 5, "tokens": 50, "doc_share": 0.5, "token_share": 0.5},
              "template": {"docs": 3, "tokens": 30, "doc_share": 0.3, "token_share": 0.3},
              "filler": {"docs": 2, "tokens": 20, "doc_share": 0.2, "token_share": 0.2},
              "template_family": {"docs": 3, "tokens": 30, "doc_share": 0.3, "token_share": 0.3}}
    df = token_share_table(shares)
    assert list(df.index) == ["ioi", "template", "filler", "template family (3 kinds)"]
    assert df.loc["ioi", "tokens %"] == 50.0 and df.loc["filler", "documents"] == 2
    with pytest.raises(ValueError):
        token_share_table({"template_family": shares["template_family"]})


def test_sweep_table_one_row_per_depth_sorted():
    entry = {"layer_map": [0, 11], "params": 10, "prompts": PROMPTS, "kl_to_teacher": {"kl": 0.01},
             "init_kl_to_teacher": 0.3}
    df = sweep_table({"9": dict(entry, layer_map=[0, 1, 11]), "3": entry}, sets=("numerals", "missing"))
    assert list(df.index) == [3, 9]
    assert df.loc[3, "copies teacher blocks"] == "0 11" and df.loc[9, "copies teacher blocks"] == "0 1 11"
    assert df.loc[3, "KL after"] == 0.01 and df.loc[3, "KL at init"] == 0.3
    assert df.loc[3, "numerals top-1 % after"] == 75.0 and df.loc[3, "numerals top-1 % at init"] == 50.0
    assert math.isnan(df.loc[3, "missing metric after"])


def test_circuit_diff_table_lists_what_only_one_rule_keeps():
    c = lambda *xs: [Component(l, h) for l, h in xs]  # noqa: E731
    first = {"teacher": Circuit(c((0, 1), (1, -1), (2, 3)), 81.0, 9.0, 0.8, 3),
             "student": Circuit(c((0, 1)), 85.0, 9.0, 0.8, 2)}
    second = {"teacher": Circuit(c((0, 1), (2, 3), (3, 0)), 80.5, 9.0, 0.8, 3, rule="study"),
              "student": c((0, 1))}
    df = circuit_diff_table(first, second)
    assert df.loc["teacher", "shared"] == 2
    assert df.loc["teacher", "only corrected"] == "MLP1" and df.loc["teacher", "only study"] == "3.0"
    assert df.loc["student", "only study"] == "—" and math.isnan(df.loc["student", "study score %"])
    assert df.loc["teacher", "corrected score %"] == 81.0
    with pytest.raises(ValueError, match="no model is in both"):
        circuit_diff_table(first, {"other": []})


def _size(fig):
    return tuple(fig.get_size_inches())


def test_new_figures_are_projector_sized_and_check_inputs():
    fig = plots.grouped_bars(["a", "b", "c"], {"x": [1, 2, np.nan], "y": [3, 2, 1]}, "acc", hline=2,
                             value_format="{:.0f}")
    w, h = _size(fig)
    assert w >= 6 and h >= 3.5
    with pytest.raises(ValueError, match="values for 3 labels"):
        plots.grouped_bars(["a", "b", "c"], {"x": [1]}, "acc")
    fig = plots.training_curves({"teacher": {"CE": np.linspace(6, 1, 100)},
                                 "student": {"loss": np.linspace(1, 0.5, 60), "KL": np.linspace(0.3, 0.01, 60)}})
    assert len(fig.axes) == 2 and _size(fig)[1] >= 3.5
    assert plots.training_curves({"t": {"CE": [3.0, 2.0]}}, window=5, logy=False)  # shorter than the window
    with pytest.raises(ValueError):
        plots.training_curves({})
    with pytest.raises(ValueError):
        plots.training_curves({"t": {"CE": [1.0]}}, window=0)
    fig = plots.logit_diff_hist({"t": [1.0, 2.0, 3.0]}, figsize=(6, 3.5))
    assert _size(fig) == (6.0, 3.5)


def test_layer_head_heatmaps_share_one_colour_scale():
    t = (np.arange(12.0).reshape(4, 3) - 6, np.array([1.0, -2, 3, np.nan]))
    s = (np.full((2, 3), np.nan), None)
    fig = plots.layer_head_heatmaps({"teacher": t, "student": s}, title="drops", label="pp")
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 3 and {im.get_clim() for im in images} == {(-6.0, 6.0)}
    w, h = _size(fig)
    assert w >= 6 and h >= 3.5
    fixed = plots.layer_head_heatmaps({"teacher": t}, vmin=-1, vmax=2)
    assert {im.get_clim() for ax in fixed.axes for im in ax.get_images()} == {(-1.0, 2.0)}
    with pytest.raises(ValueError, match="different numbers of heads"):
        plots.layer_head_heatmaps({"a": (np.zeros((2, 3)), None), "b": (np.zeros((2, 4)), None)})
    with pytest.raises(ValueError):
        plots.layer_head_heatmaps({})


def _edge(sender, receiver, kind):
    from dcirc_utils.methods.discovery import Edge
    return Edge(sender, receiver, kind)


def test_circuit_graph_one_panel_per_input_kind_with_a_legend():
    comps = [Component(0, 1), Component(1, 0), Component(1, -1), Component(2, 2)]
    s, r = Component(0, 1), Component(2, 2)
    edges = [_edge(s, r, "q"), _edge(s, r, "k"), _edge(s, r, "v"), _edge(Component(1, -1), None, "resid")]
    scores = {edges[0]: 0.1, edges[1]: 0.7, edges[2]: 0.5, edges[3]: 0.3}
    fig = plots.circuit_graph(comps, edges, 3, 3, title="t", scores=scores)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    titles = [ax.get_title() for ax in panels]
    assert titles == ["→ query input (q): 1 edges", "→ key input (k): 1 edges", "→ value input (v): 1 edges",
                      "→ MLP input and logits: 1 edges"]
    # the q, k and v edges of the same sender → receiver pair sit in different panels, each drawn (one arrow each)
    arrows = [len(ax.patches) for ax in panels]
    assert arrows == [1, 1, 1, 1]
    widths = [ax.patches[0].get_linewidth() for ax in panels[:3]]
    assert widths[0] > widths[2] > widths[1]                        # width grows with 1 − score
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"→ q", "→ k", "→ v", "→ logits", "width: 1 − edge score"} <= set(labels)
    assert "→ MLP input" not in labels                               # only kinds that occur get a legend entry
    no_q = plots.circuit_graph(comps, edges[1:], 3, 3)
    assert [ax.get_title() for ax in no_q.axes if ax.get_visible()][0] == "→ query input (q): none drawn"
    bare = plots.circuit_graph(comps)
    assert len([ax for ax in bare.axes if ax.get_visible()]) == 1
    with pytest.raises(ValueError, match="not drawn"):
        plots.circuit_graph(comps, [_edge(s, r, "o")], 3, 3)


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
    import matplotlib
    assert plots.text_colour_on((1.0, 1.0, 0.0, 1.0)) == "black"             # yellow
    assert plots.text_colour_on((0.0, 0.0, 0.3, 1.0)) == "white"             # dark blue
    m = np.array([[-1.0, 0.0, 1.0]])
    fig = plots.heatmap(m, annotate=True, cmap="RdBu_r", center=0.0)
    colours = [t.get_color() for t in fig.axes[0].texts]
    assert colours == ["white", "black", "white"]                            # dark blue, white, dark red cells
    fig = plots.heatmap(np.array([[0.0, 1.0]]), annotate=True, cmap="magma")
    assert [t.get_color() for t in fig.axes[0].texts] == ["white", "black"]
    assert matplotlib.colormaps["magma"](0.0)[0] < 0.01


def test_method_diagrams_draw_and_legend_sits_off_the_histogram():
    assert len(plots.path_patching_diagram().axes) == 2
    assert len(plots.mean_ablation_diagram().axes) == 1
    fig = plots.logit_diff_hist({"teacher": [1.0, 2.0, 3.0], "student": [0.5, 1.5]})
    ax = fig.axes[0]
    legend_box = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    assert legend_box.x0 >= ax.get_window_extent().x1 - 1                   # to the right of the axes


def test_exact_vs_estimate_marks_circuit_and_misses():
    from dcirc_utils.methods.attribution import compare
    comps = [Component(0, 0), Component(0, 1), Component(1, -1), Component(1, 0)]
    exact = dict(zip(comps, [-3.0, -0.1, -2.0, 0.05]))
    approx = dict(zip(comps, [-1.0, -1.5, -0.2, 0.0]))
    cmp = compare(exact, approx, [Component(0, 0), Component(1, -1)])
    assert cmp.missed == [Component(1, -1)]                     # the estimate ranks 0.1 above MLP1
    fig = plots.exact_vs_estimate({"teacher": cmp})
    ax = fig.axes[0]
    sizes = [c.get_offsets().shape[0] for c in ax.collections]
    assert sizes == [2, 2, 1]                                   # outside, inside, ringed
    assert "ρ = " in ax.get_title()
    with pytest.raises(ValueError, match="no comparisons"):
        plots.exact_vs_estimate({})
