"""The decoder family: decoder-only models booted as TransformerLens ``TransformerBridge`` in compatibility mode
(folded LayerNorm, centred writing weights: the processing the study used), behind :class:`DecoderAdapter`.

GPT-2 and the offline pairs, and any decoder family the bridge boots whose blocks this adapter can run one by one —
Llama- and Qwen2-style models (RMSNorm, rotary position embeddings, grouped-query attention) included. Pre-norm
blocks, causal attention, readout at the last position, a linear unembedding. :meth:`DecoderAdapter.check_blockwise_forward`
proves the block-by-block forward equal to the bridge's own on a probe prompt and names what is missing when it is
not. Its blocks split into an attention part and an MLP part, and GPT-2-style models also run on fused kernels where
no hook is needed (both used by the engine's shortcuts, each checked against the bridge). :func:`boot_bridge` boots
one such model from a folder.

With :mod:`~dcirc_utils.models.encoder`, the only code that knows the library's hook names (the interface is
:class:`~dcirc_utils.models.adapters.ModelAdapter`).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from ..core.components import Site
from .adapters import FamilyError, ModelAdapter, check_tokens
from .hub import quiet_loading

__all__ = ["DecoderAdapter", "boot_bridge"]


def boot_bridge(folder: str | Path, device: torch.device, hf_model=None, tokenizer=None, device_map=None,
                dtype: torch.dtype | None = None):
    """The decoder saved in ``folder`` (its config, and its weights unless ``hf_model`` is given) as a
    ``TransformerBridge`` in compatibility mode, in eval mode with gradients off.

    Args:
        folder: a ``save_pretrained`` folder (with the tokenizer unless ``tokenizer`` is given).
        device: where the bridge goes, unless ``device_map`` (Hugging Face / accelerate) places the model.
        hf_model: an already built Hugging Face model to wrap instead of loading weights from ``folder``.
        tokenizer: the tokenizer to attach instead of ``folder``'s.
        dtype: the model's dtype (default: the bridge's).
    """
    from transformer_lens.model_bridge import TransformerBridge
    with quiet_loading():
        # a device map (Hugging Face / accelerate) places the model itself; the bridge takes one or the other
        kwargs = {"device": device} if device_map is None else {"device_map": device_map}
        if dtype is not None:
            kwargs["dtype"] = dtype
        if hf_model is not None:
            kwargs["hf_model"] = hf_model.eval()
        if tokenizer is not None:
            kwargs["tokenizer"] = tokenizer
        bridge = TransformerBridge.boot_transformers(str(Path(folder).resolve()), **kwargs)
        bridge.enable_compatibility_mode()
    bridge.eval()
    for p in bridge.parameters():
        p.requires_grad_(False)
    return bridge


class _AttnWeights(dict):
    """The dict :meth:`DecoderAdapter.attn_weights` returns: asking it for a key it does not hold (the QK weights of
    a rotary model) raises :class:`FamilyError` with the reason instead of a bare ``KeyError``."""

    def __init__(self, weights: dict, missing_reason: str = ""):
        super().__init__(weights)
        self.missing_reason = missing_reason

    def __missing__(self, key):
        raise FamilyError(f"attention weight {key!r} is not available: {self.missing_reason or 'unknown key'}")


class DecoderAdapter(ModelAdapter):
    """A decoder-only ``TransformerBridge`` in compatibility mode (GPT-2, the offline pairs, Llama- and Qwen2-style
    models brought with :func:`~dcirc_utils.models.byo.register_hf_pair`).

    Hook vocabulary (TransformerLens's spelling, the same for every family the bridge boots):
    ``blocks.{l}.hook_resid_pre``, ``blocks.{l}.attn.hook_{q,k,v,z}``, ``blocks.{l}.attn.hook_pattern``,
    ``blocks.{l}.ln2.hook_in`` (what the MLP reads: the residual stream entering its norm, so patching it changes
    only the MLP's input), ``blocks.{l}.hook_mlp_out``. The readout is the last position; logits come from the final
    norm and the unembedding ``W_U``, ``b_U``.

    Family differences handled here:

    * **norm**: LayerNorm (GPT-2) or RMSNorm (Llama, Qwen2; ``cfg.normalization_type == "RMS"``). In compatibility
      mode both have their weights folded into the next matrices; only :meth:`direct_logits` needs to know which
      (RMSNorm does not centre, and the bridge does not centre writing weights of RMS models).
    * **rotary position embeddings** (``cfg.positional_embedding_type == "rotary"``): the bridge's attention only
      rotates ``q`` and ``k`` when its block is handed ``position_embeddings``; the full forward computes them once
      in the Hugging Face model, so :meth:`block` computes the same ``(cos, sin)`` with the bridge's ``rotary_emb``
      for positions ``0..pos-1`` and passes them (without them the bridge's blocks silently skip RoPE and the
      block-by-block forward differs from the model's). The QK circuit of a rotary head depends on the query-key
      offset, so :meth:`attn_weights` holds no ``W_Q``/``W_K``/``b_Q``/``b_K`` for such models (asking raises
      :class:`FamilyError`); the OV circuit is unaffected.
    * **grouped-query attention** (``cfg.n_key_value_heads < n_heads``): ``hook_k``/``hook_v`` carry one head per
      key/value group, query head ``h`` reading group ``h // (n_heads // n_kv_heads)``. Sites ``k`` and ``v`` are
      presented per *query* head everywhere (captures are ``[batch, pos, n_heads, d_head]``, the group's vector
      repeated), so head indices mean the same for ``q``, ``k``, ``v``, ``z`` and ``pattern``. A patch that writes
      the heads of one group identically (a whole-site patch, a group-wide mean) goes through; one that would give
      two heads of a group different keys or values cannot be expressed in the grouped model and raises
      :class:`FamilyError` — boot the model with its key/value heads ungrouped
      (``register_hf_pair(..., ungroup_gqa=True)``, the default), which is the same function with one key/value
      copy per query head, to patch one head's ``k``/``v`` (path patching does).
    """

    family = "decoder"
    causal = True

    _HOOKS = {"resid_pre": "blocks.{l}.hook_resid_pre", "q": "blocks.{l}.attn.hook_q", "k": "blocks.{l}.attn.hook_k",
              "v": "blocks.{l}.attn.hook_v", "pattern": "blocks.{l}.attn.hook_pattern", "z": "blocks.{l}.attn.hook_z",
              "mlp_in": "blocks.{l}.ln2.hook_in", "mlp_out": "blocks.{l}.hook_mlp_out"}

    def __init__(self, bridge: torch.nn.Module, tokenizer=None, label: str = "model"):
        super().__init__(bridge, tokenizer if tokenizer is not None else getattr(bridge, "tokenizer", None), label)
        cfg = bridge.cfg
        self.n_layers: int = cfg.n_layers
        self.n_heads: int = cfg.n_heads
        self.d_model: int = cfg.d_model
        self.d_head: int = cfg.d_head
        self.d_vocab: int = cfg.d_vocab
        self.eps: float = float(getattr(cfg, "eps", 1e-5))
        #: the bridge's architecture (e.g. ``"LlamaForCausalLM"``), for error messages
        self.architecture: str = str(getattr(cfg, "architecture", None) or type(bridge).__name__)
        missing = [a for a in ("blocks", "ln_final") if not hasattr(bridge, a)]
        if missing:
            raise FamilyError(f"{label!r} ({self.architecture}) has no {' or '.join(missing)}: DecoderAdapter runs a "
                              "single stack of decoder blocks (embed, blocks 0..n-1, final norm, unembedding); "
                              "encoder-decoder models (T5, BART) and encoders (BERT: EncoderAdapter) are not decoders")
        #: ``"RMS"`` or ``"LN"``: the normalisation of the residual stream before each sublayer and the unembedding
        self.norm: str = "RMS" if str(getattr(cfg, "normalization_type", "LN")).startswith("RMS") else "LN"
        #: rotary position embeddings (Llama, Qwen2): blocks need ``position_embeddings``
        self.rotary: bool = getattr(cfg, "positional_embedding_type", "standard") == "rotary"
        if self.rotary and getattr(bridge, "rotary_emb", None) is None:
            raise FamilyError(f"{label!r} ({self.architecture}) uses rotary position embeddings but its bridge exposes "
                              "no model-level rotary_emb to compute them: DecoderAdapter cannot run its blocks one by "
                              "one (per-layer rotary modules are not supported)")
        #: key/value heads (``n_heads`` unless the model uses grouped-query attention)
        self.n_kv_heads: int = int(getattr(cfg, "n_key_value_heads", None) or self.n_heads)
        if self.n_heads % self.n_kv_heads:
            raise FamilyError(f"{label!r}: {self.n_heads} query heads do not split into {self.n_kv_heads} key/value "
                              "groups of equal size; grouped-query attention needs n_heads % n_kv_heads == 0")
        #: query heads per key/value head: query head ``h`` reads key/value head ``h // kv_group``
        self.kv_group: int = self.n_heads // self.n_kv_heads
        #: whether hook-free blocks (``block(..., hooked=False)``) and :meth:`readout_block` run on fused kernels
        #: (checked here once, against the bridge, before any hook is installed)
        self.fused: bool = False
        self.fused = self._check_fused()

    def hook_name(self, site: Site) -> str:
        site = self.check_site(site)
        if site.kind == "resid_final":
            return f"blocks.{self.n_layers - 1}.hook_resid_post"
        return self._HOOKS[site.kind].format(l=site.layer)

    def embed(self, tokens):
        return self.model(tokens, stop_at_layer=0)

    def position_embeddings(self, resid: Float[Tensor, "batch pos d_model"]) -> tuple[Tensor, Tensor] | None:
        """``(cos, sin)`` ``[1, pos, rotary_dim]`` of positions ``0..pos-1`` for a rotary model (what the Hugging Face
        model hands every block in its own forward), ``None`` for models with learned or no position embeddings."""
        if not self.rotary:
            return None
        positions = torch.arange(resid.shape[1], device=resid.device)[None]
        return self.model.rotary_emb(resid, positions)

    def block(self, layer, resid, hooked=True):
        if not hooked and self.fused:
            return self._fused_block(layer, resid)
        out = self.model.blocks[layer](resid, **self._attn_kwargs(resid))
        return out[0] if isinstance(out, tuple) else out

    def readout_positions(self, tokens):
        return torch.full((tokens.shape[0],), tokens.shape[1] - 1, dtype=torch.long)

    # split blocks: the bridge's pre-norm block is resid + attn(ln1(resid)), then + mlp(ln2(.)) (check_blockwise_forward proves
    # it when a bring-your-own pair loads; tests/integration/test_engine_shortcuts.py and test_families.py for the
    # built-in pairs, Llama and Qwen2)
    splits_blocks = True

    def _attn_kwargs(self, resid: Tensor) -> dict:
        """What a block or its attention is handed besides the residual stream: rotary models' position embeddings."""
        rope = self.position_embeddings(resid)
        return {} if rope is None else {"position_embeddings": rope}

    def attention_part(self, layer, resid):
        block = self.model.blocks[layer]
        out = block.attn(block.ln1(resid), **self._attn_kwargs(resid))
        return resid + (out[0] if isinstance(out, tuple) else out)

    def mlp_part(self, layer, resid_mid, hooked=True):
        if not hooked and self.fused:
            return resid_mid + self._fused_mlp(layer, resid_mid)
        return resid_mid + self.mlp_on(layer, resid_mid)

    def head_out_weights(self, layer):
        return self.model.blocks[layer].attn.W_O

    def readout_block(self, layer, resid, positions):
        rows = torch.arange(resid.shape[0], device=resid.device)
        positions = positions.to(resid.device)
        if self.fused:
            mid = resid[rows, positions] + self._fused_attention(layer, resid, positions)
            return mid + self._fused_mlp(layer, mid)
        # the bridge's attention at every position, its MLP at the readout only
        return self.mlp_part(layer, self.attention_part(layer, resid)[rows, positions][:, None])[:, 0]

    # fused kernels: the same block as the bridge's, computed from its weights (as the forward uses them) with
    # torch's fused layer norm, scaled-dot-product attention and activation, and no hook points. For layers where
    # nothing is patched or captured (``hooked=False``); ``fused`` says whether this family gets them.
    _ACTIVATIONS = {"gelu_new": lambda x: F.gelu(x, approximate="tanh"),
                    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
                    "gelu": F.gelu, "relu": F.relu, "silu": F.silu}

    def _qkv(self, layer: int, h: Tensor, names: str) -> list[Float[Tensor, "... n_heads d_head"]]:
        """The projections ``names`` (e.g. ``"QKV"``) of ``h`` in one matrix product, each ``[..., head, d_head]``."""
        attn = self.model.blocks[layer].attn
        W = torch.cat([getattr(attn, "W_" + n) for n in names])                        # [k·head, d, d_head]
        b = torch.cat([getattr(attn, "b_" + n) for n in names])                        # [k·head, d_head]
        out = (h @ W.permute(1, 0, 2).flatten(1)).unflatten(-1, W.shape[::2]) + b
        return list(out.chunk(len(names), dim=-2))

    def _fused_attention(self, layer: int, resid: Float[Tensor, "batch pos d_model"],
                         positions: Int[Tensor, "batch"] | None = None) -> Tensor:
        """Attention output of block ``layer``, ``[batch, pos, d_model]``, or ``[batch, d_model]`` at one query
        position per row (``positions``: the query, pattern and ``W_O`` there only, keys and values everywhere)."""
        attn = self.model.blocks[layer].attn
        h = F.layer_norm(resid, (self.d_model,), eps=self.eps)
        W_O = attn.W_O.flatten(0, 1)                                                    # [head·d_head, d_model]
        if positions is None:
            q, k, v = self._qkv(layer, h, "QKV")                                        # [batch, pos, head, d_head]
            z = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                               is_causal=True).transpose(1, 2)          # [batch, pos, head, d_head]
            return z.flatten(-2) @ W_O + attn.b_O
        rows = torch.arange(resid.shape[0], device=resid.device)
        k, v = self._qkv(layer, h, "KV")                                                # [batch, pos, head, d_head]
        q = self._qkv(layer, h[rows, positions], "Q")[0] * self.d_head ** -0.5          # [batch, head, d_head]
        scores = torch.einsum("bhk,bphk->bhp", q, k)                                    # [batch, head, pos]
        later = torch.arange(resid.shape[1], device=resid.device)[None, :] > positions[:, None]
        pattern = scores.masked_fill(later[:, None, :], float("-inf")).softmax(-1)
        return torch.einsum("bhp,bphk->bhk", pattern, v).flatten(-2) @ W_O + attn.b_O

    def _fused_mlp(self, layer: int, resid_mid: Float[Tensor, "... d_model"]) -> Float[Tensor, "... d_model"]:
        mlp = self.model.blocks[layer].mlp
        act = self._ACTIVATIONS[self.model.cfg.act_fn]
        return act(F.layer_norm(resid_mid, (self.d_model,), eps=self.eps) @ mlp.W_in + mlp.b_in) @ mlp.W_out \
            + mlp.b_out

    def _fused_block(self, layer: int, resid: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d"]:
        mid = resid + self._fused_attention(layer, resid)
        return mid + self._fused_mlp(layer, mid)

    def _check_fused(self) -> bool:
        """Whether the fused kernels reproduce the bridge for this model: a LayerNorm, non-rotary, ungated family
        with one key/value head per query head and a known activation, whose first and last blocks (whole, and the
        last at the readout position) equal the bridge's on a probe prompt. Otherwise every block runs through the
        bridge (the readout layer's attention at every position)."""
        cfg = self.model.cfg
        try:
            if self.rotary or self.norm != "LN" or self.kv_group != 1 or cfg.act_fn not in self._ACTIVATIONS \
                    or getattr(self.model.blocks[0].mlp, "W_gate", None) is not None:
                return False
            probe = self.probe_tokens(10)
            worst, scale = 0.0, 1.0
            with torch.inference_mode():
                x = self.embed(probe)
                for layer in range(self.n_layers):
                    ref = self.block(layer, x)
                    if layer in (0, self.n_layers - 1):
                        last = torch.full((1,), probe.shape[1] - 1, device=self.device)
                        mid = x[:, -1] + self._fused_attention(layer, x, last)       # readout_block, fused
                        worst = max(worst, float((self._fused_block(layer, x) - ref).abs().max()),
                                    float((mid + self._fused_mlp(layer, mid) - ref[:, -1]).abs().max()))
                        scale = max(scale, float(ref.abs().max()))
                    x = ref
        except Exception:  # noqa: BLE001 - a family the fused kernels do not fit runs through the bridge instead
            return False
        return worst <= (1e-4 if x.dtype == torch.float32 else 3e-2) * scale

    def logits_at(self, resid_end, ids=None):
        x = self.model.ln_final(resid_end[:, None, :])[:, 0]
        W_U, b_U = self.model.W_U, self.model.b_U
        if ids is None:
            return x @ W_U + b_U
        cols = W_U[:, ids.reshape(-1)].T.reshape(*ids.shape, -1)  # [batch, k, d_model]
        return torch.einsum("bd,bkd->bk", x, cols) + b_U[ids]

    @contextlib.contextmanager
    def hooks(self, pairs):
        fwd = []
        for site, fn in pairs:
            if self.kv_group > 1 and site.kind in ("k", "v"):
                fn = self._per_query_head(site, fn)
            fwd.append((self.hook_name(site), (lambda fn: lambda act, hook: fn(act))(fn)))
        with self.model.hooks(fwd_hooks=fwd):
            yield

    def _per_query_head(self, site: Site, fn: Callable[[Tensor], Tensor | None]) -> Callable[[Tensor], Tensor]:
        """Wrap ``fn`` so that it sees a grouped ``k``/``v`` activation ``[batch, pos, n_kv_heads, d_head]`` as one
        head per query head ``[batch, pos, n_heads, d_head]``, and fold its result back into the groups.

        Raises:
            FamilyError: (when the hook fires) if ``fn`` gives two query heads of one group different values.
        """
        g, n_kv = self.kv_group, self.n_kv_heads

        def grouped(act: Float[Tensor, "batch pos n_kv d_head"]) -> Float[Tensor, "batch pos n_kv d_head"]:
            full = act.repeat_interleave(g, dim=2)
            out = fn(full)
            out = full if out is None else out
            per_group = out.unflatten(2, (n_kv, g))                              # [batch, pos, n_kv, g, d_head]
            first = per_group[:, :, :, :1]
            if not torch.allclose(per_group, first.expand_as(per_group), rtol=0.0, atol=0.0, equal_nan=True):
                raise FamilyError(
                    f"{self.label!r} uses grouped-query attention ({self.n_heads} query heads share {n_kv} key/value "
                    f"heads, {g} per group) and a patch of {site} gives query heads of one group different values: "
                    "in this model a head's key or value cannot change without its group's. Load the pair with its "
                    "key/value heads ungrouped (register_hf_pair(..., ungroup_gqa=True), the default; 'hf:' pairs "
                    "always are) to patch one head's k/v, or patch whole groups")
            return first[:, :, :, 0]
        return grouped

    # weights (compatibility mode: LayerNorm weights folded into the next matrices, so the norms only normalise)
    def token_embeddings(self, ids):
        return self.model.W_E[torch.as_tensor(list(ids), dtype=torch.long, device=self.device)]

    def mlp_on(self, layer, x):
        block = self.model.blocks[layer]
        return block.mlp(block.ln2(x))

    def attn_in(self, layer, x):
        return self.model.blocks[layer].ln1(x)

    def attn_weights(self, layer):
        """``W_V`` ``[head, d_model, d_head]``, ``W_O`` ``[head, d_head, d_model]``, ``b_V`` ``[head, d_head]`` and,
        unless the model is rotary, ``W_Q``, ``W_K``, ``b_Q``, ``b_K``, one entry per *query* head (a grouped-query
        model's key/value weights repeated over their group); biases the model lacks (Llama) are zeros.

        Raises:
            FamilyError: when asked for ``W_Q``/``W_K``/``b_Q``/``b_K`` of a rotary model (their product is not the
                head's QK circuit: it depends on the query-key offset).
        """
        m = self.model

        def per_query_head(name: str, kv: bool) -> Tensor:
            w = getattr(m, name, None)                    # bias-free projections raise AttributeError: None here
            if w is None:
                if not name.startswith("b_"):
                    raise FamilyError(f"{self.label!r} ({self.architecture}) exposes no {name}")
                return torch.zeros(self.n_heads, self.d_head, device=self.device, dtype=m.W_V.dtype)
            w = w[layer]
            return w.repeat_interleave(self.kv_group, dim=0) if kv and self.kv_group > 1 else w

        weights = {"W_V": per_query_head("W_V", True), "W_O": m.W_O[layer], "b_V": per_query_head("b_V", True)}
        reason = ""
        if self.rotary:
            reason = (f"{self.label!r} ({self.architecture}) uses rotary position embeddings, so a head's QK circuit "
                      "depends on the offset between query and key and is not W_Q·W_Kᵀ; read its attention "
                      "patterns (Site('pattern', layer)) instead. The OV circuit (W_V, W_O) is available")
        else:
            weights.update({"W_Q": m.W_Q[layer], "W_K": per_query_head("W_K", True),
                            "b_Q": per_query_head("b_Q", False), "b_K": per_query_head("b_K", True)})
        return _AttnWeights(weights, reason)

    def direct_logits(self, stack, resid_final, ids):
        if self.norm == "RMS":   # RMSNorm: no centring, and the bridge leaves RMS models' writing weights uncentred
            scale = (resid_final.pow(2).mean(-1, keepdim=True) + self.eps).sqrt()          # [batch, pos, 1]
            terms = stack / scale.to(stack.dtype)
        else:
            centred = resid_final - resid_final.mean(-1, keepdim=True)
            scale = (centred.pow(2).mean(-1, keepdim=True) + self.eps).sqrt()              # [batch, pos, 1]
            terms = (stack - stack.mean(-1, keepdim=True)) / scale.to(stack.dtype)
        cols = self.model.W_U[:, ids.reshape(-1).to(self.device)].T.reshape(*ids.shape, -1).to(stack)  # [b, k, d]
        return torch.einsum("...bpd,bkd->...bpk", terms, cols)

    def output_of_residual(self, x, ids):
        return self.model.ln_final(x) @ self.model.W_U[:, list(ids)]

    # ----------------------------------------------------------------------------------------- family check
    def check_blockwise_forward(self, tokens: Int[Tensor, "batch pos"] | None = None) -> float:
        """Check that this adapter can run the model: every site's hook exists, the block-by-block forward
        (:meth:`embed`, :meth:`block` for each layer, :meth:`logits_at` at every position) equals the bridge's own
        forward on ``tokens`` (default: one probe prompt of 8 token ids), and block 0 equals its
        :meth:`attention_part` then :meth:`mlp_part` (the split the engine's shortcuts rely on). The bridge-booted
        pairs of :func:`~dcirc_utils.models.byo.register_hf_pair` are checked with it when they load.

        Returns:
            The largest absolute logit difference found.

        Raises:
            FamilyError: naming the missing hooks, or the family's features that the block-by-block forward does not
                reproduce (e.g. ALiBi biases, sliding-window masks, logit soft-capping, parallel attention and MLP).
        """
        names = set(self.model.hook_dict)
        missing = [f"{kind}: {self.hook_name(Site(kind, 0))}" for kind in self._HOOKS
                   if self.hook_name(Site(kind, 0)) not in names]
        if missing:
            raise FamilyError(f"{self.label!r} ({self.architecture}): the bridge exposes no hook for the sites "
                              f"{missing}; DecoderAdapter needs all of {sorted(self._HOOKS)}")
        if tokens is None:
            tokens = self.probe_tokens()
        tokens = check_tokens(tokens).to(self.device)
        cfg = self.model.cfg
        suspects = [f"{k}={getattr(cfg, k)!r}" for k in ("positional_embedding_type", "parallel_attn_mlp",
                                                          "output_logits_soft_cap", "window_size", "use_local_attn",
                                                          "attn_types")
                    if getattr(cfg, k, None) not in (None, False, "standard", "rotary", -1.0)]
        needs = ("DecoderAdapter hands each block only the residual stream (and rotary position embeddings) and reads "
                 "a linear unembedding; this model needs something else (e.g. ALiBi biases, sliding-window masks, "
                 "per-layer rotary, logit soft-capping)" + (f"; its config sets {', '.join(suspects)}" if suspects
                                                             else "")
                 + ". Use a pair of a supported family (GPT-2, Llama, Qwen2 and their kin)")
        with torch.inference_mode():
            ref = self.model(tokens).float()                                                # [batch, pos, vocab]
            try:
                x = self.run_blocks(tokens)
            except Exception as err:  # noqa: BLE001 - any failure of a lone block means the same thing
                raise FamilyError(f"{self.label!r} ({self.architecture}): its blocks cannot be run one by one "
                                  f"({type(err).__name__}: {err}). " + needs) from err
            ours = self.logits_at(x.reshape(-1, x.shape[-1])).reshape(ref.shape).float()
        worst = float((ours - ref).abs().max())
        tol = (1e-4 if self.model.W_U.dtype == torch.float32 else 3e-2) * max(1.0, float(ref.abs().max()))
        if not worst <= tol:
            raise FamilyError(
                f"{self.label!r} ({self.architecture}): the block-by-block forward (embed, blocks "
                f"0..{self.n_layers - 1}, final norm, unembedding) differs from the bridge's own forward by "
                f"{worst:.3g} (tolerance {tol:.3g}), so the engine's restarts at a layer would be wrong for this "
                "family. " + needs)
        with torch.inference_mode():   # the split the engine relies on: attention part, then MLP part, = the block
            x0 = self.embed(tokens)
            split = float((self.mlp_part(0, self.attention_part(0, x0)) - self.block(0, x0)).abs().max())
        if not split <= tol:
            raise FamilyError(
                f"{self.label!r} ({self.architecture}): block 0 run as attention (ln1, attn) then MLP (ln2, mlp) "
                f"differs from the block by {split:.3g} (tolerance {tol:.3g}): the block is not pre-norm "
                "resid + attn(ln1(resid)) then + mlp(ln2(.)) (e.g. parallel attention and MLP). " + needs)
        return worst
