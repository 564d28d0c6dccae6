"""The encoder adapter (dcirc_utils.models.encoder) on tiny random BERT and DistilBERT masked LMs: its own
block-by-block forward equals Hugging Face's, its sites read what Hugging Face's modules compute, patching mlp_in
changes only the MLP, and bad prompts are explained."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.components import Site
from dcirc_utils.models.adapters import FamilyError
from dcirc_utils.models.encoder import EncoderAdapter

MASK = 3


class _Tok:
    mask_token_id = MASK


def _bert():
    from transformers import BertConfig, BertForMaskedLM
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=50, hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                                      intermediate_size=96, max_position_embeddings=32))


def _distil():
    from transformers import DistilBertConfig, DistilBertForMaskedLM
    torch.manual_seed(1)
    return DistilBertForMaskedLM(DistilBertConfig(vocab_size=50, dim=48, n_layers=2, n_heads=4, hidden_dim=96,
                                                  max_position_embeddings=32))


def _tokens():
    t = torch.randint(5, 50, (4, 11), generator=torch.Generator().manual_seed(0))
    t[:, 0], t[:, -1] = 1, 2                             # [CLS] ... [SEP]
    t[torch.arange(4), torch.tensor([9, 9, 7, 5])] = MASK
    return t


@pytest.fixture(scope="module", params=["bert", "distilbert"])
def adapter(request):
    return EncoderAdapter(_bert() if request.param == "bert" else _distil(), _Tok(), request.param)


def test_forward_equals_hugging_face(adapter):
    tokens = _tokens()
    with torch.inference_mode():
        ref = adapter.model(input_ids=tokens).logits
    pos = adapter.readout_positions(tokens)
    assert pos.tolist() == [9, 9, 7, 5]
    torch.testing.assert_close(adapter.readout_logits(tokens), ref[torch.arange(4), pos], atol=1e-5, rtol=1e-5)
    ids = torch.tensor([[5, 6]] * 4)
    torch.testing.assert_close(adapter.readout_logits(tokens, ids), ref[torch.arange(4), pos][:, [5, 6]],
                               atol=1e-5, rtol=1e-5)


def test_sites_read_what_the_modules_compute(adapter):
    tokens = _tokens()
    caps = adapter.capture_unpatched(tokens, [Site("q", 1), Site("pattern", 1), Site("z", 1), Site("mlp_out", 1),
                                    Site("resid_pre", 1), Site("resid_final")])
    blk = adapter.parts.blocks[1]
    seen = {}
    handles = [blk.q.register_forward_hook(lambda m, i, o: seen.__setitem__("q", o)),
               blk.k.register_forward_hook(lambda m, i, o: seen.__setitem__("k", o)),
               blk.o.register_forward_pre_hook(lambda m, i: seen.__setitem__("z", i[0])),
               blk.fc2.register_forward_hook(lambda m, i, o: seen.__setitem__("mlp_out", o))]
    try:
        with torch.inference_mode():
            out = adapter.model(input_ids=tokens, output_hidden_states=True)
    finally:
        for h in handles:
            h.remove()
    B, P = tokens.shape
    torch.testing.assert_close(caps[Site("q", 1)], seen["q"].view(B, P, 4, 12), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(caps[Site("z", 1)], seen["z"].view(B, P, 4, 12), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(caps[Site("mlp_out", 1)], seen["mlp_out"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(caps[Site("resid_pre", 1)], out.hidden_states[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(caps[Site("resid_final")], out.hidden_states[-1], atol=1e-5, rtol=1e-5)
    q, k = seen["q"].view(B, P, 4, 12).transpose(1, 2), seen["k"].view(B, P, 4, 12).transpose(1, 2)
    ref = (q @ k.transpose(-1, -2) / 12 ** 0.5).softmax(-1)           # bidirectional: no causal mask
    torch.testing.assert_close(caps[Site("pattern", 1)], ref, atol=1e-5, rtol=1e-5)
    assert float(caps[Site("pattern", 1)].triu(1).sum()) > 0


def test_patching_mlp_in_changes_only_the_mlp(adapter):
    """Zeroing mlp_in of the last block: the output changes by exactly LN₂(x₁ + MLP(0)) − LN₂(x₁ + MLP(x₁)), i.e.
    the residual branch still carries the original x₁."""
    tokens = _tokens()
    last = adapter.n_layers - 1
    site = Site("mlp_in", last)
    x1 = {}
    with torch.inference_mode():
        with adapter.hooks([(site, lambda a: x1.__setitem__("v", a.clone()))]):
            adapter.run_blocks(tokens)
        with adapter.hooks([(site, lambda a: torch.zeros_like(a))]):
            patched = adapter.run_blocks(tokens)
        blk = adapter.parts.blocks[last]
        expected = blk.ln2(adapter.mlp_on(last, torch.zeros_like(x1["v"])) + x1["v"])
    torch.testing.assert_close(patched, expected, atol=1e-5, rtol=1e-5)


def test_encoder_errors_are_explained(adapter):
    tokens = _tokens()
    two = tokens.clone()
    two[0, 3] = MASK
    with pytest.raises(ValueError, match="2 \\[MASK\\] tokens"):
        adapter.readout_positions(two)
    with pytest.raises(FamilyError, match="linear output head"):
        adapter.direct_logits(torch.zeros(1, 4, 11, 48), torch.zeros(4, 11, 48), torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(FamilyError, match="BertForMaskedLM"):
        EncoderAdapter(torch.nn.Linear(2, 2), _Tok())
    w = adapter.attn_weights(0)
    assert w["W_Q"].shape == (4, 48, 12) and w["W_O"].shape == (4, 12, 48)
    x = torch.randn(5, 48)
    torch.testing.assert_close(torch.einsum("nd,hde->nhe", x, w["W_Q"]).reshape(5, 48) + w["b_Q"].reshape(48),
                               adapter.parts.blocks[0].q(x), atol=1e-5, rtol=1e-5)


class _Prompts:
    """The two things position_zeroing_impacts reads from a prompt set."""

    def tokens(self, tok, which="clean", bos=False):
        return _tokens()

    def __len__(self):
        return 4

    def check_family(self, family):
        pass

    def metric(self, tok):
        from dcirc_utils.core.metrics import LogitDiff
        return LogitDiff(torch.tensor([5, 6, 7, 8]), torch.tensor([9, 10, 11, 12]))


def test_position_zeroing_is_the_studys_hook_on_bert():
    """methods.brittleness.position_zeroing_impacts equals the study's literal BERT hook: a forward hook on
    ``bert.encoder.layer[l].attention.self`` that sets ``output[0][:, h] = 0`` (a position, study-spec.md §3.2)."""
    from dcirc_utils.methods.brittleness import position_zeroing_impacts
    model = _bert().eval()
    adapter = EncoderAdapter(model, _Tok(), "bert")
    tokens, metric = _Prompts().tokens(None), _Prompts().metric(None)
    pos = adapter.readout_positions(tokens)

    def dl() -> float:
        with torch.inference_mode():
            logits = model(input_ids=tokens).logits[torch.arange(4), pos]
        return float(metric(logits.gather(-1, metric.ids)).mean())

    clean = dl()
    ours = position_zeroing_impacts(adapter, _Prompts(), positions=[0, 2, 5])
    assert len(ours) == 3 * 3
    for c, value in ours.items():
        def hook(module, args, output, p=c.head):
            output[0][:, p] = 0
        handle = model.bert.encoder.layer[c.layer].attention.self.register_forward_hook(hook)
        try:
            ref = 100.0 * (1.0 - dl() / clean)
        finally:
            handle.remove()
        assert value == pytest.approx(ref, abs=1e-3), c
    assert len({round(v, 6) for v in ours.values()}) > 1            # the ablation changes something
    with pytest.raises(ValueError, match="outside"):
        position_zeroing_impacts(adapter, _Prompts(), positions=[11])


def test_similarity_inputs_give_an_encoder_no_bos(adapter):
    """A study recipe asks for BOS (``bos=True``); an encoder's prompts open with [CLS] and its tokenizer has no BOS,
    so ``similarity_inputs`` must read the prompts as they are (notebook 07's IOI alignment), not fail or prepend."""
    from dcirc_utils.methods.recipes import similarity_inputs

    class Strict(_Prompts):
        def tokens(self, tok, which="clean", bos=False):
            if bos:
                raise AssertionError("asked an encoder's prompts for a BOS")
            return _tokens()

    with_bos, without = similarity_inputs(adapter, Strict(), bos=True), similarity_inputs(adapter, Strict(), bos=False)
    assert with_bos.patterns.shape[-1] == _tokens().shape[1]
    torch.testing.assert_close(with_bos.patterns, without.patterns, rtol=0, atol=0)
    torch.testing.assert_close(with_bos.mlp_out, without.mlp_out, rtol=0, atol=0)
