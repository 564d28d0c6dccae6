"""The report helpers added for notebooks 00-02: offline-pair tables, circuit differences and projector figures."""
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
