"""The numeral sequence task: clean and corrupted prompt sets, and their variants.

The study's form (arXiv 2505.10822, data from ``apartresearch/seqcont_circuits``)::

    "Van done in 1. Hat done in 2. Ring done in 3. Desk done in 4. Sun done in"  ->  " 5"   (wrong: " 4")

Used by every notebook (01 shows it step by step); the offline pair's corpus (``dcirc_utils.corpus``) draws its
training sentences from the *train* half of the (first word, start) combinations defined here, and every prompt set
made here draws from the *held-out* half, so the offline pair is always evaluated on combinations it never saw.

Variants (``variant=``): ``"numerals"`` (the study's task), ``"number_words"`` ("one two three" ...),
``"months"``, ``"long"`` (6–8 list elements) and ``"large"`` (two-digit starts), the last two for the
distribution-shift study of notebook 05.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import torch
from jaxtyping import Int
from torch import Tensor

__all__ = [
    "NOUNS", "NAMES", "VERBS", "VARIANTS", "NUMBER_WORDS", "MONTHS", "PromptSet", "make_prompts",
    "is_heldout", "single_token_words", "answer_token_ids", "filter_prompts", "save_prompt_set",
    "load_prompt_set", "DATA_DIR",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

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


def is_heldout(word: str, start: int) -> bool:
    """Whether the (first word, start) combination belongs to the held-out half (about 30%) of all combinations.

    A fixed hash, the same for every tokenizer and seed: ``dcirc_utils.corpus`` never writes a held-out combination
    into the offline pair's training text, and :func:`make_prompts` only draws held-out ones.
    """
    digest = hashlib.sha256(f"{word}|{start}".encode()).digest()
    return digest[0] % 10 < 3


def single_token_words(tokenizer, words: Iterable[str]) -> list[str]:
    """The words that ``tokenizer`` encodes as one token both as ``"w"`` and as ``" w"`` (notebooks 01, 02)."""
    keep = []
    for w in words:
        if len(_encode(tokenizer, w)) == 1 and len(_encode(tokenizer, " " + w)) == 1:
            keep.append(w)
    return keep


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


@dataclass
class PromptSet:
    """A task's clean and corrupted prompts with their answers (plain data; saved to ``data/`` as JSON).

    Attributes:
        variant: one of :data:`VARIANTS`.
        clean: the prompts, each ending just before the answer.
        corrupted: the same prompts with every shown element replaced by a random one (words and answers kept).
        correct: the correct next token as text, e.g. ``" 5"``.
        incorrect: the last shown element as text, e.g. ``" 4"`` (the study's distractor).
        seed: the generator's seed.
        meta: per-prompt details (verb, start, length, words).
    """

    variant: str
    clean: list[str]
    corrupted: list[str]
    correct: list[str]
    incorrect: list[str]
    seed: int
    meta: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clean)

    def subset(self, idx: Sequence[int]) -> "PromptSet":
        """The prompts at positions ``idx``, in that order."""
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return PromptSet(self.variant, pick(self.clean), pick(self.corrupted), pick(self.correct),
                         pick(self.incorrect), self.seed, pick(self.meta) if self.meta else [])

    def tokens(self, tokenizer, which: str = "clean") -> Int[Tensor, "batch pos"]:
        """Token ids of the clean (or corrupted) prompts; all prompts of a set have the same length in tokens.

        Raises:
            ValueError: if the prompts do not all tokenize to the same length (a word was not a single token).
        """
        texts = self.clean if which == "clean" else self.corrupted
        ids = [_encode(tokenizer, t) for t in texts]
        lengths = {len(x) for x in ids}
        if len(lengths) != 1:
            bad = [t for t, x in zip(texts, ids) if len(x) != len(ids[0])][:2]
            raise ValueError(f"prompts of the {self.variant!r} set tokenize to different lengths {sorted(lengths)}, "
                             f"e.g. {bad}: a word or number is not a single token for this tokenizer. Regenerate "
                             "the set with make_prompts(tokenizer=...) so that its word lists are filtered.")
        return torch.tensor(ids, dtype=torch.long)

    def answer_ids(self, tokenizer) -> tuple[Int[Tensor, "batch"], Int[Tensor, "batch"]]:
        """Token ids of the correct and the incorrect answers."""
        return (answer_token_ids(tokenizer, self.correct), answer_token_ids(tokenizer, self.incorrect))


def answer_token_ids(tokenizer, answers: Sequence[str]) -> Int[Tensor, "batch"]:
    """One token id per answer string.

    Raises:
        ValueError: naming the first answer that is not a single token for ``tokenizer``.
    """
    out = []
    for a in answers:
        ids = _encode(tokenizer, a)
        if len(ids) != 1:
            raise ValueError(f"answer {a!r} is {len(ids)} tokens {ids} for this tokenizer, not one: the logit "
                             "difference needs single-token answers. Choose elements whose successor is one token "
                             "(e.g. smaller numbers) or a tokenizer that has them.")
        out.append(ids[0])
    return torch.tensor(out, dtype=torch.long)


def _elements(variant: str, start: int, length: int) -> list[str]:
    if variant in ("numerals", "long", "large"):
        return [str(start + i) for i in range(length + 1)]
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
    raise ValueError(f"unknown variant {variant!r}; choose one of {VARIANTS}")


def _random_element(variant: str, rng: random.Random) -> str:
    if variant == "large":
        return str(rng.randint(10, 52))
    if variant in ("numerals", "long"):
        return str(rng.randint(1, 12))
    table = NUMBER_WORDS if variant == "number_words" else MONTHS
    return rng.choice(table)


def make_prompts(n: int = 100, seed: int = 0, variant: str = "numerals", tokenizer=None,
                 verbs: Sequence[str] = VERBS, split: str = "heldout", length: int | None = None) -> PromptSet:
    """Generate ``n`` clean prompts of the study's form and their corrupted twins (all notebooks).

    Clean: ``"{w1} {verb} in {n}. {w2} {verb} in {n+1}. ... {wk} {verb} in"`` with answer ``" {n+k-1}"`` and
    distractor ``" {n+k-2}"`` (the last shown element). Corrupted: the same words, verb and answers, every shown
    element replaced by a random one (numbers in 1..12, as in the study). Verbs are cycled so that each appears
    equally often; the verb ``born`` takes first names, the others nouns. Words within a prompt are distinct.

    Args:
        n: number of prompts (> 0).
        seed: the generator's seed; the same seed gives the same set.
        variant: one of :data:`VARIANTS`.
        tokenizer: if given, word lists are filtered to single tokens for it and every element and answer is
            checked to be one token.
        verbs: the verbs to use.
        split: ``"heldout"`` (default) draws (first word, start) combinations the offline pair never saw in
            training, ``"train"`` only the others, ``"any"`` all.
        length: number of shown elements for the ``"long"`` variant (6, 7 or 8; default 6). Every prompt of a set
            has the same length so that the set stacks into one batch.

    Raises:
        ValueError: on an unknown variant or split, ``n < 1``, or an element or answer that is not one token.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if split not in ("heldout", "train", "any"):
        raise ValueError(f"split must be 'heldout', 'train' or 'any', got {split!r}")
    starts, lengths = _variant_ranges(variant, length)
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
        noise = [_random_element(variant, rng) for _ in shown]
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
    parts = [f"{w} {verb} in {x}." for w, x in zip(words, shown)]
    return " ".join(parts) + f" {words[len(shown)]} {verb} in"


def _check_elements(tokenizer, variant: str, starts: range, lengths: range) -> None:
    """Every element any prompt of the variant can show or ask for must be one token (answers included)."""
    needed = {e for s in starts for e in _elements(variant, s, max(lengths))}
    for e in sorted(needed):
        answer_token_ids(tokenizer, [" " + e])


def filter_prompts(prompts: PromptSet, logits_end, correct_ids, incorrect_ids, ratio: float = 2.0):
    """The study's filter: keep a prompt only if its top-1 is correct and p(correct) > ratio · p(incorrect).

    Args:
        prompts: the set the logits belong to.
        logits_end: ``Float[Tensor, "batch d_vocab"]`` final-position logits of one model.
        correct_ids, incorrect_ids: answer token ids.
        ratio: the probability ratio (the study used 2).

    Returns:
        ``(kept PromptSet, report dict)`` where the report gives how many were kept and dropped.
    """
    probs = logits_end.float().softmax(-1)
    idx = torch.arange(len(prompts))
    p_c, p_i = probs[idx, correct_ids], probs[idx, incorrect_ids]
    keep = (logits_end.argmax(-1) == correct_ids) & (p_c > ratio * p_i)
    kept = [int(i) for i in torch.nonzero(keep).flatten()]
    return prompts.subset(kept), {"kept": len(kept), "dropped": len(prompts) - len(kept), "total": len(prompts)}


def save_prompt_set(ps: PromptSet, path: str | Path) -> Path:
    """Write a prompt set as readable JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(ps), indent=1) + "\n")
    return path


def load_prompt_set(path: str | Path) -> PromptSet:
    """Read a prompt set written by :func:`save_prompt_set`."""
    return PromptSet(**json.loads(Path(path).read_text()))


def token_strings(tokenizer, text: str) -> list[str]:
    """How ``tokenizer`` splits ``text``, one string per token (notebook 01 shows it)."""
    return [tokenizer.decode([i]) for i in _encode(tokenizer, text)]


def write_default_sets(n: int = 100, seed: int = 0, folder: str | Path | None = None) -> list[Path]:
    """Write the default prompt sets (every variant; 6, 7 and 8 elements for ``long``) as JSON under
    ``data/prompts/``. The word lists are single tokens for GPT-2 and the offline pair alike, so one file serves
    every pair."""
    folder = Path(folder) if folder else DATA_DIR / "prompts"
    paths = []
    for variant in VARIANTS:
        lengths = (6, 7, 8) if variant == "long" else (None,)
        for length in lengths:
            name = variant if length in (None, 6) else f"{variant}{length}"
            paths.append(save_prompt_set(make_prompts(n, seed, variant, length=length), folder / f"{name}.json"))
    return paths


if __name__ == "__main__":  # python -m dcirc_utils.tasks: rewrite data/prompts
    for p in write_default_sets():
        print(p)
