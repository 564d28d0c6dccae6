"""The engine's shortcuts of issue 16 against the whole-block path (itself checked against the naive reference in
test_engine.py): the split of a block into its attention and MLP parts, the fused kernels of hook-free layers, the
last layer at the answer position only, and the ablated head's layer updated by its output delta."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.components import Component, Site
from dcirc_utils.core.metrics import LogitDiff
from dcirc_utils.engine import Engine, Patch

from ..helpers import REL, prompt_data


def _tokens(pair, n=6):
    return prompt_data(pair.tokenizer, n, seed=1)


@pytest.mark.parametrize("which", ["gpt2_random_pair", "mini_pair"])
def test_split_blocks_fused_kernels_and_readout_equal_the_bridge(which, request):
    """For every layer: attention part then MLP part = the bridge's block; the fused block (``hooked=False``) = the
    bridge's block; the readout block at a different position per row = the bridge's block read there."""
    pair = request.getfixturevalue(which)
    adapter = pair.teacher
    assert adapter.splits_blocks and adapter.fused
    clean = _tokens(pair)[0]
    positions = torch.arange(clean.shape[0]) % clean.shape[1] + clean.shape[1] - clean.shape[0]
    rows = torch.arange(clean.shape[0])
    with torch.inference_mode():
        x = adapter.embed(clean)
        for layer in range(adapter.n_layers):
            ref = adapter.block(layer, x)
            scale = float(ref.abs().max())
            torch.testing.assert_close(adapter.mlp_part(layer, adapter.attention_part(layer, x)), ref,
                                       rtol=0, atol=1e-6 * scale)
            assert float((adapter.block(layer, x, hooked=False) - ref).abs().max()) <= 1e-5 * scale
            got = adapter.readout_block(layer, x, positions)
            assert float((got - ref[rows, positions]).abs().max()) <= 1e-5 * scale
            x = ref


def test_fused_kernels_refuse_a_family_they_do_not_reproduce(mini_pair):
    """The fused check compares with the bridge: a model whose activation the kernels would get wrong is refused."""
    adapter = mini_pair.student
    cfg = adapter.model.cfg
    act = cfg.act_fn
    try:
        cfg.act_fn = "relu"       # the bridge still computes gelu_new; the fused MLP would use relu
        assert adapter._check_fused() is False
    finally:
        cfg.act_fn = act
    assert adapter._check_fused() is True


def _variants(engine: Engine) -> list[list[Patch]]:
    """Variants of every kind the engine distinguishes, at the first, a middle and the last layer."""
    L, H = engine.n_layers, engine.n_heads
    m = engine.means
    per_prompt = torch.randn_like(engine.capture([Site("z", 1)])[Site("z", 1)][:, :, 2])     # [batch, pos, d_head]
    mid = L // 2
    out = []
    for layer in (0, mid, L - 1):
        out += [engine.mean_ablation([Component(layer, 0)]),                                  # one head ("z")
                engine.mean_ablation([Component(layer, 1), Component(layer, H - 1)]),         # two heads ("z")
                [Patch(Site("z", layer), None, m[Site("z", layer)] * 0.5)],                   # every head ("z")
                engine.mean_ablation([Component(layer)]),                                     # the MLP ("mlp_out")
                [Patch(Site("v", layer), 0, m[Site("z", layer)][:, 0])]]                      # a value ("block")
    out += [[Patch(Site("z", 1), 2, per_prompt, per_prompt=True)],                           # per-prompt values
            engine.mean_ablation([Component(0, 1), Component(mid)]),                          # z, then a later MLP
            [Patch(Site("z", 0), 1, m[Site("z", 0)][:, 1]), Patch(Site("z", 0), 1, m[Site("z", 0)][:, 2])],
            []]
    return out


@pytest.mark.parametrize("base_layers", [(), "outside"])
def test_shortcut_runs_equal_whole_block_runs(mini_pair, base_layers):
    """Every kind of variant, with no base and with a circuit's base (ablations at every layer, the last included),
    gives the same per-prompt values and captures with the shortcuts as with whole blocks; chunks mix variants."""
    adapter = mini_pair.teacher
    clean, corr, c, i = _tokens(mini_pair)
    engine = Engine(adapter, clean, corr, LogitDiff(c, i), chunk_rows=9, progress=False, check_baseline=False)
    base = [] if not base_layers else engine.circuit_base(
        [x for x in engine.components if (x.layer + (x.head or 0)) % 3 == 0])
    variants = _variants(engine)
    sites = [Site("z", 1), Site("mlp_out", engine.n_layers - 1), Site("resid_final")]
    fast, _ = engine.run(variants, base)
    _, fast_cap = engine.run(variants[:4], base, capture=sites)
    try:        # every shortcut off: whole blocks through the bridge (an instance attribute shadows the class's)
        adapter.splits_blocks, adapter.fused = False, False
        engine._prefix.clear()
        slow, _ = engine.run(variants, base)
        _, slow_cap = engine.run(variants[:4], base, capture=sites)
    finally:
        del adapter.splits_blocks
        adapter.fused = True
    scale = float(slow.abs().max())
    assert float((fast - slow).abs().max()) <= REL * scale
    assert float((slow[:-1] - slow[-1]).abs().max()) > 1e-3 * scale, "no variant changed anything"
    for s in sites:
        for a, b in zip(fast_cap[s], slow_cap[s]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_kinds_the_engine_chooses(mini_pair):
    """Head-output patches take the delta path, a whole-MLP patch the MLP path, anything else whole blocks; a base
    resid_pre patch at the start layer (it fires only inside a whole block) forces whole blocks."""
    adapter = mini_pair.teacher
    clean, corr, c, i = _tokens(mini_pair)
    e = Engine(adapter, clean, corr, LogitDiff(c, i), progress=False, check_baseline=False)
    z = e.means[Site("z", 2)]
    assert e._kind(e.mean_ablation([Component(2, 0), Component(2, 3)]), 2, []) == "z"
    assert e._kind([Patch(Site("z", 2), 1, z[:, 1]), Patch(Site("z", 2), 1, z[:, 1])], 2, []) == "block"
    assert e._kind(e.mean_ablation([Component(2)]), 2, []) == "mlp_out"
    assert e._kind([Patch(Site("q", 2), 0, z[:, 0])], 2, []) == "block"
    resid = Patch(Site("resid_pre", 2), None, torch.zeros(clean.shape[1], adapter.d_model))
    assert e._kind(e.mean_ablation([Component(2, 0)]), 2, [resid]) == "block"
