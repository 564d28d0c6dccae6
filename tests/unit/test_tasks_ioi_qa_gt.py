"""Tests of the IOI, QA and greater-than tasks (dcirc_utils.core.tasks.ioi / qa / greater_than)."""
from __future__ import annotations

import hashlib
import json
import os
import re

import pytest
import torch

from dcirc_utils.core import metrics, tasks


@pytest.fixture(scope="module")
def bert_tok():
    path = os.environ.get("DCIRC_BERT_TOKENIZER")
    if not path:
        pytest.skip("set DCIRC_BERT_TOKENIZER to a folder with bert-base-uncased's tokenizer (vocab.txt)")
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def mini_tok():
    from dcirc_utils.offline import corpus
    return corpus.build_tokenizer()  # the mini pair's: no QA world, no IOI spec names, years are unknown words


def _one_wordpiece(tok, word: str) -> bool:
    pieces = tok.tokenize(word)
    return len(pieces) == 1 and pieces[0] != tok.unk_token


# --------------------------------------------------------------------------------------------- IOI
def test_ioi_word_lists_single_tokens_gpt2(gpt2_tok):
    assert len(tasks.IOI_NAMES) == 99 == len(set(tasks.IOI_NAMES))
    assert (tasks.IOI_NAMES[0], tasks.IOI_NAMES[-2], tasks.IOI_NAMES[-1]) == ("Michael", "Bradley", "Samuel")
    for w in tasks.IOI_NAMES + tasks.IOI_PLACES + tasks.IOI_OBJECTS:
        assert len(gpt2_tok.encode(" " + w)) == 1, w
    assert tasks.single_token_words_with_space(gpt2_tok, tasks.IOI_NAMES) == list(tasks.IOI_NAMES)


def test_ioi_word_lists_single_wordpieces_bert(bert_tok):
    for w in tasks.IOI_NAMES + tasks.IOI_PLACES + tasks.IOI_OBJECTS:
        assert _one_wordpiece(bert_tok, w), (w, bert_tok.tokenize(w))


def test_ioi_templates_by_hand():
    assert tasks.ioi_sentence(0, "BABA", "Mary", "John", "store", "drink") == \
        "Then, John and Mary went to the store. John gave a drink to"
    assert tasks.ioi_sentence(0, "ABBA", "Mary", "John", "store", "drink") == \
        "Then, Mary and John went to the store. John gave a drink to"
    assert tasks.ioi_sentence(6, "ABBA", "Amy", "Sean", "house", "bone") == \
        "When Amy and Sean got a bone at the house, Sean decided to give it to"
    assert tasks.ioi_sentence(4, "BABA", "Amy", "Sean", "house", "bone", s1="Kyle", s2="Paul") == \
        "Then, Kyle and Amy had a long argument, and afterwards Paul said to"
    assert len(tasks.IOI_TEMPLATES) == 7
    with pytest.raises(ValueError, match="0..6"):
        tasks.ioi_template(7)
    with pytest.raises(ValueError, match="BABA"):
        tasks.ioi_template(0, "AB")


@pytest.mark.parametrize("template", range(7))
def test_ioi_prompts_parse_and_align(template, gpt2_tok):
    ps = tasks.make_task("ioi", 40, seed=3, template=template, tokenizer=gpt2_tok)
    assert ps.task == "ioi" and ps.variant == f"template_{template}"
    assert [m["order"] for m in ps.meta[:4]] == ["BABA", "ABBA", "BABA", "ABBA"]
    for text, bad, corr, inc, m in zip(ps.clean, ps.corrupted, ps.correct, ps.incorrect, ps.meta):
        io, s = m["io"], m["s"]
        words = re.findall(r"[A-Z][a-z]+", text)
        names = [w for w in words if w in tasks.IOI_NAMES]
        assert names.count(s) == 2 and names.count(io) == 1, text  # S twice, IO once, the answer left out
        assert (names[0] == s) == (m["order"] == "BABA")
        assert corr == " " + io and inc == " " + s
        assert tasks.ioi_is_heldout(io, s)
        bad_names = [w for w in re.findall(r"[A-Z][a-z]+", bad) if w in tasks.IOI_NAMES]
        assert len(set(bad_names)) == 3 and not {io, s} & set(bad_names)  # ABC
        assert bad.split(" ")[0] == text.split(" ")[0] and text.endswith(" to") and bad.endswith(" to")
    clean, corrupted = ps.tokens(gpt2_tok), ps.tokens(gpt2_tok, "corrupted")
    assert clean.shape == corrupted.shape == (40, clean.shape[1])
    # only the three name positions differ between a prompt and its twin
    assert int((clean != corrupted).sum(-1).max()) == 3


def test_ioi_splits_and_determinism():
    a, b = tasks.make_task("ioi", 50, seed=1), tasks.make_task("ioi", 50, seed=1)
    assert a == b and a.clean != tasks.make_task("ioi", 50, seed=2).clean
    train = tasks.make_task("ioi", 50, seed=1, split="train")
    assert not any(tasks.ioi_is_heldout(m["io"], m["s"]) for m in train.meta)
    share = sum(tasks.ioi_is_heldout(a, b) for a in tasks.IOI_NAMES for b in tasks.IOI_NAMES if a != b) / (99 * 98)
    assert 0.25 < share < 0.35


# --------------------------------------------------------------------------------------------- QA
def test_qa_world_is_fixed():
    world = tasks.QA_WORLD
    assert len(world) == tasks.QA_N_PEOPLE == 60 and set(world) <= set(tasks.IOI_NAMES)
    counts = {c: list(world.values()).count(c) for c in tasks.QA_CITIES}
    assert set(counts.values()) == {3, 4} and sum(counts.values()) == 60
    digest = hashlib.sha256(json.dumps(list(world.items())).encode()).hexdigest()[:16]
    assert digest == "04c2972fd70d7ce0"  # pinned: the small pair was trained on these facts
    assert list(world.items())[:3] == [("Elizabeth", "Rome"), ("Megan", "Boston"), ("Mary", "Madrid")]
    held, train = tasks.qa_people("heldout"), tasks.qa_people("train")
    assert len(held) + len(train) == 60 and not set(held) & set(train) and len(held) >= 10


def test_qa_offline_prompts():
    ps = tasks.make_task("qa", 80, seed=0)
    assert ps.task == "qa" and ps.variant == "offline"
    for text, bad, corr, inc, m in zip(ps.clean, ps.corrupted, ps.correct, ps.incorrect, ps.meta):
        person = re.fullmatch(r"Q: Where does (\w+) live\? A:", text).group(1)
        other = re.fullmatch(r"Q: Where does (\w+) live\? A:", bad).group(1)
        assert corr == " " + tasks.QA_WORLD[person] and inc == " " + tasks.QA_WORLD[other] and corr != inc
        assert tasks.qa_is_heldout(person) and m["subject"] == person
    train = tasks.make_task("qa", 40, seed=0, split="train")
    assert not any(tasks.qa_is_heldout(m["subject"]) for m in train.meta)
    with pytest.raises(ValueError, match="world"):
        tasks.make_task("qa", 5, world="mars")


def test_qa_words_single_tokens(gpt2_tok, bert_tok):
    for city in tasks.QA_CITIES:
        assert len(gpt2_tok.encode(" " + city)) == 1 and _one_wordpiece(bert_tok, city), city
    facts = tasks.load_real_facts()["facts"]
    assert len(facts) >= 40
    for f in facts:
        for w in (f["subject"], f["answer"]):
            assert len(gpt2_tok.encode(" " + w)) == 1 and _one_wordpiece(bert_tok, w), w


def test_qa_real_world(gpt2_tok):
    data = tasks.load_real_facts()
    assert "NOT verified" in data["verified"]
    ps = tasks.make_task("qa", 100, seed=0, world="real", tokenizer=gpt2_tok)
    answer = {f["subject"]: f["answer"] for f in data["facts"]}
    assert ps.variant == "real" and ps.tokens(gpt2_tok).shape == (100, 11)
    for text, bad, corr, inc in zip(ps.clean, ps.corrupted, ps.correct, ps.incorrect):
        subj = re.fullmatch(r"Q: What is the capital of (\w+)\? A:", text).group(1)
        other = re.fullmatch(r"Q: What is the capital of (\w+)\? A:", bad).group(1)
        assert corr == " " + answer[subj] and inc == " " + answer[other] and corr != inc
    # the first len(facts) prompts cover every fact once (then they repeat)
    assert len(set(ps.clean[: len(answer)])) == len(answer)


def test_qa_needs_the_words(mini_tok):
    with pytest.raises(ValueError, match="QA subjects"):
        tasks.make_task("qa", 5, tokenizer=mini_tok)


# --------------------------------------------------------------------------------------------- greater-than
def test_unsplit_years_match_gpt2(gpt2_tok):
    computed = set()
    for c in tasks.GT_CENTURIES:
        for yy in tasks.GT_YY:
            if gpt2_tok.convert_ids_to_tokens(gpt2_tok.encode(f" {c}{yy:02d}")) != [f"Ġ{c}", f"{yy:02d}"]:
                computed.add(c * 100 + yy)
    assert computed == set(tasks.GPT2_UNSPLIT_YEARS)
    assert 1732 not in tasks.GPT2_UNSPLIT_YEARS and 1102 in tasks.GPT2_UNSPLIT_YEARS
    assert tasks.two_digit_ids(gpt2_tok).tolist() == [gpt2_tok.encode(f"{v:02d}")[0] for v in range(100)]
    for noun in tasks.GT_NOUNS:
        assert len(gpt2_tok.encode(" " + noun)) == 1, noun


def test_greater_than_prompts(gpt2_tok):
    ps = tasks.make_task("greater_than", 60, seed=0, tokenizer=gpt2_tok)
    rx = re.compile(r"The (\w+) lasted from the year (\d\d)(\d\d) to the year (\d\d)")
    for text, bad, corr, inc, m in zip(ps.clean, ps.corrupted, ps.correct, ps.incorrect, ps.meta):
        noun, c, yy, c2 = rx.fullmatch(text).groups()
        assert c == c2 and 11 <= int(c) <= 17 and 2 <= int(yy) <= 98 and int(c + yy) not in tasks.GPT2_UNSPLIT_YEARS
        assert bad == text.replace(f"{c}{yy} to", f"{c}01 to")
        assert corr == f"{int(yy) + 1:02d}" and inc == yy and m["yy"] == int(yy)
        assert tasks.gt_is_heldout(noun, int(yy))
    toks = ps.tokens(gpt2_tok)
    assert toks.shape == (60, 12) and ps.tokens(gpt2_tok, "corrupted").shape == (60, 12)
    assert gpt2_tok.convert_ids_to_tokens(gpt2_tok.encode(tasks.gt_prompt("war", 17, 32)))[-6:] == \
        ["Ġ17", "32", "Ġto", "Ġthe", "Ġyear", "Ġ17"]
    train = tasks.make_task("greater_than", 60, seed=0, split="train")
    assert not any(tasks.gt_is_heldout(m["noun"], m["yy"]) for m in train.meta)


def test_greater_than_metric_by_hand(gpt2_tok):
    ps = tasks.make_greater_than(3, seed=0).subset([0, 1, 2])
    ps.meta = [dict(m, yy=yy) for m, yy in zip(ps.meta, (32, 2, 98))]  # set YY by hand
    m = ps.metric(gpt2_tok)
    assert isinstance(m, metrics.ProbDiff) and m.good.shape == (3, len(gpt2_tok))
    assert m.good.sum(-1).tolist() == [67, 97, 1] and m.bad.sum(-1).tolist() == [33, 3, 99]
    ids = tasks.two_digit_ids(gpt2_tok)
    logits = torch.full((3, len(gpt2_tok)), -30.0)
    logits[0, ids[33]] = 30.0   # all mass on "33" after 1732: right, +1
    logits[1, ids[2]] = 30.0    # all mass on "02" after 1702: wrong (not later), -1
    logits[2, ids[50]] = 30.0   # "50" after 1798: wrong, -1
    assert m(logits).tolist() == pytest.approx([1.0, -1.0, -1.0], abs=1e-6)
    assert m.correct(logits).tolist() == [True, False, False]
    half = torch.full((1, len(gpt2_tok)), -30.0)
    half[0, ids[40]], half[0, ids[10]] = 30.0, 30.0  # half on a later year, half on an earlier one (YY = 32)
    one = ps.subset([0])
    assert float(one.metric(gpt2_tok)(half)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="metric"):
        ps.answer_ids(gpt2_tok)
    with pytest.raises(ValueError, match="d_vocab"):
        ps.metric(gpt2_tok, d_vocab=100)


def test_tasks_refuse_a_tokenizer_without_their_words(mini_tok):
    with pytest.raises(ValueError, match="greater-than noun"):
        tasks.make_task("greater_than", 5, tokenizer=mini_tok)
    # IOI filters its pools to the tokenizer's single tokens: the mini vocabulary has only the numeral task's names
    ps = tasks.make_task("ioi", 30, tokenizer=mini_tok)
    assert {m["io"] for m in ps.meta} | {m["s"] for m in ps.meta} <= set(tasks.NAMES)
    assert not {m["place"] for m in ps.meta} & {"restaurant", "hospital"}  # not mini words


def test_shipped_task_sets_regenerate_exactly(tmp_path):
    written = tasks.write_task_sets(folder=tmp_path)
    assert sorted(p.name for p in written) == sorted([f"ioi_t{k}.json" for k in range(7)] + ["qa.json",
                                                                                           "greater_than.json"])
    for p in written:
        shipped = tasks.DATA_DIR / "tasks" / p.name
        assert p.read_bytes() == shipped.read_bytes(), p.name
        assert tasks.load_prompt_set(shipped).task in ("ioi", "qa", "greater_than")
