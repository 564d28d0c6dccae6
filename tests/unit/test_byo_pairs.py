"""Bring-your-own pairs (``register_hf_pair``, ``load_pair("hf:<teacher>,<student>")``): names, offline hub ids,
families that cannot be run, tokenizers that disagree, and the decoder adapter on tiny random Llama and Qwen2 models
(RMSNorm, rotary position embeddings, grouped-query attention) against the Hugging Face forward.

The engine and the discovery methods on these models, against the naive reference, are in
``tests/integration/test_families.py``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from dcirc_utils import load_pair
from dcirc_utils.core.components import Site
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.models.adapters import FamilyError
from dcirc_utils.models.byo import register_hf_pair
from dcirc_utils.models.registry import PAIRS, PairUnavailableError, TokenizerMismatchError

FAMILIES = ("llama", "qwen2")


# --------------------------------------------------------------------------------------------- tiny models
def save_tiny_decoder(folder: Path, family: str, n_layers: int, tokenizer, seed: int = 0, n_kv_heads: int = 2) -> Path:
    """A random-weight decoder of ``family`` (4 query heads sharing ``n_kv_heads`` key/value heads, d_model 64) saved
    with ``tokenizer`` in ``folder``. Norm weights and biases are randomised too, so that folding them is tested."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    config_cls, model_cls = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM)}[family]
    cfg = config_cls(hidden_size=64, intermediate_size=128, num_hidden_layers=n_layers, num_attention_heads=4,
                     num_key_value_heads=n_kv_heads, vocab_size=len(tokenizer), max_position_embeddings=128,
                     initializer_range=0.1, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = model_cls(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.1)
            elif "norm" in name:
                p.uniform_(0.5, 1.5)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def hf_logits(folder: Path, tokens: torch.Tensor) -> torch.Tensor:
    """The Hugging Face model's own logits (eager attention, as the bridge runs it)."""
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, attn_implementation="eager")
    with torch.inference_mode():
        return model.eval()(tokens).logits


def _centred(x: torch.Tensor) -> torch.Tensor:
    """Logits minus their mean over the vocabulary: compatibility mode centres the unembedding, which shifts every
    row of logits by a constant (softmax, Δl and every metric are unchanged)."""
    return x - x.mean(-1, keepdim=True)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, gpt2_tok) -> dict[str, tuple[Path, Path]]:
    """family -> (teacher folder (3 layers), student folder (2 layers))."""
    root = tmp_path_factory.mktemp("byo")
    return {fam: (save_tiny_decoder(root / f"{fam}-teacher", fam, 3, gpt2_tok, seed=1),
                  save_tiny_decoder(root / f"{fam}-student", fam, 2, gpt2_tok, seed=2)) for fam in FAMILIES}


@pytest.fixture(scope="module")
def pairs(folders) -> dict[str, object]:
    """family -> the pair loaded through the string form (key/value heads ungrouped)."""
    return {fam: load_pair(f"hf:{t},{s}", device="cpu") for fam, (t, s) in folders.items()}


@pytest.fixture(scope="module")
def grouped(folders):
    """The Llama pair registered with its grouped key/value heads kept."""
    t, s = folders["llama"]
    register_hf_pair("test-llama-grouped", t, s, ungroup_gqa=False, layer_map=[0, 2])
    try:
        yield load_pair("test-llama-grouped", device="cpu")
    finally:
        PAIRS.pop("test-llama-grouped", None)


@pytest.fixture(scope="module")
def tokens(gpt2_tok):
    return make_prompts(4, seed=0, tokenizer=gpt2_tok).tokens(gpt2_tok)


# --------------------------------------------------------------------------------------------- the forward
@pytest.mark.parametrize("family", FAMILIES)
def test_block_by_block_forward_equals_the_hf_model(family, folders, pairs, tokens):
    """embed, block(l) for every l, final norm and unembedding == the Hugging Face model's logits (both models,
    key/value heads ungrouped: the same function as the grouped checkpoint)."""
    pair = pairs[family]
    assert pair.teacher.rotary and pair.teacher.norm == "RMS"
    for adapter, folder in ((pair.teacher, folders[family][0]), (pair.student, folders[family][1])):
        ref = _centred(hf_logits(folder, tokens))
        with torch.inference_mode():
            x = adapter.run_blocks(tokens)
            ours = _centred(adapter.logits_at(x.reshape(-1, x.shape[-1])).reshape(ref.shape))
        scale = float(ref.abs().max())
        assert scale > 0.1, "the random model's logits are too flat to test anything"
        torch.testing.assert_close(ours, ref, atol=1e-4 * scale, rtol=0)
        torch.testing.assert_close(_centred(adapter.readout_logits(tokens)), ours[:, -1], atol=1e-4 * scale, rtol=0)
        assert adapter.check_blockwise_forward(tokens) <= 1e-4 * max(1.0, scale)


@pytest.mark.parametrize("family", FAMILIES)
def test_blocks_need_their_rotary_position_embeddings(family, pairs, tokens):
    """Without the (cos, sin) that DecoderAdapter.block passes, the bridge's blocks skip RoPE and the forward
    differs from the model's: the test above would catch an adapter that forgot them."""
    adapter = pairs[family].teacher
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = adapter.run_blocks(tokens)
        x = adapter.embed(tokens)
        for layer in range(adapter.n_layers):
            out = adapter.model.blocks[layer](x)
            x = out[0] if isinstance(out, tuple) else out
    assert float((x - ref).abs().max()) > 1e-3 * float(ref.abs().max())


def test_grouped_model_equals_the_ungrouped_one(grouped, pairs, folders, tokens):
    """ungroup_gqa=False keeps the checkpoint's grouped k/v: same logits, same per-query-head k/v captures."""
    g, u = grouped.teacher, pairs["llama"].teacher
    assert (g.n_kv_heads, g.kv_group, u.n_kv_heads, u.kv_group) == (2, 2, 4, 1)
    assert grouped.layer_map == [0, 2] and "key/value heads" in grouped.description
    ref = _centred(hf_logits(folders["llama"][0], tokens))[:, -1]
    torch.testing.assert_close(_centred(g.readout_logits(tokens)), ref, atol=1e-4 * float(ref.abs().max()), rtol=0)
    sites = [Site("q", 1), Site("k", 1), Site("v", 1), Site("z", 1), Site("pattern", 1)]
    cg, cu = g.capture_unpatched(tokens, sites), u.capture_unpatched(tokens, sites)
    for site in sites:
        assert cg[site].shape == cu[site].shape, site
        torch.testing.assert_close(cg[site], cu[site], atol=1e-5, rtol=1e-5, msg=str(site))
    k = cg[Site("k", 1)]
    assert k.shape[2] == 4 and torch.equal(k[:, :, 0], k[:, :, 1]) and torch.equal(k[:, :, 2], k[:, :, 3])
    assert not torch.equal(k[:, :, 1], k[:, :, 2])


def test_grouped_k_patch_of_one_head_raises(grouped, pairs, tokens):
    """In a grouped model one query head's key cannot change alone: such a patch raises; a patch writing a whole
    group identically goes through and equals the same patch on the ungrouped model."""
    g, u = grouped.teacher, pairs["llama"].teacher

    def one_head(act):
        act = act.clone()
        act[:, :, 1] = 0.0
        return act

    def whole_group(act):
        act = act.clone()
        act[:, :, 0:2] = 0.0
        return act

    with pytest.raises(FamilyError, match="grouped-query attention.*ungroup_gqa=True"):
        with g.hooks([(Site("k", 1), one_head)]):
            g.readout_logits(tokens)
    with g.hooks([(Site("v", 1), whole_group)]):
        ours = g.readout_logits(tokens)
    with u.hooks([(Site("v", 1), whole_group)]):
        ref = u.readout_logits(tokens)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(ours, g.readout_logits(tokens), atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_weights_mlp_and_direct_logits(family, pairs, grouped, tokens):
    """OV weights per query head (biases the model lacks are zeros), QK weights refused for a rotary model, the MLP
    on its captured input equals its captured output, and direct logits of the whole residual stream (RMSNorm, no
    centring) equal the logits."""
    adapter = pairs[family].teacher
    w = adapter.attn_weights(1)
    assert w["W_V"].shape == (4, 64, 16) and w["W_O"].shape == (4, 16, 64) and w["b_V"].shape == (4, 16)
    with pytest.raises(FamilyError, match="rotary"):
        w["W_Q"]
    if family == "llama":
        assert not w["b_V"].any()
        wg = grouped.teacher.attn_weights(1)
        torch.testing.assert_close(wg["W_V"], w["W_V"])
        assert torch.equal(wg["W_V"][0], wg["W_V"][1])
    sites = [Site("mlp_in", 1), Site("mlp_out", 1), Site("resid_final")]
    acts = adapter.capture_unpatched(tokens, sites)
    with torch.inference_mode():
        torch.testing.assert_close(adapter.mlp_on(1, acts[Site("mlp_in", 1)]), acts[Site("mlp_out", 1)],
                                   atol=1e-5, rtol=1e-5)
        resid = acts[Site("resid_final")]
        ids = torch.tensor([[11, 12], [13, 14], [15, 16], [17, 18]])
        direct = adapter.direct_logits(resid[None].double(), resid.double(), ids)[0, :, -1]     # [batch, k]
        ref = adapter.logits_at(resid[:, -1], ids) - adapter.model.b_U[ids]
    torch.testing.assert_close(direct.float(), ref, atol=1e-4 * float(ref.abs().max()), rtol=0)


# --------------------------------------------------------------------------------------------- errors
def test_names_and_registration_are_checked():
    for bad in ("hf:onlyone", "hf:a,b,c", "hf:,b"):
        with pytest.raises(ValueError, match="hf:<teacher>,<student>"):
            load_pair(bad)
    with pytest.raises(KeyError, match="bring your own"):
        load_pair("no-such-pair")
    for name in ("small", "gpt2", "hf:x", ""):
        with pytest.raises(ValueError, match="choose a new name"):
            register_hf_pair(name, "a/b", "c/d")
    with pytest.raises(ValueError, match="student is empty"):
        register_hf_pair("mine", "a/b", " ")
    with pytest.raises(ValueError, match="layer_map"):
        register_hf_pair("mine", "a/b", "c/d", layer_map=["0", "2"])
    loader = register_hf_pair("test-registered", "org/teacher", "org/student")
    try:
        assert PAIRS["test-registered"] is loader
    finally:
        PAIRS.pop("test-registered")


def test_missing_folders_are_explained(tmp_path):
    with pytest.raises(PairUnavailableError, match="neither an existing folder nor a hub id"):
        load_pair(f"hf:{tmp_path}/nowhere,{tmp_path}/nowhere2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PairUnavailableError, match="holds no config.json.*save_pretrained"):
        load_pair(f"hf:{tmp_path}/empty,{tmp_path}/empty")


def test_hub_ids_offline_fail_fast_with_fixes(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path), TRANSFORMERS_OFFLINE="1")
    code = ("from dcirc_utils import load_pair\n"
            "try:\n    load_pair('hf:some-org/teacher-model,some-org/student-model')\n"
            "except Exception as e:\n    print(type(e).__name__); print(e)\n")
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    assert "PairUnavailableError" in out.stdout, out.stdout + out.stderr
    for fix in ("'some-org/teacher-model'", "HF_HUB_OFFLINE", "HF_HOME", "load_pair('hf:TEACHER_DIR,STUDENT_DIR')"):
        assert fix in out.stdout, fix
    assert elapsed < 30, f"offline failure took {elapsed:.1f} s"


def _config_only(folder: Path, config: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


LLAMA_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 8,
                "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 64, "num_hidden_layers": 2}


@pytest.mark.parametrize("config, message", [
    ({"architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "is_encoder_decoder": True},
     "encoder-decoder model.*decoder-only"),
    ({"architectures": ["BertForMaskedLM"], "model_type": "bert"}, "not a causal language model.*BertForMaskedLM"),
    ({"architectures": ["NoSuchModelForCausalLM"], "model_type": "nosuch"},
     "no adapter for NoSuchModelForCausalLM"),
    ({"model_type": "llama"}, "names no architecture"),
])
def test_unsupported_families_are_named(tmp_path, config, message):
    folder = _config_only(tmp_path / "model", config)
    with pytest.raises(FamilyError, match=message):
        load_pair(f"hf:{folder},{folder}")


def _word_tokenizer(words):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["[UNK]"] + list(words))}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def test_mismatched_tokenizers_raise(tmp_path):
    """The teacher's, the student's and a given tokenizer must share one vocabulary, no larger than either model's
    embedding; a pair without any tokenizer names the fix. (Checked before any weights are read.)"""
    teacher = _config_only(tmp_path / "teacher", LLAMA_CONFIG)
    student = _config_only(tmp_path / "student", LLAMA_CONFIG)
    _word_tokenizer(["one", "two", "three"]).save_pretrained(teacher)
    _word_tokenizer(["one", "three", "two"]).save_pretrained(student)
    with pytest.raises(TokenizerMismatchError, match="teacher's and the student's tokenizers differ.*tokenizer=") as e:
        load_pair(f"hf:{teacher},{student}")
    assert "'three'" in str(e.value) or "'two'" in str(e.value)
    _word_tokenizer(["one", "two", "three", "four"]).save_pretrained(student)
    with pytest.raises(TokenizerMismatchError, match=r"4 vs 5 tokens"):
        load_pair(f"hf:{teacher},{student}")
    _word_tokenizer(["one", "two", "three"]).save_pretrained(student)
    register_hf_pair("test-tok", teacher, student, tokenizer=_word_tokenizer(["uno", "dos", "tres"]))
    try:
        with pytest.raises(TokenizerMismatchError, match="given tokenizer's and the teacher's"):
            load_pair("test-tok")
    finally:
        PAIRS.pop("test-tok")
    big = _word_tokenizer([f"w{i}" for i in range(20)])
    big.save_pretrained(teacher)
    big.save_pretrained(student)
    with pytest.raises(TokenizerMismatchError, match="21 tokens but the teacher .* embeds only 8"):
        load_pair(f"hf:{teacher},{student}")
    bare_t = _config_only(tmp_path / "bare-t", LLAMA_CONFIG)
    bare_s = _config_only(tmp_path / "bare-s", LLAMA_CONFIG)
    with pytest.raises(PairUnavailableError, match="ships a tokenizer.*tokenizer="):
        load_pair(f"hf:{bare_t},{bare_s}")
