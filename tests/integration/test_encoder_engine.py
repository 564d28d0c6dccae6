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
from .. import naive_pruning
from ..helpers import REL, assert_scores_close


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
    assert_scores_close(engine.ablation_scan(comps), naive.ablation_scan(model, clean, c, i, mask_id, means, comps))
    base = [comps[0], comps[-1]]
    assert_scores_close(engine.ablation_scan(comps, base_ablated=base),
                        naive.ablation_scan(model, clean, c, i, mask_id, means, comps, base_ablated=base))
    if prune_layers:
        cands = [x for x in engine.components if x.layer in prune_layers]
        got = prune_nodes(engine, 0.8, candidates=cands, progress=False)
        # the one naive pruning oracle (tests/naive_pruning.py) on the same candidates, its Δl from the naive
        # Hugging Face reference
        ref = naive_pruning.prune(lambda removed: naive.logit_diff(model, clean, c, i, mask_id, removed, means),
                                  adapter.n_layers, adapter.n_heads, 0.8, cands)
        assert got.components == ref.kept
        assert set(got.removal_scores) == set(ref.removal_scores)
        if ref.removal_scores:
            assert_scores_close(got.removal_scores, ref.removal_scores)
    if edges:
        L = adapter.n_layers
        circuit = [Component(0, 1), Component(0), Component(L // 2, 2), Component(L - 1, 3), Component(L - 1)]
        scores = path_patch(engine, circuit)
        assert {"q", "k", "v", "mlp_in", "resid"} <= {e.kind for e in scores.scores}
        ref = {e: naive.edge_score(model, clean, corr, c, i, mask_id, means, circuit, e.sender, e.receiver, e.kind)
               for e in scores.scores}
        assert_scores_close(scores.scores, ref)


@pytest.mark.slow
def test_engine_matches_naive_on_bert_random(bert_random_pair):
    _check(bert_random_pair, bert_random_pair.teacher, layers={0, 11}, edges=False)
    _check(bert_random_pair, bert_random_pair.student, layers={0, 5}, edges=True)


@pytest.mark.slow
def test_engine_matches_naive_on_the_offline_encoder_pair(bert_small_pair):
    for adapter in bert_small_pair.models.values():
        layers = set(range(adapter.n_layers))
        _check(bert_small_pair, adapter, layers=layers, n=12, edges=True, prune_layers={adapter.n_layers - 1})
