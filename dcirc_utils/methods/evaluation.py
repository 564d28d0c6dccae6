"""How well a model does a task: accuracy, the task metric per prompt, and the study's prompt filter inputs
(notebooks 01, 05, 08). (``Engine.evaluate`` is another thing: the metric under patches.)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from ..core.metrics import LogitDiff
from ..core.records import Record
from ..models.adapters import ModelAdapter

__all__ = ["TaskEvaluation", "evaluate_task"]


@dataclass(frozen=True, eq=False)
class TaskEvaluation(Record):
    """How one model does on one prompt set (:func:`evaluate_task`). Also a read-only mapping of its field names
    (``ev["accuracy"]`` is ``ev.accuracy``; :class:`~dcirc_utils.core.records.Record`), so that tables and records
    take it as they take a dict.

    Attributes:
        n: prompts.
        accuracy: share of prompts whose correct answer is the model's top output.
        value: the mean task metric on the clean prompts (Δl for logit-difference tasks); ``value_std`` its standard
            deviation over prompts (0 for one prompt); ``per_prompt`` its values.
        corrupted_value: the mean metric on the corrupted prompts (``nan`` when they were not run).
        p_correct: the mean probability of the correct answer (``nan`` for metrics without one correct token).
        end_logits: the clean answer-position logits (for ``tasks.filter_prompts``).
    """

    n: int
    accuracy: float
    value: float
    value_std: float
    corrupted_value: float
    p_correct: float
    per_prompt: list[float]
    end_logits: Float[Tensor, "batch d_vocab"]


def evaluate_task(adapter: ModelAdapter, prompts, batch_size: int = 128, corrupted: bool = True,
                  bos: bool = False) -> TaskEvaluation:
    """Accuracy and metric of one model on a prompt set, clean and corrupted (notebooks 01 and 05).

    Args:
        adapter: the model.
        prompts: a :class:`~dcirc_utils.core.tasks.PromptSet`.
        batch_size: prompts per forward pass.
        corrupted: also run the corrupted prompts (``corrupted_value``); ``False`` skips that forward pass and
            reports ``nan``.
        bos: prepend the tokenizer's BOS token.

    Returns:
        :class:`TaskEvaluation`.
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
    return TaskEvaluation(n=len(prompts), accuracy=float(metric.correct(clean).float().mean()),
                          value=float(per.mean()), value_std=float(per.std()) if len(per) > 1 else 0.0,
                          corrupted_value=float(values(out["corrupted"]).mean()) if corrupted else float("nan"),
                          p_correct=float(p), per_prompt=per.tolist(), end_logits=clean)
