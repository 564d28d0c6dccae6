"""Greater-than (Hanna et al. 2023): which two-digit year can end a span that started in year XXYY?

::

    "The war lasted from the year 1732 to the year 17"  ->  any of "33" ... "99" is right, "00" ... "32" wrong

GPT-2 splits " 1732" into " 17" + "32", so the prompt ends on the century token and the answer is one two-digit
token without a leading space. The metric is Hanna et al.'s probability difference (a
:class:`~dcirc_utils.core.metrics.ProbDiff`): Σ p(years after YY) − Σ p(years up to YY) over the 100 tokens "00"
.. "99"; top-1 accuracy counts a prompt right when its most likely token is one of the later years. The corrupted
twin replaces YY by "01" (Hanna et al.'s), which leaves almost every year right.

Nouns :data:`GT_NOUNS`, centuries 11–17, YY in 02–98 without the years GPT-2 does not split as " XX" + "YY"
(:data:`GPT2_UNSPLIT_YEARS`, e.g. 1102 or 1280; checked against GPT-2's tokenizer by the tests). Train/held-out
split: a fixed hash of (noun, YY) (:func:`gt_is_heldout`); the ``small`` corpus writes greater-than sentences only
with train (noun, YY). Notebook 01 introduces the task; the cross-task comparisons (notebook 06) use it.
"""
from __future__ import annotations

import hashlib
import random

import torch
from jaxtyping import Int
from torch import Tensor

from ..metrics import ProbDiff
from .base import PromptSet, _encode, check_split, register_task, single_token_words_with_space, vocab_mask

__all__ = ["GT_NOUNS", "GT_CENTURIES", "GT_YY", "GPT2_UNSPLIT_YEARS", "GT_CORRUPT_YY", "gt_is_heldout", "gt_years",
           "gt_prompt", "two_digit_ids", "make_greater_than", "greater_than_metric"]

#: Nouns of the prompts (Hanna et al. used more); each one GPT-2 token with a leading space and one BERT WordPiece.
GT_NOUNS: tuple[str, ...] = ("war", "expedition", "journey", "project", "campaign", "dynasty", "occupation",
                             "revolution", "marriage", "investigation", "siege", "voyage")
GT_CENTURIES = range(11, 18)
GT_YY = range(2, 99)
#: Years with a century in 11–17 and YY in 02–98 that GPT-2's BPE does not split into " XX" + "YY" (one token,
#: or split elsewhere): excluded from the task so that every prompt tokenizes alike.
GPT2_UNSPLIT_YEARS: frozenset[int] = frozenset(
    list(range(1102, 1110)) + [1111] + list(range(1113, 1119)) + list(range(1120, 1130)) + list(range(1151, 1160))
    + list(range(1190, 1199)) + [1280] + list(range(1302, 1310)) + [1440] + list(range(1502, 1510)))
#: The corrupted twin's start year digits (Hanna et al.'s "01").
GT_CORRUPT_YY = 1


def gt_is_heldout(noun: str, yy: int) -> bool:
    """Whether (noun, YY) is held out (about 30%): a fixed hash; the ``small`` corpus never writes a greater-than
    sentence that starts in a held-out combination, in any century (notebooks 01, 06)."""
    return hashlib.sha256(f"gt|{noun}|{int(yy):02d}".encode()).digest()[0] % 10 < 3


def gt_years(century: int) -> list[int]:
    """The task's YY values (02–98) for a century, without :data:`GPT2_UNSPLIT_YEARS` (this module and
    ``offline.corpus``; notebooks 01, 09)."""
    return [yy for yy in GT_YY if century * 100 + yy not in GPT2_UNSPLIT_YEARS]


def gt_prompt(noun: str, century: int, yy: int) -> str:
    """``"The {noun} lasted from the year {century}{yy:02d} to the year {century}"`` (this module, the corpus;
    notebook 01)."""
    return f"The {noun} lasted from the year {century}{yy:02d} to the year {century}"


def two_digit_ids(tokenizer) -> Int[Tensor, "100"]:
    """Token ids of ``"00"`` .. ``"99"`` (no leading space), in order (the greater-than metric; notebooks 01, 06).

    Raises:
        ValueError: naming the first of them that is not a single known token.
    """
    unk = getattr(tokenizer, "unk_token_id", None)
    out = []
    for v in range(100):
        ids = _encode(tokenizer, f"{v:02d}")
        if len(ids) != 1 or ids[0] == unk:
            raise ValueError(f"'{v:02d}' is not one known token for this tokenizer ({ids}): the greater-than metric "
                             "needs the 100 two-digit tokens '00'..'99'; use GPT-2 or the 'small' pair")
        out.append(ids[0])
    return torch.tensor(out, dtype=torch.long)


def _check_years(tokenizer, century: int, yy: int) -> None:
    """Raise ``ValueError`` unless `` {century}{yy}`` tokenizes as `` {century}`` + ``{yy}``."""
    want = [_encode(tokenizer, f" {century}"), _encode(tokenizer, f"{yy:02d}")]
    got = _encode(tokenizer, f" {century}{yy:02d}")
    if any(len(w) != 1 for w in want) or got != want[0] + want[1]:
        raise ValueError(f"this tokenizer splits ' {century}{yy:02d}' as {got}, not as ' {century}' + '{yy:02d}': "
                         "the greater-than task needs years split like GPT-2's (use GPT-2 or the 'small' pair)")


def make_greater_than(n: int = 100, seed: int = 0, tokenizer=None, split: str = "heldout") -> PromptSet:
    """``n`` greater-than prompts and their "01" twins (notebooks 01, 06).

    Each prompt draws a noun, a century in 11–17 and a YY of :func:`gt_years` with (noun, YY) in ``split``.
    ``correct``/``incorrect`` hold ``"{YY+1:02d}"`` and ``"{YY:02d}"`` (the first right and the last wrong year,
    for display; the task is scored by :func:`greater_than_metric`, which :meth:`PromptSet.metric` returns).

    Args:
        n: number of prompts (> 0).
        seed: the generator's seed.
        tokenizer: if given, nouns are filtered to one token with a leading space and every year is checked to
            split into the century and two digits.
        split: ``"heldout"`` (default), ``"train"`` or ``"any"``: which (noun, YY) to draw.

    Raises:
        ValueError: on a bad split or ``n``, or a tokenizer that does not split years like GPT-2.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    check_split(split)
    nouns = list(GT_NOUNS)
    if tokenizer is not None:
        nouns = single_token_words_with_space(tokenizer, nouns)
        if not nouns:
            raise ValueError("no greater-than noun is a single token for this tokenizer; use GPT-2 or the 'small' "
                             "pair")
        two_digit_ids(tokenizer)
    rng = random.Random(f"greater_than-{seed}")
    clean, corrupted, correct, incorrect, meta = [], [], [], [], []
    for _ in range(n):
        for _ in range(10_000):
            noun, century = rng.choice(nouns), rng.choice(list(GT_CENTURIES))
            yy = rng.choice(gt_years(century))
            if split == "any" or gt_is_heldout(noun, yy) == (split == "heldout"):
                break
        else:  # pragma: no cover - about 30% of combinations are held out
            raise RuntimeError("could not draw a greater-than prompt of the requested split")
        if tokenizer is not None:
            _check_years(tokenizer, century, yy)
            _check_years(tokenizer, century, GT_CORRUPT_YY)
        clean.append(gt_prompt(noun, century, yy))
        corrupted.append(gt_prompt(noun, century, GT_CORRUPT_YY))
        correct.append(f"{yy + 1:02d}")
        incorrect.append(f"{yy:02d}")
        meta.append({"noun": noun, "century": century, "yy": yy})
    return PromptSet("greater_than", clean, corrupted, correct, incorrect, seed, meta, task="greater_than")


def greater_than_metric(ps: PromptSet, tokenizer, d_vocab: int | None = None) -> ProbDiff:
    """The :class:`~dcirc_utils.core.metrics.ProbDiff` of a greater-than set: per prompt, good = the two-digit
    tokens after its YY, bad = those up to YY (notebooks 01, 06; :meth:`PromptSet.metric` calls it).

    Args:
        ps: a set made by :func:`make_greater_than`.
        tokenizer: the pair's tokenizer.
        d_vocab: width of the model's logits (default ``len(tokenizer)``).

    Raises:
        ValueError: if the set's prompts carry no ``yy`` or the tokenizer lacks the two-digit tokens.
    """
    ids = two_digit_ids(tokenizer).tolist()
    d_vocab = len(tokenizer) if d_vocab is None else int(d_vocab)
    if max(ids) >= d_vocab:
        raise ValueError(f"two-digit token ids reach {max(ids)} but d_vocab is {d_vocab}: pass the model's d_vocab")
    try:
        yys = [int(m["yy"]) for m in ps.meta]
    except (KeyError, TypeError) as err:
        raise ValueError("a greater-than set needs meta[i]['yy'] for every prompt; make it with make_greater_than")\
            from err
    if len(yys) != len(ps):
        raise ValueError(f"{len(ps)} prompts but {len(yys)} meta entries; make the set with make_greater_than")
    good = vocab_mask([ids[yy + 1:] for yy in yys], d_vocab)
    bad = vocab_mask([ids[: yy + 1] for yy in yys], d_vocab)
    return ProbDiff(good, bad)


register_task("greater_than", make_greater_than, metric=greater_than_metric, metric_name="P(>YY) − P(≤YY)",
              description="Hanna et al.'s greater-than: years after the start year are right")
