import json

import pytest

from dcirc_utils.core import tasks
from dcirc_utils.core.tasks import VARIANTS, make_prompts


def test_gpt2_answers_are_single_tokens(gpt2_tok):
    assert gpt2_tok.encode(" 5") == [642]
    for variant in ("numerals", "long", "large", "number_words", "months"):
        ps = make_prompts(60, seed=3, variant=variant, tokenizer=gpt2_tok, length=8 if variant == "long" else None)
        c, i = ps.answer_ids(gpt2_tok)
        assert len(c) == len(i) == 60
        for text, tid in zip(ps.correct, c.tolist()):
            assert gpt2_tok.decode([tid]) == text
        toks = ps.tokens(gpt2_tok)  # raises if any word were not a single token
        assert toks.shape[0] == 60


def test_prompt_form_and_answers():
    ps = make_prompts(30, seed=1)
    for text, corr, inc, meta in zip(ps.clean, ps.correct, ps.incorrect, ps.meta):
        n, verb, words = meta["start"], meta["verb"], meta["words"]
        expected = " ".join(f"{w} {verb} in {n + k}." for k, w in enumerate(words[:4])) + f" {words[4]} {verb} in"
        assert text == expected
        assert corr == f" {n + 4}" and inc == f" {n + 3}"
        assert 1 <= n <= 8
        assert (words[0] in tasks.NAMES) == (verb == "born")


def test_corrupted_keep_words_and_answers():
    ps = make_prompts(50, seed=2)
    for clean, corrupted in zip(ps.clean, ps.corrupted):
        cw, rw = clean.split(), corrupted.split()
        assert len(cw) == len(rw)
        for a, b in zip(cw, rw):
            if a.rstrip(".").isdigit():
                assert b.rstrip(".").isdigit() and 1 <= int(b.rstrip(".")) <= 12
            else:
                assert a == b
    assert sum(a != b for a, b in zip(ps.clean, ps.corrupted)) > 40


def test_deterministic_and_seed_dependent():
    a, b, c = make_prompts(40, seed=7), make_prompts(40, seed=7), make_prompts(40, seed=8)
    assert a.clean == b.clean and a.corrupted == b.corrupted
    assert a.clean != c.clean


def test_heldout_split_respected():
    for split in ("heldout", "train"):
        ps = make_prompts(80, seed=0, split=split)
        assert all(tasks.is_heldout(m["words"][0], m["start"]) == (split == "heldout") for m in ps.meta)


def test_variants():
    for length in (6, 7, 8):
        long = make_prompts(30, seed=0, variant="long", length=length)
        assert {m["length"] for m in long.meta} == {length}
        assert long.clean[0].count(".") == length
    with pytest.raises(ValueError, match="6 to 8"):
        make_prompts(5, variant="long", length=9)
    large = make_prompts(30, seed=0, variant="large")
    assert all(m["start"] >= 10 for m in large.meta)
    words = make_prompts(10, seed=0, variant="number_words")
    assert words.correct[0].strip() in tasks.NUMBER_WORDS
    months = make_prompts(10, seed=0, variant="months")
    assert months.correct[0].strip() in tasks.MONTHS
    with pytest.raises(ValueError, match="unknown variant"):
        make_prompts(5, variant="roman")
    assert set(VARIANTS) == {"numerals", "number_words", "months", "long", "large"}


def test_multi_token_answer_raises_naming_it(gpt2_tok):
    with pytest.raises(ValueError, match="' 12345'"):
        tasks.answer_token_ids(gpt2_tok, [" 5", " 12345"])


def test_filter_reports_counts():
    import torch
    ps = make_prompts(4, seed=0)
    logits = torch.zeros(4, 10)
    correct, incorrect = torch.tensor([1, 1, 1, 1]), torch.tensor([2, 2, 2, 2])
    logits[0, 1] = 5.0                      # top-1 correct, p(c) >> p(i): kept
    logits[1, 1], logits[1, 2] = 1.0, 0.5   # top-1 correct but p(c)/p(i) = e^0.5 < 2: dropped
    logits[2, 3] = 5.0                      # wrong top-1: dropped
    logits[3, 1], logits[3, 2] = 3.0, 2.0   # ratio e^1 > 2: kept
    kept, report = tasks.filter_prompts(ps, logits, correct, incorrect)
    assert report == {"kept": 2, "dropped": 2, "total": 4}
    assert kept.clean == [ps.clean[0], ps.clean[3]]


def test_shipped_prompt_sets_match_generator(tmp_path):
    path = tasks.DATA_DIR / "prompts" / "numerals.json"
    if not path.exists():
        pytest.skip("data/prompts not written yet")
    shipped = tasks.load_prompt_set(path)
    regenerated = make_prompts(len(shipped), seed=shipped.seed, variant=shipped.variant)
    assert shipped.clean == regenerated.clean and shipped.corrupted == regenerated.corrupted
    json.loads(path.read_text())
