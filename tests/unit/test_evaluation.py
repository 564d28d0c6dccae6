"""methods.evaluation: a model's accuracy and metric on a prompt set, as a named result."""
from __future__ import annotations

import math

import pytest
import torch

from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.methods.evaluation import TaskEvaluation, evaluate_task


def test_evaluate_task_against_its_own_logits(mini_pair):
    ps = make_prompts(8, 0, tokenizer=mini_pair.tokenizer)
    ev = evaluate_task(mini_pair.teacher, ps)
    assert isinstance(ev, TaskEvaluation) and ev.n == 8 == len(ev.per_prompt)
    ids = ps.metric(mini_pair.tokenizer).ids                     # [batch, 2]: correct, incorrect answer tokens
    picked = ev.end_logits.gather(-1, ids)
    dl = picked[:, 0] - picked[:, 1]
    assert ev.per_prompt == pytest.approx(dl.tolist(), abs=1e-5) and ev.value == pytest.approx(float(dl.mean()), abs=1e-5)
    top1 = (ev.end_logits.argmax(-1) == ids[:, 0]).float().mean()
    assert ev.accuracy == pytest.approx(float(top1))
    assert ev.p_correct == pytest.approx(float(ev.end_logits.softmax(-1).gather(-1, ids[:, :1]).mean()), abs=1e-6)
    assert not math.isnan(ev.corrupted_value)
    assert math.isnan(evaluate_task(mini_pair.teacher, ps, corrupted=False).corrupted_value)


def test_a_task_evaluation_reads_as_a_mapping_of_its_fields():
    ev = TaskEvaluation(2, 0.5, 1.0, 0.1, -1.0, 0.4, [0.9, 1.1], torch.zeros(2, 3))
    assert ev["accuracy"] == ev.accuracy == 0.5 and list(ev) == ["n", "accuracy", "value", "value_std",
                                                                 "corrupted_value", "p_correct", "per_prompt",
                                                                 "end_logits"]
    assert {**ev}["value"] == 1.0 and len(ev) == 8
    with pytest.raises(KeyError, match="a TaskEvaluation has"):
        ev["logit_diff"]
