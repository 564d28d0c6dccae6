"""Exact vs approximate (``dcirc_utils.methods.attribution``, notebook 02): the first-order estimates against the
engine's exact effects, this package's gradient against TransformerLens's attribution patching, and TransformerLens's
direct path patching against the engine's path patching, on the offline ``mini`` pair."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.components import Component
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine
from dcirc_utils.methods import attribution as at
from dcirc_utils.methods.discovery import Edge, path_patch

from ..helpers import worst_deviation as _worst


@pytest.fixture(scope="module")
def engine(mini_pair):
    ps = make_prompts(10, seed=3, tokenizer=mini_pair.tokenizer)
    return Engine.for_prompts(mini_pair.teacher, ps, progress=False)


@pytest.mark.slow
def test_tl_attribution_patching_equals_our_denoising_gradient(engine):
    """TransformerLens's node scores, summed over positions and averaged over prompts, are the estimate
    (a_clean − a_corrupt)·∇ at the corrupted run that our hook-based gradient computes: same numbers to float
    precision. The parameters are frozen again afterwards."""
    params = list(engine.adapter.model.parameters())
    assert not any(p.requires_grad for p in params)
    tl = at.tl_attribution_patching(engine)
    ours = at.first_order_effects(engine, which="corrupted", toward="clean")
    assert set(tl) == set(engine.components)
    scale = max(abs(v) for v in tl.values())
    assert scale > 0.1                                       # not vacuous: the components do move Δl
    assert _worst(tl, ours) <= 1e-5 * scale
    assert not any(p.requires_grad for p in params)
    assert not torch.is_grad_enabled()                      # conftest's global setting is back


@pytest.mark.parametrize("which,toward", [("clean", "mean"), ("corrupted", "clean")])
def test_first_order_estimate_is_the_derivative_of_the_exact_effect(engine, which, toward):
    """Moving a component ε of the way to its target changes Δl by ε·(t − a)·∇ + O(ε²): the exact effect divided by ε
    approaches the estimate, with an error that shrinks about tenfold from ε = 0.1 to ε = 0.01 (first-order
    convergence), and at ε = 1 (the real patch) the two differ."""
    est = at.first_order_effects(engine, which=which, toward=toward)
    scale = max(abs(v) for v in est.values())
    err = {}
    for eps in (1.0, 0.1, 0.01):
        exact = at.exact_effects(engine, which=which, toward=toward, scale=eps)
        err[eps] = max(abs(exact[c] / eps - est[c]) for c in est)
    assert err[0.01] <= 0.03 * scale, err
    assert err[0.01] <= err[0.1] / 4, err
    assert err[1.0] > 5 * err[0.01], err
    # the estimate is linear in the scale (same components, so the same capture runs: the engine may run a capture
    # of fewer sites from a prefix its fused kernels computed, equal only to float rounding)
    pick = [Component(1, 2), Component(3)]
    whole = at.first_order_effects(engine, pick, which=which, toward=toward)
    half = at.first_order_effects(engine, pick, which=which, toward=toward, scale=0.5)
    for c, v in half.items():
        assert v == pytest.approx(0.5 * whole[c], rel=1e-9, abs=1e-12)
        assert whole[c] == pytest.approx(est[c], rel=1e-4)


def test_exact_denoising_scan_is_transformer_lens_activation_patching(engine):
    """The exact side of comparison (a) is activation patching as TransformerLens computes it (one head's clean output
    written into the corrupted run at every position): engine value − corrupted value, head by head."""
    from transformer_lens import patching

    model = engine.adapter.model
    clean, corr = engine.tokens["clean"], engine.tokens["corrupted"]
    ids = engine.metric.ids

    def metric(logits):
        end = logits[:, -1]
        idx = torch.arange(end.shape[0])
        return (end[idx, ids[:, 0]] - end[idx, ids[:, 1]]).mean()

    _, clean_cache = model.run_with_cache(clean)
    tl = patching.get_act_patch_attn_head_out_all_pos(model, corr, clean_cache, metric)
    corrupted_value = float(metric(model(corr)))
    heads = [c for c in engine.components if not c.is_mlp]
    ours = at.exact_effects(engine, heads, which="corrupted", toward="clean")
    for c in heads:
        assert ours[c] == pytest.approx(float(tl[c.layer, c.head]) - corrupted_value, abs=1e-4), c


def test_mean_ablation_exact_effect_is_the_ablation_scan(engine):
    comps = [Component(0, 1), Component(2), Component(5, 3)]
    exact = at.exact_effects(engine, comps, which="clean", toward="mean")
    scan = engine.ablation_scan(comps)
    for c in comps:
        assert exact[c] == pytest.approx(scan[c] - engine.clean_value, abs=1e-6)
    # the per-prompt route (any scale but 1) agrees with the per-position mean patches at the limit scale → 1
    near = at.exact_effects(engine, comps, which="clean", toward="mean", scale=1.0 - 1e-7)
    for c in comps:
        assert near[c] == pytest.approx(exact[c], abs=1e-4)


@pytest.mark.slow
def test_tl_direct_path_equals_engine_path_patching_on_direct_edges(mini_pair):
    """TransformerLens's direct path patching, run in the engine's convention (clean prompts, swapped caches, outside
    of the circuit mean-ablated), gives the engine's path-patching score of every head → head Q/K/V edge with no
    circuit MLP between sender and receiver, to 1e-4. With an MLP in between, the engine's edge also carries the
    path through that MLP and the two differ (the check is not vacuous)."""
    adapter = mini_pair.teacher
    ps = make_prompts(8, seed=1, tokenizer=mini_pair.tokenizer)
    engine = Engine.for_prompts(adapter, ps, progress=False)
    heads = [c for c in engine.components if not c.is_mlp]
    n = adapter.n_layers
    circuit = heads + [Component(0), Component(1), Component(n - 1)]    # no MLP in layers 2 .. n-2
    senders = [Component(2, 0), Component(3, 2)]
    tl = at.tl_direct_path(engine, circuit, senders)
    ours = path_patch(engine, circuit, senders=senders).scores
    assert len(tl) == 3 * sum(1 for s in senders for r in heads if r.layer > s.layer)
    assert all(at.is_direct_edge(e, circuit) for e in tl)
    assert _worst(ours, tl) <= 1e-4
    assert max(abs(1 - v) for v in tl.values()) > 1e-3                 # the sender matters somewhere

    # negative control: sender 0.1, MLP0 of the circuit between it and every receiver
    sender = Component(0, 1)
    tl0 = at.tl_direct_path(engine, circuit, [sender], kinds="q")
    ours0 = path_patch(engine, circuit, senders=[sender]).scores
    assert not any(at.is_direct_edge(e, circuit) for e in tl0)
    assert _worst(ours0, tl0) > 1e-3


def test_compare_ranks_and_lists_misses():
    a, b, c, d, e = (Component(0, 0), Component(0, 1), Component(0), Component(1, 0), Component(1))
    exact = {a: 3.0, b: -2.0, c: 1.0, d: 0.5, e: 0.0}
    approx = {a: 2.5, b: -0.1, c: 1.2, d: 0.6, e: 0.05}
    cmp = at.compare(exact, approx, circuit=[a, b], quantity="x")
    assert cmp.spearman == pytest.approx(1.0)                    # same order of the signed values
    assert cmp.spearman_abs == pytest.approx(0.7)                # |·| ranks 5,4,3,2,1 vs 5,2,4,3,1
    assert cmp.missed == [b]                                     # top 2 by |approx| is a, c
    assert cmp.missed_by_exact == []
    with pytest.raises(ValueError, match="different components"):
        at.compare(exact, {a: 1.0}, [a])


def test_bad_arguments_raise(engine, mini_pair):
    with pytest.raises(ValueError, match="changes nothing"):
        at.first_order_effects(engine, which="clean", toward="clean")
    with pytest.raises(ValueError, match="toward must be"):
        at.exact_effects(engine, which="clean", toward="zero")
    with pytest.raises(ValueError, match="not components"):
        at.first_order_effects(engine, [Component(9, 0)])
    with pytest.raises(ValueError, match="head senders only"):
        at.tl_direct_path(engine, engine.components, [Component(0)])
    assert not at.is_direct_edge(Edge(Component(0, 0), None, "resid"), engine.components)


def test_tl_failure_is_reported_and_the_fallback_used(engine, monkeypatch):
    """When TransformerLens's tool fails, the error names the model, the cause and the fix; the parameters are frozen
    again; and ``exact_vs_approximate`` falls back to this package's identical estimate, saying so."""
    from transformer_lens.tools.analysis import attribution_patching as tl_ap

    def broken(*args, **kwargs):
        raise RuntimeError("no hook point")

    monkeypatch.setattr(tl_ap, "attribution_patch", broken)
    with pytest.raises(at.AttributionError, match="mini-teacher.*no hook point.*first_order_effects"):
        at.tl_attribution_patching(engine)
    assert not any(p.requires_grad for p in engine.adapter.model.parameters())
    circuit = [Component(0, 0), Component(5)]
    a, b = at.exact_vs_approximate(engine, circuit)
    assert "TransformerLens failed" in a.note and a.quantity.startswith("activation patching")
    assert a.approx == pytest.approx(at.first_order_effects(engine, which="corrupted", toward="clean"))
    assert b.quantity == "mean ablation" and len(b.exact) == len(engine.components)
