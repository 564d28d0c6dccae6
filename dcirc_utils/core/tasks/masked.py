"""The tasks in masked form, for the encoder pairs (BERT → DistilBERT; notebook 07).

The study's masked numeral task (``study-spec.md`` §3.1)::

    "[CLS] Van done in 1. Hat done in 2. Ring done in 3. Desk done in 4. Sun done in [MASK] [SEP]"  ->  "5"  (wrong: "4")

The study renumbered every prompt to 1–4 (``renumber=True``, the default here too); ``renumber=False`` keeps the
starts of the numeral task (1–8), which the course also uses. The texts carry ``[CLS]``, ``[MASK]`` and ``[SEP]``
literally: a BERT tokenizer reads them as its special tokens, so the prompt is exactly what the model sees. Answers
are whole WordPieces without a leading space. The corrupted twin keeps the words and replaces every shown number
with a random one in 1–12, as the decoders' task does.

Masked IOI (the study's BERT IOI run, §1.2): the IOI prompt with the recipient masked,
``"[CLS] Then, B and A went to the P. B gave a O to [MASK]. [SEP]"`` → A (wrong: B).

Prompts are drawn from the held-out split: the (first word, 1) combination for renumbered numeral prompts, the
numeral task's own split otherwise, the IOI task's (IO, S) split for IOI. Every encoder prompt holds exactly one
``[MASK]``, the readout position (``models.encoder.EncoderAdapter.readout_positions``).
"""
from __future__ import annotations

import random

from .base import PromptSet, check_split, register_task
from .ioi import make_ioi
from .numerals import NAMES, NOUNS, VERBS, check_verbs, is_heldout, make_prompts, single_token_words

__all__ = ["MASK", "CLS", "SEP", "masked_text", "make_numerals_masked", "make_ioi_masked"]

MASK, CLS, SEP = "[MASK]", "[CLS]", "[SEP]"


def masked_text(prompt: str, tail: str = "") -> str:
    """``"[CLS] <prompt> [MASK]<tail> [SEP]"`` (the encoders' form of a prompt that ends before its answer)."""
    return f"{CLS} {prompt} {MASK}{tail} {SEP}"


def _render(words, verb, shown) -> str:
    return " ".join(f"{w} {verb} in {x}." for w, x in zip(words, shown)) + f" {words[len(shown)]} {verb} in"


def make_numerals_masked(n: int = 100, seed: int = 0, tokenizer=None, split: str = "heldout", renumber: bool = True,
                         verbs=VERBS) -> PromptSet:
    """Masked numeral prompts (notebook 07): the study's form with ``renumber=True`` (shown numbers 1–4, answer
    ``"5"``, distractor ``"4"``), the numeral task's starts 1–8 otherwise.

    Args:
        n, seed, split: as every task.
        tokenizer: an encoder tokenizer to filter the word lists for (single WordPieces).
        renumber: the study's renumbering to 1–4.
        verbs: the verbs used (cycled), some of :data:`~.numerals.VERBS` (checked by
            :func:`~.numerals.check_verbs`).
    """
    check_split(split)
    verbs = check_verbs(verbs, tokenizer=tokenizer)
    if not renumber:
        base = make_prompts(n, seed, "numerals", tokenizer=None, verbs=verbs, split=split)
        ps = PromptSet("any_start", [masked_text(t) for t in base.clean], [masked_text(t) for t in base.corrupted],
                       [c.strip() for c in base.correct], [c.strip() for c in base.incorrect], seed, base.meta,
                       "numerals_masked")
    else:
        nouns, names = list(NOUNS), list(NAMES)
        if tokenizer is not None:
            nouns, names = single_token_words(tokenizer, nouns), single_token_words(tokenizer, names)
        rng = random.Random(f"numerals_masked-{seed}")
        clean, corrupted, meta = [], [], []
        for i in range(n):
            verb = verbs[i % len(verbs)]
            pool = names if verb == "born" else nouns
            while True:
                words = rng.sample(pool, 5)
                if split == "any" or is_heldout(words[0], 1) == (split == "heldout"):
                    break
            noise = [str(rng.randint(1, 12)) for _ in range(4)]
            clean.append(masked_text(_render(words, verb, ["1", "2", "3", "4"])))
            corrupted.append(masked_text(_render(words, verb, noise)))
            meta.append({"verb": verb, "start": 1, "length": 4, "words": words})
        ps = PromptSet("renumbered", clean, corrupted, ["5"] * n, ["4"] * n, seed, meta, "numerals_masked")
    return ps


def make_ioi_masked(n: int = 100, seed: int = 0, tokenizer=None, split: str = "heldout",
                    template: int = 0) -> PromptSet:
    """Masked IOI prompts (notebook 07): the IOI task's prompts with the recipient masked and a final period, as
    in the study's BERT IOI run; answer the IO name, distractor the subject (whole WordPieces, no space)."""
    base = make_ioi(n, seed, None, split, template)
    return PromptSet(base.variant, [masked_text(t, ".") for t in base.clean],
                     [masked_text(t, ".") for t in base.corrupted], [c.strip() for c in base.correct],
                     [c.strip() for c in base.incorrect], seed, base.meta, "ioi_masked")


register_task("numerals_masked", make_numerals_masked, family="encoder",
              description="the study's masked numeral task for encoders ('... Sun done in [MASK]' -> '5')")
register_task("ioi_masked", make_ioi_masked, family="encoder",
              description="IOI with the recipient masked, for encoders ('... gave a drink to [MASK].' -> IO)")
