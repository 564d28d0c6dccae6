"""The document generator of the offline corpora (``offline.corpus``): one function per document kind, each
parameterised by a :class:`CorpusSpec`, which says what differs between the corpora (MINI, SMALL, SMALL2).

:func:`write_document` writes one document of a kind for a spec from a seeded ``random.Random``; the corpus draws
the kinds (``corpus.generate_documents``). Every random draw is made in the same order as the corpora's original,
separate generators, so the documents of every spec and seed are unchanged (``tests/unit/test_corpus.py`` pins
them). What a spec sets:

* the template kinds: sentences per item (:attr:`CorpusSpec.template_sentences`, uniformly or with
  :attr:`~CorpusSpec.sentence_weights`), the largest element value (:attr:`~CorpusSpec.max_value`) and whether a
  regular item must *end* at it (:attr:`~CorpusSpec.bounded_items`, SMALL) or only *start* at most at it (MINI);
* ``ioi``: MINI's two sentences with the numeral task's names, or the IOI task's families with *train* name pairs
  (:attr:`~CorpusSpec.ioi_families`);
* ``filler``: MINI's five sentence forms, or SMALL's ten (:attr:`~CorpusSpec.rich_filler`);
* ``prose``: the training sentences it draws from (:attr:`~CorpusSpec.prose`, SMALL2).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from ..core.tasks import (GT_CENTURIES, GT_NOUNS, IOI_NAMES, IOI_OBJECTS, IOI_ORDERS, IOI_PLACES, IOI_TEMPLATES,
                          MAX_TEMPLATE_SENTENCES, MONTHS, NAMES, NOUNS, NUMBER_WORDS, QA_WORLD, SHIFT_VERB, VERBS,
                          gt_is_heldout, gt_years, ioi_is_heldout, ioi_sentence, is_heldout, qa_people)

__all__ = [
    "DAYS", "PLACES", "OBJECTS", "ADJECTIVES", "TRANSITIVE_VERBS", "INTRANSITIVE_VERBS", "FILLER_NOUNS",
    "QA_FACT_FORMS", "TEMPLATE_KINDS", "TEMPLATE_STEPS", "TEMPLATE_STARTS", "TEMPLATE_SENTENCES", "SMALL_TEMPLATE_SENTENCES",
    "SMALL_SENTENCE_WEIGHTS", "PROSE_SENTENCES", "CorpusDoc", "CorpusSpec", "KIND_WRITERS", "write_document",
]

DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# A small vocabulary for the filler and MINI's IOI sentences.
PLACES = ("store", "park", "school", "office", "market", "beach", "station", "garden", "library", "river")
OBJECTS = ("drink", "book", "ball", "gift", "letter", "key", "bag", "cake", "ring", "hat")
ADJECTIVES = ("big", "small", "red", "old", "new", "happy", "quiet", "green", "cold", "dark")
TRANSITIVE_VERBS = ("saw", "found", "took", "liked", "moved", "had", "made", "bought", "kept", "sold")
INTRANSITIVE_VERBS = ("slept", "waited", "smiled", "left", "stayed", "walked", "worked", "laughed")
#: Filler nouns are a list of their own, so that edits to tasks.NOUNS only change the template items.
FILLER_NOUNS = ("dog", "cat", "car", "book", "ball", "bell", "coin", "hat", "pen", "map", "key", "tree", "bird",
                "lamp", "cup", "boat", "cake", "door", "chair", "clock", "flag", "house", "paper", "rock", "ship",
                "star", "wall", "coat", "shoe", "bag")
#: The phrasings of a QA fact (``qa_fact``; ``corpus.qa_items`` parses them).
QA_FACT_FORMS = ("{p} lives in {c}.", "{c} is where {p} lives.", "{p} has a house in {c}.",
                 "The city where {p} lives is {c}.", "{p} lives in {c} and works there.")
#: The kinds that write the study's template.
TEMPLATE_KINDS = ("template", "template_irregular", "template_words", "template_step")
#: Steps of a ``template_step`` item (SMALL2): up or down by one of these.
TEMPLATE_STEPS = (2, 3, 4, 5)

#: MINI's regular template starts and sentences per item (3..8 shown elements before the last one).
TEMPLATE_STARTS = range(1, 31)
TEMPLATE_SENTENCES = range(4, 10)
#: Sentences per template item of the SMALL corpus (2..5 shown elements and the last one) and their weights: the
#: longer items, which contain the 4-shown-then-ask position of the task, are drawn more often.
SMALL_TEMPLATE_SENTENCES: tuple[int, ...] = tuple(range(3, MAX_TEMPLATE_SENTENCES + 1))
SMALL_SENTENCE_WEIGHTS: tuple[int, ...] = (1, 2, 3, 3)
assert len(SMALL_SENTENCE_WEIGHTS) == len(SMALL_TEMPLATE_SENTENCES)
#: Sentences per prose document.
PROSE_SENTENCES = (2, 4)

#: Names of SMALL's filler: the numeral task's names and the IOI names (so that IOI names occur outside IOI too).
_RICH_FILLER_NAMES: tuple[str, ...] = tuple(dict.fromkeys(NAMES + IOI_NAMES))
_QA_TRAIN_PEOPLE = tuple(qa_people("train"))
_QA_PEOPLE = tuple(QA_WORLD)
_IOI_TRAIN_PAIRS = tuple((io, s) for io in IOI_NAMES for s in IOI_NAMES if io != s and not ioi_is_heldout(io, s))
_GT_TRAIN = {c: {n: [yy for yy in gt_years(c) if not gt_is_heldout(n, yy)] for n in GT_NOUNS} for c in GT_CENTURIES}


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


@dataclass(frozen=True)
class CorpusSpec:
    """A corpus: its document kinds, their default shares, how each kind is written and its tokenizer's
    pre-tokenization.

    Attributes:
        name: ``"mini"``, ``"small"`` or ``"small2"``.
        mix: default share of documents of each kind.
        seed_prefix: the random stream is ``random.Random(f"{seed_prefix}{seed}")``.
        kinds: the document kinds it can write (keys of :data:`KIND_WRITERS`), in the order the kinds are drawn.
        template_sentences: sentences per template item.
        sentence_weights: their weights (``None``: uniform, one ``rng.choice``).
        max_value: the largest element value of an irregular item, and the bound of a regular item (below).
        bounded_items: a regular item's last value is at most ``max_value`` (SMALL); ``False``: its *start* is at
            most ``max_value`` (MINI's items go up to 38).
        ioi_families: ``ioi`` writes the IOI task's 7 families in both orders with *train* (IO, S) pairs, ending with
            the IO name; ``False``: MINI's two sentences with the numeral task's names.
        rich_filler: ``filler`` uses SMALL's ten sentence forms (MINI's five, the shift verb with numbers, days,
            months, pairs of names, ages) with the numeral and IOI names; ``False``: MINI's five.
        prose: the training sentences of ``prose`` documents (SMALL2).
        template_kinds: the kinds that write the study's template.
        split_digits: whether the tokenizer splits digit runs into pairs (`` 1732`` → `` 17`` + ``32``, as GPT-2's
            BPE does for years); MINI keeps every number one token.
        tokens_per_doc: a rough mean of tokens per document with its end-of-text token (sizes first draws).
        closed_vocabulary: when set, the tokenizer's whole vocabulary (SMALL2: SMALL's and the prose's most frequent
            words); other pre-tokens of the corpus become ``[UNK]``. ``None``: the corpus's own pre-tokens.
    """

    name: str
    mix: Mapping[str, float]
    seed_prefix: str
    kinds: tuple[str, ...]
    template_sentences: Sequence[int] = TEMPLATE_SENTENCES
    sentence_weights: tuple[int, ...] | None = None
    max_value: int = max(TEMPLATE_STARTS)
    bounded_items: bool = False
    ioi_families: bool = False
    rich_filler: bool = False
    prose: tuple[str, ...] = field(default=(), repr=False)
    template_kinds: tuple[str, ...] = TEMPLATE_KINDS
    split_digits: bool = False
    tokens_per_doc: float = 20.0
    closed_vocabulary: tuple[str, ...] | None = field(default=None, repr=False)


# --------------------------------------------------------------------------------------------- template kinds
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


def _sentences(rng: random.Random, spec: CorpusSpec) -> int:
    """Sentences of a template item (SMALL: 3..6, the longer ones more often; MINI: 4..9)."""
    if spec.sentence_weights is None:
        return rng.choice(spec.template_sentences)
    return rng.choices(spec.template_sentences, spec.sentence_weights)[0]


def _doc_template(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``template``: counting up by one from a start (1..12 with probability 0.6, else above), up to the spec's
    bound."""
    k = _sentences(rng, spec)
    top = spec.max_value - k + 1 if spec.bounded_items else spec.max_value
    start = rng.randint(1, min(12, top)) if rng.random() < 0.6 else rng.randint(min(13, top), top)
    values = [start + i for i in range(k)]
    return _template(rng, values, [str(v) for v in values])


def _doc_template_irregular(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``template_irregular``: random, repeated or decreasing values in 1..``max_value``."""
    k = _sentences(rng, spec)
    style = rng.choice(("random", "repeated", "decreasing"))
    if style == "random":
        values = [rng.randint(1, spec.max_value) for _ in range(k)]
    elif style == "repeated":
        values = [rng.randint(1, spec.max_value)] * k
    else:
        start = rng.randint(k, spec.max_value)
        values = [start - i for i in range(k)]
    return _template(rng, values, [str(v) for v in values])


def _doc_template_step(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``template_step`` (SMALL2): values going up or down by a step of :data:`TEMPLATE_STEPS` within
    1..``max_value``, so that the next value depends on two shown values (their difference), not on the last one
    alone: a numeral family that needs composition (``data/models/small2/README.md``, pilot 3)."""
    k = _sentences(rng, spec)
    step = rng.choice([s for s in TEMPLATE_STEPS if s * (k - 1) < spec.max_value])
    start = rng.randint(1, spec.max_value - step * (k - 1))
    values = [start + step * i for i in range(k)]
    if rng.random() < 0.5:
        values.reverse()
    return _template(rng, values, [str(v) for v in values])


def _doc_template_words(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``template_words``: the template with number words or months (never mixed with numerals)."""
    table = NUMBER_WORDS if rng.random() < 0.5 else MONTHS
    k = _sentences(rng, spec)
    start = rng.randint(1, len(table) - k + 1)  # 1-based, as in tasks.make_prompts
    values = [start + i for i in range(k)]
    return _template(rng, values, [table[v - 1] for v in values])


# --------------------------------------------------------------------------------------------- sequences
def _join_sequence(rng: random.Random, items: Sequence[str]) -> str:
    """Items joined by spaces, or by commas with a final period (one of the two at random)."""
    if rng.random() < 0.5:
        return " ".join(items)
    return ", ".join(items) + "."


def _doc_counting(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
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


def _doc_number_words(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``number_words``: consecutive number words, the first sometimes capitalised."""
    return CorpusDoc("", _table_sequence(rng, NUMBER_WORDS, wrap=False, capitalise_first=True))


def _doc_months(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``months``: consecutive months, wrapping from December to January."""
    return CorpusDoc("", _table_sequence(rng, MONTHS, wrap=True, capitalise_first=False))


def _doc_days(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``days``: consecutive days of the week, wrapping around."""
    return CorpusDoc("", _table_sequence(rng, DAYS, wrap=True, capitalise_first=False))


# --------------------------------------------------------------------------------------------- the other tasks
def _doc_ioi(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``ioi``: with ``ioi_families``, a train (IO, S) pair in a random family and order, ending with the IO name;
    otherwise one of MINI's two IOI sentences with the numeral task's names."""
    if spec.ioi_families:
        io, s = rng.choice(_IOI_TRAIN_PAIRS)
        index, order = rng.randrange(len(IOI_TEMPLATES)), rng.choice(IOI_ORDERS)
        return CorpusDoc("", ioi_sentence(index, order, io, s, rng.choice(IOI_PLACES), rng.choice(IOI_OBJECTS))
                         + f" {io}.")
    a, b = rng.sample(NAMES, 2)
    place, obj = rng.choice(PLACES), rng.choice(OBJECTS)
    if rng.random() < 0.5:
        text = f"When {a} and {b} went to the {place}, {b} gave a {obj} to {a}."
    else:
        text = f"Then, {a} and {b} went to the {place}. {b} gave a {obj} to {a}."
    return CorpusDoc("", text)


def _doc_qa_fact(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``qa_fact``: 1..3 facts of the QA world (any person) in random phrasings."""
    people = rng.sample(_QA_PEOPLE, rng.randint(1, 3))
    return CorpusDoc("", " ".join(rng.choice(QA_FACT_FORMS).format(p=p, c=QA_WORLD[p]) for p in people))


def _doc_qa_doc(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``qa_doc``: 1..3 questions with answers about train people only."""
    people = rng.sample(_QA_TRAIN_PEOPLE, rng.randint(1, 3))
    return CorpusDoc("", " ".join(f"Q: Where does {p} live? A: {QA_WORLD[p]}." for p in people))


def _gt_sentence(rng: random.Random) -> str:
    """A greater-than sentence with a train (noun, YY) and a later end year in the same century."""
    century = rng.choice(GT_CENTURIES)
    noun = rng.choice(GT_NOUNS)
    yy = rng.choice(_GT_TRAIN[century][noun])
    end = rng.randint(yy + 1, 99)
    return f"The {noun} lasted from the year {century}{yy:02d} to the year {century}{end:02d}."


def _doc_greater_than(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``greater_than``: 1..2 greater-than sentences."""
    return CorpusDoc("", " ".join(_gt_sentence(rng) for _ in range(rng.randint(1, 2))))


# --------------------------------------------------------------------------------------------- filler and prose
def _filler_sentence(rng: random.Random, spec: CorpusSpec) -> str:
    """One filler sentence: MINI's five forms (some with numbers 2..99), and with ``rich_filler`` five more (the
    shift verb with numbers, never in a template; days; months; pairs of names; ages)."""
    form = rng.randrange(10 if spec.rich_filler else 5)
    noun, noun2 = rng.sample(FILLER_NOUNS, 2)
    if spec.rich_filler:        # both names drawn up front, from the numeral and IOI names
        name, name2 = rng.sample(_RICH_FILLER_NAMES, 2)

        def who() -> str:
            return name
    else:                       # MINI: a numeral-task name drawn where the sentence needs it

        def who() -> str:
            return rng.choice(NAMES)
    if form == 0:
        return f"The {rng.choice(ADJECTIVES)} {noun} {rng.choice(TRANSITIVE_VERBS)} the {noun2}."
    if form == 1:
        return f"{who()} {rng.choice(TRANSITIVE_VERBS)} a {noun} in the {rng.choice(PLACES)}."
    if form == 2:
        return f"{who()} {rng.choice(INTRANSITIVE_VERBS)} at the {rng.choice(PLACES)}."
    if form == 3:
        return f"There were {rng.randint(2, 99)} {noun}s in the {rng.choice(PLACES)}."
    if form == 4:
        return f"{who()} {rng.choice(TRANSITIVE_VERBS)} {rng.randint(2, 99)} {noun}s."
    if form == 5:  # the shift verb and large numbers, never in a template
        return f"{name} {SHIFT_VERB} {rng.randint(2, 99)} {noun}s in the {rng.choice(PLACES)}."
    if form == 6:
        return f"On {rng.choice(DAYS)}, {name} {rng.choice(INTRANSITIVE_VERBS)} at the {rng.choice(PLACES)}."
    if form == 7:
        return (f"In {rng.choice(MONTHS)}, the {rng.choice(ADJECTIVES)} {noun} {rng.choice(TRANSITIVE_VERBS)} the "
                f"{noun2}.")
    if form == 8:
        return f"{name} and {name2} {rng.choice(INTRANSITIVE_VERBS)}."
    return f"{name} was {rng.randint(2, 99)} years old."


def _doc_filler(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``filler``: 1..3 filler sentences."""
    return CorpusDoc("", " ".join(_filler_sentence(rng, spec) for _ in range(rng.randint(1, 3))))


def _doc_prose(rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """``prose``: 2..4 sentences drawn at random from the spec's training prose."""
    k = rng.randint(*PROSE_SENTENCES)
    return CorpusDoc("", " ".join(rng.choice(spec.prose) for _ in range(k)))


#: kind → ``f(rng, spec) -> CorpusDoc`` (the document's kind is set by :func:`write_document`).
KIND_WRITERS: dict[str, Callable[[random.Random, CorpusSpec], CorpusDoc]] = {
    "template": _doc_template,
    "template_irregular": _doc_template_irregular,
    "template_step": _doc_template_step,
    "template_words": _doc_template_words,
    "counting": _doc_counting,
    "number_words": _doc_number_words,
    "months": _doc_months,
    "days": _doc_days,
    "ioi": _doc_ioi,
    "qa_fact": _doc_qa_fact,
    "qa_doc": _doc_qa_doc,
    "greater_than": _doc_greater_than,
    "filler": _doc_filler,
    "prose": _doc_prose,
}


def write_document(kind: str, rng: random.Random, spec: CorpusSpec) -> CorpusDoc:
    """One document of ``kind`` as ``spec`` writes it, drawn from ``rng`` (``corpus.generate_documents``).

    Raises:
        ValueError: for a kind the spec does not write.
    """
    if kind not in spec.kinds:
        raise ValueError(f"the {spec.name} corpus has no document kind {kind!r}; its kinds: {sorted(spec.kinds)}")
    doc = KIND_WRITERS[kind](rng, spec)
    return CorpusDoc(kind, doc.text, doc.pairs)
