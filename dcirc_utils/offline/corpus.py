"""Training text and tokenizers of the offline teacher/student pairs (``data/models``, built by
``dcirc_utils.offline.distill``).

Notebook 09 (the appendix on the offline pairs) shows a sample of a corpus; every other notebook only uses the pairs trained on them.

A corpus is a seeded, deterministic stream of short documents of several *kinds*, described by a
:class:`CorpusSpec`: one generator (:mod:`dcirc_utils.offline.documents`) writes every corpus, and the spec says what
differs. Three specs exist (SMALL2, built on demand from WordNet prose, is :func:`small2_spec`):

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
from dataclasses import replace
from functools import lru_cache
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from ..core.tasks import (GT_NOUNS, IOI_NAMES, IOI_OBJECTS, IOI_PLACES, IOI_TEMPLATES, MONTHS, NAMES, NOUNS,
                          NUMBER_WORDS, QA_CITIES, SHIFT_BOUNDARY, SHIFT_VERB, VERBS)
from .documents import (ADJECTIVES, DAYS, FILLER_NOUNS, INTRANSITIVE_VERBS, OBJECTS, PLACES, PROSE_SENTENCES,
                        QA_FACT_FORMS, SMALL_SENTENCE_WEIGHTS, SMALL_TEMPLATE_SENTENCES, TEMPLATE_KINDS,
                        TEMPLATE_SENTENCES, TEMPLATE_STARTS, TRANSITIVE_VERBS, CorpusDoc, CorpusSpec, write_document)
# (DAYS, CorpusDoc, CorpusSpec and the template and prose constants are also re-exported here, where they were)

__all__ = [
    "DEFAULT_MIX", "MINI_MIX", "SMALL_MIX", "DAYS", "EOS", "UNK", "CorpusDoc", "CorpusSpec", "MINI", "SMALL",
    "CORPORA", "LAZY_CORPORA", "SMALL2_MIX", "prose_pool", "small2_spec", "get_spec", "generate_documents",
    "generate_corpus", "template_items", "iter_template_pairs",
    "element_value", "element_format", "ioi_items", "qa_items", "greater_than_items", "token_shares",
    "build_tokenizer", "corpus_words", "vocabulary_texts",
]

EOS = "<|endoftext|>"
UNK = "[UNK]"

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
MINI = CorpusSpec("mini", DEFAULT_MIX, "dcirc-corpus-", kinds=tuple(DEFAULT_MIX), template_sentences=TEMPLATE_SENTENCES,
                  max_value=max(TEMPLATE_STARTS), split_digits=False, tokens_per_doc=20.0)
SMALL = CorpusSpec("small", SMALL_MIX, "dcirc-corpus-small-", kinds=tuple(SMALL_MIX),
                   template_sentences=SMALL_TEMPLATE_SENTENCES, sentence_weights=SMALL_SENTENCE_WEIGHTS,
                   max_value=SHIFT_BOUNDARY, bounded_items=True, ioi_families=True, rich_filler=True,
                   split_digits=True, tokens_per_doc=17.0)
CORPORA: dict[str, CorpusSpec] = {"mini": MINI, "small": SMALL}
#: Specs built on demand (they read text that the package does not ship): name → builder.
LAZY_CORPORA: dict[str, Callable[[], CorpusSpec]] = {}

#: Share of documents of each kind in the SMALL2 corpus (the capacity-limited pair ``small2``): more than half of the
#: tokens are WordNet prose (``offline.prose``), the study's template family at most 5%, IOI about a fifth (a pilot
#: with 13% had not learned IOI after 1,200 of 1,800 steps), QA and greater-than a few per cent each
#: (:func:`token_shares` measures them; ``data/models/small2/README.md`` gives the shares and the pilots). Pilot 3
#: adds ``template_step`` (values going up or down by 2..5), a fifth of the family, taken from the other template
#: kinds: the teacher of pilot 2 did the numerals in block 0, and its copy before distillation kept 87%.
SMALL2_MIX: dict[str, float] = {
    "prose": 1.35,
    "template": 0.075,
    "template_irregular": 0.034,
    "template_words": 0.032,
    "template_step": 0.037,
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


@lru_cache(maxsize=2)
def prose_pool(wordnet: str | None = None, sources: tuple[str, ...] = ("wordnet",)):
    """The SMALL2 prose: the filtered sentences of ``sources`` (``prose.candidate_sentences``; the default, WordNet
    alone, is the model cards' text; ``("wordnet", "pydoc", "gcide")`` adds the Python documentation and Webster
    1913), the words the vocabulary adds and the train / held-out split, as a ``prose.ProsePool`` whose ``source``
    names every source read. ``wordnet``: WordNet's folder (``None`` finds or fetches every source).

    A sentence stands first in a document or after another one, so both of its forms (``"An"`` and ``"ĠAn"``) count
    for the vocabulary, which is counted on the training sentences only; a sentence is kept when both forms have at
    most ``prose.MAX_UNK_SHARE`` unknown pre-tokens.
    """
    from . import prose
    verbs = tuple(VERBS) + (SHIFT_VERB,)
    sentences = prose.candidate_sentences(wordnet, lambda t: bool(template_items(t, verbs)), tuple(sources))
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
                           prose.describe_sources(tuple(sources), wordnet))


@lru_cache(maxsize=2)
def small2_spec(wordnet: str | None = None, sources: tuple[str, ...] = ("wordnet",)) -> CorpusSpec:
    """The SMALL2 spec: SMALL's document kinds, written as SMALL writes them, SMALL2_MIX and the prose of ``sources``
    (``offline.prose``; default WordNet alone; ``wordnet``: the folder of WordNet's data files, or ``None`` to find
    or fetch it), whose vocabulary it uses (:func:`prose_pool`)."""
    pool = prose_pool(wordnet, tuple(sources))
    vocab = tuple(sorted(set(_default_vocabulary("small")) | set(pool.words)))
    return replace(SMALL, name="small2", mix=SMALL2_MIX, seed_prefix="dcirc-corpus-small2-",
                   kinds=SMALL.kinds + ("prose", "template_step"), prose=pool.train, tokens_per_doc=26.0, closed_vocabulary=vocab)


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


def _check_mix(mix: Mapping[str, float], known: Sequence[str]) -> tuple[list[str], list[float]]:
    """The kinds with a positive weight (in the spec's order of kinds, ``known``) and their weights.

    Raises:
        ValueError: for an unknown kind, a negative weight or no positive one.
    """
    unknown = sorted(set(mix) - set(known))
    if unknown:
        raise ValueError(f"unknown document kinds {unknown} in mix; known kinds: {sorted(known)}")
    kinds = [k for k in known if mix.get(k, 0) > 0]
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
    kinds, weights = _check_mix(spec.mix if mix is None else mix, spec.kinds)
    rng = random.Random(f"{spec.seed_prefix}{seed}")
    docs = []
    for _ in range(n):
        kind = rng.choices(kinds, weights)[0]
        docs.append(write_document(kind, rng, spec))
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
                for f in QA_FACT_FORMS]


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
    for table in (NOUNS, NAMES, VERBS, NUMBER_WORDS, MONTHS, DAYS, PLACES, OBJECTS, ADJECTIVES, TRANSITIVE_VERBS,
                  INTRANSITIVE_VERBS, FILLER_NOUNS):
        words.extend(table)
    words.extend(w.capitalize() for w in NUMBER_WORDS)
    words.extend(w + "s" for w in FILLER_NOUNS)
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
    fam = [k for k in TEMPLATE_KINDS if k in out]
    out["template_family"] = {key: sum(out[k][key] for k in fam) for key in ("docs", "tokens", "doc_share",
                                                                             "token_share")}
    return out
