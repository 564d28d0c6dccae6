"""Indirect object identification (IOI), in the study's form (Wang et al. 2023's templates and pools).

The study's IOI run (arXiv 2505.10822, section 1.1 of ``study-spec.md``)::

    "Then, Kimberly and Tiffany went to the store. Kimberly gave a drink to"  ->  " Tiffany"   (wrong: " Kimberly")

The indirect object (IO) is named once in the first clause; the subject (S) twice. A prompt ends before the final
IO name, and the study's Δl is logit(IO) − logit(S) there. Each of the 7 template families has a BABA form (S
first) and an ABBA form (IO first, the first clause's names swapped); a prompt set uses one family in both orders,
which tokenize to the same length. The corrupted twin is the study's "ABC" form: three new distinct names, one for
each name slot (first-clause S, first-clause IO, second-clause S), positions aligned.

Train/held-out split: a fixed hash of the (IO, S) pair (:func:`ioi_is_heldout`); the ``small`` corpus writes IOI
sentences only with train pairs. Notebook 01 introduces it; the cross-task comparisons (notebook 06, the study's
per-task alignment) use it.
"""
from __future__ import annotations

import hashlib
import random

from .base import PromptSet, check_split, register_task, single_token_words_with_space

__all__ = ["IOI_NAMES", "IOI_PLACES", "IOI_OBJECTS", "IOI_TEMPLATES", "IOI_ORDERS", "ioi_is_heldout",
           "ioi_template", "ioi_sentence", "make_ioi"]

#: The study's 99 first names (Wang et al.'s list), all kept: each is one GPT-2 token with a leading space and one
#: BERT (uncased) WordPiece (``tests/unit/test_tasks_ioi_qa_gt.py`` checks both against the real tokenizers).
IOI_NAMES: tuple[str, ...] = (
    "Michael", "Christopher", "Jessica", "Matthew", "Ashley", "Jennifer", "Joshua", "Amanda", "Daniel", "David",
    "James", "Robert", "John", "Joseph", "Andrew", "Ryan", "Brandon", "Jason", "Justin", "Sarah", "William",
    "Jonathan", "Stephanie", "Brian", "Nicole", "Nicholas", "Anthony", "Heather", "Eric", "Elizabeth", "Adam",
    "Megan", "Melissa", "Kevin", "Steven", "Thomas", "Timothy", "Christina", "Kyle", "Rachel", "Laura", "Lauren",
    "Amber", "Brittany", "Danielle", "Richard", "Kimberly", "Jeffrey", "Amy", "Crystal", "Michelle", "Tiffany",
    "Jeremy", "Benjamin", "Mark", "Emily", "Aaron", "Charles", "Rebecca", "Jacob", "Stephen", "Patrick", "Sean",
    "Erin", "Jamie", "Kelly", "Samantha", "Nathan", "Sara", "Dustin", "Paul", "Angela", "Tyler", "Scott",
    "Katherine", "Andrea", "Gregory", "Erica", "Mary", "Travis", "Lisa", "Kenneth", "Bryan", "Lindsey", "Kristen",
    "Jose", "Alexander", "Jesse", "Katie", "Lindsay", "Shannon", "Vanessa", "Courtney", "Christine", "Alicia",
    "Cody", "Allison", "Bradley", "Samuel",
)
#: The study's places and objects (8 each).
IOI_PLACES: tuple[str, ...] = ("store", "garden", "restaurant", "school", "hospital", "office", "house", "station")
IOI_OBJECTS: tuple[str, ...] = ("ring", "kiss", "bone", "basketball", "computer", "necklace", "drink", "snack")
#: The 7 BABA template families, as prompts (the final IO name is the answer). Slots: ``{S1}`` the subject in the
#: first clause, ``{IO}`` the indirect object, ``{S2}`` the subject again, ``{P}`` a place, ``{O}`` an object.
IOI_TEMPLATES: tuple[str, ...] = (
    "Then, {S1} and {IO} went to the {P}. {S2} gave a {O} to",
    "Then, {S1} and {IO} had a lot of fun at the {P}. {S2} gave a {O} to",
    "Then, {S1} and {IO} were working at the {P}. {S2} decided to give a {O} to",
    "Then, {S1} and {IO} were thinking about going to the {P}. {S2} wanted to give a {O} to",
    "Then, {S1} and {IO} had a long argument, and afterwards {S2} said to",
    "After {S1} and {IO} went to the {P}, {S2} gave a {O} to",
    "When {S1} and {IO} got a {O} at the {P}, {S2} decided to give it to",
)
IOI_ORDERS: tuple[str, ...] = ("BABA", "ABBA")


def ioi_is_heldout(io: str, s: str) -> bool:
    """Whether the (IO, S) name pair is held out (about 30% of ordered pairs): a fixed hash, the same for every
    seed and tokenizer. The ``small`` corpus never writes an IOI sentence with a held-out pair (notebooks 01, 06)."""
    return hashlib.sha256(f"ioi|{io}|{s}".encode()).digest()[0] % 10 < 3


def ioi_template(index: int, order: str = "BABA") -> str:
    """The prompt template of family ``index`` (0–6) in ``order`` (``"BABA"``: S first; ``"ABBA"``: the first
    clause's two names swapped) (this module and ``offline.corpus``; notebooks 01, 06).

    Raises:
        ValueError: for an index outside 0–6 or another order.
    """
    if not 0 <= int(index) < len(IOI_TEMPLATES):
        raise ValueError(f"IOI template index must be 0..{len(IOI_TEMPLATES) - 1}, got {index}")
    if order not in IOI_ORDERS:
        raise ValueError(f"order must be 'BABA' or 'ABBA', got {order!r}")
    t = IOI_TEMPLATES[int(index)]
    return t if order == "BABA" else t.replace("{S1} and {IO}", "{IO} and {S1}", 1)


def ioi_sentence(index: int, order: str, io: str, s: str, place: str, obj: str, s1: str | None = None,
                 s2: str | None = None) -> str:
    """A filled IOI prompt (no final name); ``s1``/``s2`` override the subject's two slots (corrupted twins).

    Used by :func:`make_ioi` and ``offline.corpus`` (which appends ``" {io}."`` for a full sentence); notebooks
    00, 01.
    """
    return ioi_template(index, order).format(S1=s if s1 is None else s1, S2=s if s2 is None else s2, IO=io, P=place,
                                             O=obj)


def make_ioi(n: int = 100, seed: int = 0, tokenizer=None, split: str = "heldout", template: int = 0) -> PromptSet:
    """``n`` IOI prompts of one template family in both orders, and their ABC twins (notebooks 01, 06).

    Prompt ``i`` is BABA for even ``i`` and ABBA for odd ``i``; IO and S are two distinct names whose pair is in
    ``split``; place and object are drawn uniformly. Answers: ``" {IO}"`` (correct) and ``" {S}"`` (incorrect).
    Corrupted: the same template, order, place and object with three new distinct names (none of them IO or S)
    in the first-clause S slot, the IO slot and the second-clause S slot (the study's three flips).

    Args:
        n: number of prompts (> 0).
        seed: the generator's seed.
        tokenizer: if given, names, places and objects are filtered to one token with a leading space.
        split: ``"heldout"`` (default), ``"train"`` or ``"any"``: which (IO, S) pairs to draw.
        template: the family, 0–6 (:data:`IOI_TEMPLATES`).

    Raises:
        ValueError: on a bad split, template or ``n``, or when the tokenizer leaves fewer than 5 names.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    check_split(split)
    ioi_template(template)
    names, places, objects = list(IOI_NAMES), list(IOI_PLACES), list(IOI_OBJECTS)
    if tokenizer is not None:
        names = single_token_words_with_space(tokenizer, names)
        places = single_token_words_with_space(tokenizer, places)
        objects = single_token_words_with_space(tokenizer, objects)
        if len(names) < 5 or not places or not objects:
            raise ValueError(f"this tokenizer keeps {len(names)} IOI names, {len(places)} places and {len(objects)} "
                             "objects as single tokens; IOI needs at least 5 names and one of each other: use a "
                             "pair whose tokenizer has them (the 'small' pair, GPT-2)")
    rng = random.Random(f"ioi-{template}-{seed}")
    clean, corrupted, correct, incorrect, meta = [], [], [], [], []
    for i in range(n):
        order = IOI_ORDERS[i % 2]
        for _ in range(10_000):
            io, s = rng.sample(names, 2)
            if split == "any" or ioi_is_heldout(io, s) == (split == "heldout"):
                break
        else:  # pragma: no cover - about 30% of pairs are held out
            raise RuntimeError("could not draw an IOI name pair of the requested split")
        place, obj = rng.choice(places), rng.choice(objects)
        x_io, x_s1, x_s2 = rng.sample([w for w in names if w not in (io, s)], 3)
        clean.append(ioi_sentence(template, order, io, s, place, obj))
        corrupted.append(ioi_sentence(template, order, x_io, s, place, obj, s1=x_s1, s2=x_s2))
        correct.append(" " + io)
        incorrect.append(" " + s)
        meta.append({"template": template, "order": order, "io": io, "s": s, "place": place, "object": obj,
                     "corrupted_names": [x_s1, x_io, x_s2]})
    return PromptSet(f"template_{template}", clean, corrupted, correct, incorrect, seed, meta, task="ioi")


register_task("ioi", make_ioi, description="indirect object identification, one of Wang et al.'s 7 template families")
