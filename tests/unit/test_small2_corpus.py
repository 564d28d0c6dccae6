"""The capacity-limited family's corpus (spec SMALL2): WordNet prose in the majority, the study's template family at
most 5% of the tokens, held-out prose never trained on, every task tokenized like GPT-2. The held-out guarantees of
the tasks are checked on SMALL2 text by ``test_corpus.py`` (its corpus fixtures cover both specs)."""
from __future__ import annotations

import collections
import hashlib
import re

import pytest

from dcirc_utils.core import tasks
from dcirc_utils.offline import corpus, prose

from .test_corpus import _all_task_sets, need_wordnet


@pytest.fixture(scope="module")
def pool():
    need_wordnet()
    return corpus.prose_pool()


@pytest.fixture(scope="module")
def tok2(pool):
    return corpus.build_tokenizer(spec="small2")


@pytest.fixture(scope="module")
def docs2(pool):
    return corpus.generate_documents(20_000, seed=0, spec="small2")


def test_template_family_at_most_five_percent_and_prose_the_bulk(docs2, tok2):
    shares = corpus.token_shares(docs2, tok2)
    fam = shares["template_family"]["token_share"]
    assert 0.03 < fam <= 0.05
    template_tokens = sum(5 * len(item) + 1 for d in docs2 if d.kind in corpus.SMALL.template_kinds
                          for item in corpus.template_items(d.text))           # counted on the text by hand
    assert template_tokens == shares["template_family"]["tokens"]
    assert shares["prose"]["token_share"] > 0.5
    for kind in ("qa_fact", "qa_doc", "greater_than"):          # a few per cent each
        assert 0.02 < shares[kind]["token_share"] < 0.08, kind
    assert 0.15 < shares["ioi"]["token_share"] < 0.25             # IOI needs more (model card: the pilot)
    assert set(shares) - {"template_family"} == set(corpus.SMALL2_MIX)


def test_step_items_need_two_values_and_only_small2_writes_them(docs2):
    # pilot 3's composition family: each item goes up or down by one step of TEMPLATE_STEPS within 1..25, so the
    # next value depends on the last two shown values; parsed from the text, not taken from the generator
    from dcirc_utils.offline.documents import TEMPLATE_STEPS
    seen = set()
    for d in docs2:
        if d.kind != "template_step":
            continue
        (item,) = corpus.template_items(d.text)
        vals = [corpus.element_value(e) for _, e in item]
        diffs = {b - a for a, b in zip(vals, vals[1:])}
        assert len(diffs) == 1 and abs(next(iter(diffs))) in TEMPLATE_STEPS, d.text
        assert 1 <= min(vals) and max(vals) <= tasks.SHIFT_BOUNDARY and 3 <= len(vals) <= 6, d.text
        seen.add(next(iter(diffs)))
    assert seen == {s * sign for s in TEMPLATE_STEPS for sign in (1, -1)}
    assert "template_step" in corpus.get_spec("small2").template_kinds
    assert "template_step" not in corpus.SMALL.kinds and "template_step" not in corpus.MINI.kinds


def test_vocabulary_is_small_and_closed_and_extends_small(tok2):
    small = corpus.build_tokenizer(spec="small").get_vocab()
    vocab = tok2.get_vocab()
    assert set(small) <= set(vocab) and len(vocab) == len(corpus.get_spec("small2").closed_vocabulary) + 2
    assert len(vocab) < 3300                                   # the size budget of data/models (model card)
    texts = corpus.generate_corpus(2_000, seed=3, spec="small2")
    kinds = [d.kind for d in corpus.generate_documents(2_000, seed=3, spec="small2")]
    enc = tok2(texts, add_special_tokens=False)["input_ids"]
    for kind, ids in zip(kinds, enc):                          # only prose may hold unknown words
        assert kind == "prose" or tok2.unk_token_id not in ids, kind


def test_every_task_tokenizes_like_gpt2_on_small2(tok2, gpt2_tok):
    for ps in _all_task_sets():
        tasks.check_prompt_set(ps, tok2)
        for text in ps.clean + ps.corrupted + ps.correct + ps.incorrect:
            assert tok2.convert_ids_to_tokens(tok2.encode(text)) == \
                gpt2_tok.convert_ids_to_tokens(gpt2_tok.encode(text)), text


def test_prose_pool_is_filtered_and_split(pool, tok2):
    assert len(pool.train) > 40_000 and len(pool.heldout) > 2_000
    assert not set(pool.train) & set(pool.heldout)
    names = set(tasks.NAMES) | set(tasks.IOI_NAMES) | set(tasks.QA_WORLD)
    word = re.compile(r"[A-Za-z]+")
    verbs = tasks.VERBS + (tasks.SHIFT_VERB,)
    heldout = set(pool.heldout)
    for s in pool.train[::7] + pool.heldout:
        assert s.isascii() and not re.search(r"\d", s), s
        assert not set(word.findall(s)) & names, s              # also "John's", "(Mary)"
        assert not corpus.template_items(s, verbs=verbs), s
        held = int(hashlib.sha1(s.encode()).hexdigest(), 16) % prose.HELDOUT_EVERY == 0
        assert held == prose.is_heldout(s)
        assert held == (s in heldout), s                        # the split is by the sentence's hash alone
    # each kept sentence has at most MAX_UNK_SHARE unknown pre-tokens
    for s in pool.train[::50]:
        ids = tok2.encode(s)
        assert ids.count(tok2.unk_token_id) <= prose.MAX_UNK_SHARE * len(ids) + 1e-9, s
    assert 0.05 < pool.unk_share < prose.MAX_UNK_SHARE


def test_the_name_filter_sees_possessives_and_brackets():
    pat = prose.task_names_pattern()
    name = tasks.IOI_NAMES[0]
    for text in (f"It was {name}'s fault.", f"A gift ({name}) came.", f"{name}, come here."):
        assert pat.search(text), text
    assert not pat.search(name.lower() + "ish things happen")


def test_both_forms_of_a_sentence_are_in_the_vocabulary(pool, tok2):
    # a sentence after another one starts with "ĠAn", "ĠTo": those forms must be known as often as the first ones
    pre = corpus._pre_tokenizer(corpus.SMALL)
    vocab = tok2.get_vocab()
    firsts = collections.Counter(pre.pre_tokenize_str(" " + s)[0][0] for s in pool.train)
    for piece, n in firsts.most_common(20):
        assert piece in vocab, (piece, n)


def test_heldout_prose_never_in_training_text(pool):
    docs = [d.text for d in corpus.generate_documents(6_000, seed=0, spec="small2") if d.kind == "prose"]
    text = "\n".join(docs)
    assert len(docs) > 1_500
    assert not [s for s in pool.heldout if s in text]
    assert sum(s in text for s in pool.train[:3000]) > 100    # the search does find trained sentences


def test_wordnet_parser_on_a_hand_made_database(tmp_path):
    (tmp_path / "data.noun").write_text(
        "  1 This software and database is being provided\n"
        "00045646 04 n 02 rally 1 rallying 1 003 @ 00036762 n 0000 | the feat of mustering strength; "
        "\"he singled to start a rally\"  \n")
    (tmp_path / "data.verb").write_text("01 29 v 01 ask 0 000 | make a request; \"She asked for a raise\"  \n")
    (tmp_path / "data.adj").write_text("02 00 a 01 able(a) 0 000 | having the necessary means  \n")
    (tmp_path / "data.adv").write_text("03 02 r 01 easily 0 000 | with ease  \n")
    assert prose.wordnet_sentences(tmp_path) == [
        "A rally is the feat of mustering strength.", "He singled to start a rally.",
        "To ask is to make a request.", "She asked for a raise.", "Able means having the necessary means.",
        "Easily means with ease."]


def test_wordnet_dir_names_what_is_missing_or_different(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.noun"):
        prose.wordnet_dir(tmp_path)
    for name in prose.WORDNET_SHA256:
        (tmp_path / name).write_text("not wordnet\n")
    with pytest.raises(RuntimeError, match="differ from Debian's wordnet-base"):
        prose.wordnet_dir(tmp_path)


def test_small2_corpus_and_vocabulary_are_pinned(tok2):
    # the recipe of the model card (pilot 3 was trained on exactly this text): a change must be deliberate
    text = "\n".join(corpus.generate_corpus(3000, seed=0, spec="small2"))
    assert hashlib.sha256(text.encode()).hexdigest() == \
        "daa81746cbdb485e1922e6e221b5fb14b1c869182d0e9e966cdc4abe0fef3b0c"
    assert len(tok2) == 3098
