"""Tests of dcirc_utils.offline.corpus: the offline pairs' training text and tokenizers."""
from __future__ import annotations

import collections
import hashlib
import re

import pytest
import torch

from dcirc_utils.core import tasks
from dcirc_utils.offline import corpus


@pytest.fixture(scope="module")
def tok():
    return corpus.build_tokenizer()


def test_same_seed_same_corpus_and_different_seeds_differ():
    a = corpus.generate_corpus(300, seed=0)
    assert a == corpus.generate_corpus(300, seed=0)
    assert a != corpus.generate_corpus(300, seed=1)
    assert corpus.generate_corpus(100, seed=0) == a[:100]  # a longer call extends a shorter one


def test_mix_proportions_and_kinds():
    docs = corpus.generate_documents(5000, seed=3)
    counts = collections.Counter(d.kind for d in docs)
    assert set(counts) == set(corpus.DEFAULT_MIX)
    for kind, share in corpus.DEFAULT_MIX.items():
        assert abs(counts[kind] / len(docs) - share) < 0.03, kind
    only = corpus.generate_documents(50, seed=0, mix={"days": 1.0})
    assert {d.kind for d in only} == {"days"}


def test_bad_mix_and_n_raise():
    with pytest.raises(ValueError, match="unknown document kinds"):
        corpus.generate_corpus(5, mix={"poetry": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        corpus.generate_corpus(5, mix={"days": 0.0})
    with pytest.raises(ValueError, match="n must be"):
        corpus.generate_corpus(-1)


def test_template_parser():
    text = "Van done in 3. Hat done in 4. Mary born in 5. The dog slept. Sun lost in May."
    assert corpus.template_items(text) == [[("Van", "3"), ("Hat", "4")], [("Mary", "5")], [("Sun", "May")]]
    assert corpus.element_value("12") == 12
    assert corpus.element_value("three") == 3
    assert corpus.element_value("May") == 5


def test_no_heldout_combination_in_any_template_item():
    texts = corpus.generate_corpus(20_000, seed=0) + corpus.generate_corpus(5_000, seed=7)
    pairs = list(corpus.iter_template_pairs(texts))
    firsts = [(w, v) for w, v, pos in pairs if pos == 0]
    assert len(firsts) > 5_000
    # the held-out split of tasks.make_prompts: (first word, start) of an item
    assert not [p for p in firsts if tasks.is_heldout(*p)]
    # stronger: no held-out (word, value) pair at any position of any item
    assert not [p for p in pairs if tasks.is_heldout(p[0], p[1])]
    # the check is not vacuous: held-out combinations do exist for these words and starts
    assert any(tasks.is_heldout(w, s) for w in tasks.NOUNS[:10] for s in range(1, 9))


def test_corpus_covers_the_pattern_and_its_foils():
    docs = corpus.generate_documents(3_000, seed=1)
    starts, lengths, irregular = set(), set(), 0
    for d in docs:
        for item in corpus.template_items(d.text):
            vals = [corpus.element_value(e) for _, e in item]
            if d.kind == "template":
                assert vals == list(range(vals[0], vals[0] + len(vals)))
                starts.add(vals[0])
                lengths.add(len(vals) - 1)
            elif d.kind == "template_irregular":
                irregular += any(b != a + 1 for a, b in zip(vals, vals[1:]))
    assert starts == set(range(1, 31))
    assert lengths == set(range(3, 9))
    assert irregular > 100


def test_tokenizer_single_tokens_like_gpt2(tok):
    for text in (" 5", " Van", ".", "Van", " 99", "0", " born", " January", "<|endoftext|>"):
        assert len(tok.encode(text, add_special_tokens=False)) == 1, text
    text = "Van done in 1. Hat done in 2. Ring done in"
    ids = tok.encode(text)
    assert tok.convert_ids_to_tokens(ids) == ["Van", "Ġdone", "Ġin", "Ġ1", ".", "ĠHat", "Ġdone", "Ġin", "Ġ2", ".",
                                              "ĠRing", "Ġdone", "Ġin"]  # no BOS added
    assert tok.decode(ids) == text
    assert tok.eos_token == tok.bos_token == "<|endoftext|>" and tok.unk_token == "[UNK]"
    assert tasks.single_token_words(tok, tasks.NOUNS) == list(tasks.NOUNS)
    assert tasks.single_token_words(tok, tasks.NAMES) == list(tasks.NAMES)
    for i in range(100):
        assert len(tok.encode(str(i))) == 1 and len(tok.encode(f" {i}")) == 1


def test_no_unknown_tokens_in_corpus(tok):
    texts = corpus.generate_corpus(2_000, seed=11)
    ids = tok(texts, add_special_tokens=False)["input_ids"]
    assert all(tok.unk_token_id not in x for x in ids)


@pytest.mark.parametrize("variant", tasks.VARIANTS)
def test_every_variant_is_single_token(tok, variant):
    ps = tasks.make_prompts(100, seed=0, variant=variant, tokenizer=tok)
    correct, incorrect = ps.answer_ids(tok)
    assert correct.shape == incorrect.shape == (100,)
    for text, meta in zip(ps.clean, ps.meta):
        ids = tok.encode(text)
        # every word, verb, element and period is one token: 5 tokens per shown sentence, 3 for the last
        assert len(ids) == 5 * meta["length"] + 3, text
        assert tok.unk_token_id not in ids


# --------------------------------------------------------------------------------------------- MINI is pinned
def test_mini_corpus_and_tokenizer_are_bit_identical(tok):
    # the shipped mini pair was trained on exactly this corpus and vocabulary
    text = "\n".join(corpus.generate_corpus(3000, seed=0))
    assert hashlib.sha256(text.encode()).hexdigest() == \
        "df7d737d57fdc2326d03796cb4b032f055e52d6e51b5aabf7e378e19407b2704"
    assert corpus.generate_corpus(50, seed=0, spec="mini") == corpus.generate_corpus(50, seed=0)
    assert corpus.generate_corpus(50, seed=0, spec=corpus.MINI) == corpus.generate_corpus(50, seed=0)
    assert len(tok) == 730
    assert hashlib.sha256(str(sorted(tok.get_vocab().items())).encode()).hexdigest() == \
        "300c69d987cbbc0cd080ec53facf8ebf5bd98b2411e4101171feae695dd0d3c3"
    with pytest.raises(ValueError, match="unknown corpus"):
        corpus.generate_corpus(5, spec="huge")


# --------------------------------------------------------------------------------------------- SMALL
@pytest.fixture(scope="module")
def small_tok():
    return corpus.build_tokenizer(spec="small")


#: documents of two seeds per spec (SMALL2's tasks are a minority, so it needs more text for the same counts), how
#: many of the first ones state every held-out QA person's fact, and how many are searched for the shift words
_GUARANTEE_DOCS = {"small": (25_000, 5_000, 5_000, 20_000), "small2": (60_000, 10_000, 10_000, 60_000)}


def need_wordnet():
    """Skip when WordNet 3.0 is not on this machine (SMALL2's prose; the retrain command fetches it)."""
    from dcirc_utils.offline.prose import wordnet_dir
    try:
        wordnet_dir(fetch=False)
    except FileNotFoundError as err:       # a copy that differs from the pinned one fails (RuntimeError), never skips
        pytest.skip(f"WordNet 3.0 unavailable: {err}")


@pytest.fixture(scope="module", params=sorted(_GUARANTEE_DOCS))
def small_texts(request):
    # tens of thousands of documents from two seeds; the guarantees are checked on the text alone
    if request.param == "small2":
        need_wordnet()
    n0, n5, _, _ = _GUARANTEE_DOCS[request.param]
    texts = corpus.generate_corpus(n0, seed=0, spec=request.param) + corpus.generate_corpus(n5, seed=5,
                                                                                             spec=request.param)
    return _Texts(texts, request.param)


class _Texts(list):
    """A corpus sample that knows its spec."""

    def __init__(self, texts, spec):
        super().__init__(texts)
        self.spec = spec


def test_small_corpus_and_tokenizer_are_pinned(small_tok):
    # the shipped small pair (data/models/small) was trained on exactly this corpus and vocabulary
    text = "\n".join(corpus.generate_corpus(3000, seed=0, spec="small"))
    assert hashlib.sha256(text.encode()).hexdigest() == \
        "5ca3bff8a281bed19fa9a2e1aca0aa2df81f63f70bd4a4fe1be5c491f0e68fc5"
    assert len(small_tok) == 1035
    assert hashlib.sha256(str(sorted(small_tok.get_vocab().items())).encode()).hexdigest() == \
        "e345dee48f5199140db9e4741cc85a4ecbd4b7dd5ef251fd8d9b37ba0d3d6446"


def test_small_corpus_deterministic_and_mixed():
    a = corpus.generate_documents(400, seed=0, spec="small")
    assert a == corpus.generate_documents(400, seed=0, spec="small")
    assert [d.text for d in a[:100]] == corpus.generate_corpus(100, seed=0, spec="small")
    assert [d.text for d in a] != corpus.generate_corpus(400, seed=1, spec="small")
    docs = corpus.generate_documents(8000, seed=2, spec="small")
    counts = collections.Counter(d.kind for d in docs)
    assert set(counts) == set(corpus.SMALL_MIX)
    total = sum(corpus.SMALL_MIX.values())
    for kind, share in corpus.SMALL_MIX.items():
        assert abs(counts[kind] / len(docs) - share / total) < 0.02, kind


def test_small_template_family_at_most_a_quarter_of_tokens(small_tok):
    docs = corpus.generate_documents(10_000, seed=0, spec="small")
    shares = corpus.token_shares(docs, small_tok)
    fam = shares["template_family"]["token_share"]
    assert 0.15 < fam <= 0.25
    # measured by hand on the text: a template sentence "{w} {verb} in {x}." is 5 tokens
    template_tokens = sum(5 * len(item) + 1 for d in docs if d.kind in corpus.SMALL.template_kinds
                          for item in corpus.template_items(d.text))
    assert template_tokens == shares["template_family"]["tokens"]
    assert abs(sum(v["token_share"] for k, v in shares.items() if k != "template_family") - 1) < 1e-9


def test_small_template_items_respect_every_guarantee(small_texts):
    verbs = tasks.VERBS + (tasks.SHIFT_VERB,)
    n_items = n_long_ok = 0
    for text in small_texts:
        for item in corpus.template_items(text, verbs=verbs):
            n_items += 1
            values = [corpus.element_value(e) for _, e in item]
            assert None not in values, item
            assert len(item) <= tasks.MAX_TEMPLATE_SENTENCES, item              # never longer than 6 sentences
            assert max(values) <= tasks.SHIFT_BOUNDARY, item                    # range_shift stays unseen
            assert len({corpus.element_format(e) for _, e in item}) == 1, item  # no mixed-format item
            assert not any(tasks.is_heldout(w, v) for (w, _), v in zip(item, values)), item
            n_long_ok += len(item) == tasks.MAX_TEMPLATE_SENTENCES
        assert " found in " not in text or not re.search(r"\w+ found in \w+\.", text), text  # shift verb
    assert n_items > 3_000 and n_long_ok > 300  # not vacuous: items of the maximal length exist
    # the parser does see the things the corpus must not contain
    assert corpus.template_items("Van found in 3. Hat found in 4.", verbs=verbs) == [[("Van", "3"), ("Hat", "4")]]
    assert corpus.element_format("three") != corpus.element_format("4")


def test_small_ioi_qa_greater_than_guarantees(small_texts):
    ioi = qa_q = qa_f = gt = 0
    families = set()
    for text in small_texts:
        for it in corpus.ioi_items(text):
            ioi += 1
            families.add((it["template"], it["order"]))
            assert it["order"] is not None and it["s1"] == it["s2"] and it["end"] == it["io"] != it["s1"], it
            assert not tasks.ioi_is_heldout(it["io"], it["s1"]), it
        parsed = corpus.qa_items(text)
        for person, city in parsed["questions"]:
            qa_q += 1
            assert not tasks.qa_is_heldout(person) and tasks.QA_WORLD[person] == city
        for person, city in parsed["facts"]:
            qa_f += 1
            assert tasks.QA_WORLD[person] == city
        for noun, c, yy, c2, yy2 in corpus.greater_than_items(text):
            gt += 1
            assert c == c2 and yy2 > yy and 11 <= c <= 17 and not tasks.gt_is_heldout(noun, yy)
    assert families == {(k, o) for k in range(7) for o in ("BABA", "ABBA")}
    assert min(ioi, qa_q, qa_f, gt) > 2_000
    # held-out people's facts are stated in prose (the held-out QA set tests retrieval, not memorised answers)
    n_facts = _GUARANTEE_DOCS[small_texts.spec][2]
    stated = {p for t in small_texts[:n_facts] for p, _ in corpus.qa_items(t)["facts"]}
    assert set(tasks.qa_people("heldout")) <= stated
    # the parsers see what they must reject
    assert corpus.ioi_items("Then, John and Mary went to the store. John gave a drink to Mary.")[0]["io"] == "Mary"
    assert corpus.greater_than_items("The war lasted from the year 1732 to the year 1756.") == \
        [("war", 17, 32, 17, 56)]


def test_small_filler_knows_shift_words(small_texts):
    joined = " ".join(small_texts[:_GUARANTEE_DOCS[small_texts.spec][3]])
    assert len(re.findall(r" found \d\d ", joined)) > 100           # the shift verb with large numbers
    assert len(re.findall(r" (?:2[6-9]|3\d|4[0-4]) ", joined)) > 500  # range_shift numbers outside templates


def test_small_tokenizer_splits_years_like_gpt2(small_tok):
    ids = lambda t: small_tok.convert_ids_to_tokens(small_tok.encode(t))  # noqa: E731
    assert ids(" 1732") == ["Ġ17", "32"] and ids("1732.") == ["17", "32", "."]
    for text in (" 5", " 12", "Van", " Van", " found", "00", "99", " Tiffany", " Paris", " expedition"):
        assert len(small_tok.encode(text)) == 1, text
    assert small_tok.decode(small_tok.encode("The war lasted from the year 1732 to the year 1756.")) == \
        "The war lasted from the year 1732 to the year 1756."
    texts = corpus.generate_corpus(3_000, seed=11, spec="small")
    assert all(small_tok.unk_token_id not in x for x in small_tok(texts, add_special_tokens=False)["input_ids"])


def _all_task_sets():
    sets = [tasks.make_task("numerals", 40, seed=2, variant=v, split="any") for v in tasks.ALL_VARIANTS]
    sets += [tasks.make_task("ioi", 40, seed=2, template=k, split="any") for k in range(7)]
    return sets + [tasks.make_task("qa", 40, seed=2, split="any"), tasks.make_task("greater_than", 40, seed=2)]


def test_every_task_tokenizes_on_small(small_tok):
    for ps in _all_task_sets():
        tasks.check_prompt_set(ps, small_tok)  # equal lengths, no unknown token, single-token answers


def test_every_task_tokenizes_like_gpt2_on_small(small_tok, gpt2_tok):
    for ps in _all_task_sets():
        for text in ps.clean + ps.corrupted + ps.correct + ps.incorrect:
            assert small_tok.convert_ids_to_tokens(small_tok.encode(text)) == \
                gpt2_tok.convert_ids_to_tokens(gpt2_tok.encode(text)), text
