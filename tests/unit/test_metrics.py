import pytest
import torch

from dcirc_utils.core.metrics import (DegenerateBaselineError, LogitDiff, ProbDiff, accuracy, logit_diff,
                                      logit_diff_per_prompt, score_percent)


def test_logit_diff_hand_computed():
    logits = torch.zeros(2, 3, 5)
    logits[0, -1] = torch.tensor([0.0, 2.0, -1.0, 0.5, 0.0])
    logits[1, -1] = torch.tensor([1.0, 0.0, 0.0, 5.0, 4.0])
    logits[0, 0, 1] = 100.0  # earlier positions must not matter
    correct, incorrect = torch.tensor([1, 4]), torch.tensor([2, 3])
    # prompt 0: 2 - (-1) = 3 (top-1 correct); prompt 1: 4 - 5 = -1 (top-1 is token 3); mean 1
    assert logit_diff_per_prompt(logits, correct, incorrect).tolist() == [3.0, -1.0]
    assert float(logit_diff(logits, correct, incorrect)) == 1.0
    assert accuracy(logits, correct) == 0.5


def test_score_percent_and_degenerate_baseline():
    assert score_percent(1.5, 2.0) == 75.0
    with pytest.raises(DegenerateBaselineError, match="too close to zero"):
        score_percent(1.0, 1e-6)
    with pytest.raises(DegenerateBaselineError):
        score_percent(1.0, float("nan"))


def test_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match="one id of each per prompt"):
        logit_diff(torch.zeros(3, 4, 5), torch.tensor([1, 2]), torch.tensor([0, 0]))


def test_logit_diff_metric_object_and_rows():
    m = LogitDiff(torch.tensor([1, 4]), torch.tensor([2, 3]))
    logits = torch.tensor([[0.0, 2.0, -1.0, 0.5, 0.0], [1.0, 0.0, 0.0, 5.0, 4.0]])
    assert m(logits.gather(-1, m.ids)).tolist() == [3.0, -1.0]
    assert m.correct(logits).tolist() == [True, False]
    tiled = m.rows(slice(1, 2), repeat=3)             # prompt 1, three variants
    assert tiled.ids.tolist() == [[4, 3]] * 3 and len(tiled) == 3
    with pytest.raises(ValueError, match="one of each per prompt"):
        LogitDiff(torch.tensor([1, 2]), torch.tensor([1]))


def test_prob_diff_hand_computed():
    good = torch.tensor([[False, True, True], [False, False, True]])
    bad = torch.tensor([[True, False, False], [True, True, False]])
    m = ProbDiff(good, bad)
    logits = torch.log(torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]))
    # prompt 0: (0.3 + 0.5) − 0.2 = 0.6; prompt 1: 0.3 − (0.6 + 0.1) = −0.4
    torch.testing.assert_close(m(logits), torch.tensor([0.6, -0.4]))
    assert m.correct(logits).tolist() == [True, False]
    assert m.ids is None and len(m.rows(slice(0, 1), 2)) == 2
    with pytest.raises(ValueError, match="disjoint"):
        ProbDiff(good, good)
