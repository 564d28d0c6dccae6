"""The study's metric: logit difference Δl and scores as a percentage of the clean Δl (every notebook)."""
from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["logit_diff", "logit_diff_per_prompt", "score_percent", "accuracy", "evaluate", "DegenerateBaselineError",
           "MIN_CLEAN_LOGIT_DIFF"]

#: A clean Δl whose magnitude is below this cannot serve as the 100% reference of a score.
MIN_CLEAN_LOGIT_DIFF = 1e-3


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
    c = float(clean)
    if not abs(c) >= MIN_CLEAN_LOGIT_DIFF:  # also catches NaN
        raise DegenerateBaselineError(
            f"clean logit difference is {c:.3g}, too close to zero to divide by (|Δl| < {MIN_CLEAN_LOGIT_DIFF}): the "
            "model does not prefer the correct answer over the last element, so scores as % of it mean nothing. "
            "Use a trained model or filter the prompts with tasks.filter_prompts first.")
    return 100.0 * patched / c


def accuracy(logits, correct: Int[Tensor, "batch"]) -> float:
    """Fraction of prompts whose top-1 final-position token is the correct answer."""
    end = _end_logits(logits)
    return float((end.argmax(-1) == correct.to(end.device)).float().mean())


def evaluate(model, tokenizer, prompts, batch_size: int = 200, corrupted: bool = True) -> dict:
    """Accuracy and Δl of one model on a prompt set, clean and corrupted (notebooks 01 and 05).

    Args:
        corrupted: also run the corrupted prompts (``corrupted_logit_diff``); ``False`` skips that forward pass
            and reports ``nan`` (notebook 05's distribution-shift table does not need it).

    Returns:
        ``{"n", "accuracy", "logit_diff", "logit_diff_std", "corrupted_logit_diff", "p_correct", "per_prompt"}``
        with ``per_prompt`` the clean Δl of each prompt (a list).
    """
    import torch
    correct, incorrect = prompts.answer_ids(tokenizer)
    device = next(model.parameters()).device
    out = {}
    for which in ("clean", "corrupted") if corrupted else ("clean",):
        toks = prompts.tokens(tokenizer, which).to(device)
        ends = []
        with torch.inference_mode():
            for i in range(0, len(toks), batch_size):
                ends.append(model(toks[i:i + batch_size])[:, -1].float().cpu())
        out[which] = torch.cat(ends)
    clean = out["clean"]
    per = logit_diff_per_prompt(clean, correct, incorrect)
    p = clean.softmax(-1)[torch.arange(len(correct)), correct]
    return {"n": len(prompts), "accuracy": accuracy(clean, correct), "logit_diff": float(per.mean()),
            "logit_diff_std": float(per.std()) if len(per) > 1 else 0.0,
            "corrupted_logit_diff": (float(logit_diff(out["corrupted"], correct, incorrect)) if corrupted
                                     else float("nan")),
            "p_correct": float(p.mean()), "per_prompt": per.tolist(), "end_logits": clean}
