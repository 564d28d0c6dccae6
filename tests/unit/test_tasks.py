"""Tests of dcirc_utils.core.tasks: the PromptSet, the numeral task and its variants, the registry."""
import hashlib
import json
import re

import pytest
import torch

from dcirc_utils.core import metrics, tasks
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


# --------------------------------------------------------------------------------------------- pinned outputs
def _sha(ps) -> str:
    payload = json.dumps([ps.clean, ps.corrupted, ps.correct, ps.incorrect, ps.meta, ps.variant, ps.seed])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def test_make_prompts_output_is_pinned():
    # the hash the course has always produced (shipped pairs, notebooks and cached results depend on it)
    ps = make_prompts(100, seed=0)
    digest = hashlib.sha256("\n".join(ps.clean + ps.corrupted).encode()).hexdigest()
    assert digest == "4b72fa3845f0cce118529442b7923eb4d74e5d1155ace237bf8c81c96d4e9a76"


# sha256 (first 16 hex) of 60 prompts per (variant, length, seed, split), computed before tasks became a package
PINNED = {
    ("numerals", None, 0, "heldout"): "10d37cc0bee46d3d", ("numerals", None, 17, "train"): "ba693e8214aecc0b",
    ("number_words", None, 0, "heldout"): "4aaa44092ce678f3", ("number_words", None, 17, "train"): "44d9ae31a565f03b",
    ("months", None, 0, "heldout"): "c9ee50dabda0ab2b", ("months", None, 17, "train"): "d1f41bc267ad94fb",
    ("long", 6, 0, "heldout"): "8b16e1b0df8f5171", ("long", 7, 17, "heldout"): "5b5e93480c638bda",
    ("long", 8, 0, "train"): "4cbf4cb04a937c2d", ("large", None, 0, "heldout"): "9b690d519c8cbcce",
    ("large", None, 17, "train"): "369d27d11cebaf74",
}


@pytest.mark.parametrize("key", sorted(PINNED, key=str))
def test_every_existing_variant_is_unchanged(key):
    variant, length, seed, split = key
    assert _sha(make_prompts(60, seed=seed, variant=variant, length=length, split=split)) == PINNED[key]


def test_existing_variants_unchanged_with_gpt2_filter(gpt2_tok):
    assert _sha(make_prompts(60, seed=0, tokenizer=gpt2_tok)) == PINNED[("numerals", None, 0, "heldout")]


# md5 of the shipped files: they must stay byte-identical
SHIPPED_MD5 = {
    "large.json": "8334d87a47ae38cc0f0e78683f289a93", "long.json": "9d43f4bdfdc7534f361fa7b710bfe849",
    "long7.json": "22616c8fc046b23de6f20551d1773829", "long8.json": "0527f4c1f33d28ff9836edee4906ae54",
    "months.json": "b98b23308b441efc2bf4dfeb2c19bf92", "number_words.json": "0972bab8f781fc0a5fbacd7e355fbea8",
    "numerals.json": "057070da551bb4d98e8aa620dc90420a",
}


def test_shipped_sets_are_byte_identical_and_regenerate_exactly(tmp_path):
    folder = tasks.DATA_DIR / "prompts"
    for name, md5 in SHIPPED_MD5.items():
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == md5, name
    written = {p.name: p for p in tasks.write_default_sets(folder=tmp_path)}
    for name in SHIPPED_MD5:
        assert written[name].read_bytes() == (folder / name).read_bytes(), name
    # the shift variants are shipped too and regenerate exactly
    for variant in tasks.SHIFT_VARIANTS:
        assert written[f"{variant}.json"].read_bytes() == (folder / f"{variant}.json").read_bytes(), variant


def test_data_dir_is_the_repository_data_folder():
    assert (tasks.DATA_DIR / "prompts" / "numerals.json").exists()
    assert tasks.DATA_DIR.parent.joinpath("dcirc_utils").is_dir()


# --------------------------------------------------------------------------------------------- PromptSet
def test_json_round_trip_with_task_field_and_old_files(tmp_path):
    ps = make_prompts(5, seed=4, variant="mixed")
    path = tasks.save_prompt_set(ps, tmp_path / "a.json")
    assert "task" not in json.loads(path.read_text())  # numerals files keep their old form
    assert tasks.load_prompt_set(path) == ps
    old = json.loads((tasks.DATA_DIR / "prompts" / "numerals.json").read_text())
    assert "task" not in old and tasks.load_prompt_set(tasks.DATA_DIR / "prompts" / "numerals.json").task == "numerals"
    ioi = tasks.make_task("ioi", 6, seed=1)
    back = tasks.load_prompt_set(tasks.save_prompt_set(ioi, tmp_path / "ioi.json"))
    assert back == ioi and back.task == "ioi"
    sub = ioi.subset([4, 0])
    assert sub.task == "ioi" and sub.clean == [ioi.clean[4], ioi.clean[0]] and sub.meta[0] == ioi.meta[4]
    assert len(sub) == 2


class _WordTok:
    """A whitespace tokenizer with ids 2.. for words, for tests that must not depend on real tokenizers."""

    def __init__(self, words, bos=True):
        self.vocab = {w: i + 2 for i, w in enumerate(words)}
        self.bos_token_id = 1 if bos else None
        self.unk_token_id = 0

    def encode(self, text, add_special_tokens=False):
        return [self.vocab.get(w, 0) for w in text.split()]


def test_tokens_bos_and_errors():
    ps = tasks.PromptSet("x", ["a b", "b a"], ["a a", "b b"], [" a", " b"], [" b", " a"], 0)
    tok = _WordTok(["a", "b", "c"])
    assert ps.tokens(tok).tolist() == [[2, 3], [3, 2]]
    assert ps.tokens(tok, "corrupted", bos=True).tolist() == [[1, 2, 2], [1, 3, 3]]
    with pytest.raises(ValueError, match="no BOS token"):
        ps.tokens(_WordTok(["a", "b"], bos=False), bos=True)
    with pytest.raises(ValueError, match="'clean' or 'corrupted'"):
        ps.tokens(tok, "dirty")
    uneven = tasks.PromptSet("x", ["a b", "a b c"], ["a b", "a b c"], [" a", " a"], [" b", " b"], 0)
    with pytest.raises(ValueError, match="different lengths"):
        uneven.tokens(tok)
    c, i = ps.answer_ids(tok)
    assert c.tolist() == [2, 3] and i.tolist() == [3, 2]
    m = ps.metric(tok)
    assert isinstance(m, metrics.LogitDiff) and m.ids.tolist() == [[2, 3], [3, 2]]


def test_metric_is_logit_diff_for_numerals(gpt2_tok):
    ps = make_prompts(3, seed=0, tokenizer=gpt2_tok)
    m = ps.metric(gpt2_tok)
    assert m.ids[:, 0].tolist() == [gpt2_tok.encode(a)[0] for a in ps.correct]
    logits = torch.zeros(3, 2)
    logits[:, 0] = 2.5
    assert m(logits).tolist() == [2.5, 2.5, 2.5]


# --------------------------------------------------------------------------------------------- shift variants
def test_range_shift_values_above_the_boundary():
    ps = make_prompts(80, seed=0, variant="range_shift")
    assert set(tasks.VARIANTS) == {"numerals", "number_words", "months", "long", "large"}  # the original five
    assert tasks.SHIFT_VARIANTS == ("range_shift", "verb_shift", "mixed")
    assert tasks.SHIFT_BOUNDARY == 25
    for text, meta, corr in zip(ps.clean, ps.meta, ps.correct):
        shown = [int(x) for x in re.findall(r" in (\d+)\.", text)]
        assert len(shown) == 4 and shown == list(range(meta["start"], meta["start"] + 4))
        assert min(shown) > tasks.SHIFT_BOUNDARY and 26 <= meta["start"] <= 40
        assert corr == f" {shown[-1] + 1}"
        assert tasks.is_heldout(meta["words"][0], meta["start"])
    for text in ps.corrupted:
        assert all(26 <= int(x) <= 44 for x in re.findall(r" in (\d+)\.", text))


def test_verb_shift_uses_found_only():
    ps = make_prompts(30, seed=2, variant="verb_shift")
    assert {m["verb"] for m in ps.meta} == {"found"} == {tasks.SHIFT_VERB}
    assert all(" found in " in t and " done " not in t for t in ps.clean)
    assert all(m["words"][0] in tasks.NOUNS for m in ps.meta)
    with pytest.raises(ValueError, match="template verbs"):
        make_prompts(5, variant="verb_shift", verbs=("done",))


def test_mixed_format_parsed_from_text():
    ps = make_prompts(60, seed=5, variant="mixed")
    for text, corr, inc, meta in zip(ps.clean, ps.correct, ps.incorrect, ps.meta):
        elems = re.findall(r" in (\w+)\.", text)
        n = meta["start"]
        assert elems[:2] == [tasks.NUMBER_WORDS[n - 1], tasks.NUMBER_WORDS[n]]  # words for n, n+1
        assert elems[2:] == [str(n + 2), str(n + 3)]
        assert corr == f" {n + 4}" and inc == f" {n + 3}"
    for text in ps.corrupted:
        elems = re.findall(r" in (\w+)\.", text)
        assert all(e in tasks.NUMBER_WORDS for e in elems[:2]) and all(e.isdigit() for e in elems[2:])
    # the docstring's example, written out by hand
    assert tasks.numerals._render(["Van", "Hat", "Ring", "Desk", "Sun"], "done",
                                  tasks.numerals._elements("mixed", 3, 4)[:-1]) == (
        "Van done in three. Hat done in four. Ring done in 5. Desk done in 6. Sun done in")


def test_shift_variants_single_tokens_for_gpt2(gpt2_tok):
    assert gpt2_tok.encode(" found") == [1043]
    for variant in tasks.SHIFT_VARIANTS:
        ps = tasks.make_task("numerals", 40, seed=1, tokenizer=gpt2_tok, variant=variant)
        assert ps.tokens(gpt2_tok).shape == (40, 23) == ps.tokens(gpt2_tok, "corrupted").shape


# --------------------------------------------------------------------------------------------- registry
def test_make_task_registry():
    assert {"numerals", "number_words", "ioi", "qa", "greater_than"} <= set(tasks.TASKS)
    nw = tasks.make_task("number_words", 20, seed=3)
    assert nw.clean == make_prompts(20, seed=3, variant="number_words").clean and nw.task == "numerals"
    assert tasks.make_task("numerals", 10, seed=1, variant="long", length=7).clean == \
        make_prompts(10, seed=1, variant="long", length=7).clean
    with pytest.raises(ValueError, match="unknown task"):
        tasks.make_task("poetry")
    with pytest.raises(ValueError, match="split"):
        tasks.make_task("ioi", split="test")
    with pytest.raises(ValueError, match="n must be"):
        tasks.make_task("qa", n=0)
    with pytest.raises(ValueError, match="already registered"):
        tasks.register_task("ioi", tasks.make_ioi)
    with pytest.raises(ValueError, match="family"):
        tasks.register_task("ioi_again", tasks.make_ioi, family="rnn")
    assert "ioi_again" not in tasks.TASKS
    assert {tasks.TASKS[t].family for t in ("numerals", "number_words", "ioi", "qa", "greater_than")} == {"decoder"}
