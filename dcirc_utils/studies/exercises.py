"""Checkers for the notebooks' exercises (ARENA style): a participant writes a function, the checker compares it
with the package's reference on random tensors and says what differs.

Each ``check_*`` raises ``AssertionError`` with a hint when the participant's function is wrong and prints a short
confirmation otherwise.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..core.metrics import logit_diff
from ..methods.heads import number_mover_scores

__all__ = ["check_logit_diff", "check_mean_ablation_hook", "check_number_mover_score"]


def check_logit_diff(fn: Callable, trials: int = 5, seed: int = 0) -> None:
    """Notebook 01: ``fn(logits [batch pos vocab], correct [batch], incorrect [batch]) -> scalar`` must equal
    :func:`dcirc_utils.core.metrics.logit_diff`."""
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


def _random_patterns(n_layers: int, batch: int, n_heads: int, pos: int, g: torch.Generator) -> torch.Tensor:
    """Causal softmax patterns [layer, batch, head, q, k] with rows summing to 1."""
    scores = 3 * torch.randn(n_layers, batch, n_heads, pos, pos, generator=g)
    future = torch.triu(torch.ones(pos, pos, dtype=torch.bool), diagonal=1)
    return scores.masked_fill(future, float("-inf")).softmax(-1)


def check_number_mover_score(fn: Callable, trials: int = 5, seed: int = 0) -> None:
    """Notebook 03: ``fn(patterns [layer batch head q k], is_number [batch pos] bool) -> [layer head]`` must equal
    :func:`dcirc_utils.methods.heads.number_mover_scores`: the attention mass from the final position onto the number
    tokens, averaged over prompts."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(trials):
        n_layers, batch, n_heads, pos = (int(x) for x in torch.randint(2, 7, (4,), generator=g))
        tokens = torch.randint(0, 8, (batch, pos), generator=g)
        element_ids = [1, 2, 3]
        is_number = torch.isin(tokens, torch.tensor(element_ids))
        patterns = _random_patterns(n_layers, batch, n_heads, pos, g)
        want = number_mover_scores(None, tokens, element_ids=element_ids, patterns=patterns)
        got = fn(patterns.clone(), is_number.clone())
        got = torch.as_tensor(got, dtype=want.dtype)
        if got.shape != want.shape:
            raise AssertionError(f"your score has shape {tuple(got.shape)}, expected [layer, head] = "
                                 f"{tuple(want.shape)}: average over prompts (dim 1) and sum over keys")
        if not torch.allclose(got, want, atol=1e-5):
            hint = ""
            first = (patterns[..., 0, :] * is_number[None, :, None].float()).sum(-1).mean(1)
            everything = (patterns[..., -1, :]).sum(-1).mean(1)
            all_queries = (patterns * is_number[None, :, None, None].float()).sum(-1).mean(dim=(1, 3))
            if torch.allclose(got, first, atol=1e-5):
                hint = " You read query position 0; the answer is predicted at the final position (q = -1)."
            elif torch.allclose(got, everything, atol=1e-5):
                hint = " You summed over every key; keep only the keys that hold a number (is_number)."
            elif torch.allclose(got, all_queries, atol=1e-5):
                hint = " You averaged over every query position; use only the final one (q = -1)."
            raise AssertionError(f"number-mover scores differ from the reference by up to "
                                 f"{float((got - want).abs().max()):.4f}.{hint}")
    print("check_number_mover_score: correct on", trials, "random pattern sets")
