"""dcirc_utils.methods.mlps: what each similarity measure is (and is not) invariant to, CCA, the merging regression and
the logit-difference attribution against a direct computation."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.methods import mlps as M
from dcirc_utils.report import plots


def _data(n=400, d=16, seed=0, spectrum=(9.0, 6.0, 4.0)):
    """Rows with three dominant, well separated directions plus small noise."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    scales = torch.tensor(list(spectrum) + [0.3] * (d - len(spectrum)), dtype=torch.float64)
    return (torch.randn(n, d, generator=g, dtype=torch.float64) * scales) @ q.T, q


def _rotation_in_top3(x: torch.Tensor, angle: float) -> torch.Tensor:
    """An orthogonal d x d map rotating by ``angle`` in the plane of the data's top two right singular vectors and
    fixing their orthogonal complement (so the top-3 subspace is unchanged)."""
    v3 = M.top_singular_vectors(x, 3)
    g = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.cat([v3, torch.randn(x.shape[1], x.shape[1] - 3, generator=g,
                                                      dtype=torch.float64)], dim=1))
    c = torch.cos(torch.tensor(angle, dtype=torch.float64))
    s = torch.sin(torch.tensor(angle, dtype=torch.float64))
    inner = torch.eye(x.shape[1], dtype=torch.float64)
    inner[:2, :2] = torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
    return q @ inner @ q.T


# --------------------------------------------------------------------------------------------- cosine
def test_positional_cosine_and_summary():
    a = torch.randn(5, 7, 16)
    cos = M.positional_cosine(a, a)
    torch.testing.assert_close(cos, torch.ones(5, 7))
    b = a.clone()
    b[:, 0] *= -1
    summ = M.cosine_summary(M.positional_cosine(a, b))
    assert summ["token0"] == pytest.approx(-1) and summ["other"] == pytest.approx(1)
    assert summ["all"] == pytest.approx((6 - 1) / 7)
    assert summ["prompt_std"] == pytest.approx(0, abs=1e-6) and len(summ["by_position"]) == 7
    with pytest.raises(ValueError, match="same shape"):
        M.positional_cosine(a, a[:, :5])


# --------------------------------------------------------------------------------------------- subspaces
def test_self_similarity():
    x, _ = _data()
    assert M.principal_angle_similarity(x, x) == pytest.approx(1.0, abs=1e-9)
    # the study's measure averages the whole k x k cosine matrix: the identity for a tensor with itself, so 1/k
    for k in (1, 3, 5):
        assert M.subspace_similarity(x, x, k) == pytest.approx(1 / k, abs=1e-9)
    torch.testing.assert_close(M.subspace_cosines(x, x, 3), torch.eye(3), atol=1e-6, rtol=0)


def test_principal_angles_invariances_and_what_the_study_measure_lacks():
    a, _ = _data(seed=0)
    b, _ = _data(seed=1)
    base = M.principal_angle_similarity(a, b)
    assert 0 < base < 0.9
    # sign flips of the data, sample order and scale leave both measures unchanged (XᵀX is unchanged up to scale)
    perm = torch.randperm(a.shape[0], generator=torch.Generator().manual_seed(0))
    for b2 in (-b, b[perm], 3.0 * b):
        assert M.principal_angle_similarity(a, b2) == pytest.approx(base, abs=1e-9)
        assert M.subspace_similarity(a, b2) == pytest.approx(M.subspace_similarity(a, b), abs=1e-9)
    # the same orthogonal change of coordinates applied to both: principal angles unchanged; the study's cosines
    # keep their magnitudes but the signs (hence the |mean|) depend on the arbitrary sign convention
    g = torch.Generator().manual_seed(5)
    o, _ = torch.linalg.qr(torch.randn(a.shape[1], a.shape[1], generator=g, dtype=torch.float64))
    assert M.principal_angle_similarity(a @ o, b @ o) == pytest.approx(base, abs=1e-9)
    torch.testing.assert_close(M.subspace_cosines(a @ o, b @ o).abs(), M.subspace_cosines(a, b).abs(),
                               atol=1e-5, rtol=0)
    # rotating the data within its own top-3 subspace keeps the subspace: principal angles see no change, the
    # study's measure does (it compares individual singular vectors)
    r = _rotation_in_top3(a, torch.pi / 3)
    assert M.principal_angle_similarity(a, a @ r) == pytest.approx(1.0, abs=1e-9)
    cos = M.subspace_cosines(a, a @ r).double()
    assert torch.sort(cos[:2, :2].abs().flatten()).values == pytest.approx([0.5, 0.5, 0.866, 0.866], abs=0.02)
    assert abs(M.subspace_similarity(a, a @ r) - 1 / 3) > 0.02
    # sign flip of one singular vector: principal angles are blind to it, the study's |mean| is not
    c = M.subspace_cosines(a, b).double()
    flipped = c.clone()
    flipped[:, 0] *= -1
    s = torch.linalg.svdvals(c)
    assert torch.allclose(torch.linalg.svdvals(flipped), s)
    assert abs(abs(float(flipped.mean())) - abs(float(c.mean()))) > 1e-3


def test_subspace_errors():
    x, _ = _data(d=8)
    with pytest.raises(ValueError, match="k="):
        M.top_singular_vectors(x, 9)
    with pytest.raises(ValueError, match="shared"):
        M.principal_angle_similarity(x, torch.randn(400, 6))


# --------------------------------------------------------------------------------------------- CCA
def test_cca_linear_relation_is_one_and_independent_data_is_not():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(600, 10, generator=g, dtype=torch.float64)
    m = torch.randn(10, 10, generator=g, dtype=torch.float64) + 3 * torch.eye(10, dtype=torch.float64)
    b = a @ m + 5.0
    assert M.cca_similarity(a, b) == pytest.approx(1.0, abs=1e-6)
    assert M.cca_similarity(a, b, k=3) == pytest.approx(1.0, abs=1e-6)
    assert M.cca_similarity(a, b, k=3, pca_dim=5) < 1.0 + 1e-9
    c = torch.randn(600, 10, generator=g, dtype=torch.float64)
    assert M.cca_similarity(a, c, k=3) < 0.4
    assert M.cca_similarity(a, c) < 0.2
    with pytest.raises(ValueError, match="degenerate"):
        M.cca_similarity(a[:15], c[:15])
    with pytest.raises(ValueError, match="same tokens"):
        M.cca_similarity(a, c[:100])
    with pytest.raises(ValueError, match="k=20"):
        M.cca_similarity(a, c, k=20)


# --------------------------------------------------------------------------------------------- model-based
@pytest.fixture(scope="module")
def mini_data(mini_pair):
    tok = mini_pair.tokenizer
    ps = make_prompts(40, seed=0, tokenizer=tok)
    tokens = ps.tokens(tok)
    correct, incorrect = ps.answer_ids(tok)
    return tokens, correct, incorrect, M.mlp_outputs(mini_pair.teacher, tokens)


def test_mlp_outputs_and_all_pairs(mini_pair, mini_data):
    tokens, _, _, t_out = mini_data
    cfg = mini_pair.teacher
    assert t_out.shape == (cfg.n_layers, tokens.shape[0], tokens.shape[1], cfg.d_model)
    sim = M.all_pairs_similarity(t_out[:3], t_out[:2], M.principal_angle_similarity)
    assert sim.shape == (3, 2)
    assert sim[0, 0] == pytest.approx(1.0, abs=1e-6) and sim[1, 1] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("fit", ["scalar", "linear"])
def test_merge_r2_detects_a_sum_of_two_teacher_mlps(mini_data, fit):
    _, _, _, t_out = mini_data
    a, b = t_out[3], t_out[4]
    student = a + b
    pair = M.merge_r2(student, [a, b], fit=fit)
    single_a, single_b = M.merge_r2(student, [a], fit=fit), M.merge_r2(student, [b], fit=fit)
    assert pair > 0.999
    assert single_a < pair and single_b < pair
    if fit == "scalar":                                   # in the shared basis one MLP cannot stand for two
        assert max(single_a, single_b) < pair - 0.05
        rows = M.merge_test(student, list(t_out), pairs=[(3, 4), (2, 3)], fit=fit)
        assert [r["claim"] for r in rows] == [True, False]
        assert rows[0]["label"] == "T3+T4" and rows[0]["gain"] == pytest.approx(rows[0]["r2_pair"] - max(
            rows[0]["r2_first"], rows[0]["r2_second"]))


def test_merge_test_does_not_claim_a_copy(mini_data):
    _, _, _, t_out = mini_data
    rows = M.merge_test(t_out[2].clone(), list(t_out))
    assert len(rows) == t_out.shape[0] - 1
    assert not any(r["claim"] for r in rows)
    with pytest.raises(ValueError, match="same prompts"):
        M.merge_r2(t_out[0], [t_out[1][:10]])
    with pytest.raises(ValueError, match="unknown fit"):
        M.merge_r2(t_out[0], [t_out[1]], fit="cubic")


def test_logit_diff_contributions_against_direct_computation(mini_pair, mini_data):
    adapter = mini_pair.teacher
    model = adapter.model
    tokens, correct, incorrect, _ = mini_data
    contrib = M.logit_diff_contributions(adapter, tokens, correct, incorrect, batch_size=16)
    n_layers = model.cfg.n_layers
    assert contrib.shape == (n_layers, tokens.shape[1])
    logits, cache = model.run_with_cache(tokens)
    scale = cache["ln_final.hook_scale"]                                        # [batch, pos, 1]
    direction = (model.W_U[:, correct] - model.W_U[:, incorrect]).T             # [batch, d]

    def direct(x):                                                             # [batch, pos, d] -> [pos]
        x = x - x.mean(-1, keepdim=True)
        return torch.einsum("bpd,bd->bp", x / scale, direction).mean(0)

    layer = 2
    torch.testing.assert_close(contrib[layer], direct(cache[f"blocks.{layer}.hook_mlp_out"]), atol=1e-4, rtol=1e-4)
    # completeness at the final position: MLPs + attention + embeddings + unembedding bias = the model's Δl
    others = direct(cache["hook_embed"]) + direct(cache["hook_pos_embed"])
    for l in range(n_layers):
        others = others + direct(cache[f"blocks.{l}.hook_attn_out"])
    bias = float((model.b_U[correct] - model.b_U[incorrect]).mean())
    end = torch.arange(tokens.shape[0])
    delta = float((logits[end, -1, correct] - logits[end, -1, incorrect]).mean())
    assert float(contrib[:, -1].sum() + others[-1]) + bias == pytest.approx(delta, abs=1e-3)
    with pytest.raises(ValueError, match="one token id per prompt"):
        M.logit_diff_contributions(adapter, tokens, correct[:3], incorrect[:3])


def test_mlp_plots_draw():
    rows = [{"label": "T0+T1", "r2_first": 0.5, "r2_second": 0.6, "r2_pair": 0.8, "claim": True},
            {"label": "T1+T2", "r2_first": 0.6, "r2_second": 0.2, "r2_pair": 0.61, "claim": False}]
    fig = plots.merge_test_bars(rows, margin=0.05)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["★ T0+T1", "T1+T2"]
    fig = plots.by_position({"T0/S0": [0.9, 0.8, 0.7]}, ["a", "b", "c"], figsize=(6, 2.5))
    assert tuple(fig.get_size_inches()) == (6.0, 2.5)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]
    fig = plots.by_position({"T0/S0": [0.1, 0.5, 0.9]}, ["a", "b", "c"], ylabel="cosine")
    assert len(fig.axes[0].lines) == 2          # the series and the zero line
    import matplotlib.pyplot as plt
    plt.close("all")


def test_layer_correspondences_give_the_study_pairs():
    rows = M.layer_correspondences(12, 6)
    labels = {r["label"]: r["kind"] for r in rows}
    assert labels["T9/S4"] == "init" and labels["T10/S4"] == "dropped" and labels["T11/S5"] == "init"
    assert labels["T7/S3"] == "init" and labels["T8/S3"] == "dropped"
    assert sorted(r["teacher"] for r in rows) == list(range(12))        # every teacher layer appears once
    assert [r["label"] for r in M.layer_correspondences(6, 3)] == ["T0/S0", "T1/S0", "T2/S1", "T3/S1", "T4/S1",
                                                                    "T5/S2"]
    assert [r["kind"] for r in M.layer_correspondences(4, 2, layer_map=[1, 2])] == ["init", "init", "dropped"]
    with pytest.raises(ValueError, match="increasing"):
        M.layer_correspondences(6, 3, layer_map=[0, 0, 5])
