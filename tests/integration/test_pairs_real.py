"""The real pairs' offline dry run: random weights in the exact GPT-2 small / DistilGPT2 architectures with the real
tokenizer (``gpt2-random``), booted through the same adapter as every pair (skips without GPT-2's tokenizer)."""
from __future__ import annotations

from dcirc_utils.core.components import Site


def test_gpt2_random_shapes_and_hooks(gpt2_random_pair):
    t, s = gpt2_random_pair.teacher, gpt2_random_pair.student
    assert (t.n_layers, t.n_heads, t.d_model, t.d_vocab) == (12, 12, 768, 50257)
    assert (s.n_layers, s.n_heads, s.d_model, s.d_vocab) == (6, 12, 768, 50257)
    assert t.model.cfg.d_mlp == s.model.cfg.d_mlp == 3072
    for model in (t.model, s.model):
        for l in range(model.cfg.n_layers):
            assert f"blocks.{l}.attn.hook_z" in model.hook_dict
            assert f"blocks.{l}.hook_mlp_out" in model.hook_dict
        assert tuple(model.W_E.shape) == (50257, 768) and tuple(model.W_pos.shape) == (1024, 768)
        assert tuple(model.W_Q.shape[1:]) == (12, 768, 64) and tuple(model.W_in.shape[1:]) == (768, 3072)
    assert "RANDOM" in gpt2_random_pair.description
    assert t.hook_name(Site("z", 3)) == "blocks.3.attn.hook_z" and t.hook_name(Site("mlp_in", 0)) == "blocks.0.ln2.hook_in"


def test_adapter_block_by_block_equals_the_library_forward(gpt2_random_pair):
    """The adapter's embed → blocks → readout path (what the engine and every capture use) gives the library's own
    logits at the answer position."""
    import torch

    adapter = gpt2_random_pair.student
    tokens = torch.randint(0, 50257, (3, 9), generator=torch.Generator().manual_seed(0))
    ours = adapter.readout_logits(tokens)
    with torch.inference_mode():
        ref = adapter.model(tokens)[:, -1]
    torch.testing.assert_close(ours, ref.float(), atol=2e-4, rtol=1e-4)
