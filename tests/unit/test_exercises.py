import pytest
import torch

from dcirc_utils.core.metrics import logit_diff
from dcirc_utils.methods.heads import number_mover_scores
from dcirc_utils.studies.exercises import check_logit_diff, check_mean_ablation_hook, check_number_mover_score


def test_logit_diff_checker_accepts_reference_and_rejects_wrong():
    check_logit_diff(logit_diff)
    with pytest.raises(AssertionError, match="last one"):
        check_logit_diff(lambda lg, c, i: logit_diff(lg[:, :1], c, i))
    with pytest.raises(AssertionError):
        check_logit_diff(lambda lg, c, i: -logit_diff(lg, c, i))


def test_mean_ablation_checker():
    def good(head, mean):
        def hook(z, hook):
            z[:, :, head] = mean
            return z
        return hook

    def bad(head, mean):
        def hook(z, hook):
            z[:] = 0
            return z
        return hook

    check_mean_ablation_hook(good)
    with pytest.raises(AssertionError, match="other than"):
        check_mean_ablation_hook(bad)
    with pytest.raises(AssertionError, match="returned None"):
        check_mean_ablation_hook(lambda h, m: (lambda z, hook: None))


def test_number_mover_checker_accepts_reference_and_rejects_wrong():
    def reference(patterns, is_number):
        # the library's function, with the mask turned back into tokens and element ids
        return number_mover_scores(None, is_number.long(), element_ids=[1], patterns=patterns)

    def good(patterns, is_number):
        return (patterns[..., -1, :] * is_number[None, :, None, :]).sum(-1).mean(1)

    check_number_mover_score(reference)
    check_number_mover_score(good)
    with pytest.raises(AssertionError, match="query position 0"):
        check_number_mover_score(lambda p, m: (p[..., 0, :] * m[None, :, None, :]).sum(-1).mean(1))
    with pytest.raises(AssertionError, match="every key"):
        check_number_mover_score(lambda p, m: p[..., -1, :].sum(-1).mean(1))
    with pytest.raises(AssertionError, match="every query"):
        check_number_mover_score(lambda p, m: (p * m[None, :, None, None]).sum(-1).mean(dim=(1, 3)))
    with pytest.raises(AssertionError, match="shape"):
        check_number_mover_score(lambda p, m: (p[..., -1, :] * m[None, :, None, :]).sum(-1))
