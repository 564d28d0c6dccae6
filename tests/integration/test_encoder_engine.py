"""The engine on encoders against the naive Hugging Face reference (tests/naive_encoder.py): mean-ablation scans,
node pruning and path-patching edges agree to 1e-4 of the largest |Δl| on both models of bert-random and of the
offline encoder pair; bidirectional attention means a sender reaches receivers at every position, which the
reference's full-sequence patches cover."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.components import Component, all_components
from dcirc_utils.core.tasks import make_task
from dcirc_utils.engine import Engine
from dcirc_utils.methods.discovery import path_patch, prune_nodes

from .. import naive_encoder as naive

REL = 1e-4


def _close(a: dict, b: dict):
    scale = max(max(abs(v) for v in b.values()), 1e-6)
    worst = max(abs(a[k] - b[k]) for k in b)
    assert worst <= REL * scale, f"max deviation {worst:.3g} > {REL} x {scale:.3g}"


def _check(pair, adapter, layers, n=6, edges=True, prune_layers=()):
    tok = pair.tokenizer
    ps = make_task("numerals_masked", n, seed=1, tokenizer=tok)
    clean, corr = ps.tokens(tok), ps.tokens(tok, "corrupted")
    c, i = ps.answer_ids(tok)
    engine = Engine.for_prompts(adapter, ps, progress=False, check_baseline=False, chunk_rows=24)
    model = adapter.model
    means = naive.corrupted_means(model, corr)
    for comp in engine.components:
        ref = means[("mlp", comp.layer)] if comp.is_mlp else means[("z", comp.layer)][:, comp.head]
        got = engine.means[comp.site] if comp.is_mlp else engine.means[comp.site][:, comp.head]
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)
    mask_id = tok.mask_token_id
    assert engine.clean_value == pytest.approx(naive.logit_diff(model, clean, c, i, mask_id), abs=REL * 10)
    comps = [x for x in all_components(adapter.n_layers, adapter.n_heads) if x.layer in layers]
    _close(engine.ablation_scan(comps), naive.ablation_scan(model, clean, c, i, mask_id, means, comps))
    base = [comps[0], comps[-1]]
    _close(engine.ablation_scan(comps, base_ablated=base),
           naive.ablation_scan(model, clean, c, i, mask_id, means, comps, base_ablated=base))
    if prune_layers:
        cands = [x for x in engine.components if x.layer in prune_layers]
        got = prune_nodes(engine, 0.8, candidates=cands, progress=False)
        # the naive greedy loop on the same candidates (sweeps as the study's)
        from dcirc_utils.methods.discovery import sweep_order
        clean_ld = engine.clean_value
        removed = []
        for sweep in range(1, 21):
            changed = False
            for layer in sweep_order(adapter.n_layers, adapter.n_heads, "backward" if sweep % 2 else "forward"):
                for cand in layer:
                    if cand in cands and cand not in removed:
                        v = naive.logit_diff(model, clean, c, i, mask_id, removed + [cand], means)
                        if 100 * v / clean_ld >= 80:
                            removed.append(cand)
                            changed = True
            if not changed:
                break
        assert got.components == sorted(x for x in engine.components if x not in removed)
    if edges:
        L = adapter.n_layers
        circuit = [Component(0, 1), Component(0), Component(L // 2, 2), Component(L - 1, 3), Component(L - 1)]
        scores = path_patch(engine, circuit)
        assert {"q", "k", "v", "mlp_in", "resid"} <= {e.kind for e in scores.scores}
        ref = {e: naive.edge_score(model, clean, corr, c, i, mask_id, means, circuit, e.sender, e.receiver, e.kind)
               for e in scores.scores}
        _close(scores.scores, ref)


def test_engine_matches_naive_on_bert_random(bert_random_pair):
    _check(bert_random_pair, bert_random_pair.teacher, layers={0, 11}, edges=False)
    _check(bert_random_pair, bert_random_pair.student, layers={0, 5}, edges=True)


def test_engine_matches_naive_on_the_offline_encoder_pair(bert_small_pair):
    for adapter in bert_small_pair.models.values():
        layers = set(range(adapter.n_layers))
        _check(bert_small_pair, adapter, layers=layers, n=12, edges=True, prune_layers={adapter.n_layers - 1})
