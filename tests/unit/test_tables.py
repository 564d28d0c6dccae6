"""report/tables: the generic frame and the builders of each module (evaluation, circuits, brittleness, alignment)."""
import math

import pytest
import torch

from dcirc_utils.core.components import Component
from dcirc_utils.methods.discovery import Circuit
from dcirc_utils.methods.heads import role_table
from dcirc_utils.methods.recipes import COURSE, STUDY_IOI, STUDY_SEQUENCE
from dcirc_utils.report.tables import (circuit_diff_table, drop_summary, frame, init_map_table, offline_eval_table,
                                       recipe_table, role_ranking_table, sweep_table, token_share_table)


# --------------------------------------------------------------------------------------------- base
def test_frame_of_no_rows_is_an_empty_table_and_a_missing_index_is_named():
    # notebook 05 shows its per-set table even when no set was measured (a pair that does not solve the task)
    empty = frame([], index="model", digits=2)
    assert len(empty) == 0 and empty.index.name == "model"
    with pytest.raises(ValueError, match="'model'"):
        frame([{"name": "a", "x": 1.0}], index="model")
    assert frame([{"model": "a", "x": 1.23456}], index="model", digits=2).loc["a", "x"] == 1.23


# --------------------------------------------------------------------------------------------- evaluation
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


# --------------------------------------------------------------------------------------------- circuits
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


def test_role_ranking_table_marks_ranks_and_reference():
    scores = {"mover": torch.tensor([[0.1, 0.9], [0.5, 0.2]]), "dup": torch.tensor([[0.3, 0.0], [0.0, 0.8]])}
    other = {"mover": torch.tensor([[0.7, 0.1]]), "dup": torch.tensor([[0.2, 0.25]])}
    df = role_ranking_table({"T": role_table(scores, top_k=2), "S": role_table(other, top_k=2)},
                            reference={"mover": ["7.11"]}, marked={"T": [Component(0, 1)]})
    assert list(df.index) == ["mover", "dup"]
    assert list(df.columns) == ["study", "T top 1", "T top 2", "S top 1", "S top 2"]
    assert df.loc["mover", "T top 1"] == "0.1* 0.90"
    assert df.loc["mover", "T top 2"] == "1.0 0.50"
    assert df.loc["dup", "S top 1"] == "0.1 0.25"
    assert df.loc["mover", "study"] == "7.11" and df.loc["dup", "study"] == ""


def test_role_ranking_table_without_reference_and_short_rankings():
    rows = [{"role": "a", "rank": 1, "head": Component(0, 0), "score": 0.5}]
    second = {"role": "a", "rank": 2, "head": Component(0, 1), "score": 0.375}
    df = role_ranking_table({"T": rows, "S": rows + [second]}, digits=1)
    assert list(df.columns) == ["T top 1", "S top 1", "S top 2"]
    assert df.loc["a", "S top 2"] == "0.1 0.4" and df.loc["a", "T top 1"] == "0.0 0.5"


def test_role_ranking_table_rejects_rows_without_keys():
    with pytest.raises(ValueError, match="lacks"):
        role_ranking_table({"T": [{"role": "a", "head": Component(0, 0)}]})


# --------------------------------------------------------------------------------------------- brittleness
def test_drop_summary_clips_like_the_study():
    from dcirc_utils.core.components import Component as C
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


# --------------------------------------------------------------------------------------------- alignment
def test_recipe_table_marks_shared_choices():
    df = recipe_table([COURSE, STUDY_SEQUENCE, STUDY_IOI])
    assert list(df.columns) == ["what it decides", COURSE.name, STUDY_SEQUENCE.name, STUDY_IOI.name, "same in all"]
    assert df.loc["bos", "same in all"] == "yes" and df.loc["ablation", "same in all"] == "no"
    assert df.loc["duplicate_below", COURSE.name] == "—" and df.loc["duplicate_below", STUDY_SEQUENCE.name] == "0.95"
    with pytest.raises(ValueError, match="distinct names"):
        recipe_table([COURSE, COURSE])
    with pytest.raises(ValueError, match="at least one"):
        recipe_table([])


def test_init_map_table_counts_recovered_heads():
    from dcirc_utils.core.components import Component as C
    from dcirc_utils.methods.matching import Match
    heads = [Match(C(0, 0), C(0, 0), 1.0), Match(C(0, 1), C(0, 0), 0.8), Match(C(1, 0), C(2, 0), 0.9),
             Match(C(1, 1), C(2, 1), 0.7)]
    mlps = [Match(C(0), C(0), 0.99), Match(C(1), C(1), 0.5)]
    df = init_map_table(heads, mlps, [0, 2])
    assert df.loc[0, "heads matched to their source"] == 1 and df.loc[1, "heads matched to their source"] == 2
    assert df.loc[1, "copied from block"] == 2 and df.loc[1, "its MLP matched to"] == "MLP1"
    assert df.loc[0, "mean S of its heads"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="layer_map has 1"):
        init_map_table(heads, mlps, [0])
