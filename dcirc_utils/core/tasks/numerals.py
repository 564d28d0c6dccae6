"""The numeral sequence task: clean and corrupted prompt sets, and their variants.

The study's form (arXiv 2505.10822, data from ``apartresearch/seqcont_circuits``)::

    "Van done in 1. Hat done in 2. Ring done in 3. Desk done in 4. Sun done in"  ->  " 5"   (wrong: " 4")

Used by every notebook (01 shows it step by step); the offline pairs' corpora (``dcirc_utils.offline.corpus``)
draw their training sentences from the *train* half of the (first word, start) combinations defined here, and every
prompt set made here draws from the *held-out* half by default, so an offline pair is always evaluated on
combinations it never saw.

Variants (``variant=``):

* :data:`VARIANTS` (the course's original five): ``"numerals"`` (the study's task), ``"number_words"`` ("one two
  three" ...), ``"months"``, ``"long"`` (6–8 list elements) and ``"large"`` (starts 10–40);
* :data:`SHIFT_VARIANTS`, distribution shifts that the ``small`` pair's corpus never contains in a template item
  (notebook 05): ``"range_shift"`` (starts 26–40; template values there stay ≤ :data:`SHIFT_BOUNDARY`),
  ``"verb_shift"`` (the verb :data:`SHIFT_VERB`, known from other sentences but never used with the template) and
  ``"mixed"`` (the first :data:`MIXED_WORD_ELEMENTS` shown elements as number words, the rest numerals). ``"long"``
  is a shift for that corpus too: its template items have at most :data:`MAX_TEMPLATE_SENTENCES` sentences.
"""
from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Sequence

from .base import (DATA_DIR, PromptSet, answer_token_ids, check_split, register_task, save_prompt_set,
                   single_token_words, single_token_words_with_space)

__all__ = [
    "NOUNS", "NAMES", "VERBS", "VARIANTS", "SHIFT_VARIANTS", "ALL_VARIANTS", "NUMBER_WORDS", "MONTHS",
    "SHIFT_VERB", "SHIFT_BOUNDARY", "RANGE_SHIFT_STARTS", "MAX_TEMPLATE_SENTENCES", "MIXED_WORD_ELEMENTS",
    "make_prompts", "is_heldout", "write_default_sets", "check_verbs",
]

# Short, common English nouns (the study used words like Van, Hat, Ring, Desk, Sun), each a single GPT-2 token with
# and without a leading space. A tokenizer may still drop some: each is kept for a tokenizer
# only if it is one token both with and without a leading space (the first word has none).
NOUNS: tuple[str, ...] = (
    "Van", "Hat", "Ring", "Desk", "Sun", "Car", "Bus", "Bed", "Box", "Pen", "Map", "Key", "Dog",
    "Cat", "Fish", "Bird", "Tree", "Book", "Ball", "Bell", "Coin",
    "Game", "Gate", "Hill", "Lake", "Lock", "Mask", "Moon",
    "Note", "Park", "Rock", "Salt", "Ship", "Sign", "Star", "Tool", "Wall",
    "Wave", "Wind", "Wolf", "Wood", "Bank", "Bear", "Bone", "Cart", "Chair", "Clock", "Cloud",
    "Farm", "Film", "Fire", "Flag", "Glass", "Gold", "House", "Iron", "Mail", "Paper",
)
# First names, for the verb "born".
NAMES: tuple[str, ...] = (
    "John", "Mary", "James", "Anna", "David", "Sarah", "Paul", "Mark", "Peter", "Kate", "Tom",
    "Jane", "Mike", "Alice", "Sam", "Laura", "Jack", "Rose", "Adam", "Amy", "Ben", "Dan", "Eva", "Fred",
    "Harry", "Ian", "Kevin", "Lisa", "Luke", "Maria", "Nick",
    "Ray", "Steve", "Alex", "Bill", "Carl", "Eric", "Frank", "George",
    "Henry", "Jim", "Joe", "Karl", "Max",
)
VERBS: tuple[str, ...] = ("done", "lost", "born")
NUMBER_WORDS: tuple[str, ...] = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
)
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
)
VARIANTS: tuple[str, ...] = ("numerals", "number_words", "months", "long", "large")
#: Distribution-shift variants that the ``small`` corpus never shows in a template item (see the module doc).
SHIFT_VARIANTS: tuple[str, ...] = ("range_shift", "verb_shift", "mixed")
#: Every variant :func:`make_prompts` accepts.
ALL_VARIANTS: tuple[str, ...] = VARIANTS + SHIFT_VARIANTS

#: The ``verb_shift`` variant's verb: one GPT-2 token with a leading space and one BERT WordPiece, written by the
#: corpora's filler sentences ("Mary found a key in the park.") but never in a template item.
SHIFT_VERB = "found"
#: The largest element value of any template item of the ``small`` corpus; ``range_shift`` starts above it.
SHIFT_BOUNDARY = 25
#: Starts of the ``range_shift`` variant (all shown values are > :data:`SHIFT_BOUNDARY`).
RANGE_SHIFT_STARTS = range(SHIFT_BOUNDARY + 1, 41)
#: The most sentences of a template item in the ``small`` corpus; ``long`` prompts (6+ shown elements and the
#: question) are longer.
MAX_TEMPLATE_SENTENCES = 6
#: How many of the ``mixed`` variant's shown elements are number words (the rest are numerals).
MIXED_WORD_ELEMENTS = 2


def is_heldout(word: str, start: int) -> bool:
    """Whether the (first word, start) combination belongs to the held-out part (about 30%) of all combinations.

    A fixed hash, the same for every tokenizer and seed: ``dcirc_utils.offline.corpus`` never writes a held-out
    combination into an offline pair's training text, and :func:`make_prompts` only draws held-out ones by default
    (every notebook).
    """
    digest = hashlib.sha256(f"{word}|{start}".encode()).digest()
    return digest[0] % 10 < 3


def _elements(variant: str, start: int, length: int) -> list[str]:
    """The ``length`` shown elements and the answer of a prompt starting at ``start``, as text."""
    if variant in ("numerals", "long", "large", "range_shift", "verb_shift"):
        return [str(start + i) for i in range(length + 1)]
    if variant == "mixed":
        return [NUMBER_WORDS[start - 1 + i] if i < MIXED_WORD_ELEMENTS else str(start + i)
                for i in range(length + 1)]
    table = NUMBER_WORDS if variant == "number_words" else MONTHS
    return [table[start - 1 + i] for i in range(length + 1)]


def _variant_ranges(variant: str, length: int | None = None) -> tuple[range, range]:
    """(starts, list lengths) per variant; the last element's successor must exist."""
    if variant == "long":
        length = 6 if length is None else length
        if not 6 <= length <= 8:
            raise ValueError(f"the 'long' variant has 6 to 8 shown elements, got length={length}")
        return range(1, 9), range(length, length + 1)
    if length not in (None, 4):
        raise ValueError(f"only the 'long' variant takes a length (6-8); {variant!r} shows 4 elements")
    if variant == "numerals":
        return range(1, 9), range(4, 5)
    if variant == "large":
        return range(10, 41), range(4, 5)
    if variant in ("number_words", "months"):
        return range(1, 9), range(4, 5)
    if variant == "range_shift":
        return RANGE_SHIFT_STARTS, range(4, 5)
    if variant in ("verb_shift", "mixed"):
        return range(1, 9), range(4, 5)
    raise ValueError(f"unknown variant {variant!r}; choose one of {ALL_VARIANTS}")


def _random_element(variant: str, rng: random.Random, position: int = 0) -> str:
    """A corrupted element for shown position ``position`` of a variant."""
    if variant == "large":
        return str(rng.randint(10, 52))
    if variant in ("numerals", "long", "verb_shift"):
        return str(rng.randint(1, 12))
    if variant == "range_shift":
        return str(rng.randint(RANGE_SHIFT_STARTS.start, RANGE_SHIFT_STARTS.stop + 3))
    if variant == "mixed":
        return rng.choice(NUMBER_WORDS) if position < MIXED_WORD_ELEMENTS else str(rng.randint(1, 12))
    table = NUMBER_WORDS if variant == "number_words" else MONTHS
    return rng.choice(table)


def check_verbs(verbs: Sequence[str] | None, variant: str = "numerals", tokenizer=None) -> tuple[str, ...]:
    """The verbs of a numeral prompt set (:func:`make_prompts`, ``make_numerals_masked``): ``verbs`` checked against
    those the variant knows (:data:`VERBS`; only :data:`SHIFT_VERB` for ``verb_shift``), or all of them when
    ``None``. With a tokenizer, each must also be one known token with a leading space, so that every prompt of the
    set tokenizes to the same length.

    Raises:
        ValueError: naming the unknown (or multi-token) verbs and the ones the variant accepts.
    """
    known = (SHIFT_VERB,) if variant == "verb_shift" else VERBS
    if isinstance(verbs, str):
        raise ValueError(f"verbs is a list of verbs, got the string {verbs!r}: write verbs=[{verbs!r}]")
    verbs = known if verbs is None else tuple(verbs)
    if not verbs:
        raise ValueError(f"verbs is empty: pass some of {known}, or verbs=None for all of them")
    unknown = [v for v in verbs if v not in known]
    if unknown and variant == "verb_shift":
        raise ValueError(f"verbs {unknown} are not allowed in the 'verb_shift' variant: it uses only {SHIFT_VERB!r}, "
                         f"a verb never seen with the template (the template verbs {VERBS} belong to the other "
                         "variants). Leave verbs=None.")
    if unknown:
        raise ValueError(f"unknown verbs {unknown}: the numeral task knows {known} ('born' takes first names, the "
                         f"others nouns; the 'verb_shift' variant uses {SHIFT_VERB!r}). Pass some of them, or "
                         "verbs=None for all.")
    if tokenizer is not None:
        ok = single_token_words_with_space(tokenizer, verbs)
        split = [v for v in verbs if v not in ok]
        if split:
            fix = f"pass verbs={ok}" if ok else "use a pair whose tokenizer has them (the 'small' pair)"
            raise ValueError(f"verbs {split} are not one known token (with a leading space) for this tokenizer, so "
                             f"the prompts would not stack into one batch: {fix}")
    return verbs


def make_prompts(n: int = 100, seed: int = 0, variant: str = "numerals", tokenizer=None,
                 verbs: Sequence[str] | None = None, split: str = "heldout", length: int | None = None) -> PromptSet:
    """Generate ``n`` clean prompts of the study's form and their corrupted twins (all notebooks).

    Clean: ``"{w1} {verb} in {n}. {w2} {verb} in {n+1}. ... {wk} {verb} in"`` with answer ``" {n+k-1}"`` and
    distractor ``" {n+k-2}"`` (the last shown element). Corrupted: the same words, verb and answers, every shown
    element replaced by a random one (numbers in 1..12, as in the study). Verbs are cycled so that each appears
    equally often; the verb ``born`` takes first names, the others nouns. Words within a prompt are distinct.

    Variants: ``numerals`` (starts 1–8, 4 shown elements), ``number_words`` and ``months`` (the same with words),
    ``long`` (6–8 shown), ``large`` (starts 10–40; corrupted elements in 10..52), and the shift variants:

    * ``range_shift``: numerals with starts 26–40 (:data:`RANGE_SHIFT_STARTS`), corrupted elements in 26..44;
    * ``verb_shift``: numerals with starts 1–8 and the verb :data:`SHIFT_VERB` (``"found"``) and nouns;
    * ``mixed``: starts 1–8, 4 shown elements of which the first two are number words and the last two numerals,
      answer and distractor numerals: ``"Van done in three. Hat done in four. Ring done in 5. Desk done in 6. Sun
      done in"`` → ``" 7"`` (wrong ``" 6"``); corrupted: a random number word at each word position and a random
      numeral in 1..12 at each numeral position.

    Each variant draws from its own random stream (``"{variant}-{seed}"``), so adding variants never changed the
    prompts of the others.

    Args:
        n: number of prompts (> 0).
        seed: the generator's seed; the same seed gives the same set.
        variant: one of :data:`ALL_VARIANTS`.
        tokenizer: if given, word lists are filtered to single tokens for it and every element and answer is
            checked to be one token.
        verbs: the verbs to use, some of :data:`VERBS` (default: all; ``verb_shift`` uses only
            :data:`SHIFT_VERB`); checked by :func:`check_verbs`.
        split: ``"heldout"`` (default) draws (first word, start) combinations the offline pairs never saw in
            training, ``"train"`` only the others, ``"any"`` all.
        length: number of shown elements for the ``"long"`` variant (6, 7 or 8; default 6). Every prompt of a set
            has the same length so that the set stacks into one batch.

    Raises:
        ValueError: on an unknown variant or split, ``n < 1``, an unknown verb (a template verb for ``verb_shift``),
            or a verb, element or answer that is not one token.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    check_split(split)
    starts, lengths = _variant_ranges(variant, length)
    verbs = check_verbs(verbs, variant, tokenizer)
    nouns, names = list(NOUNS), list(NAMES)
    if tokenizer is not None:
        nouns, names = single_token_words(tokenizer, nouns), single_token_words(tokenizer, names)
        _check_elements(tokenizer, variant, starts, lengths)
    rng = random.Random(f"{variant}-{seed}")
    clean, corrupted, correct, incorrect, meta = [], [], [], [], []
    for i in range(n):
        verb = verbs[i % len(verbs)]
        pool = names if verb == "born" else nouns
        length = rng.choice(list(lengths))
        for _ in range(10_000):
            start = rng.choice(list(starts))
            words = rng.sample(pool, length + 1)
            if split == "any" or is_heldout(words[0], start) == (split == "heldout"):
                break
        else:  # pragma: no cover - the hash split makes this unreachable for the built-in lists
            raise RuntimeError("could not draw a prompt of the requested split")
        elems = _elements(variant, start, length)
        shown, answer = elems[:-1], elems[-1]
        noise = [_random_element(variant, rng, k) for k in range(len(shown))]
        clean.append(_render(words, verb, shown))
        corrupted.append(_render(words, verb, noise))
        correct.append(" " + answer)
        incorrect.append(" " + shown[-1])
        meta.append({"verb": verb, "start": start, "length": length, "words": words})
    ps = PromptSet(variant, clean, corrupted, correct, incorrect, seed, meta)
    if tokenizer is not None:
        ps.answer_ids(tokenizer)
    return ps


def _render(words: Sequence[str], verb: str, shown: Sequence[str]) -> str:
    """``"{w1} {verb} in {x1}. ... {wk} {verb} in"``: the prompt text."""
    parts = [f"{w} {verb} in {x}." for w, x in zip(words, shown)]
    return " ".join(parts) + f" {words[len(shown)]} {verb} in"


def _check_elements(tokenizer, variant: str, starts: range, lengths: range) -> None:
    """Every element any prompt of the variant can show or ask for must be one token (answers included)."""
    needed = {e for s in starts for e in _elements(variant, s, max(lengths))}
    if variant == "mixed":
        needed |= set(NUMBER_WORDS)
    for e in sorted(needed):
        answer_token_ids(tokenizer, [" " + e])


def write_default_sets(n: int = 100, seed: int = 0, folder: str | Path | None = None) -> list[Path]:
    """Write the default prompt sets (every variant; 6, 7 and 8 elements for ``long``) as JSON under
    ``data/prompts/`` (notebook 01 reads them). The word lists are single tokens for GPT-2 and the offline pairs
    alike, so one file serves every pair. The files of :data:`VARIANTS` keep the bytes they had before the shift
    variants existed."""
    folder = Path(folder) if folder else DATA_DIR / "prompts"
    paths = []
    for variant in ALL_VARIANTS:
        lengths = (6, 7, 8) if variant == "long" else (None,)
        for length in lengths:
            name = variant if length in (None, 6) else f"{variant}{length}"
            paths.append(save_prompt_set(make_prompts(n, seed, variant, length=length), folder / f"{name}.json"))
    return paths


def _make_numerals(n: int = 100, seed: int = 0, tokenizer=None, split: str = "heldout", variant: str = "numerals",
                   length: int | None = None, verbs: Sequence[str] | None = None) -> PromptSet:
    """``make_task("numerals", ...)``: :func:`make_prompts` with the registry's argument order."""
    return make_prompts(n, seed, variant, tokenizer=tokenizer, verbs=verbs, split=split, length=length)


def _make_number_words(n: int = 100, seed: int = 0, tokenizer=None, split: str = "heldout",
                       verbs: Sequence[str] | None = None) -> PromptSet:
    """``make_task("number_words", ...)``: the numeral task's ``number_words`` variant."""
    return make_prompts(n, seed, "number_words", tokenizer=tokenizer, verbs=verbs, split=split)


register_task("numerals", _make_numerals, description="the study's numeral sequence task and its variants")
register_task("number_words", _make_number_words,
              description="the numeral task with number words (the study's 'sequence' alignment run used these)")
