"""Tests of dcirc_utils.corpus: the offline pair's training text and tokenizer."""
from __future__ import annotations

import collections

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
