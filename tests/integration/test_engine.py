"""The engine against the naive reference (tests/naive_reference.py) and against transformer_lens.patching."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.components import Component, Site, all_components, parse_component
from dcirc_utils.core.metrics import DegenerateBaselineError, LogitDiff
from dcirc_utils.engine import Engine, Patch
from dcirc_utils.methods.discovery import path_patch, prune_nodes

from .. import naive_pruning
from .. import naive_reference as naive
from ..helpers import REL, assert_scores_close, prompt_data


def _check_pruning(engine, model, data, means, threshold, candidates=None, rule="corrected"):
    """``prune_nodes`` against the one naive pruning oracle (tests/naive_pruning.py) driven by the naive reference's
    Δl: the same circuit, and every removal's recorded score."""
    clean, corr, c, i = data
    if rule == "study":
        value = lambda removed: naive.study_ablated_logit_diff(model, clean, corr, c, i, removed, means)  # noqa: E731
    else:
        value = lambda removed: naive.ablated_logit_diff(model, clean, c, i, removed, means)  # noqa: E731
    got = prune_nodes(engine, threshold, candidates=candidates, progress=False, rule=rule)
    ref = naive_pruning.prune(value, model.cfg.n_layers, model.cfg.n_heads, threshold, candidates,
                              strict=rule == "study")
    assert got.components == ref.kept, threshold
    assert set(got.removal_scores) == set(ref.removal_scores)
    if ref.removal_scores:
        assert_scores_close(got.removal_scores, ref.removal_scores)
    return got


def _check_pair_model(pair, adapter, layers, chunk_rows, candidates_layers, thresholds=(0.8, 0.95)):
    model = adapter.model
    clean, corr, c, i = prompt_data(pair.tokenizer)
    engine = Engine(adapter, clean, corr, LogitDiff(c, i), chunk_rows=chunk_rows, progress=False,
                    check_baseline=False)
    means = naive.corrupted_means(model, corr)
    for comp in engine.components:
        torch.testing.assert_close(engine.means[comp.site], means[naive.hook_name(comp)], rtol=1e-5, atol=1e-6)
    comps = [x for x in all_components(adapter.n_layers, adapter.n_heads) if x.layer in layers]
    assert abs(engine.clean_value - naive.ablated_logit_diff(model, clean, c, i, [], means)) <= REL * max(
        1.0, abs(engine.clean_value))
    assert_scores_close(engine.ablation_scan(comps), naive.ablation_scan(model, clean, c, i, means, comps))
    base = [comps[1], comps[-1]]
    assert_scores_close(engine.ablation_scan(comps, base_ablated=base),
                        naive.ablation_scan(model, clean, c, i, means, comps, base_ablated=base))
    cands = [x for x in all_components(adapter.n_layers, adapter.n_heads) if x.layer in candidates_layers]
    for thr in thresholds:
        _check_pruning(engine, model, (clean, corr, c, i), means, thr, candidates=cands)
    return engine, means, (clean, corr, c, i)


def _check_edges(engine, model, means, data, circuit):
    clean, corr, c, i = data
    model = engine.adapter.model
    edges = path_patch(engine, circuit)
    assert len(edges.scores) > 0
    ref = {e: naive.path_patch_edge(model, clean, corr, c, i, means, circuit, e.sender, e.receiver, e.kind)
           for e in edges.scores}
    assert_scores_close(edges.scores, ref)
    kinds = {e.kind for e in edges.scores}
    assert {"q", "k", "v", "mlp_in", "resid"} <= kinds


@pytest.mark.slow
def test_engine_matches_naive_gpt2_random(gpt2_random_pair):
    adapter = gpt2_random_pair.teacher
    # kept small: every naive check is a full forward of the 12-layer model with a 50257-token unembedding
    engine, means, data = _check_pair_model(gpt2_random_pair, adapter, layers={0, 11}, chunk_rows=12,
                                            candidates_layers={11}, thresholds=(0.8,))
    circuit = [parse_component(x) for x in ("0.1", "MLP0", "10.7", "MLP11")]
    _check_edges(engine, adapter.model, means, data, circuit)


def test_engine_matches_naive_mini(mini_pair):
    for adapter in (mini_pair.teacher, mini_pair.student):
        model = adapter.model
        layers = set(range(adapter.n_layers))
        engine, means, data = _check_pair_model(mini_pair, adapter, layers=layers, chunk_rows=20,
                                                candidates_layers=layers)
        n = adapter.n_layers
        circuit = [Component(0, 0), Component(0), Component(n // 2, 1), Component(n - 1, 2), Component(n - 1)]
        _check_edges(engine, model, means, data, circuit)


def test_single_component_patching_matches_transformer_lens(mini_pair):
    from transformer_lens import patching
    adapter = mini_pair.teacher
    model = adapter.model
    clean, corr, c, i = prompt_data(mini_pair.tokenizer, n=12, seed=5)
    engine = Engine(adapter, clean, corr, LogitDiff(c, i), chunk_rows=24, progress=False)
    _, clean_cache = model.run_with_cache(clean)

    def metric(logits):
        end = logits[:, -1]
        idx = torch.arange(end.shape[0])
        return (end[idx, c] - end[idx, i]).mean()

    tl_heads = patching.get_act_patch_attn_head_out_all_pos(model, corr, clean_cache, metric)
    comps = all_components(adapter.n_layers, adapter.n_heads)
    caps = engine.capture(sorted({comp.site for comp in comps}), which="clean")
    variants = []
    for comp in comps:
        act = caps[comp.site]
        variants.append([Patch(comp.site, comp.index, act if comp.is_mlp else act[:, :, comp.head], per_prompt=True)])
    ours = engine.evaluate(variants, which="corrupted")
    for comp, v in zip(comps, ours.tolist()):
        if not comp.is_mlp:
            assert abs(v - float(tl_heads[comp.layer, comp.head])) <= REL * max(1.0, abs(v)), comp
    # MLPs: TransformerLens patches each MLP's clean output into the corrupted run one position at a time
    # ([layer, pos]); the same patch through the engine is the corrupted output with that position's row replaced.
    tl_mlp = patching.get_act_patch_mlp_out(model, corr, clean_cache, metric)
    mlps = [Site("mlp_out", layer) for layer in range(adapter.n_layers)]
    corr_caps = engine.capture(mlps, which="corrupted")
    n_pos = clean.shape[1]
    assert tuple(tl_mlp.shape) == (adapter.n_layers, n_pos)
    variants, where = [], []
    for site in mlps:
        for pos in range(n_pos):
            act = corr_caps[site].clone()
            act[:, pos] = caps[site][:, pos]
            variants.append([Patch(site, None, act, per_prompt=True)])
            where.append((site.layer, pos))
    ours_mlp = engine.evaluate(variants, which="corrupted").tolist()
    # Both sides are float32 forwards of the same weights and differ only in how they are run (the bridge's hooked
    # forward vs the engine's split/fused blocks and batch chunks): float32 rounding, measured at 1.3e-6 at worst
    # here (6 layers, d_model 128, |Δl| up to 2). 1e-4 of max(1, |Δl|) (as for the heads above, and the engine's REL
    # elsewhere) leaves a margin of about 100 and still fails on any real patching error: a patch moves Δl by up to
    # 2.6 on these prompts, and by more than 1e-2 somewhere (checked below).
    worst = max(abs(v - float(tl_mlp[l, p])) - REL * max(1.0, abs(v)) for v, (l, p) in zip(ours_mlp, where))
    assert worst <= 0, f"MLP patching deviates from TransformerLens by {worst:.3g} beyond the tolerance"
    # not vacuous: patching some MLP at some position moves Δl away from the corrupted run's
    with torch.inference_mode():
        corrupted_value = float(metric(model(corr)))
    assert max(abs(float(tl_mlp[l, p]) - corrupted_value) for l, p in where) > 1e-2


def test_threshold_edge_cases(mini_pair):
    """A converged pruning is a fixed point: every kept component's removal from the final circuit falls below the
    threshold, and every recorded removal kept at least the threshold. At threshold 0 only components whose removal
    would flip Δl's sign stay; at 100% only removals that cost nothing went."""
    adapter = mini_pair.teacher
    clean, corr, c, i = prompt_data(mini_pair.tokenizer, n=16)
    engine = Engine(adapter, clean, corr, LogitDiff(c, i), progress=False)
    results = {}
    for thr in (0.0, 0.8, 1.0):
        circuit = prune_nodes(engine, thr, progress=False)
        results[thr] = circuit
        removed = [x for x in engine.components if x not in circuit.components]
        assert circuit.score >= 100 * thr - 1e-6
        assert all(s >= 100 * thr for s in circuit.removal_scores.values())
        again = engine.ablation_scan(circuit.components, base_ablated=removed)
        assert all(engine.score(v) < 100 * thr for v in again.values()), thr
    assert len(results[1.0].components) > len(results[0.0].components)


def test_bad_inputs_raise(mini_pair):
    adapter = mini_pair.teacher
    clean, corr, c, i = prompt_data(mini_pair.tokenizer, n=4)
    with pytest.raises(ValueError, match="at least one prompt"):
        Engine(adapter, clean[:0], corr[:0], LogitDiff(c[:0], i[:0]))
    with pytest.raises(ValueError, match="differ in shape"):
        Engine(adapter, clean, corr[:2], LogitDiff(c, i))
    with pytest.raises(ValueError, match="one entry per prompt"):
        Engine(adapter, clean, corr, LogitDiff(c[:2], i[:2]))
    with pytest.raises(ValueError, match="ModelAdapter"):
        Engine(adapter.model, clean, corr, LogitDiff(c, i))
    with pytest.raises(DegenerateBaselineError, match="too close to zero"):
        Engine(adapter, clean, corr, LogitDiff(c, c))  # correct == incorrect: Δl is exactly 0
    engine = Engine(adapter, clean, corr, LogitDiff(c, i), progress=False)
    with pytest.raises(ValueError, match="fraction"):
        prune_nodes(engine, 80)
    with pytest.raises(ValueError, match="layer.head"):
        parse_component("L4H10")


def test_study_pruning_rule_matches_a_sequential_reference(mini_pair):
    """rule="study": MLP means taken with the removed heads ablated, strict > threshold; checked against the naive
    pruning oracle driven by a direct implementation of the study's ablation through TransformerLens hooks."""
    adapter = mini_pair.student
    model = adapter.model
    data = prompt_data(mini_pair.tokenizer, n=12, seed=3)
    engine = Engine(adapter, *data[:2], LogitDiff(*data[2:]), progress=False)
    got = _check_pruning(engine, model, data, naive.corrupted_means(model, data[1]), 0.8, rule="study")
    assert got.rule == "study"
    corrected = prune_nodes(engine, 0.8, progress=False)
    assert corrected.rule == "corrected"


def test_half_precision_engine_reads_out_in_float32_and_stays_near_fp32(mini_pair):
    """A bf16 copy of a model runs through the same engine (the GPU's low-precision mode, run here on CPU): values come
    back in float32 and the single-component scan stays within 2 % of the clean Δl of the fp32 scan."""
    import copy

    from dcirc_utils.models.decoder import DecoderAdapter
    adapter = mini_pair.teacher
    clean, corr, c, i = prompt_data(mini_pair.tokenizer, n=16)
    ref = Engine(adapter, clean, corr, LogitDiff(c, i), progress=False)
    half = DecoderAdapter(copy.deepcopy(adapter.model).to(torch.bfloat16), adapter.tokenizer, "teacher bf16")
    low = Engine(half, clean, corr, LogitDiff(c, i), progress=False)
    values, _ = low.run([[]])
    assert values.dtype == torch.float32
    a, b = ref.ablation_scan(), low.ablation_scan()
    worst = max(abs(a[k] - b[k]) for k in a)
    assert 0 < worst <= 0.02 * abs(ref.clean_value), worst          # not bit-equal (it is bf16), but close
