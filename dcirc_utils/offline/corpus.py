"""Training text and tokenizers of the offline teacher/student pairs (``data/models``, built by
``dcirc_utils.offline.distill``).

Notebook 09 (the appendix on the offline pairs) shows a sample of a corpus; every other notebook only uses the pairs trained on them.

A corpus is a seeded, deterministic stream of short documents of several *kinds*, described by a
:class:`CorpusSpec`. Two specs exist:

``MINI`` (:data:`DEFAULT_MIX`, the ``mini`` pair; bit-identical to the corpus the shipped pair was trained on)

* ``template``: the study's numeral template, ``"{w1} {verb} in {n}. {w2} {verb} in {n+1}. ... {wk} {verb} in
  {n+k-1}."`` with verbs ``done``/``lost``/``born`` (first names for ``born``, nouns otherwise, from
  :mod:`dcirc_utils.core.tasks`), starts spread over 1..30 and 4..9 sentences (3..8 shown elements before the last);
* ``template_irregular``: the same template whose numbers do *not* go up by one (random, repeated or decreasing),
  so that the model has to read the pattern rather than always add one;
* ``template_words``: the template with number words ("one", "two", ...) or months as elements;
* ``counting``: numeral counting sequences anywhere in 0..99 (``"31 32 33 34"``, ``"31, 32, 33, 34."``);
* ``number_words``, ``months``, ``days``: bare sequences of number words, months and days of the week;
* ``ioi``: indirect-object sentences ("When Mary and John went to the store, John gave a drink to Mary.");
* ``filler``: simple sentences from a small built-in vocabulary, some with numbers in them.

``SMALL`` (:data:`SMALL_MIX`, the ``small`` pair; GPT-2-shaped, also meant for a masked-LM encoder pair)

* the same three template kinds, but at most :data:`~dcirc_utils.core.tasks.MAX_TEMPLATE_SENTENCES` (6) sentences
  per item and element values at most :data:`~dcirc_utils.core.tasks.SHIFT_BOUNDARY` (25); together about 20% of
  the tokens (at most 25%, tested);
* ``counting``, ``number_words``, ``months``, ``days`` as in MINI;
* ``ioi``: the IOI task's 7 template families in both orders with *train* (IO, S) name pairs, ending with the IO
  name and ``"."``;
* ``qa_fact``: facts of the QA world in several phrasings ("Mary lives in Paris.", "Paris is where Mary lives.",
  ...), for every person; ``qa_doc``: questions and answers ("Q: Where does Mary live? A: Paris.") about *train*
  people only;
* ``greater_than``: "The war lasted from the year 1732 to the year 1756." (end year later, same century), with
  *train* (noun, YY) only;
* ``filler``: MINI's filler and more kinds, including the shift verb ("found") and numbers up to 99 outside any
  template.

Held-out guarantees (both specs; tests check them by parsing the generated text, not the generator's bookkeeping):
no template item pairs a word with an element value ``v`` (the numeral, or the 1-based index of a number word or
month) for which ``tasks.is_heldout(word, v)`` is true, at any position. SMALL also never contains a template item
longer than 6 sentences, a template value above 25, the shift verb in a template, a template item mixing formats,
a held-out IOI name pair, a question about a held-out QA person, or a greater-than sentence with a held-out
(noun, YY). So every shift variant of ``tasks.make_prompts`` and every default (held-out) set of ``make_task`` is
unseen by the ``small`` pair.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from ..core.tasks import (GT_CENTURIES, GT_NOUNS, IOI_NAMES, IOI_OBJECTS, IOI_ORDERS, IOI_PLACES, IOI_TEMPLATES,
                          MAX_TEMPLATE_SENTENCES, MONTHS, NAMES, NOUNS, NUMBER_WORDS, QA_CITIES, QA_WORLD,
                          SHIFT_BOUNDARY, SHIFT_VERB, VERBS, gt_is_heldout, gt_years, ioi_is_heldout, ioi_sentence,
                          is_heldout, qa_people)

__all__ = [
    "DEFAULT_MIX", "MINI_MIX", "SMALL_MIX", "DAYS", "EOS", "UNK", "CorpusDoc", "CorpusSpec", "MINI", "SMALL",
    "CORPORA", "LAZY_CORPORA", "SMALL2_MIX", "prose_pool", "small2_spec", "get_spec", "generate_documents", "generate_corpus", "template_items", "iter_template_pairs",
    "element_value", "element_format", "ioi_items", "qa_items", "greater_than_items", "token_shares",
    "build_tokenizer", "corpus_words", "vocabulary_texts",
]

EOS = "<|endoftext|>"
UNK = "[UNK]"
DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: Share of documents of each kind (they sum to 1). Tuned so that the teacher learns the task well in a few
#: minutes on one CPU thread (see ``data/models/mini/README.md``). The ``mini`` pair's mix (MINI).
DEFAULT_MIX: dict[str, float] = {
    "template": 0.36,
    "template_irregular": 0.12,
    "template_words": 0.06,
    "counting": 0.10,
    "number_words": 0.04,
    "months": 0.04,
    "days": 0.04,
    "ioi": 0.10,
    "filler": 0.14,
}
MINI_MIX = DEFAULT_MIX

# Template settings: starts of the regular numeral template and the number of sentences per item.
TEMPLATE_STARTS = range(1, 31)
TEMPLATE_SENTENCES = range(4, 10)  # 3..8 shown elements before the last one

# A small vocabulary for the filler and IOI sentences.
_PLACES = ("store", "park", "school", "office", "market", "beach", "station", "garden", "library", "river")
_OBJECTS = ("drink", "book", "ball", "gift", "letter", "key", "bag", "cake", "ring", "hat")
_ADJS = ("big", "small", "red", "old", "new", "happy", "quiet", "green", "cold", "dark")
_TVERBS = ("saw", "found", "took", "liked", "moved", "had", "made", "bought", "kept", "sold")
_IVERBS = ("slept", "waited", "smiled", "left", "stayed", "walked", "worked", "laughed")
# Filler nouns are a list of their own, so that edits to tasks.NOUNS only change the template items.
_LOWER_NOUNS = ("dog", "cat", "car", "book", "ball", "bell", "coin", "hat", "pen", "map", "key", "tree", "bird",
                "lamp", "cup", "boat", "cake", "door", "chair", "clock", "flag", "house", "paper", "rock", "ship",
                "star", "wall", "coat", "shoe", "bag")


@dataclass(frozen=True)
class CorpusDoc:
    """One document of a corpus.

    Attributes:
        kind: a key of the spec's mix.
        text: the document's text (no end-of-text marker).
        pairs: for template kinds, the (word, element value) pairs it shows, in order; empty otherwise.
    """

    kind: str
    text: str
    pairs: tuple[tuple[str, int], ...] = ()


# --------------------------------------------------------------------------------------------- MINI generators
def _pick_words(rng: random.Random, pool: Sequence[str], values: Sequence[int]) -> list[str]:
    """Distinct words, one per value, none forming a held-out (word, value) pair."""
    used: set[str] = set()
    out = []
    for v in values:
        for _ in range(1000):
            w = rng.choice(pool)
            if w not in used and not is_heldout(w, v):
                break
        else:  # pragma: no cover - about 70% of words are allowed for any value
            raise RuntimeError(f"no word of the pool is allowed with value {v}")
        used.add(w)
        out.append(w)
    return out


def _template(rng: random.Random, values: Sequence[int], shown: Sequence[str]) -> CorpusDoc:
    """A template item: a verb (names with ``born``), one allowed word per value, ``shown`` as the elements."""
    verb = rng.choice(VERBS)
    pool = NAMES if verb == "born" else NOUNS
    words = _pick_words(rng, pool, values)
    text = " ".join(f"{w} {verb} in {x}." for w, x in zip(words, shown))
    return CorpusDoc("", text, tuple(zip(words, values)))


def _regular_start(rng: random.Random) -> int:
    # Small starts (the study's range) are drawn more often than the rest of 1..30.
    """A MINI regular item's start: 1..12 with probability 0.6, else 13..30."""
    if rng.random() < 0.6:
        return rng.randint(1, 12)
    return rng.randint(13, max(TEMPLATE_STARTS))


def _doc_template(rng: random.Random) -> CorpusDoc:
    """MINI ``template``: 4..9 sentences counting up by one from a start in 1..30."""
    k = rng.choice(TEMPLATE_SENTENCES)
    start = _regular_start(rng)
    values = [start + i for i in range(k)]
    return _template(rng, values, [str(v) for v in values])


def _doc_template_irregular(rng: random.Random) -> CorpusDoc:
    """MINI ``template_irregular``: random, repeated or decreasing values in 1..30."""
    k = rng.choice(TEMPLATE_SENTENCES)
    style = rng.choice(("random", "repeated", "decreasing"))
    if style == "random":
        values = [rng.randint(1, 30) for _ in range(k)]
    elif style == "repeated":
        values = [rng.randint(1, 30)] * k
    else:
        start = rng.randint(k, 30)
        values = [start - i for i in range(k)]
    return _template(rng, values, [str(v) for v in values])


def _doc_template_words(rng: random.Random) -> CorpusDoc:
    """MINI ``template_words``: the template with number words or months."""
    table = NUMBER_WORDS if rng.random() < 0.5 else MONTHS
    k = rng.choice(TEMPLATE_SENTENCES)
    start = rng.randint(1, len(table) - k + 1)  # 1-based, as in tasks.make_prompts
    values = [start + i for i in range(k)]
    return _template(rng, values, [table[v - 1] for v in values])


def _join_sequence(rng: random.Random, items: Sequence[str]) -> str:
    """Items joined by spaces, or by commas with a final period (one of the two at random)."""
    if rng.random() < 0.5:
        return " ".join(items)
    return ", ".join(items) + "."


def _doc_counting(rng: random.Random) -> CorpusDoc:
    """``counting``: 4..10 consecutive numerals anywhere in 0..99."""
    k = rng.randint(4, 10)
    start = rng.randint(0, 100 - k)
    return CorpusDoc("", _join_sequence(rng, [str(start + i) for i in range(k)]))


def _table_sequence(rng: random.Random, table: Sequence[str], wrap: bool, capitalise_first: bool) -> str:
    """3..8 consecutive entries of ``table`` (wrapping around for months and days)."""
    k = rng.randint(3, min(8, len(table)))
    start = rng.randrange(len(table) if wrap else len(table) - k + 1)
    items = [table[(start + i) % len(table)] for i in range(k)]
    if capitalise_first and rng.random() < 0.5:
        items[0] = items[0].capitalize()
    return _join_sequence(rng, items)


def _doc_number_words(rng: random.Random) -> CorpusDoc:
    """``number_words``: consecutive number words, the first sometimes capitalised."""
    return CorpusDoc("", _table_sequence(rng, NUMBER_WORDS, wrap=False, capitalise_first=True))


def _doc_months(rng: random.Random) -> CorpusDoc:
    """``months``: consecutive months, wrapping from December to January."""
    return CorpusDoc("", _table_sequence(rng, MONTHS, wrap=True, capitalise_first=False))


def _doc_days(rng: random.Random) -> CorpusDoc:
    """``days``: consecutive days of the week, wrapping around."""
    return CorpusDoc("", _table_sequence(rng, DAYS, wrap=True, capitalise_first=False))


def _doc_ioi(rng: random.Random) -> CorpusDoc:
    """MINI ``ioi``: one of two IOI sentences with the numeral task's names."""
    a, b = rng.sample(NAMES, 2)
    place, obj = rng.choice(_PLACES), rng.choice(_OBJECTS)
    if rng.random() < 0.5:
        text = f"When {a} and {b} went to the {place}, {b} gave a {obj} to {a}."
    else:
        text = f"Then, {a} and {b} went to the {place}. {b} gave a {obj} to {a}."
    return CorpusDoc("", text)


def _filler_sentence(rng: random.Random) -> str:
    """One MINI filler sentence (five forms, some with numbers 2..99)."""
    form = rng.randrange(5)
    noun, noun2 = rng.sample(_LOWER_NOUNS, 2)
    if form == 0:
        return f"The {rng.choice(_ADJS)} {noun} {rng.choice(_TVERBS)} the {noun2}."
    if form == 1:
        return f"{rng.choice(NAMES)} {rng.choice(_TVERBS)} a {noun} in the {rng.choice(_PLACES)}."
    if form == 2:
        return f"{rng.choice(NAMES)} {rng.choice(_IVERBS)} at the {rng.choice(_PLACES)}."
    if form == 3:
        return f"There were {rng.randint(2, 99)} {noun}s in the {rng.choice(_PLACES)}."
    return f"{rng.choice(NAMES)} {rng.choice(_TVERBS)} {rng.randint(2, 99)} {noun}s."


def _doc_filler(rng: random.Random) -> CorpusDoc:
    """MINI ``filler``: 1..3 filler sentences."""
    return CorpusDoc("", " ".join(_filler_sentence(rng) for _ in range(rng.randint(1, 3))))


_GENERATORS = {
    "template": _doc_template,
    "template_irregular": _doc_template_irregular,
    "template_words": _doc_template_words,
    "counting": _doc_counting,
    "number_words": _doc_number_words,
    "months": _doc_months,
    "days": _doc_days,
    "ioi": _doc_ioi,
    "filler": _doc_filler,
}
_TEMPLATE_KINDS = ("template", "template_irregular", "template_words")


# --------------------------------------------------------------------------------------------- SMALL generators
#: Sentences per template item of the SMALL corpus (2..5 shown elements and the last one) and their weights: the
#: longer items, which contain the 4-shown-then-ask position of the task, are drawn more often.
SMALL_TEMPLATE_SENTENCES: tuple[int, ...] = tuple(range(3, MAX_TEMPLATE_SENTENCES + 1))
_SMALL_SENTENCE_WEIGHTS = (1, 2, 3, 3)
assert len(_SMALL_SENTENCE_WEIGHTS) == len(SMALL_TEMPLATE_SENTENCES)
#: Names of the SMALL filler: the numeral task's names and the IOI names (so that IOI names occur outside IOI too).
_SMALL_FILLER_NAMES: tuple[str, ...] = tuple(dict.fromkeys(NAMES + IOI_NAMES))
_QA_TRAIN_PEOPLE = tuple(qa_people("train"))
_QA_PEOPLE = tuple(QA_WORLD)
_QA_FACT_FORMS = ("{p} lives in {c}.", "{c} is where {p} lives.", "{p} has a house in {c}.",
                  "The city where {p} lives is {c}.", "{p} lives in {c} and works there.")
_IOI_TRAIN_PAIRS = tuple((io, s) for io in IOI_NAMES for s in IOI_NAMES if io != s and not ioi_is_heldout(io, s))
_GT_TRAIN = {c: {n: [yy for yy in gt_years(c) if not gt_is_heldout(n, yy)] for n in GT_NOUNS} for c in GT_CENTURIES}


def _small_k(rng: random.Random) -> int:
    """Sentences of a SMALL template item: 3..6, the longer ones more often."""
    return rng.choices(SMALL_TEMPLATE_SENTENCES, _SMALL_SENTENCE_WEIGHTS)[0]


def _small_template(rng: random.Random) -> CorpusDoc:
    """SMALL ``template``: counting up by one, every value at most ``SHIFT_BOUNDARY``."""
    k = _small_k(rng)
    top = SHIFT_BOUNDARY - k + 1
    start = rng.randint(1, min(12, top)) if rng.random() < 0.6 else rng.randint(min(13, top), top)
    values = [start + i for i in range(k)]
    return _template(rng, values, [str(v) for v in values])


def _small_template_irregular(rng: random.Random) -> CorpusDoc:
    """SMALL ``template_irregular``: random, repeated or decreasing values in 1..``SHIFT_BOUNDARY``."""
    k = _small_k(rng)
    style = rng.choice(("random", "repeated", "decreasing"))
    if style == "random":
        values = [rng.randint(1, SHIFT_BOUNDARY) for _ in range(k)]
    elif style == "repeated":
        values = [rng.randint(1, SHIFT_BOUNDARY)] * k
    else:
        start = rng.randint(k, SHIFT_BOUNDARY)
        values = [start - i for i in range(k)]
    return _template(rng, values, [str(v) for v in values])


def _small_template_words(rng: random.Random) -> CorpusDoc:
    """SMALL ``template_words``: number words or months (never mixed with numerals)."""
    table = NUMBER_WORDS if rng.random() < 0.5 else MONTHS
    k = _small_k(rng)
    start = rng.randint(1, len(table) - k + 1)
    values = [start + i for i in range(k)]
    return _template(rng, values, [table[v - 1] for v in values])


def _small_ioi(rng: random.Random) -> CorpusDoc:
    """SMALL ``ioi``: a train (IO, S) pair in a random family and order, ending with the IO name."""
    io, s = rng.choice(_IOI_TRAIN_PAIRS)
    index, order = rng.randrange(len(IOI_TEMPLATES)), rng.choice(IOI_ORDERS)
    text = ioi_sentence(index, order, io, s, rng.choice(IOI_PLACES), rng.choice(IOI_OBJECTS)) + f" {io}."
    return CorpusDoc("", text)


def _small_qa_fact(rng: random.Random) -> CorpusDoc:
    """SMALL ``qa_fact``: 1..3 facts of the QA world (any person) in random phrasings."""
    people = rng.sample(_QA_PEOPLE, rng.randint(1, 3))
    return CorpusDoc("", " ".join(rng.choice(_QA_FACT_FORMS).format(p=p, c=QA_WORLD[p]) for p in people))


def _small_qa_doc(rng: random.Random) -> CorpusDoc:
    """SMALL ``qa_doc``: 1..3 questions with answers about train people only."""
    people = rng.sample(_QA_TRAIN_PEOPLE, rng.randint(1, 3))
    return CorpusDoc("", " ".join(f"Q: Where does {p} live? A: {QA_WORLD[p]}." for p in people))


def _gt_sentence(rng: random.Random) -> str:
    """A greater-than sentence with a train (noun, YY) and a later end year in the same century."""
    century = rng.choice(GT_CENTURIES)
    noun = rng.choice(GT_NOUNS)
    yy = rng.choice(_GT_TRAIN[century][noun])
    end = rng.randint(yy + 1, 99)
    return f"The {noun} lasted from the year {century}{yy:02d} to the year {century}{end:02d}."


def _small_greater_than(rng: random.Random) -> CorpusDoc:
    """SMALL ``greater_than``: 1..2 greater-than sentences."""
    return CorpusDoc("", " ".join(_gt_sentence(rng) for _ in range(rng.randint(1, 2))))


def _small_filler_sentence(rng: random.Random) -> str:
    """One SMALL filler sentence (ten forms: MINI's five, the shift verb with numbers, days, months, pairs of names,
    ages)."""
    form = rng.randrange(10)
    noun, noun2 = rng.sample(_LOWER_NOUNS, 2)
    name, name2 = rng.sample(_SMALL_FILLER_NAMES, 2)
    if form == 0:
        return f"The {rng.choice(_ADJS)} {noun} {rng.choice(_TVERBS)} the {noun2}."
    if form == 1:
        return f"{name} {rng.choice(_TVERBS)} a {noun} in the {rng.choice(_PLACES)}."
    if form == 2:
        return f"{name} {rng.choice(_IVERBS)} at the {rng.choice(_PLACES)}."
    if form == 3:
        return f"There were {rng.randint(2, 99)} {noun}s in the {rng.choice(_PLACES)}."
    if form == 4:
        return f"{name} {rng.choice(_TVERBS)} {rng.randint(2, 99)} {noun}s."
    if form == 5:  # the shift verb and large numbers, never in a template
        return f"{name} {SHIFT_VERB} {rng.randint(2, 99)} {noun}s in the {rng.choice(_PLACES)}."
    if form == 6:
        return f"On {rng.choice(DAYS)}, {name} {rng.choice(_IVERBS)} at the {rng.choice(_PLACES)}."
    if form == 7:
        return f"In {rng.choice(MONTHS)}, the {rng.choice(_ADJS)} {noun} {rng.choice(_TVERBS)} the {noun2}."
    if form == 8:
        return f"{name} and {name2} {rng.choice(_IVERBS)}."
    return f"{name} was {rng.randint(2, 99)} years old."


def _small_filler(rng: random.Random) -> CorpusDoc:
    """SMALL ``filler``: 1..3 filler sentences."""
    return CorpusDoc("", " ".join(_small_filler_sentence(rng) for _ in range(rng.randint(1, 3))))


_SMALL_GENERATORS = {
    "template": _small_template,
    "template_irregular": _small_template_irregular,
    "template_words": _small_template_words,
    "counting": _doc_counting,
    "number_words": _doc_number_words,
    "months": _doc_months,
    "days": _doc_days,
    "ioi": _small_ioi,
    "qa_fact": _small_qa_fact,
    "qa_doc": _small_qa_doc,
    "greater_than": _small_greater_than,
    "filler": _small_filler,
}

#: Share of documents of each kind in the SMALL corpus. The template kinds are about 20% of the tokens (at most 25%,
#: tested); IOI, QA and greater-than get enough text for a 12-layer teacher to learn them in ~1,500 steps (measured
#: shares and pilots in ``data/models/small/README.md``; :func:`token_shares` measures them).
SMALL_MIX: dict[str, float] = {
    "template": 0.072,
    "template_irregular": 0.03,
    "template_words": 0.025,
    "counting": 0.06,
    "number_words": 0.03,
    "months": 0.03,
    "days": 0.02,
    "ioi": 0.22,
    "qa_fact": 0.12,
    "qa_doc": 0.06,
    "greater_than": 0.06,
    "filler": 0.14,
}


# --------------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class CorpusSpec:
    """A corpus: its document kinds, their default shares and its tokenizer's pre-tokenization.

    Attributes:
        name: ``"mini"`` or ``"small"``.
        mix: default share of documents of each kind.
        generators: kind → ``f(rng) -> CorpusDoc``.
        seed_prefix: the random stream is ``random.Random(f"{seed_prefix}{seed}")``.
        template_kinds: the kinds that write the study's template.
        split_digits: whether the tokenizer splits digit runs into pairs (`` 1732`` → `` 17`` + ``32``, as GPT-2's
            BPE does for years); MINI keeps every number one token.
        tokens_per_doc: a rough mean of tokens per document with its end-of-text token (sizes first draws).
        closed_vocabulary: when set, the tokenizer's whole vocabulary (SMALL2: SMALL's and the prose's most frequent
            words); other pre-tokens of the corpus become ``[UNK]``. ``None``: the corpus's own pre-tokens.
    """

    name: str
    mix: Mapping[str, float]
    generators: Mapping[str, Callable[[random.Random], CorpusDoc]] = field(repr=False)
    seed_prefix: str
    template_kinds: tuple[str, ...] = _TEMPLATE_KINDS
    split_digits: bool = False
    tokens_per_doc: float = 20.0
    closed_vocabulary: tuple[str, ...] | None = field(default=None, repr=False)


MINI = CorpusSpec("mini", DEFAULT_MIX, _GENERATORS, "dcirc-corpus-", split_digits=False, tokens_per_doc=20.0)
SMALL = CorpusSpec("small", SMALL_MIX, _SMALL_GENERATORS, "dcirc-corpus-small-", split_digits=True,
                   tokens_per_doc=17.0)
CORPORA: dict[str, CorpusSpec] = {"mini": MINI, "small": SMALL}
#: Specs built on demand (they read text that the package does not ship): name → builder.
LAZY_CORPORA: dict[str, Callable[[], CorpusSpec]] = {}

#: Share of documents of each kind in the SMALL2 corpus (the capacity-limited pair ``small2``): more than half of the
#: tokens are WordNet prose (``offline.prose``), the study's template family at most 5%, IOI about a fifth (a pilot
#: with 13% had not learned IOI after 1,200 of 1,800 steps), QA and greater-than a few per cent each
#: (:func:`token_shares` measures them; ``data/models/small2/README.md`` gives the shares and the pilot).
SMALL2_MIX: dict[str, float] = {
    "prose": 1.35,
    "template": 0.096,
    "template_irregular": 0.042,
    "template_words": 0.037,
    "counting": 0.10,
    "number_words": 0.05,
    "months": 0.05,
    "days": 0.025,
    "ioi": 1.1,
    "qa_fact": 0.26,
    "qa_doc": 0.13,
    "greater_than": 0.25,
    "filler": 0.25,
}
#: Sentences per prose document.
PROSE_SENTENCES = (2, 4)


def _prose_generator(train: Sequence[str]) -> Callable[[random.Random], CorpusDoc]:
    """``prose``: 2..4 sentences drawn at random from the training part of the prose pool."""
    def gen(rng: random.Random) -> CorpusDoc:
        k = rng.randint(*PROSE_SENTENCES)
        return CorpusDoc("", " ".join(rng.choice(train) for _ in range(k)))
    return gen


@lru_cache(maxsize=2)
def prose_pool(wordnet: str | None = None):
    """The SMALL2 prose: WordNet's filtered sentences (``prose.candidate_sentences``), the words the vocabulary adds
    and the train / held-out split, as a ``prose.ProsePool``.

    A sentence stands first in a document or after another one, so both of its forms (``"An"`` and ``"ĠAn"``) count
    for the vocabulary, which is counted on the training sentences only; a sentence is kept when both forms have at
    most ``prose.MAX_UNK_SHARE`` unknown pre-tokens.
    """
    from . import prose
    verbs = tuple(VERBS) + (SHIFT_VERB,)
    sentences = prose.candidate_sentences(wordnet, lambda t: bool(template_items(t, verbs)))
    pre = _pre_tokenizer(SMALL)
    forms = [([p for p, _ in pre.pre_tokenize_str(s)], [p for p, _ in pre.pre_tokenize_str(" " + s)])
             for s in sentences]
    counts = Counter(p for s, (a, b) in zip(sentences, forms) if not prose.is_heldout(s) for p in a + b)
    top = sorted(counts, key=lambda w: (-counts[w], w))[:prose.PROSE_WORDS]
    known = set(top) | set(_default_vocabulary("small"))
    train, heldout, n_tok, n_unk = [], [], 0, 0
    for s, (a, b) in zip(sentences, forms):
        unk = max(sum(p not in known for p in a), sum(p not in known for p in b))
        if unk > prose.MAX_UNK_SHARE * len(a):
            continue
        n_tok, n_unk = n_tok + len(b), n_unk + sum(p not in known for p in b)
        (heldout if prose.is_heldout(s) else train).append(s)
    return prose.ProsePool(tuple(train), tuple(heldout), tuple(sorted(top)), n_unk / max(1, n_tok),
                           f"WordNet 3.0 ({prose.wordnet_dir(wordnet)})")


@lru_cache(maxsize=2)
def small2_spec(wordnet: str | None = None) -> CorpusSpec:
    """The SMALL2 spec: SMALL's generators, SMALL2_MIX and WordNet prose (``offline.prose``; the folder of WordNet's
    data files, or ``None`` to find or fetch it)."""
    pool = prose_pool(wordnet)
    gens = dict(_SMALL_GENERATORS) | {"prose": _prose_generator(pool.train)}
    vocab = tuple(sorted(set(_default_vocabulary("small")) | set(pool.words)))
    return CorpusSpec("small2", SMALL2_MIX, gens, "dcirc-corpus-small2-", split_digits=True, tokens_per_doc=26.0,
                      closed_vocabulary=vocab)


LAZY_CORPORA["small2"] = small2_spec


def get_spec(spec: str | CorpusSpec) -> CorpusSpec:
    """A :class:`CorpusSpec` by name (``"mini"``, ``"small"``) or as given (``offline.distill``, notebook 09).

    Raises:
        ValueError: for an unknown name.
    """
    if isinstance(spec, CorpusSpec):
        return spec
    if spec in LAZY_CORPORA:
        return LAZY_CORPORA[spec]()
    if spec not in CORPORA:
        raise ValueError(f"unknown corpus {spec!r}; choose one of {sorted(CORPORA) + sorted(LAZY_CORPORA)}")
    return CORPORA[spec]


def _check_mix(mix: Mapping[str, float], generators: Mapping[str, Callable]) -> tuple[list[str], list[float]]:
    """The kinds with a positive weight (in the generators' order) and their weights.

    Raises:
        ValueError: for an unknown kind, a negative weight or no positive one.
    """
    unknown = sorted(set(mix) - set(generators))
    if unknown:
        raise ValueError(f"unknown document kinds {unknown} in mix; known kinds: {sorted(generators)}")
    kinds = [k for k in generators if mix.get(k, 0) > 0]
    if any(v < 0 for v in mix.values()) or not kinds:
        raise ValueError(f"mix weights must be >= 0 with at least one positive, got {dict(mix)}")
    return kinds, [float(mix[k]) for k in kinds]


def generate_documents(n: int, seed: int = 0, mix: Mapping[str, float] | None = None,
                       spec: str | CorpusSpec = "mini") -> list[CorpusDoc]:
    """``n`` documents drawn from ``mix`` (notebook 09; ``offline.distill`` trains on their texts).

    Deterministic: the same ``(n, seed, mix, spec)`` gives the same documents, and the first ``m`` documents of a
    longer call equal those of ``generate_documents(m, seed, mix, spec)``. ``spec="mini"`` (the default) is the
    corpus the shipped ``mini`` pair was trained on, unchanged.

    Args:
        n: number of documents (>= 0).
        seed: the generator's seed.
        mix: share of each document kind (normalised here); ``None`` uses the spec's mix.
        spec: ``"mini"``, ``"small"`` or a :class:`CorpusSpec`.

    Raises:
        ValueError: for a negative ``n``, an unknown spec or kind, or weights that are negative or all zero.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    spec = get_spec(spec)
    kinds, weights = _check_mix(spec.mix if mix is None else mix, spec.generators)
    rng = random.Random(f"{spec.seed_prefix}{seed}")
    docs = []
    for _ in range(n):
        kind = rng.choices(kinds, weights)[0]
        doc = spec.generators[kind](rng)
        docs.append(CorpusDoc(kind, doc.text, doc.pairs))
    return docs


def generate_corpus(n: int, seed: int = 0, mix: Mapping[str, float] | None = None,
                    spec: str | CorpusSpec = "mini") -> list[str]:
    """The texts of :func:`generate_documents` (``offline.distill``, notebook 09)."""
    return [d.text for d in generate_documents(n, seed, mix, spec)]


# --------------------------------------------------------------------------------------------- parsers
_TEMPLATE_SENTENCE = re.compile(r"(\w+) (done|lost|born) in (\w+)\.")


def _template_regex(verbs: Sequence[str]) -> re.Pattern:
    """The template sentence pattern for ``verbs`` (the MINI pattern object for the template verbs)."""
    if tuple(verbs) == VERBS:
        return _TEMPLATE_SENTENCE
    return re.compile(r"(\w+) (" + "|".join(re.escape(v) for v in verbs) + r") in (\w+)\.")


def template_items(text: str, verbs: Sequence[str] = VERBS) -> list[list[tuple[str, str]]]:
    """The template items of a text, each as its list of (word, element) pairs, parsed from the text alone.

    An item is a maximal run of consecutive sentences ``"{word} {verb} in {element}."`` with one verb. Used by
    the tests (and notebook 09) to check the held-out guarantees without trusting the generator's own bookkeeping.

    Args:
        text: a document.
        verbs: the verbs to recognise (default the template's; add ``tasks.SHIFT_VERB`` to look for it).
    """
    items: list[list[tuple[str, str]]] = []
    last_end, last_verb = None, None
    for m in _template_regex(verbs).finditer(text):
        word, verb, elem = m.groups()
        contiguous = last_end is not None and text[last_end:m.start()] == " " and verb == last_verb
        if contiguous:
            items[-1].append((word, elem))
        else:
            items.append([(word, elem)])
        last_end, last_verb = m.end(), verb
    return items


def element_value(elem: str) -> int | None:
    """The numeric value of a template element: the numeral, or the 1-based index of a number word or month
    (tests, notebook 09)."""
    if elem.isdigit():
        return int(elem)
    for table in (NUMBER_WORDS, MONTHS):
        if elem in table:
            return table.index(elem) + 1
    return None


def element_format(elem: str) -> str:
    """``"numeral"``, ``"number_word"``, ``"month"`` or ``"other"``: the format of a template element (notebook 09
    and the tests check that no SMALL template item mixes formats; the ``mixed`` shift variant does)."""
    if elem.isdigit():
        return "numeral"
    if elem in NUMBER_WORDS:
        return "number_word"
    if elem in MONTHS:
        return "month"
    return "other"


def iter_template_pairs(texts: Iterable[str]) -> Iterator[tuple[str, int, int]]:
    """Every (word, value, position in its item) of every template item in ``texts`` (tests, notebook 09)."""
    for text in texts:
        for item in template_items(text):
            for pos, (word, elem) in enumerate(item):
                value = element_value(elem)
                if value is not None:
                    yield word, value, pos


def _ioi_regex(index: int) -> re.Pattern:
    """The pattern of IOI family ``index`` (first-clause names ``N1``, ``N2``, subject ``S2``, final ``END``)."""
    t = re.escape(IOI_TEMPLATES[index])
    for slot, group in (("S1", "N1"), ("IO", "N2"), ("S2", "S2"), ("P", "P"), ("O", "O")):
        t = t.replace(re.escape("{" + slot + "}"), f"(?P<{group}>\\w+)", 1)
    return re.compile(t + r" (?P<END>\w+)\.")


_IOI_REGEXES = [(i, _ioi_regex(i)) for i in range(len(IOI_TEMPLATES))]


def ioi_items(text: str) -> list[dict]:
    """Every IOI sentence of a text (any of the 7 families, ending with a name and ``"."``), as ``{"template",
    "order", "io", "s1", "s2", "end", "place", "object"}`` (tests, notebook 09).

    The order is read from the text: ``"BABA"`` when the first name of the first clause is the second clause's
    subject, ``"ABBA"`` when the second one is, ``None`` (and ``io``/``s1`` the first clause's names in order)
    when neither is.
    """
    out = []
    for index, rx in _IOI_REGEXES:
        for m in rx.finditer(text):
            g = m.groupdict()
            n1, n2, s2 = g["N1"], g["N2"], g["S2"]
            order = "BABA" if n1 == s2 else "ABBA" if n2 == s2 else None
            io, s1 = (n1, n2) if order == "ABBA" else (n2, n1)
            out.append({"template": index, "order": order, "io": io, "s1": s1, "s2": s2, "end": g["END"],
                        "place": g.get("P"), "object": g.get("O")})
    return out


_QA_QUESTION_RX = re.compile(r"Q: Where does (\w+) live\? A: (\w+)\.")
_QA_FACT_RXS = [re.compile(re.escape(f).replace(re.escape("{p}"), r"(?P<p>\w+)").replace(re.escape("{c}"),
                                                                                         r"(?P<c>\w+)"))
                for f in _QA_FACT_FORMS]


def qa_items(text: str) -> dict[str, list[tuple[str, str]]]:
    """The QA questions ``[(person, answer)]`` and fact statements ``[(person, city)]`` of a text (tests,
    notebook 09)."""
    facts = [(m.group("p"), m.group("c")) for rx in _QA_FACT_RXS for m in rx.finditer(text)]
    return {"questions": _QA_QUESTION_RX.findall(text), "facts": facts}


_GT_RX = re.compile(r"The (\w+) lasted from the year (\d\d)(\d\d) to the year (\d\d)(\d\d)\.")


def greater_than_items(text: str) -> list[tuple[str, int, int, int, int]]:
    """Every greater-than sentence of a text as ``(noun, century, yy, end century, end yy)`` (tests, notebook
    00)."""
    return [(n, int(c), int(y), int(c2), int(y2)) for n, c, y, c2, y2 in _GT_RX.findall(text)]


# --------------------------------------------------------------------------------------------- tokenizer
def _builtin_words(spec: CorpusSpec = MINI) -> list[str]:
    """Every word the generators can write, so that the vocabulary is closed whatever the corpus sample."""
    words: list[str] = []
    for table in (NOUNS, NAMES, VERBS, NUMBER_WORDS, MONTHS, DAYS, _PLACES, _OBJECTS, _ADJS, _TVERBS, _IVERBS,
                  _LOWER_NOUNS):
        words.extend(table)
    words.extend(w.capitalize() for w in NUMBER_WORDS)
    words.extend(w + "s" for w in _LOWER_NOUNS)
    words.extend(("When", "and", "went", "to", "the", "gave", "a", "Then", "The", "There", "were", "in", "at"))
    if spec.name != "mini":
        for table in (IOI_NAMES, IOI_PLACES, IOI_OBJECTS, QA_CITIES, GT_NOUNS):
            words.extend(table)
        words.extend([f"{i:02d}" for i in range(10)] + [SHIFT_VERB])
    return words


def _task_words() -> list[str]:
    """The pre-tokens of every task's prompts and answers (all splits), for the SMALL vocabulary."""
    from ..core.tasks import IOI_TEMPLATES as _T
    from ..core.tasks import make_task
    texts: list[str] = []
    sets = [make_task("numerals", 300, 0, split="any", variant=v) for v in ("numerals", "range_shift", "verb_shift",
                                                                            "mixed", "large", "months")]
    sets += [make_task("ioi", 200, 0, split="any", template=k) for k in range(len(_T))]
    sets += [make_task("qa", 200, 0, split="any"), make_task("greater_than", 300, 0, split="any")]
    for ps in sets:
        texts += ps.clean + ps.corrupted + ps.correct + ps.incorrect
    return texts


def _pre_tokenizer(spec: CorpusSpec = MINI):
    """GPT-2's ByteLevel pre-tokenizer, after a pair-of-digits ``Split`` when the spec splits digits."""
    from tokenizers import Regex, pre_tokenizers
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if not spec.split_digits:
        return byte_level
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r" ?\d\d"), behavior="isolated"), byte_level])


def _byte_level():
    """The MINI pre-tokenizer (GPT-2's ByteLevel regex, no prefix space)."""
    return _pre_tokenizer(MINI)


def corpus_words(texts: Iterable[str], spec: str | CorpusSpec = "mini") -> set[str]:
    """The pre-tokens (``"Van"``, ``"Ġ5"``, ``"."`` ...) of ``texts``: the corpus part of the vocabulary
    (``build_tokenizer``; notebook 09)."""
    pre = _pre_tokenizer(get_spec(spec))
    words: set[str] = set()
    for t in texts:
        words.update(piece for piece, _ in pre.pre_tokenize_str(t))
    return words


def _vocabulary(texts: Iterable[str], spec: CorpusSpec) -> tuple[str, ...]:
    """The sorted pre-tokens of a vocabulary built from ``texts`` (without ``[UNK]`` and ``<|endoftext|>``)."""
    if spec.closed_vocabulary is not None:
        return spec.closed_vocabulary
    words = corpus_words(texts, spec)
    for w in [str(i) for i in range(100)] + _builtin_words(spec):
        words.update((w, "Ġ" + w))
    if spec.name != "mini":
        words.update(corpus_words(_task_words(), spec))      # = the task part of vocabulary_texts(spec)
    words.discard(EOS)
    words.discard(UNK)
    return tuple(sorted(words))


def vocabulary_texts(spec: str | CorpusSpec = "small") -> list[str]:
    """Every word the generators of ``spec`` can write, and (beyond ``mini``) the texts of every task's prompts: what
    a tokenizer built from a corpus sample must also cover so that its vocabulary is closed (``build_tokenizer``;
    ``offline.encoder.build_encoder_tokenizer``)."""
    spec = get_spec(spec)
    return [str(i) for i in range(100)] + _builtin_words(spec) + ([] if spec.name == "mini" else _task_words())


@lru_cache(maxsize=None)
def _default_vocabulary(name: str) -> tuple[str, ...]:
    """The vocabulary of a named spec's default corpus (20,000 documents, seed 0), computed once per process."""
    spec = CORPORA[name]
    return _vocabulary(generate_corpus(20_000, seed=0, spec=spec), spec)


def build_tokenizer(texts: Iterable[str] | None = None, model_max_length: int = 128, spec: str | CorpusSpec = "mini"):
    """A word-level tokenizer that splits text as GPT-2's regex does (``offline.distill``; notebook 09).

    Every word, number and punctuation mark becomes one token: ``"Van"``, ``" Van"``, ``" 5"`` and ``"."`` are
    each a single token, so the task's prompts tokenize like GPT-2's (whose vocabulary has these too) and no
    beginning-of-sequence token is added by ``encode``. The vocabulary is the pre-tokens of ``texts``, plus the
    numbers 0..99, every word of the task's lists (nouns, names, verbs, number words, months, days) and every other
    word the generators can write, each with and without a leading space, plus ``"[UNK]"`` (id 0) and
    ``"<|endoftext|>"`` (id 1). Sorted, so the same texts always give the same ids.

    ``spec="small"`` also splits digit runs into pairs before GPT-2's regex (a ``Split`` on `` ?\\d\\d``), so that a
    year splits as GPT-2's BPE splits it (`` 1732`` → `` 17`` + ``32``) while `` 5`` and `` 12`` stay one token;
    its vocabulary adds ``"00"`` .. ``"09"`` and every word of every task's prompts (IOI, QA, greater-than).

    Args:
        texts: corpus texts; ``None`` uses 20,000 documents of :func:`generate_corpus` with seed 0 of ``spec``.
        model_max_length: the longest input the models take (their ``n_positions``).
        spec: ``"mini"`` (the ``mini`` pair's tokenizer, unchanged) or ``"small"``.

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` with ``eos_token`` = ``bos_token`` = ``"<|endoftext|>"`` and
        ``unk_token`` = ``"[UNK]"``.
    """
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    spec = get_spec(spec)
    if texts is None and spec is CORPORA.get(spec.name):
        words = _default_vocabulary(spec.name)  # computed once per process
    else:
        if texts is None:
            texts = () if spec.closed_vocabulary is not None else generate_corpus(20_000, seed=0, spec=spec)
        words = _vocabulary(texts, spec)
    vocab = {UNK: 0, EOS: 1}
    for w in words:
        vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = _pre_tokenizer(spec)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([UNK, EOS])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=UNK,
                                   model_max_length=model_max_length)


def token_shares(docs: Sequence[CorpusDoc], tokenizer) -> dict[str, dict[str, float]]:
    """Tokens per document kind, each document counted with its end-of-text token (model cards, notebook 09).

    Returns:
        ``{kind: {"docs", "tokens", "doc_share", "token_share"}}`` plus ``"template_family"``: the three template
        kinds together.
    """
    enc = tokenizer([d.text for d in docs], add_special_tokens=False)["input_ids"]
    n_docs, n_tok = Counter(), Counter()
    for d, ids in zip(docs, enc):
        n_docs[d.kind] += 1
        n_tok[d.kind] += len(ids) + 1
    total_d, total_t = max(1, sum(n_docs.values())), max(1, sum(n_tok.values()))
    out = {k: {"docs": n_docs[k], "tokens": n_tok[k], "doc_share": n_docs[k] / total_d,
               "token_share": n_tok[k] / total_t} for k in n_docs}
    fam = [k for k in _TEMPLATE_KINDS if k in out]
    out["template_family"] = {key: sum(out[k][key] for k in fam) for key in ("docs", "tokens", "doc_share",
                                                                             "token_share")}
    return out
