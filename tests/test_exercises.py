import pytest
import torch

from dcirc_utils.exercises import check_logit_diff, check_mean_ablation_hook
from dcirc_utils.metrics import logit_diff


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
