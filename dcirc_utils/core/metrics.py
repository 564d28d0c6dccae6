"""Task metrics: the study's logit difference Δl, scores as a percentage of the clean value, and metric objects.

A *metric object* (:class:`LogitDiff`, :class:`ProbDiff`) says which logits a task needs at the answer position and
how they reduce to one number per prompt. The engine (``dcirc_utils.engine``) takes one, so a new task metric is a
new class here, not an edit of the engine; every task's :class:`~dcirc_utils.core.tasks.PromptSet` names its own
(``PromptSet.metric(tokenizer)``). Pure tensor code; used by every notebook.
"""
from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["logit_diff", "logit_diff_per_prompt", "score_percent", "accuracy", "check_baseline",
           "DegenerateBaselineError", "MIN_CLEAN_LOGIT_DIFF", "MIN_DL", "Metric", "LogitDiff", "ProbDiff"]

#: A clean Δl whose magnitude is below this cannot serve as the 100% reference of a score.
MIN_CLEAN_LOGIT_DIFF = 1e-3

#: A model "solves" a Δl task when its mean clean Δl is at least this many logits (notebooks 05–07): below it, its
#: influences and the percentages of its Δl mean nothing, so no spread or alignment is measured on it.
MIN_DL = 1.0


class DegenerateBaselineError(ValueError):
    """Raised when a clean Δl is too close to zero for a percentage of it to mean anything."""


def _end_logits(logits: Tensor) -> Tensor:
    return logits[:, -1, :] if logits.ndim == 3 else logits


def logit_diff_per_prompt(logits: Float[Tensor, "batch pos d_vocab"] | Float[Tensor, "batch d_vocab"],
                          correct: Int[Tensor, "batch"], incorrect: Int[Tensor, "batch"]) -> Float[Tensor, "batch"]:
    """logit[end, correct] − logit[end, incorrect] for each prompt.

    Args:
        logits: model logits for all positions, or already the final position's.
        correct, incorrect: answer token ids, one per prompt.
    """
    end = _end_logits(logits)
    if end.shape[0] != correct.shape[0] or correct.shape != incorrect.shape:
        raise ValueError(f"{end.shape[0]} prompts of logits but {correct.shape[0]} correct and "
                         f"{incorrect.shape[0]} incorrect answer ids: pass one id of each per prompt")
    idx = torch.arange(end.shape[0], device=end.device)
    return end[idx, correct.to(end.device)] - end[idx, incorrect.to(end.device)]


def logit_diff(logits, correct, incorrect) -> Float[Tensor, ""]:
    """Δl = mean over prompts of logit[end, correct] − logit[end, incorrect] (the study's metric)."""
    return logit_diff_per_prompt(logits, correct, incorrect).mean()


def score_percent(patched: float | Tensor, clean: float | Tensor) -> float | Tensor:
    """100 · Δl_patched / Δl_clean.

    Raises:
        DegenerateBaselineError: if ``|clean| < MIN_CLEAN_LOGIT_DIFF``: the model does not separate the answers,
            so a percentage of its Δl is meaningless. Use a model that solves the task (or filter the prompts).
    """
    c = check_baseline(clean)
    return 100.0 * patched / c


def check_baseline(clean: float | Tensor, what: str = "logit difference") -> float:
    """``clean`` as a float, checked to be usable as the 100 % reference of scores (engine and :func:`score_percent`).

    Raises:
        DegenerateBaselineError: if ``|clean| < MIN_CLEAN_LOGIT_DIFF`` or it is NaN.
    """
    c = float(clean)
    if not abs(c) >= MIN_CLEAN_LOGIT_DIFF:  # also catches NaN
        raise DegenerateBaselineError(
            f"clean {what} is {c:.3g}, too close to zero to serve as the 100% reference (|value| < "
            f"{MIN_CLEAN_LOGIT_DIFF}): the model does not prefer the correct answer, so scores as % of it mean "
            "nothing. Use a model that solves the task or filter the prompts (tasks.filter_prompts); engines take "
            "check_baseline=False only to inspect raw values.")
    return c


def accuracy(logits, correct: Int[Tensor, "batch"]) -> float:
    """Fraction of prompts whose top-1 final-position token is the correct answer."""
    end = _end_logits(logits)
    return float((end.argmax(-1) == correct.to(end.device)).float().mean())



# --------------------------------------------------------------------------------------------- metric objects
class Metric:
    """What a task reads at the answer position, one number per prompt (the engine's readout).

    Attributes:
        ids: ``[batch, k]`` token ids whose logits the metric needs, or ``None`` for the whole vocabulary.
        name: a short label for tables ("Δl", "P(>YY) − P(≤YY)").
    """

    ids: Tensor | None = None
    name: str = "metric"

    def __call__(self, logits: Float[Tensor, "... batch k"]) -> Float[Tensor, "... batch"]:
        """Per-prompt values from the logits of :attr:`ids` (or of the whole vocabulary)."""
        raise NotImplementedError

    def correct(self, logits_full: Float[Tensor, "batch d_vocab"]) -> Tensor:
        """Per prompt, whether the model's top-1 token is a right answer (accuracy)."""
        raise NotImplementedError

    def rows(self, prompts: slice, repeat: int = 1) -> "Metric":
        """The same metric for the prompts ``prompts``, tiled ``repeat`` times (the engine's batched variants)."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class LogitDiff(Metric):
    """Δl = logit(correct) − logit(incorrect) per prompt (the study's metric; the engine's default).

    Args:
        correct, incorrect: ``[batch]`` token ids.

    Raises:
        ValueError: if the two do not have one id per prompt each.
    """

    name = "Δl"

    def __init__(self, correct: Int[Tensor, "batch"], incorrect: Int[Tensor, "batch"]):
        correct, incorrect = torch.as_tensor(correct).long(), torch.as_tensor(incorrect).long()
        if correct.ndim != 1 or correct.shape != incorrect.shape:
            raise ValueError(f"correct {tuple(correct.shape)} and incorrect {tuple(incorrect.shape)} must be [batch] "
                             "token ids, one of each per prompt")
        self.ids = torch.stack([correct, incorrect], dim=-1)

    def __call__(self, logits: Float[Tensor, "... batch 2"]) -> Float[Tensor, "... batch"]:
        return logits[..., 0] - logits[..., 1]

    def correct(self, logits_full: Float[Tensor, "batch d_vocab"]) -> Tensor:
        return logits_full.argmax(-1) == self.ids[:, 0].to(logits_full.device)

    def rows(self, prompts: slice, repeat: int = 1) -> "LogitDiff":
        ids = self.ids[prompts].repeat(repeat, 1)
        return LogitDiff(ids[:, 0], ids[:, 1])

    def __len__(self) -> int:
        return self.ids.shape[0]


class ProbDiff(Metric):
    """Σ p(good answers) − Σ p(bad answers) per prompt, from the softmax over the whole vocabulary (Hanna et al.'s
    greater-than metric: good = the years after the start year, bad = the years up to it).

    Args:
        good, bad: ``[batch, d_vocab]`` boolean masks of the right and wrong answer tokens of each prompt (disjoint).

    Raises:
        ValueError: on shapes that differ or masks that overlap.
    """

    name = "P(good) − P(bad)"
    ids = None

    def __init__(self, good: Tensor, bad: Tensor):
        good, bad = torch.as_tensor(good, dtype=torch.bool), torch.as_tensor(bad, dtype=torch.bool)
        if good.ndim != 2 or good.shape != bad.shape:
            raise ValueError(f"good {tuple(good.shape)} and bad {tuple(bad.shape)} must be [batch, d_vocab] masks")
        if bool((good & bad).any()):
            raise ValueError("a token is both a good and a bad answer of the same prompt: the masks must be disjoint")
        self.good, self.bad = good, bad

    def __call__(self, logits: Float[Tensor, "... batch d_vocab"]) -> Float[Tensor, "... batch"]:
        p = logits.float().softmax(-1)
        good, bad = self.good.to(p.device), self.bad.to(p.device)
        return (p * good).sum(-1) - (p * bad).sum(-1)

    def correct(self, logits_full: Float[Tensor, "batch d_vocab"]) -> Tensor:
        top = logits_full.argmax(-1).cpu()
        return self.good[torch.arange(len(top)), top]

    def rows(self, prompts: slice, repeat: int = 1) -> "ProbDiff":
        return ProbDiff(self.good[prompts].repeat(repeat, 1), self.bad[prompts].repeat(repeat, 1))

    def __len__(self) -> int:
        return self.good.shape[0]
