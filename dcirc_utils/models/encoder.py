"""The encoder family: BERT and DistilBERT masked language models behind the same adapter interface as the decoders.

**How.** :class:`EncoderAdapter` drives the Hugging Face modules of ``BertForMaskedLM`` and ``DistilBertForMaskedLM``
directly: it runs each block's attention and feed-forward from the block's own linear and LayerNorm modules, so every
site of :data:`~dcirc_utils.core.components.SITE_KINDS` (per-head ``q``/``k``/``v``/``z``, the attention ``pattern``,
``mlp_in``/``mlp_out``, the residual stream) is a point where a hook can read or write, and the MLM head gives the
logits at the ``[MASK]`` position.

**Why not TransformerLens here.** TransformerLens 4.3's bridge boots ``BertForMaskedLM`` but not DistilBERT ("could
not determine supported architecture"). Registering a bridge adapter for DistilBERT would give the two halves of one
pair two different code paths (TL's processing for BERT, ours for DistilBERT). Driving both from their own modules,
with one forward written once, keeps teacher and student strictly comparable, and the test suite checks that this
forward equals Hugging Face's own logits for both classes, and that its hooks read what TransformerLens reads for
BERT.

**Post-LayerNorm blocks.** ``x₁ = LN₁(x + Attn(x))``, ``x₂ = LN₂(x₁ + MLP(x₁))``. The site ``mlp_in`` is the MLP's
own copy of ``x₁``: patching it changes what the MLP reads and nothing else (the residual branch keeps the original
``x₁``), as ``mlp_in`` does for the pre-LN decoders. ``mlp_out`` is the MLP's output before the residual add and
``LN₂``. There is no final LayerNorm: ``resid_final`` is the last block's output, and the MLM head (dense → GELU →
LayerNorm → decoder) is applied at the readout position. Attention is bidirectional.

Used by notebook 07 and every analysis on the encoder pairs.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..core.components import Site
from .adapters import FamilyError, ModelAdapter

__all__ = ["EncoderAdapter", "encoder_parts"]


@dataclass
class _Block:
    q: torch.nn.Linear
    k: torch.nn.Linear
    v: torch.nn.Linear
    o: torch.nn.Linear
    ln1: torch.nn.LayerNorm
    fc1: torch.nn.Linear
    act: Callable
    fc2: torch.nn.Linear
    ln2: torch.nn.LayerNorm


@dataclass
class _Parts:
    embeddings: torch.nn.Module
    blocks: list[_Block]
    head_dense: torch.nn.Linear
    head_act: Callable
    head_ln: torch.nn.LayerNorm
    decoder_weight: Tensor            # [d_vocab, d_model]
    decoder_bias: Tensor              # [d_vocab]
    n_heads: int


def encoder_parts(model: torch.nn.Module) -> _Parts:
    """The modules the adapter drives, for a ``BertForMaskedLM`` or a ``DistilBertForMaskedLM``.

    Raises:
        FamilyError: for any other class (the message names the two supported ones).
    """
    name = type(model).__name__
    if name == "BertForMaskedLM":
        enc, head = model.bert, model.cls.predictions
        blocks = [_Block(b.attention.self.query, b.attention.self.key, b.attention.self.value,
                         b.attention.output.dense, b.attention.output.LayerNorm, b.intermediate.dense,
                         b.intermediate.intermediate_act_fn, b.output.dense, b.output.LayerNorm)
                  for b in enc.encoder.layer]
        return _Parts(enc.embeddings, blocks, head.transform.dense, head.transform.transform_act_fn,
                      head.transform.LayerNorm, head.decoder.weight, head.decoder.bias,
                      model.config.num_attention_heads)
    if name == "DistilBertForMaskedLM":
        enc = model.distilbert
        blocks = [_Block(b.attention.q_lin, b.attention.k_lin, b.attention.v_lin, b.attention.out_lin,
                         b.sa_layer_norm, b.ffn.lin1, b.ffn.activation, b.ffn.lin2, b.output_layer_norm)
                  for b in enc.transformer.layer]
        return _Parts(enc.embeddings, blocks, model.vocab_transform, model.activation, model.vocab_layer_norm,
                      model.vocab_projector.weight, model.vocab_projector.bias, model.config.n_heads)
    raise FamilyError(f"the encoder adapter drives BertForMaskedLM and DistilBertForMaskedLM, got {name}: load the "
                      "masked-LM class of the model (AutoModelForMaskedLM)")


class EncoderAdapter(ModelAdapter):
    """A BERT or DistilBERT masked language model (notebook 07; the ``bert``, ``bert-random`` and ``bert-small``
    pairs).

    Args:
        model: a ``BertForMaskedLM`` or ``DistilBertForMaskedLM`` (put in eval mode; the pairs' loaders also turn
            its gradients off).
        tokenizer: its tokenizer; must have a mask token (the readout position).
        label: a short name for tables.
    """

    family = "encoder"
    causal = False

    def __init__(self, model: torch.nn.Module, tokenizer, label: str = "model"):
        super().__init__(model.eval(), tokenizer, label)
        self.parts = encoder_parts(model)
        blk = self.parts.blocks[0]
        self.n_layers: int = len(self.parts.blocks)
        self.n_heads: int = self.parts.n_heads
        self.d_model: int = blk.q.in_features
        self.d_head: int = self.d_model // self.n_heads
        self.d_vocab: int = self.parts.decoder_weight.shape[0]
        self.mask_id = getattr(tokenizer, "mask_token_id", None) if tokenizer is not None else None
        self._active: dict[Site, list[Callable]] = {}

    # ----------------------------------------------------------------------------------------- hooks
    def hook_name(self, site: Site) -> str:
        site = self.check_site(site)
        return "resid_final" if site.layer is None else f"encoder.layer.{site.layer}.{site.kind}"

    @contextlib.contextmanager
    def hooks(self, pairs):
        added = []
        for site, fn in pairs:
            self._active.setdefault(self.check_site(site), []).append(fn)
            added.append((site, fn))
        try:
            yield
        finally:
            for site, fn in added:
                fns = self._active[site]
                fns.remove(fn)
                if not fns:
                    del self._active[site]

    def _fire(self, kind: str, layer: int | None, act: Tensor) -> Tensor:
        for fn in self._active.get(Site(kind, layer), ()):
            out = fn(act)
            act = act if out is None else out
        return act

    # ----------------------------------------------------------------------------------------- running
    def embed(self, tokens):
        return self.parts.embeddings(input_ids=tokens.to(self.device))

    def block(self, layer, resid, hooked=True):
        b, (B, P, D), H = self.parts.blocks[layer], resid.shape, self.n_heads
        x = self._fire("resid_pre", layer, resid)
        q = self._fire("q", layer, b.q(x).view(B, P, H, self.d_head))
        k = self._fire("k", layer, b.k(x).view(B, P, H, self.d_head))
        v = self._fire("v", layer, b.v(x).view(B, P, H, self.d_head))
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / self.d_head ** 0.5
        pattern = self._fire("pattern", layer, scores.softmax(-1))
        z = self._fire("z", layer, torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        x1 = b.ln1(b.o(z.reshape(B, P, D)) + x)
        m = self._fire("mlp_in", layer, x1)
        out = self._fire("mlp_out", layer, b.fc2(b.act(b.fc1(m))))
        return b.ln2(out + x1)

    def readout_positions(self, tokens):
        if self.mask_id is None:
            raise FamilyError(f"{self.label}'s tokenizer has no mask token: an encoder reads its answer at [MASK]")
        is_mask = tokens == self.mask_id
        counts = is_mask.sum(-1)
        if not bool((counts == 1).all()):
            bad = int(torch.nonzero(counts != 1)[0, 0])
            raise ValueError(f"prompt {bad} has {int(counts[bad])} [MASK] tokens: an encoder prompt needs exactly one "
                             "(the answer position); build it with the masked task (make_task('numerals_masked', ...))")
        return is_mask.long().argmax(-1)

    def _head(self, x: Tensor) -> Tensor:
        p = self.parts
        return p.head_ln(p.head_act(p.head_dense(x)))

    def logits_at(self, resid_end, ids=None):
        h = self._head(resid_end)
        W, b = self.parts.decoder_weight, self.parts.decoder_bias
        if ids is None:
            return h @ W.T + b
        rows = W[ids.reshape(-1)].reshape(*ids.shape, -1)                                  # [batch, k, d]
        return torch.einsum("bd,bkd->bk", h, rows) + b[ids]

    # ----------------------------------------------------------------------------------------- weights
    def token_embeddings(self, ids):
        return self.parts.embeddings.word_embeddings.weight[torch.as_tensor(list(ids), dtype=torch.long,
                                                                            device=self.device)]

    def mlp_on(self, layer, x):
        b = self.parts.blocks[layer]
        return b.fc2(b.act(b.fc1(x)))

    def attn_in(self, layer, x):
        return x                                          # post-LN: attention reads the residual stream as it is

    def attn_weights(self, layer):
        b, H, dh, D = self.parts.blocks[layer], self.n_heads, self.d_head, self.d_model

        def split_in(lin):                                # [out=H·dh, in=D] -> [H, D, dh]
            return lin.weight.T.reshape(D, H, dh).permute(1, 0, 2)

        return {"W_Q": split_in(b.q), "W_K": split_in(b.k), "W_V": split_in(b.v),
                "W_O": b.o.weight.T.reshape(H, dh, D), "b_Q": b.q.bias.reshape(H, dh),
                "b_K": b.k.bias.reshape(H, dh), "b_V": b.v.bias.reshape(H, dh)}

    def direct_logits(self, stack, resid_final, ids):
        raise FamilyError(f"direct logit attribution needs a linear output head, but {self.label} reads its logits "
                          "through the MLM head (dense → GELU → LayerNorm), which does not split into per-component "
                          "terms: use ablation (the engine) for encoders, or a decoder pair for this analysis")

    def output_of_residual(self, x, ids):
        return self._head(x) @ self.parts.decoder_weight[list(ids)].T
