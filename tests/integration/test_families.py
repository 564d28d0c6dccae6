"""The engine and the discovery methods on bring-your-own pairs of other decoder families (tiny random Llama and
Qwen2 models: RMSNorm, rotary position embeddings, grouped-query attention, loaded through ``load_pair("hf:...")``)
against the naive reference (tests/naive_reference.py: one full forward with the bridge's own hooks per ablation or
edge), and a family the bridge boots but whose blocks cannot run alone."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils import load_pair
from dcirc_utils.core.components import Component
from dcirc_utils.core.metrics import LogitDiff
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine
from dcirc_utils.methods.discovery import path_patch, prune_nodes
from dcirc_utils.models.adapters import FamilyError
from dcirc_utils.models.byo import register_hf_pair
from dcirc_utils.models.registry import PAIRS

from .. import naive_pruning
from .. import naive_reference as naive
from ..helpers import REL, assert_scores_close
from ..unit.test_byo_pairs import save_tiny_decoder
FAMILIES = ("llama", "qwen2")


@pytest.fixture(scope="module")
def folders(tmp_path_factory, gpt2_tok):
    root = tmp_path_factory.mktemp("families")
    return {fam: (save_tiny_decoder(root / f"{fam}-teacher", fam, 3, gpt2_tok, seed=3),
                  save_tiny_decoder(root / f"{fam}-student", fam, 2, gpt2_tok, seed=4)) for fam in FAMILIES}


@pytest.fixture(scope="module")
def pairs(folders):
    return {fam: load_pair(f"hf:{t},{s}", device="cpu") for fam, (t, s) in folders.items()}


@pytest.fixture(scope="module")
def data(gpt2_tok):
    ps = make_prompts(8, seed=0, tokenizer=gpt2_tok)
    c, i = ps.answer_ids(gpt2_tok)
    return ps.tokens(gpt2_tok), ps.tokens(gpt2_tok, "corrupted"), c, i


def _engine(adapter, data):
    clean, corr, c, i = data
    # random weights do not solve the task: Δl is small and of either sign, so the baseline check is off
    return Engine(adapter, clean, corr, LogitDiff(c, i), chunk_rows=20, progress=False, check_baseline=False)


@pytest.mark.parametrize("family", FAMILIES)
def test_ablation_scan_matches_naive(family, pairs, data):
    """Corrupted means, the clean Δl and the single-component mean-ablation scan over every component of both
    models equal the naive reference's (one full forward per ablation, the bridge's own hooks)."""
    clean, corr, c, i = data
    for adapter in (pairs[family].teacher, pairs[family].student):
        model = adapter.model
        engine = _engine(adapter, data)
        means = naive.corrupted_means(model, corr)
        for comp in engine.components:
            torch.testing.assert_close(engine.means[comp.site], means[naive.hook_name(comp)], rtol=1e-5, atol=1e-6)
        clean_ref = naive.ablated_logit_diff(model, clean, c, i, [], means)
        assert abs(engine.clean_value - clean_ref) <= REL * max(1e-3, abs(clean_ref))
        ours = engine.ablation_scan()
        ref = naive.ablation_scan(model, clean, c, i, means)
        assert len(ours) == adapter.n_layers * (adapter.n_heads + 1)
        assert max(abs(v - clean_ref) for v in ref.values()) > 1e-3 * abs(clean_ref), "no component matters"
        assert_scores_close(ours, ref)


@pytest.mark.parametrize("family", FAMILIES)
def test_split_blocks_and_readout_on_rotary_families(family, pairs, data):
    """Rotary families split into attention and MLP parts equal to the bridge's block, get no fused kernels (the
    fused attention has no rotary embedding), and their readout block (the bridge's attention everywhere, the MLP at
    the readout only) equals the bridge's block read at one position per row."""
    clean = data[0]
    positions = torch.arange(clean.shape[0]) % clean.shape[1]
    rows = torch.arange(clean.shape[0])
    for adapter in (pairs[family].teacher, pairs[family].student):
        assert adapter.rotary and adapter.splits_blocks and not adapter.fused
        with torch.inference_mode():
            x = adapter.embed(clean)
            for layer in range(adapter.n_layers):
                ref = adapter.block(layer, x)
                scale = float(ref.abs().max())
                assert float((adapter.mlp_part(layer, adapter.attention_part(layer, x)) - ref).abs().max()) \
                    <= 1e-6 * scale
                assert float((adapter.readout_block(layer, x, positions) - ref[rows, positions]).abs().max()) \
                    <= 1e-5 * scale
                x = ref


def test_pruning_and_path_patching_on_a_llama_pair(pairs, data):
    """Node pruning equals the naive sequential pruning, and every path-patching edge score (into q, k, v of a
    head, an MLP's input and the final residual stream) equals the naive two-forward edge score, on the Llama
    student with its key/value heads ungrouped (heads 1.1 and 1.3 sit in different key/value groups)."""
    clean, corr, c, i = data
    adapter = pairs["llama"].student
    model = adapter.model
    engine = _engine(adapter, data)
    means = naive.corrupted_means(model, corr)
    for thr in (0.5, 0.9):
        got = prune_nodes(engine, thr, progress=False)
        ref = naive_pruning.prune(lambda removed: naive.ablated_logit_diff(model, clean, c, i, removed, means),
                                  adapter.n_layers, adapter.n_heads, thr)
        assert got.components == ref.kept
        if ref.removal_scores:
            assert_scores_close(got.removal_scores, ref.removal_scores)
    circuit = [Component(0, 0), Component(0), Component(1, 1), Component(1, 3), Component(1)]
    edges = path_patch(engine, circuit)
    assert {"q", "k", "v", "mlp_in", "resid"} <= {e.kind for e in edges.scores}
    ref = {e: naive.path_patch_edge(model, clean, corr, c, i, means, circuit, e.sender, e.receiver, e.kind)
           for e in edges.scores}
    assert_scores_close(edges.scores, ref)


def test_path_patching_on_grouped_heads_raises(folders, pairs, data):
    """With the checkpoint's grouped key/value heads kept, scans agree with the ungrouped model, but path patching
    one head's key would change its group's other head too: it raises, naming the fix."""
    t, s = folders["llama"]
    register_hf_pair("test-families-grouped", t, s, ungroup_gqa=False)
    try:
        grouped = load_pair("test-families-grouped", device="cpu")
    finally:
        PAIRS.pop("test-families-grouped", None)
    assert grouped.student.kv_group == 2
    engine = _engine(grouped.student, data)
    assert_scores_close(engine.ablation_scan(), _engine(pairs["llama"].student, data).ablation_scan())
    with pytest.raises(FamilyError, match="grouped-query attention.*ungroup"):
        path_patch(engine, [Component(0, 0), Component(1, 1)])


@pytest.mark.parametrize("device_map", [{"": "cpu"}, "auto"])
def test_device_map_loads_give_the_same_scan(device_map, folders, pairs, data):
    """A pair loaded through the ecosystem's device map (accelerate's placement instead of ``device=``; on this
    CPU-only machine every module lands on the CPU) scans exactly like the plain load, grouped-query models ungrouped
    through ``from_pretrained(device_map=...)`` and kept grouped through the bridge's own ``device_map``; a built-in
    pair refuses the option, naming the fix."""
    t, s = folders["qwen2"]
    mapped = load_pair(f"hf:{t},{s}", device_map=device_map)
    register_hf_pair("test-families-mapped", t, s, ungroup_gqa=False, device_map=device_map)
    try:
        grouped = load_pair("test-families-mapped")
    finally:
        PAIRS.pop("test-families-mapped", None)
    ref = _engine(pairs["qwen2"].teacher, data).ablation_scan()
    assert_scores_close(_engine(mapped.teacher, data).ablation_scan(), ref)
    assert_scores_close(_engine(grouped.teacher, data).ablation_scan(), ref)
    with pytest.raises(ValueError, match="bring-your-own pairs"):
        load_pair("mini", device_map=device_map)


def test_a_bf16_load_runs_the_engine_near_fp32(folders, pairs, data):
    """``dtype=torch.bfloat16`` loads both models in bf16; the engine's scan reads out in float32 and stays within
    bf16's precision of the fp32 scan (a tolerance for rounding, not the engine's 1e-4)."""
    t, s = folders["llama"]
    half = load_pair(f"hf:{t},{s}", device="cpu", dtype=torch.bfloat16)
    assert half.student.model.W_U.dtype == torch.bfloat16
    got = _engine(half.student, data).ablation_scan()
    ref = _engine(pairs["llama"].student, data).ablation_scan()
    scale = max(abs(v) for v in ref.values())
    assert max(abs(got[k] - ref[k]) for k in ref) <= 0.05 * scale


def test_a_family_whose_blocks_cannot_run_alone_is_refused(tmp_path, gpt2_tok):
    """BLOOM boots in the bridge, but its blocks need ALiBi biases that a lone block call does not get: loading
    the pair raises FamilyError naming the family and its position scheme, instead of giving wrong numbers."""
    from transformers import BloomConfig, BloomForCausalLM
    folder = tmp_path / "bloom"
    torch.manual_seed(0)
    BloomForCausalLM(BloomConfig(hidden_size=64, n_layer=2, n_head=4, vocab_size=len(gpt2_tok))).save_pretrained(folder)
    gpt2_tok.save_pretrained(folder)
    with pytest.raises(FamilyError, match="BloomForCausalLM.*cannot be run one by one.*alibi"):
        load_pair(f"hf:{folder},{folder}", device="cpu")
