"""How well a model does a task: accuracy, the task metric per prompt, and the study's prompt filter inputs
(notebooks 01, 05, 08).
"""
from __future__ import annotations

import torch

from ..core.metrics import LogitDiff
from ..models.adapters import ModelAdapter

__all__ = ["evaluate"]


def evaluate(adapter: ModelAdapter, prompts, batch_size: int = 128, corrupted: bool = True, bos: bool = False) -> dict:
    """Accuracy and metric of one model on a prompt set, clean and corrupted (notebooks 01 and 05).

    Args:
        adapter: the model.
        prompts: a :class:`~dcirc_utils.core.tasks.PromptSet`.
        batch_size: prompts per forward pass.
        corrupted: also run the corrupted prompts (``corrupted_value``); ``False`` skips that forward pass and
            reports ``nan``.
        bos: prepend the tokenizer's BOS token.

    Returns:
        ``{"n", "accuracy", "value", "value_std", "corrupted_value", "p_correct", "per_prompt", "end_logits"}``:
        ``value`` is the mean task metric (Δl for logit-difference tasks), ``per_prompt`` its values (a list),
        ``p_correct`` the mean probability of the correct answer (``nan`` for metrics without one correct token),
        ``end_logits`` the clean answer-position logits ``[batch, d_vocab]`` (for ``tasks.filter_prompts``).
    """
    prompts.check_family(adapter.family)
    tok = adapter.tokenizer
    metric = prompts.metric(tok)
    out = {}
    for which in ("clean", "corrupted") if corrupted else ("clean",):
        out[which] = adapter.readout_logits(prompts.tokens(tok, which, bos=bos), batch_size=batch_size)
    clean = out["clean"]
    ids = None if metric.ids is None else metric.ids

    def values(logits):
        return metric(logits if ids is None else logits.gather(-1, ids))

    per = values(clean)
    p = (clean.softmax(-1).gather(-1, ids[:, :1])[:, 0].mean() if isinstance(metric, LogitDiff)
         else torch.tensor(float("nan")))
    return {"n": len(prompts), "accuracy": float(metric.correct(clean).float().mean()), "value": float(per.mean()),
            "value_std": float(per.std()) if len(per) > 1 else 0.0,
            "corrupted_value": float(values(out["corrupted"]).mean()) if corrupted else float("nan"),
            "p_correct": float(p), "per_prompt": per.tolist(), "end_logits": clean}
