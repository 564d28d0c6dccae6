"""The two recipes for A (dcirc_utils.methods.recipes): the study's ingredients against hand computations (tie rules,
rescaling, duplicated heads, normalisation over the list with repeats) and both recipes end to end on the mini pair."""
from __future__ import annotations

import math

import pytest
import torch

from dcirc_utils.core.components import Component
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine
from dcirc_utils.methods.recipes import (COURSE, STUDY_IOI, STUDY_QA, STUDY_SEQUENCE, Recipe, argmax_tie,
                                         influence_scores, recipe_alignment, recipe_alignment_from_parts,
                                         rescale_mlp_similarities, study_recipe_for)


def test_tie_rules():
    row = torch.tensor([0.2, 0.9, 0.1, 0.9])
    assert argmax_tie(row, "first") == 1 and argmax_tie(row, "last") == 3
    with pytest.raises(ValueError, match="tie"):
        argmax_tie(row, "middle")


def test_rescaling_hand_computed():
    raw = torch.tensor([[0.1, 0.3], [0.2, 0.4]])           # mean 0.25, population std sqrt(0.0125)
    heads = torch.tensor([[0.5, 0.7], [0.9, 0.7]])         # mean 0.7, unbiased std sqrt(0.08/3)
    z = (raw.double() - 0.25) / math.sqrt(0.0125)
    adj = z * math.sqrt(0.08 / 3) + 0.7
    torch.testing.assert_close(rescale_mlp_similarities(raw, heads), (adj / adj.max()).float())
    assert float(rescale_mlp_similarities(raw, heads).max()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="undefined"):
        rescale_mlp_similarities(torch.full((2, 2), 0.3), heads)


def _parts():
    # student: 1 layer x 2 heads + MLP0; teacher: 2 layers x 1 head + MLP0, MLP1
    head_sim = torch.tensor([[0.97, 0.20], [0.50, 0.90]])  # S0.0 -> T0.0 (0.97); S0.1 -> T1.0 (0.90 < 0.95)
    mlp = torch.tensor([[0.10], [0.05]])                    # S-MLP0 -> T-MLP0 (0.10)
    s_infl = {Component(0, 0): 2.0, Component(0, 1): 1.0, Component(0): 1.0}
    t_infl = {Component(0, 0): 3.0, Component(1, 0): 1.0, Component(0): 0.0, Component(1): 4.0}
    return head_sim, mlp, s_infl, t_infl


def test_study_list_with_duplicates_and_normalisation_over_it():
    head_sim, mlp, s_infl, t_infl = _parts()
    recipe = Recipe("test", normalise_over="matched", mlp_similarity="study_raw", duplicate_below=0.95)
    res = recipe_alignment_from_parts(recipe, head_sim, mlp, s_infl, t_infl, 2, 1)
    # M = [S0.0/T0.0 .97, S0.1/T1.0 .90, SMLP0/TMLP0 .10, S0.1/T1.0 .90 (repeat)]
    assert [(str(r["student"]), str(r["teacher"])) for r in res.rows] == [("0.0", "0.0"), ("0.1", "1.0"),
                                                                          ("MLP0", "MLP0"), ("0.1", "1.0")]
    assert res.n_duplicates == 1
    # over M with repeats: Σ I_S = 2 + 1 + 1 + 1 = 5 ; Σ I_T = 3 + 1 + 0 + 1 = 5
    i_s, i_t = [0.4, 0.2, 0.2, 0.2], [0.6, 0.2, 0.0, 0.2]
    S = [0.97, 0.90, 0.10, 0.90]
    expected = sum(s * (1 - abs(a - b)) for s, a, b in zip(S, i_s, i_t)) / 4
    assert res.value == pytest.approx(expected)
    assert res.mean_similarity == pytest.approx(sum(S) / 4)
    # the course's normalisation: over every component of each model, no repeats
    course = recipe_alignment_from_parts(COURSE, head_sim, mlp, s_infl, t_infl, 2, 1)
    assert len(course.rows) == 3 and course.n_duplicates == 0
    i_s, i_t = [0.5, 0.25, 0.25], [0.375, 0.125, 0.0]
    expected = sum(s * (1 - abs(a - b)) for s, a, b in zip([0.97, 0.90, 0.10], i_s, i_t)) / 3
    assert course.value == pytest.approx(expected)


def test_recipe_presets_follow_the_spec():
    assert (STUDY_SEQUENCE.ablation, STUDY_SEQUENCE.mlp_similarity, STUDY_SEQUENCE.tie,
            STUDY_SEQUENCE.duplicate_below) == ("mean", "study_rescaled", "last", 0.95)
    assert (STUDY_IOI.ablation, STUDY_IOI.clamp_mlp, STUDY_IOI.mlp_similarity, STUDY_IOI.tie,
            STUDY_IOI.duplicate_below) == ("zero", "teacher", "study_raw", "first", None)
    assert (STUDY_QA.ablation, STUDY_QA.clamp_mlp) == ("zero", "both")
    assert study_recipe_for("number_words") is STUDY_SEQUENCE
    with pytest.raises(ValueError, match="no study recipe"):
        study_recipe_for("translation")
    with pytest.raises(ValueError, match="ablation"):
        Recipe("bad", ablation="resample")


def test_influences_rounding_and_clamping(mini_pair):
    ps = make_prompts(8, seed=4, tokenizer=mini_pair.tokenizer)
    engine = Engine.for_prompts(mini_pair.student, ps, progress=False)
    plain = influence_scores(engine, COURSE, "student")
    drops = engine.ablation_scan()
    for c, v in drops.items():
        assert plain[c] == pytest.approx(abs(engine.score(v) - 100.0), abs=1e-9)
    rounded = influence_scores(engine, STUDY_SEQUENCE, "student")
    assert all(rounded[c] == round(plain[c], 2) for c in plain)
    zero = influence_scores(engine, STUDY_QA, "student")
    zero_scan = engine.evaluate([engine.zero_ablation([c]) for c in engine.components])
    for c, v in zip(engine.components, zero_scan.tolist()):
        score = max(engine.score(v), 0.0) if c.is_mlp else engine.score(v)
        assert zero[c] == round(abs(score - 100.0), 2)
    with pytest.raises(ValueError, match="role"):
        influence_scores(engine, COURSE, "assistant")


def test_both_recipes_end_to_end_and_a_model_against_itself(mini_pair):
    ps = make_prompts(10, seed=5, tokenizer=mini_pair.tokenizer)
    s = mini_pair.student
    course_self = recipe_alignment(s, s, ps, COURSE)
    assert course_self.value == pytest.approx(1.0, abs=1e-5)        # every component matched to itself, S = 1
    study = recipe_alignment(mini_pair.teacher, s, ps, STUDY_SEQUENCE)
    course = recipe_alignment(mini_pair.teacher, s, ps, COURSE)
    assert len(course.rows) == s.n_layers * (s.n_heads + 1)
    assert len(study.rows) == len(course.rows) + study.n_duplicates
    assert 0 < study.value <= 1 and 0 < course.value < 1
    assert max(r["similarity"] for r in study.rows if r["kind"] == "mlp") == pytest.approx(1.0)  # rescaled
