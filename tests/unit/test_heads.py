"""dcirc_utils.methods.heads and .matching: role-score definitions on hand-built patterns, the successor score, OV maps
against a manual computation, head similarity and matching (including a student freshly initialised from the offline
teacher)."""
from __future__ import annotations

import math

import pytest
import torch

from dcirc_utils.core.components import Component, parse_component
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.methods import heads as H
from dcirc_utils.methods import matching as MT
from dcirc_utils.report import plots


# --------------------------------------------------------------------------------------------- pure functions
def test_successor_score_of_successor_map_is_one():
    n = 12
    ov = torch.zeros(n, n)
    ov[torch.arange(n - 1), torch.arange(1, n)] = 5.0          # n -> n+1
    ov += 0.1 * torch.eye(n)                                   # a weaker copy term must not matter
    assert H.successor_score_from_ov(ov) == 1.0


def test_successor_score_of_copy_and_random_maps():
    n = 12
    assert H.successor_score_from_ov(torch.eye(n)) == 0.0      # a pure copying head is no successor head
    g = torch.Generator().manual_seed(0)
    scores = [H.successor_score_from_ov(torch.randn(n, n, generator=g)) for _ in range(400)]
    mean = sum(scores) / len(scores)
    assert abs(mean - 1 / n) < 0.015, f"random maps score {mean:.3f}, chance is {1 / n:.3f}"


def test_successor_score_on_rows_is_the_share_of_those_rows():
    """Scored on a part of the input rows, the score is the share of those rows whose top output is n+1; disjoint
    parts average back to the whole (weighted by their sizes)."""
    n = 7
    ov = torch.eye(n)                                          # copy everywhere ...
    ov[[0, 2, 3], [1, 3, 4]] = 5.0                             # ... but rows 0, 2 and 3 point to their successor
    assert H.successor_score_from_ov(ov) == pytest.approx(3 / 6)
    assert H.successor_score_from_ov(ov, rows=[0, 1]) == 0.5
    assert H.successor_score_from_ov(ov, rows=[2, 3]) == 1.0
    assert H.successor_score_from_ov(ov, rows=[4, 5]) == 0.0
    with pytest.raises(ValueError, match="rows"):
        H.successor_score_from_ov(ov, rows=[6])                # the last element has no successor in the list
    with pytest.raises(ValueError, match="rows"):
        H.successor_score_from_ov(ov, rows=[])


@pytest.mark.parametrize("bad", [torch.zeros(3, 4), torch.zeros(1, 1), torch.zeros(5)])
def test_successor_score_rejects_non_square(bad):
    with pytest.raises(ValueError, match="square"):
        H.successor_score_from_ov(bad)


def _toy_prompt():
    # ids: 10 word, 11 verb, 12 "in", 1..4 numbers, 13 "."; layout of the task with three sentences + query
    tokens = torch.tensor([[10, 11, 12, 1, 13, 20, 11, 12, 2, 13, 21, 11, 12]])
    return tokens, [1, 2, 3, 4]


def test_role_scores_follow_their_definitions():
    tokens, el = _toy_prompt()
    pos = tokens.shape[1]
    n_layers, n_heads = 1, 4
    pat = torch.zeros(n_layers, 1, n_heads, pos, pos)
    for h in range(n_heads):
        pat[0, 0, h] = torch.eye(pos)                          # default: attend to self
    # head 0: from the second number (pos 8) to the first number (pos 3)
    pat[0, 0, 0, 8] = 0
    pat[0, 0, 0, 8, 3] = 1
    # head 1: every repeated token attends to its previous occurrence(s), evenly
    for q in range(pos):
        prev = [k for k in range(q) if tokens[0, k] == tokens[0, q]]
        if prev:
            pat[0, 0, 1, q] = 0
            pat[0, 0, 1, q, prev] = 1 / len(prev)
    # head 2: the final position splits its attention between the two numbers, 0.3 on the last one
    pat[0, 0, 2, -1] = 0
    pat[0, 0, 2, -1, 3], pat[0, 0, 2, -1, 8] = 0.7, 0.3
    # head 3: uniform causal attention
    pat[0, 0, 3] = torch.tril(torch.ones(pos, pos)) / torch.arange(1, pos + 1)[:, None]

    nd = H.numeral_detection_scores(None, tokens, element_ids=el, patterns=pat)
    dup = H.duplicate_token_scores(None, tokens, patterns=pat)
    mover = H.number_mover_scores(None, tokens, element_ids=el, patterns=pat)
    last = H.last_number_scores(None, tokens, element_ids=el, patterns=pat)
    assert nd.shape == dup.shape == mover.shape == last.shape == (1, 4)
    assert nd[0, 0] == pytest.approx(1.0) and nd[0, 1] == 0 and nd[0, 2] == 0
    assert nd[0, 3] == pytest.approx(1 / 9)                    # uniform from pos 8: one number among 9 keys
    assert dup[0, 1] == pytest.approx(1.0) and dup[0, 0] == 0
    # the study's number mover attends to every number but the first: only the second number (0.3) counts
    assert mover[0, 2] == pytest.approx(0.3) and last[0, 2] == pytest.approx(0.3)
    assert mover[0, 3] == pytest.approx(1 / pos)
    every = H.number_mover_scores(None, tokens, element_ids=el, patterns=pat, skip_first=False)
    assert every[0, 2] == pytest.approx(1.0) and every[0, 3] == pytest.approx(2 / pos)


def test_element_token_mask_finds_numbers(mini_pair):
    tok = mini_pair.tokenizer
    ps = make_prompts(4, seed=0, tokenizer=tok)
    for which in ("clean", "corrupted"):
        mask = H.element_token_mask(ps.tokens(tok, which), tok)
        assert mask.sum(1).tolist() == [4] * 4                  # four shown numbers per prompt
        assert mask[:, [3, 8, 13, 18]].all()


def test_role_table_ranks_heads():
    s = torch.tensor([[0.1, 0.9], [0.5, float("nan")]])
    rows = H.role_table({"r": s}, top_k=5)
    assert [str(r["head"]) for r in rows] == ["0.1", "1.0", "0.0"]   # NaN skipped
    assert rows[0]["head"] == Component(0, 1)
    assert [r["rank"] for r in rows] == [1, 2, 3] and rows[0]["score"] == pytest.approx(0.9)
    with pytest.raises(ValueError):
        H.role_table({"r": torch.zeros(3)})


def test_head_similarity_and_matching_on_hand_built_patterns():
    g = torch.Generator().manual_seed(0)
    t = torch.rand(3, 2, 6, 6, generator=g).tril()
    t = t / t.sum(-1, keepdim=True)
    s = t[[2, 0]]                                               # student layer 0 = teacher 2, layer 1 = teacher 0
    sim = MT.head_similarity(t, s)
    assert sim.shape == (4, 6)
    assert sim.max() <= 1 + 1e-6
    matches = MT.match_heads(sim, 2)
    assert [(str(m.student), str(m.teacher)) for m in matches] == [("0.0", "2.0"), ("0.1", "2.1"), ("1.0", "0.0"),
                                                                   ("1.1", "0.1")]
    assert all(abs(m.similarity - 1) < 1e-6 for m in matches)
    flat = MT.head_similarity(t, s, mode="flat")
    assert torch.allclose(flat.max(1).values, torch.ones(4))
    with pytest.raises(ValueError, match="same tokens"):
        MT.head_similarity(t, torch.rand(1, 2, 5, 5))
    with pytest.raises(ValueError, match="n_heads"):
        MT.match_heads(sim, 3)


# --------------------------------------------------------------------------------------------- on the offline pair
@pytest.fixture(scope="module")
def mini_tokens(mini_pair):
    return make_prompts(24, seed=0, tokenizer=mini_pair.tokenizer).tokens(mini_pair.tokenizer)


def test_attention_patterns_and_role_scores_on_model(mini_pair, mini_tokens):
    model = mini_pair.teacher
    pats = H.attention_patterns(model, mini_tokens)
    cfg = model
    assert pats.shape == (cfg.n_layers, cfg.n_heads, mini_tokens.shape[1], mini_tokens.shape[1])
    torch.testing.assert_close(pats.sum(-1), torch.ones(pats.shape[:-1]), atol=1e-5, rtol=0)
    assert torch.all(pats.triu(1) == 0)
    scores = H.head_role_scores(model, mini_tokens)
    assert set(scores) == {"numeral detection", "duplicate token", "number mover", "last number", "successor"}
    for name, s in scores.items():
        assert s.shape == (cfg.n_layers, cfg.n_heads), name
        assert torch.all((s >= -1e-6) & (s <= 1 + 1e-6)), name
    assert torch.all(scores["last number"] <= scores["number mover"] + 1e-6)


def test_ov_logits_match_a_manual_computation(mini_pair):
    adapter, tok = mini_pair.teacher, mini_pair.tokenizer
    model = adapter.model
    ids = H.element_token_ids(tok)
    eps = model.cfg.eps

    def ln(x):
        x = x - x.mean(-1, keepdim=True)
        return x / (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()

    def gelu_new(x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))

    e = model.W_E[ids]
    emb = e + gelu_new(ln(e) @ model.W_in[0] + model.b_in[0]) @ model.W_out[0] + model.b_out[0]
    torch.testing.assert_close(H.effective_embeddings(adapter, ids), emb, atol=1e-5, rtol=1e-5)
    maps = H.ov_element_logits(adapter)
    for layer, head in [(0, 1), (model.cfg.n_layers - 1, model.cfg.n_heads - 1)]:
        manual = ln(ln(emb) @ model.W_V[layer, head] @ model.W_O[layer, head]) @ model.W_U[:, ids]
        torch.testing.assert_close(maps[layer, head], manual, atol=1e-4, rtol=1e-4)
    succ = H.successor_scores(adapter)
    assert succ[0, 1] == H.successor_score_from_ov(maps[0, 1])
    circ = H.qk_ov_matrices(adapter, Component(0, 1))
    assert circ.ov_logits.shape == circ.qk_scores.shape == (12, 12) and circ.labels[0] == "1"
    assert tuple(circ.OV.shape) == (model.cfg.d_model, model.cfg.d_model)
    torch.testing.assert_close(circ.OV.AB, model.OV[0, 1].AB)          # the library's own factored circuits
    torch.testing.assert_close(circ.QK.AB, model.QK[0, 1].AB)
    with pytest.raises(ValueError, match="not a head"):
        H.qk_ov_matrices(adapter, Component(model.cfg.n_layers, 0))


def test_student_initialised_from_teacher_matches_its_first_block(mini_pair, tmp_path):
    """Before distillation the student's block 0 is a copy of the teacher's: its heads must map onto themselves."""
    from transformers import GPT2LMHeadModel

    from dcirc_utils.core.paths import MODELS_DIR
    from dcirc_utils.models.pairs import boot_local
    from dcirc_utils.models.init import init_student_from_teacher

    hf_teacher = GPT2LMHeadModel.from_pretrained(str(MODELS_DIR / "mini" / "teacher"))
    student = init_student_from_teacher(hf_teacher, mini_pair.student.n_layers)
    student.save_pretrained(str(tmp_path))
    mini_pair.tokenizer.save_pretrained(str(tmp_path))
    s_model = boot_local(tmp_path, device="cpu")
    tok = mini_pair.tokenizer
    tokens = make_prompts(16, seed=3, tokenizer=tok).tokens(tok)
    sim = MT.head_similarity(H.attention_patterns(mini_pair.teacher, tokens), H.attention_patterns(s_model, tokens))
    n_heads = s_model.n_heads
    matches = MT.match_heads(sim, n_heads, mini_pair.teacher.n_heads)
    assert len(matches) == s_model.n_layers * n_heads
    for head in range(n_heads):
        m = matches[head]
        assert m.student == m.teacher == Component(0, head)
        assert abs(m.similarity - 1.0) < 1e-5


def test_head_plots_draw():
    scores = {"numeral detection": torch.rand(3, 4), "successor": torch.rand(3, 4)}
    fig = plots.head_scores_grid(scores, title="roles")
    assert len(fig.axes) >= 2
    fig = plots.attention_grid({"T 0.1": torch.eye(5), "S 0.1": torch.eye(5)}, list("abcde"), ncols=2)
    assert len(fig.axes) == 2
    fig = plots.attention_grid({"T 0.1": torch.eye(5), "S 0.1": torch.eye(5)}, ncols=2, panel_size=2.0)
    assert tuple(fig.get_size_inches()) == (4.0, 2.0)
    fig = plots.heatmap(torch.rand(4, 6).numpy(), [f"S{i}" for i in range(4)], [f"T{i}" for i in range(6)],
                        annotate=True, center=0.0, cmap="RdBu_r")
    assert fig.axes[0].get_title() == ""
    with pytest.raises(ValueError, match="row labels"):
        plots.heatmap(torch.rand(2, 2).numpy(), ["a"])
    big = plots.heatmap(torch.rand(72, 144).numpy(), [f"S {i}" for i in range(72)], [f"T {i}" for i in range(144)])
    width, height = big.get_size_inches()
    assert width <= 14 and height <= 10                        # GPT-2-sized head similarity stays a sane figure
    assert tuple(plots.heatmap(torch.rand(3, 3).numpy(), figsize=(4, 3)).get_size_inches()) == (4.0, 3.0)
    import matplotlib.pyplot as plt
    plt.close("all")


def test_match_heads_topk_orders_runners_up():
    # 2 student layers x 2 heads against 3 teacher layers x 2 heads
    sim = torch.tensor([[0.9, 0.1, 0.8, 0.2, 0.3, 0.3],
                        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                        [0.5, 0.5, 0.1, 0.1, 0.9, 0.0],
                        [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    top = MT.match_heads_topk(sim, 2, 2, k=3)
    P = parse_component
    assert [s for s, _ in top] == [P("0.0"), P("0.1"), P("1.0"), P("1.1")]
    assert top[0][1] == [(P("0.0"), pytest.approx(0.9)), (P("1.0"), pytest.approx(0.8)), (P("2.0"), pytest.approx(0.3))]
    assert [t for t, _ in top[2][1]] == [P("2.0"), P("0.0"), P("0.1")]   # tie 0.5/0.5 broken by teacher order
    best = MT.match_heads(sim, 2, 2)
    assert [(s, ts[0][0]) for s, ts in top] == [(m.student, m.teacher) for m in best]
    with pytest.raises(ValueError, match="k=7"):
        MT.match_heads_topk(sim, 2, 2, k=7)
    with pytest.raises(ValueError, match="not"):
        MT.match_heads_topk(sim, 3, 2)


def test_attention_view_is_small_and_loads_from_the_cdn():
    tokens = [f"t{i}" for i in range(23)]
    pattern = torch.tril(torch.rand(2, 23, 23)).softmax(-1)
    html = plots.attention_view(tokens, pattern, ["T 0.1", "S 0.1"]).data
    assert "unpkg.com/circuitsvis" in html and "T 0.1" in html
    assert len(html) < 30_000                                  # not the 1.3 MB inlined bundle
    with pytest.raises(ValueError, match="do not fit"):
        plots.attention_view(tokens[:5], pattern)
    with pytest.raises(ValueError, match="head names"):
        plots.attention_view(tokens, pattern, ["one"])


def test_encoder_roles_follow_their_definitions():
    """similar_member_scores counts same-token and number-to-number keys before the query; the mover reads at the
    given readout position (an encoder's [MASK], not the last token)."""
    tokens, el = _toy_prompt()
    tokens = torch.cat([tokens, torch.tensor([[99, 98]])], dim=1)      # ... "in" [MASK] [SEP]
    pos = tokens.shape[1]
    pat = torch.zeros(1, 1, 3, pos, pos)
    for h in range(3):
        pat[0, 0, h] = torch.eye(pos)
    # head 0: the second number (pos 8) looks at the first (3); the third "in" (12) splits between the earlier ones
    pat[0, 0, 0, 8] = 0
    pat[0, 0, 0, 8, 3] = 1
    pat[0, 0, 0, 12] = 0
    pat[0, 0, 0, 12, [2, 7]] = 0.25
    pat[0, 0, 0, 12, 13] = 0.5                                    # a later key: not an earlier member
    # head 1: the [MASK] (pos 13) looks at both numbers; the last position ([SEP]) at nothing numeric
    pat[0, 0, 1, 13] = 0
    pat[0, 0, 1, 13, [3, 8]] = 0.5
    sm = H.similar_member_scores(None, tokens, element_ids=el, patterns=pat)
    # queries with an earlier same-role position: verbs 6, 11; "in" 7, 12; "." 9; number 8 -> six queries
    assert sm[0, 0] == pytest.approx((1.0 + 0.5) / 6)
    assert sm[0, 2] == 0                                          # self-attention does not count
    mover_mask = H.number_mover_scores(None, tokens, element_ids=el, patterns=pat, readout=torch.tensor([13]),
                                       skip_first=False)
    mover_last = H.number_mover_scores(None, tokens, element_ids=el, patterns=pat, skip_first=False)
    assert mover_mask[0, 1] == pytest.approx(1.0) and mover_last[0, 1] == 0
    with pytest.raises(ValueError, match="one per prompt"):
        H.number_mover_scores(None, tokens, element_ids=el, patterns=pat, readout=torch.tensor([13, 13]))


def test_exclusive_roles_count_each_head_once():
    """A head that tops two overlapping scores is counted for the role where it stands out most from all heads."""
    base = torch.tensor([[0.10, 0.12, 0.11], [0.09, 0.10, 0.13]])
    a, b = base.clone(), base.clone()
    a[0, 0], b[0, 0] = 0.9, 0.5            # head 0.0 tops both; it stands out more on role "a"
    b[1, 2] = 0.45                          # role "b"'s next head
    counted = H.exclusive_roles({"a": a, "b": b})
    assert bool(counted["a"][0, 0]) and not bool(counted["b"][0, 0])
    assert not bool((counted["a"] & counted["b"]).any())
    assert int((counted["a"] | counted["b"]).sum()) == a.numel()          # every head counted once
    rows = H.role_table({"a": a, "b": b}, top_k=1, counted=counted)
    assert [(r["role"], str(r["head"])) for r in rows] == [("a", "0.0"), ("b", "1.2")]
    assert str(H.role_table({"b": b}, top_k=1)[0]["head"]) == "0.0"     # without the assignment 0.0 tops both
    with pytest.raises(ValueError, match="mask"):
        H.role_table({"b": b}, counted={"a": counted["a"]})


def test_role_standing_and_base_rate_by_hand():
    s = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, float("nan")]])
    # median 2, absolute deviations 2 1 0 1 2 -> MAD 1, scale 1.4826
    assert H.role_standing(s)[1, 1] == pytest.approx(2 / 1.4826)
    assert torch.isnan(H.role_standing(s)[1, 2])
    flat = torch.zeros(2, 3)
    flat[0, 0] = 1.0                        # MAD 0: the standard deviation takes over
    assert H.role_standing(flat)[0, 0] == pytest.approx(float((1 - 0) / torch.tensor([1.0, 0, 0, 0, 0, 0]).std(unbiased=False)))
    assert H.base_rate(s, 0.5) == pytest.approx(2.0) and H.base_rate(s, 1.0) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="quantile"):
        H.base_rate(s, 1.5)
