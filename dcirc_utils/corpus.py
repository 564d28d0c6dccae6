"""Training text and tokenizer of the offline teacher/student pair (``data/models``, built by ``dcirc_utils.distill``).

Notebook 00 (the offline pair) shows a sample of this corpus; every other notebook only uses the pair trained on it.

The corpus is a seeded, deterministic stream of short documents of several *kinds* (:data:`DEFAULT_MIX` gives their
proportions):

* ``template``: the study's numeral template, ``"{w1} {verb} in {n}. {w2} {verb} in {n+1}. ... {wk} {verb} in
  {n+k-1}."`` with verbs ``done``/``lost``/``born`` (first names for ``born``, nouns otherwise, from
  :mod:`dcirc_utils.tasks`), starts spread over 1..30 and 4..9 sentences (3..8 shown elements before the last);
* ``template_irregular``: the same template whose numbers do *not* go up by one (random, repeated or decreasing),
  so that the model has to read the pattern rather than always add one;
* ``template_words``: the template with number words ("one", "two", ...) or months as elements;
* ``counting``: numeral counting sequences anywhere in 0..99 (``"31 32 33 34"``, ``"31, 32, 33, 34."``);
* ``number_words``, ``months``, ``days``: bare sequences of number words, months and days of the week;
* ``ioi``: indirect-object sentences ("When Mary and John went to the store, John gave a drink to Mary.");
* ``filler``: simple sentences from a small built-in vocabulary, some with numbers in them.

Held-out guarantee: no template item of any kind ever pairs a word with an element whose value (the numeral, or
the 1-based index of a number word or month) makes ``tasks.is_heldout(word, value)`` true. This covers the
(first word, start) combination that :func:`dcirc_utils.tasks.make_prompts` draws its held-out prompts from, and
more: no held-out (word, number) pair appears anywhere in a template, at any position.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

from .tasks import MONTHS, NAMES, NOUNS, NUMBER_WORDS, VERBS, is_heldout

__all__ = [
    "DEFAULT_MIX", "DAYS", "EOS", "UNK", "CorpusDoc", "generate_documents", "generate_corpus", "template_items",
    "iter_template_pairs", "element_value", "build_tokenizer", "corpus_words",
]

EOS = "<|endoftext|>"
UNK = "[UNK]"
DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: Share of documents of each kind (they sum to 1). Tuned so that the teacher learns the task well in a few
#: minutes on one CPU thread (see ``data/models/README.md``).
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
    """One document of the corpus.

    Attributes:
        kind: a key of :data:`DEFAULT_MIX`.
        text: the document's text (no end-of-text marker).
        pairs: for template kinds, the (word, element value) pairs it shows, in order; empty otherwise.
    """

    kind: str
    text: str
    pairs: tuple[tuple[str, int], ...] = ()


# --------------------------------------------------------------------------------------------- generators
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
    verb = rng.choice(VERBS)
    pool = NAMES if verb == "born" else NOUNS
    words = _pick_words(rng, pool, values)
    text = " ".join(f"{w} {verb} in {x}." for w, x in zip(words, shown))
    return CorpusDoc("", text, tuple(zip(words, values)))


def _regular_start(rng: random.Random) -> int:
    # Small starts (the study's range) are drawn more often than the rest of 1..30.
    if rng.random() < 0.6:
        return rng.randint(1, 12)
    return rng.randint(13, max(TEMPLATE_STARTS))


def _doc_template(rng: random.Random) -> CorpusDoc:
    k = rng.choice(TEMPLATE_SENTENCES)
    start = _regular_start(rng)
    values = [start + i for i in range(k)]
    return _template(rng, values, [str(v) for v in values])


def _doc_template_irregular(rng: random.Random) -> CorpusDoc:
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
    table = NUMBER_WORDS if rng.random() < 0.5 else MONTHS
    k = rng.choice(TEMPLATE_SENTENCES)
    start = rng.randint(1, len(table) - k + 1)  # 1-based, as in tasks.make_prompts
    values = [start + i for i in range(k)]
    return _template(rng, values, [table[v - 1] for v in values])


def _join_sequence(rng: random.Random, items: Sequence[str]) -> str:
    if rng.random() < 0.5:
        return " ".join(items)
    return ", ".join(items) + "."


def _doc_counting(rng: random.Random) -> CorpusDoc:
    k = rng.randint(4, 10)
    start = rng.randint(0, 100 - k)
    return CorpusDoc("", _join_sequence(rng, [str(start + i) for i in range(k)]))


def _table_sequence(rng: random.Random, table: Sequence[str], wrap: bool, capitalise_first: bool) -> str:
    k = rng.randint(3, min(8, len(table)))
    start = rng.randrange(len(table) if wrap else len(table) - k + 1)
    items = [table[(start + i) % len(table)] for i in range(k)]
    if capitalise_first and rng.random() < 0.5:
        items[0] = items[0].capitalize()
    return _join_sequence(rng, items)


def _doc_number_words(rng: random.Random) -> CorpusDoc:
    return CorpusDoc("", _table_sequence(rng, NUMBER_WORDS, wrap=False, capitalise_first=True))


def _doc_months(rng: random.Random) -> CorpusDoc:
    return CorpusDoc("", _table_sequence(rng, MONTHS, wrap=True, capitalise_first=False))


def _doc_days(rng: random.Random) -> CorpusDoc:
    return CorpusDoc("", _table_sequence(rng, DAYS, wrap=True, capitalise_first=False))


def _doc_ioi(rng: random.Random) -> CorpusDoc:
    a, b = rng.sample(NAMES, 2)
    place, obj = rng.choice(_PLACES), rng.choice(_OBJECTS)
    if rng.random() < 0.5:
        text = f"When {a} and {b} went to the {place}, {b} gave a {obj} to {a}."
    else:
        text = f"Then, {a} and {b} went to the {place}. {b} gave a {obj} to {a}."
    return CorpusDoc("", text)


def _filler_sentence(rng: random.Random) -> str:
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


def _check_mix(mix: Mapping[str, float]) -> tuple[list[str], list[float]]:
    unknown = sorted(set(mix) - set(_GENERATORS))
    if unknown:
        raise ValueError(f"unknown document kinds {unknown} in mix; known kinds: {sorted(_GENERATORS)}")
    kinds = [k for k in _GENERATORS if mix.get(k, 0) > 0]
    if any(v < 0 for v in mix.values()) or not kinds:
        raise ValueError(f"mix weights must be >= 0 with at least one positive, got {dict(mix)}")
    return kinds, [float(mix[k]) for k in kinds]


def generate_documents(n: int, seed: int = 0, mix: Mapping[str, float] | None = None) -> list[CorpusDoc]:
    """``n`` documents drawn from ``mix`` (notebook 00; ``dcirc_utils.distill`` trains on their texts).

    Deterministic: the same ``(n, seed, mix)`` gives the same documents, and the first ``m`` documents of a
    longer call equal those of ``generate_documents(m, seed, mix)``.

    Args:
        n: number of documents (>= 0).
        seed: the generator's seed.
        mix: share of each document kind (normalised here); ``None`` uses :data:`DEFAULT_MIX`.

    Raises:
        ValueError: for a negative ``n``, an unknown kind or weights that are negative or all zero.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    kinds, weights = _check_mix(DEFAULT_MIX if mix is None else mix)
    rng = random.Random(f"dcirc-corpus-{seed}")
    docs = []
    for _ in range(n):
        kind = rng.choices(kinds, weights)[0]
        doc = _GENERATORS[kind](rng)
        docs.append(CorpusDoc(kind, doc.text, doc.pairs))
    return docs


def generate_corpus(n: int, seed: int = 0, mix: Mapping[str, float] | None = None) -> list[str]:
    """The texts of :func:`generate_documents` (``dcirc_utils.distill``, notebook 00)."""
    return [d.text for d in generate_documents(n, seed, mix)]


_TEMPLATE_SENTENCE = re.compile(r"(\w+) (done|lost|born) in (\w+)\.")


def template_items(text: str) -> list[list[tuple[str, str]]]:
    """The template items of a text, each as its list of (word, element) pairs, parsed from the text alone.

    An item is a maximal run of consecutive sentences ``"{word} {verb} in {element}."`` with one verb. Used by
    the tests to check the held-out guarantee without trusting the generator's own bookkeeping.
    """
    items: list[list[tuple[str, str]]] = []
    last_end, last_verb = None, None
    for m in _TEMPLATE_SENTENCE.finditer(text):
        word, verb, elem = m.groups()
        contiguous = last_end is not None and text[last_end:m.start()] == " " and verb == last_verb
        if contiguous:
            items[-1].append((word, elem))
        else:
            items.append([(word, elem)])
        last_end, last_verb = m.end(), verb
    return items


def element_value(elem: str) -> int | None:
    """The numeric value of a template element: the numeral, or the 1-based index of a number word or month."""
    if elem.isdigit():
        return int(elem)
    for table in (NUMBER_WORDS, MONTHS):
        if elem in table:
            return table.index(elem) + 1
    return None


def iter_template_pairs(texts: Iterable[str]) -> Iterator[tuple[str, int, int]]:
    """Every (word, value, position in its item) of every template item in ``texts`` (tests, notebook 00)."""
    for text in texts:
        for item in template_items(text):
            for pos, (word, elem) in enumerate(item):
                value = element_value(elem)
                if value is not None:
                    yield word, value, pos


# --------------------------------------------------------------------------------------------- tokenizer
def _builtin_words() -> list[str]:
    """Every word the generators can write, so that the vocabulary is closed whatever the corpus sample."""
    words: list[str] = []
    for table in (NOUNS, NAMES, VERBS, NUMBER_WORDS, MONTHS, DAYS, _PLACES, _OBJECTS, _ADJS, _TVERBS, _IVERBS,
                  _LOWER_NOUNS):
        words.extend(table)
    words.extend(w.capitalize() for w in NUMBER_WORDS)
    words.extend(w + "s" for w in _LOWER_NOUNS)
    words.extend(("When", "and", "went", "to", "the", "gave", "a", "Then", "The", "There", "were", "in", "at"))
    return words


def _byte_level():
    from tokenizers import pre_tokenizers
    return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)


def corpus_words(texts: Iterable[str]) -> set[str]:
    """The byte-level pre-tokens (``"Van"``, ``"Ġ5"``, ``"."`` ...) of ``texts``: the corpus part of the vocabulary."""
    pre = _byte_level()
    words: set[str] = set()
    for t in texts:
        words.update(piece for piece, _ in pre.pre_tokenize_str(t))
    return words


def build_tokenizer(texts: Iterable[str] | None = None, model_max_length: int = 128):
    """A word-level tokenizer that splits text exactly as GPT-2's regex does (``dcirc_utils.distill``).

    Every word, number and punctuation mark becomes one token: ``"Van"``, ``" Van"``, ``" 5"`` and ``"."`` are
    each a single token, so the task's prompts tokenize like GPT-2's (whose vocabulary has these too) and no
    beginning-of-sequence token is added by ``encode``. The vocabulary is the byte-level pre-tokens of ``texts``,
    plus the numbers 0..99, every word of the task's lists (nouns, names, verbs, number words, months, days) and
    every other word the generators can write, each with and without a leading space, plus ``"[UNK]"`` (id 0)
    and ``"<|endoftext|>"`` (id 1). Sorted, so the same texts always give the same ids.

    Args:
        texts: corpus texts; ``None`` uses 20,000 documents of :func:`generate_corpus` with seed 0.
        model_max_length: the longest input the models take (their ``n_positions``).

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` with ``eos_token`` = ``bos_token`` = ``"<|endoftext|>"`` and
        ``unk_token`` = ``"[UNK]"``.
    """
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    if texts is None:
        texts = generate_corpus(20_000, seed=0)
    words = corpus_words(texts)
    extra = [str(i) for i in range(100)] + _builtin_words()
    for w in extra:
        words.update((w, "Ġ" + w))
    words.discard(EOS)
    words.discard(UNK)
    vocab = {UNK: 0, EOS: 1}
    for w in sorted(words):
        vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = _byte_level()
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([UNK, EOS])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=UNK,
                                   model_max_length=model_max_length)
