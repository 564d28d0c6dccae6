"""Checkers for the notebooks' exercises (ARENA style): a participant writes a function, the checker compares it
with the package's reference on random tensors and says what differs.

Each ``check_*`` raises ``AssertionError`` with a hint when the participant's function is wrong and prints a short
confirmation otherwise.
"""
from __future__ import annotations

from typing import Callable

import torch

from .metrics import logit_diff

__all__ = ["check_logit_diff", "check_mean_ablation_hook"]


def check_logit_diff(fn: Callable, trials: int = 5, seed: int = 0) -> None:
    """Notebook 01: ``fn(logits [batch pos vocab], correct [batch], incorrect [batch]) -> scalar`` must equal
    :func:`dcirc_utils.metrics.logit_diff`."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(trials):
        b, p, v = (int(x) for x in torch.randint(2, 9, (3,), generator=g))
        logits = torch.randn(b, p, v, generator=g)
        c, i = torch.randint(0, v, (b,), generator=g), torch.randint(0, v, (b,), generator=g)
        want, got = float(logit_diff(logits, c, i)), float(fn(logits, c, i))
        if abs(want - got) > 1e-5:
            hint = ""
            if abs(float(logit_diff(logits[:, :1], c, i)) - got) < 1e-5:
                hint = " You read the first position; the answer is predicted at the last one (logits[:, -1])."
            raise AssertionError(f"logit difference {got:.5f}, expected {want:.5f}.{hint}")
    print("check_logit_diff: correct on", trials, "random batches")


def check_mean_ablation_hook(make_hook: Callable, trials: int = 3, seed: int = 0) -> None:
    """Notebook 02: ``make_hook(head, mean) -> hook(z, hook)`` must replace head ``head`` of ``z`` [batch pos
    head d_head] by ``mean`` [pos d_head] at every position and leave the other heads untouched."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(trials):
        z = torch.randn(4, 5, 3, 2, generator=g)
        head = int(torch.randint(0, 3, (1,), generator=g))
        mean = torch.randn(5, 2, generator=g)
        out = make_hook(head, mean)(z.clone(), None)
        if out is None:
            raise AssertionError("the hook returned None: return the (edited) activation")
        want = z.clone()
        want[:, :, head] = mean
        others = [h for h in range(3) if h != head]
        if not torch.allclose(out[:, :, others], z[:, :, others]):
            raise AssertionError("heads other than the ablated one changed: edit only z[:, :, head]")
        if not torch.allclose(out, want):
            raise AssertionError("the ablated head does not equal the mean at every position")
    print("check_mean_ablation_hook: correct on", trials, "random activations")
