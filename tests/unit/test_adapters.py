"""The decoder adapter against the library it wraps (mini pair): captures equal TransformerLens's own cache, the
block-by-block readout equals the library forward, and bad sites get clear errors."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.components import Site
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.models.adapters import FamilyError


@pytest.fixture(scope="module")
def tokens(mini_pair):
    return make_prompts(6, seed=2, tokenizer=mini_pair.tokenizer).tokens(mini_pair.tokenizer)


def test_capture_equals_the_library_cache(mini_pair, tokens):
    adapter = mini_pair.teacher
    sites = [Site(kind, layer) for kind in ("resid_pre", "q", "k", "v", "pattern", "z", "mlp_in", "mlp_out")
             for layer in (0, adapter.n_layers - 1)] + [Site("resid_final")]
    ours = adapter.capture_unpatched(tokens, sites, batch_size=4)           # two batches
    _, cache = adapter.model.run_with_cache(tokens)
    for site in sites:
        ref = cache[adapter.hook_name(site)]
        torch.testing.assert_close(ours[site], ref.float(), atol=1e-5, rtol=1e-5, msg=str(site))
    assert ours[Site("pattern", 0)].shape == (6, adapter.n_heads, tokens.shape[1], tokens.shape[1])


def test_readout_logits_equal_the_library_forward(mini_pair, tokens):
    adapter = mini_pair.student
    with torch.inference_mode():
        ref = adapter.model(tokens)[:, -1]
    torch.testing.assert_close(adapter.readout_logits(tokens, batch_size=4), ref.float(), atol=1e-5, rtol=1e-5)
    ids = torch.tensor([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]])
    torch.testing.assert_close(adapter.readout_logits(tokens, ids), ref.gather(-1, ids).float(), atol=1e-5, rtol=1e-5)


def test_bad_sites_and_families_are_explained(mini_pair, tokens):
    adapter = mini_pair.teacher
    with pytest.raises(ValueError, match="unknown site kind"):
        adapter.capture_unpatched(tokens, [Site("attn_scores", 0)])
    with pytest.raises(ValueError, match="needs a layer"):
        adapter.capture_unpatched(tokens, [Site("z", adapter.n_layers)])
    with pytest.raises(ValueError, match="takes no layer"):
        adapter.check_site(Site("resid_final", 2))
    with pytest.raises(ValueError, match="not a Site"):
        adapter.check_site(("z", 0))
    with pytest.raises(ValueError, match=r"\[batch, pos\]"):
        adapter.capture_unpatched(tokens[0], [Site("z", 0)])
    with pytest.raises(FamilyError, match="encoder"):
        adapter.require("encoder", "an MLM-only analysis")
