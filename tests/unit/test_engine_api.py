"""The engine's explicit API (mini teacher): patch identity by content, per-prompt values by flag, captures as
tensors, a metric object as the readout."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.components import Component, Site
from dcirc_utils.core.metrics import LogitDiff, ProbDiff
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine, Patch


@pytest.fixture(scope="module")
def engine(mini_pair):
    ps = make_prompts(6, seed=1, tokenizer=mini_pair.tokenizer)
    return Engine.for_prompts(mini_pair.teacher, ps, progress=False)


def test_patch_identity_is_by_content():
    site = Site("z", 1)
    a, b = torch.zeros(5, 8), torch.zeros(5, 8)
    assert Patch(site, 2, a) == Patch(site, 2, b) and hash(Patch(site, 2, a)) == hash(Patch(site, 2, b))
    b[0, 0] = 1e-7                                          # any change of the values is another patch
    assert Patch(site, 2, a) != Patch(site, 2, b)
    assert Patch(site, 2, a) != Patch(site, 3, a) and Patch(site, 2, a) != Patch(site, 2, a, per_prompt=True)
    assert len({Patch(site, 2, a), Patch(site, 2, a.clone()), Patch(site, 2, b)}) == 2


def test_prefix_cache_does_not_confuse_bases_with_different_values(engine):
    """Two base patches on the same site and head but with different values must give different results (with the
    old name-keyed patches the second run would have reused the first one's cached residual stream)."""
    head = Component(0, 1)
    mean = engine.means[head.site][:, head.head]
    v1 = engine.evaluate([[]], [Patch(head.site, head.head, mean)])[0]
    v2 = engine.evaluate([[]], [Patch(head.site, head.head, mean + 3.0)])[0]
    assert abs(float(v1) - float(v2)) > 1e-4
    fresh = Engine(engine.adapter, engine.tokens["clean"], engine.tokens["corrupted"], engine.metric,
                   progress=False)
    assert float(fresh.evaluate([[]], [Patch(head.site, head.head, mean + 3.0)])[0]) == pytest.approx(float(v2),
                                                                                                     abs=1e-5)


def test_per_prompt_flag_and_captures_are_tensors(engine):
    site = Site("mlp_out", 2)
    clean = engine.capture([site])[site]
    assert isinstance(clean, torch.Tensor) and clean.shape[0] == engine.n_prompts
    # patching every prompt with its own clean value changes nothing; with prompt 0's value for all, it does
    same = engine.evaluate([[Patch(site, None, clean, per_prompt=True)]])[0]
    assert float(same) == pytest.approx(engine.clean_value, abs=1e-5)
    first = engine.evaluate([[Patch(site, None, clean[0], per_prompt=False)]])[0]
    assert abs(float(first) - engine.clean_value) > 1e-3


def test_any_metric_object_is_a_readout(engine):
    adapter = engine.adapter
    vocab = adapter.d_vocab
    correct = engine.metric.ids[:, 0].cpu()
    good = torch.zeros(engine.n_prompts, vocab, dtype=torch.bool)
    good[torch.arange(engine.n_prompts), correct] = True
    bad = ~good
    prob = Engine(adapter, engine.tokens["clean"], engine.tokens["corrupted"], ProbDiff(good, bad), progress=False)
    logits = adapter.readout_logits(engine.tokens["clean"])
    p = logits.softmax(-1)[torch.arange(engine.n_prompts), correct]
    assert prob.clean_value == pytest.approx(float((2 * p - 1).mean()), abs=1e-5)   # p − (1 − p)
    scan = prob.ablation_scan([Component(0, 0), Component(1)])
    assert set(scan) == {Component(0, 0), Component(1)}
    with pytest.raises(ValueError, match="one entry per prompt"):
        Engine(adapter, engine.tokens["clean"], engine.tokens["corrupted"], LogitDiff(correct[:2], correct[:2]))
