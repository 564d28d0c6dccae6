"""Model families behind one interface: the model adapters are the only code that knows hook names, LayerNorm
placement, the readout position and the output head of a model.

Everything above this layer (the engine, every analysis, the notebooks) talks to a :class:`ModelAdapter`: it asks
for activations by :class:`~dcirc_utils.core.components.Site` (``Site("z", 3)``, ``Site("pattern", 0)``...), runs
the model block by block, and reads logits at the answer position. A new family is one subclass, in a module of
its own:

* :class:`~dcirc_utils.models.decoder.DecoderAdapter` (:mod:`~dcirc_utils.models.decoder`) — decoder-only models
  booted as TransformerLens ``TransformerBridge`` in compatibility mode: GPT-2, the offline pairs, and Llama- and
  Qwen2-style models.
* :class:`~dcirc_utils.models.encoder.EncoderAdapter` (:mod:`~dcirc_utils.models.encoder`) — BERT and DistilBERT.

This module holds the interface itself, :class:`FamilyError` and the token check every family shares.

Used by every notebook through :class:`dcirc_utils.models.pairs.ModelPair`.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..core.components import SITE_KINDS, Site

__all__ = ["ModelAdapter", "FamilyError", "check_tokens"]


class FamilyError(TypeError):
    """An analysis was asked of a model family that cannot do it (e.g. direct logit attribution through a
    nonlinear output head); the message says which family can."""


def check_tokens(tokens: Tensor) -> Tensor:
    """``tokens`` if it is an integer tensor ``[batch, pos]``, else ValueError naming the fix."""
    if not isinstance(tokens, Tensor) or tokens.ndim != 2 or tokens.dtype not in (torch.long, torch.int32):
        raise ValueError(f"tokens must be an integer tensor [batch, pos], got {getattr(tokens, 'shape', type(tokens))}"
                         f" {getattr(tokens, 'dtype', '')}: pass PromptSet.tokens(tokenizer)")
    return tokens


class ModelAdapter:
    """What the engine and the analyses need of a model, whatever its family (notebooks 01–08).

    Attributes:
        model: the wrapped ``torch.nn.Module`` (its parameters are what weight noise perturbs).
        tokenizer: the model's Hugging Face tokenizer.
        family: ``"decoder"`` or ``"encoder"``.
        causal: whether attention is causal.
        n_layers, n_heads, d_model, d_head, d_vocab: the model's shape.
        label: a short name for tables and figures.
    """

    family: str = "?"
    causal: bool = True

    def __init__(self, model: torch.nn.Module, tokenizer, label: str = "model"):
        self.model = model
        self.tokenizer = tokenizer
        self.label = label

    # ----------------------------------------------------------------------------------------- identity
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.label!r}: {self.n_layers} layers × {self.n_heads} heads, "
                f"d_model={self.d_model})")

    def require(self, family: str, what: str) -> None:
        """Raise :class:`FamilyError` unless this adapter is of ``family`` (``what`` names the analysis)."""
        if self.family != family:
            raise FamilyError(f"{what} is defined for {family} models, but {self.label!r} is a {self.family}: "
                              f"use the {family} pair (e.g. DCIRC_PAIR=small for decoders, DCIRC_PAIR=bert-small for "
                              "encoders) or the analysis written for this family")

    # ----------------------------------------------------------------------------------------- running
    def hook_name(self, site: Site) -> str:
        """The library's name of ``site`` in this model."""
        raise NotImplementedError

    def embed(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        """The residual stream entering block 0."""
        raise NotImplementedError

    def block(self, layer: int, resid: Float[Tensor, "batch pos d_model"],
              hooked: bool = True) -> Float[Tensor, "batch pos d_model"]:
        """Block ``layer`` applied to the residual stream. Hooks installed by :meth:`hooks` fire inside; with
        ``hooked=False`` (the caller has installed none on this layer) a family may run fused kernels instead."""
        raise NotImplementedError

    def logits_at(self, resid_end: Float[Tensor, "batch d_model"],
                  ids: Int[Tensor, "batch k"] | None = None) -> Float[Tensor, "batch k"]:
        """Logits of ``ids`` (per row), or of the whole vocabulary when ``ids`` is ``None``, from the final
        residual stream at the answer position."""
        raise NotImplementedError

    def readout_positions(self, tokens: Int[Tensor, "batch pos"]) -> Int[Tensor, "batch"]:
        """The position of each prompt where the answer is read."""
        raise NotImplementedError

    @contextlib.contextmanager
    def hooks(self, pairs: Sequence[tuple[Site, Callable[[Tensor], Tensor | None]]]):
        """Install ``fn(activation) -> activation`` on each site for the duration of a ``with`` block."""
        raise NotImplementedError
        yield  # pragma: no cover

    # ----------------------------------------------------------------------------------------- shared helpers
    def check_site(self, site: Site) -> Site:
        """``site`` checked against :data:`SITE_KINDS` and the model's layers."""
        if not isinstance(site, Site):
            raise ValueError(f"{site!r} is not a Site: ask for activations as Site(kind, layer), e.g. Site('z', 3)")
        if site.kind not in SITE_KINDS:
            raise ValueError(f"unknown site kind {site.kind!r}; known kinds: {SITE_KINDS}")
        if site.kind == "resid_final":
            if site.layer is not None:
                raise ValueError("Site('resid_final') takes no layer")
        elif site.layer is None or not 0 <= site.layer < self.n_layers:
            raise ValueError(f"{site} needs a layer in 0..{self.n_layers - 1} ({self.label} has {self.n_layers})")
        return site

    def site_layer(self, site: Site) -> int:
        """The block whose forward produces ``site`` (``n_layers`` for the final residual stream)."""
        return self.n_layers if site.layer is None else site.layer

    def run_blocks(self, tokens: Int[Tensor, "batch pos"], stop: int | None = None) -> Float[Tensor, "batch pos d"]:
        """Embed and run blocks ``0 .. stop-1`` (all by default); the residual stream after them."""
        x = self.embed(tokens)
        for layer in range(self.n_layers if stop is None else stop):
            x = self.block(layer, x)
        return x

    def probe_tokens(self, n: int = 8) -> Int[Tensor, "1 n"]:
        """A fixed probe prompt of ``n`` token ids on the model's device (the checks run when a model loads)."""
        return ((torch.arange(n)[None] * 7 + 3) % min(self.d_vocab, 1000)).to(self.device)

    def probe_logits(self) -> Float[Tensor, "n d_vocab"]:
        """The logits at every position of :meth:`probe_tokens`, block by block (the pairs' loaders check that
        they are finite)."""
        with torch.inference_mode():
            x = self.run_blocks(self.probe_tokens())
            return self.logits_at(x.reshape(-1, x.shape[-1]))

    def capture_unpatched(self, tokens: Int[Tensor, "batch pos"], sites: Iterable[Site],
                          batch_size: int = 128) -> dict[Site, Tensor]:
        """Activations of ``sites`` on ``tokens``, unpatched, as float32 CPU tensors ``[batch, ...]`` (the engine's
        :meth:`~dcirc_utils.engine.Engine.capture` is the one under patches, on its own prompts): the one batched
        capture routine of the package (attention patterns for notebook 03, MLP outputs for 04, the residual stream
        for logit attribution). Runs only the blocks it needs and never the output head.

        Raises:
            ValueError: for a malformed ``tokens`` tensor or site.
        """
        tokens = check_tokens(tokens)
        sites = [self.check_site(s) for s in dict.fromkeys(sites)]
        if not sites:
            return {}
        stop = max(self.site_layer(s) + (0 if s.kind == "resid_final" else 1) for s in sites)
        out: dict[Site, list[Tensor]] = {s: [] for s in sites}
        inner = [s for s in sites if s.kind != "resid_final"]
        store: dict[Site, Tensor] = {}

        def saver(site):
            def save(act):
                store[site] = act.detach()
                return act
            return save

        with torch.inference_mode(), self.hooks([(s, saver(s)) for s in inner]):
            for start in range(0, tokens.shape[0], batch_size):
                store.clear()
                x = self.run_blocks(tokens[start:start + batch_size].to(self.device), stop)
                for s in inner:
                    out[s].append(store[s].float().cpu())
                if Site("resid_final") in out:
                    out[Site("resid_final")].append(x.float().cpu())
        return {s: torch.cat(v) for s, v in out.items()}

    def readout_logits(self, tokens: Int[Tensor, "batch pos"], ids: Int[Tensor, "batch k"] | None = None,
                       batch_size: int = 128) -> Float[Tensor, "batch k"]:
        """Logits at each prompt's answer position (of ``ids``, or the whole vocabulary), float32 on the CPU
        (``methods.evaluation``, notebooks 01 and 05)."""
        tokens = check_tokens(tokens)
        out = []
        with torch.inference_mode():
            for start in range(0, tokens.shape[0], batch_size):
                chunk = tokens[start:start + batch_size].to(self.device)
                x = self.run_blocks(chunk)
                end = x[torch.arange(x.shape[0], device=x.device), self.readout_positions(chunk).to(x.device)]
                sub = None if ids is None else ids[start:start + batch_size].to(self.device)
                out.append(self.logits_at(end, sub).float().cpu())
        return torch.cat(out)

    # ----------------------------------------------------------------------------------------- split blocks
    #: whether a block splits into :meth:`attention_part` then :meth:`mlp_part` (pre-norm blocks whose attention
    #: output is ``Σ_h z_h W_O[h] + b_O``): what lets the engine update an ablated head's layer by that head's output
    #: delta and compute the last layer at the answer position only. Families without it run whole blocks.
    splits_blocks: bool = False

    def attention_part(self, layer: int, resid: Float[Tensor, "batch pos d_model"]
                       ) -> Float[Tensor, "batch pos d_model"]:
        """The residual stream after block ``layer``'s attention (``resid_mid``); hooks on ``q``, ``k``, ``v``,
        ``pattern`` and ``z`` fire inside. Only for families with :attr:`splits_blocks`."""
        raise NotImplementedError

    def mlp_part(self, layer: int, resid_mid: Float[Tensor, "batch pos d_model"],
                 hooked: bool = True) -> Float[Tensor, "batch pos d_model"]:
        """The residual stream after block ``layer``'s MLP, from its ``resid_mid``; hooks on ``mlp_in`` and
        ``mlp_out`` fire inside (``hooked=False``: none installed, fused kernels allowed). Only for families with
        :attr:`splits_blocks`."""
        raise NotImplementedError

    def head_out_weights(self, layer: int) -> Float[Tensor, "n_heads d_head d_model"]:
        """``W_O`` of block ``layer``: head ``h`` adds ``z_h @ W_O[h]`` to the residual stream."""
        raise NotImplementedError

    def readout_block(self, layer: int, resid: Float[Tensor, "batch pos d_model"],
                      positions: Int[Tensor, "batch"]) -> Float[Tensor, "batch d_model"]:
        """Block ``layer``'s output at one position per row (``positions``) only: keys and values at every position,
        the rest at one. Used by the engine for the last layer when nothing is patched or captured there (a family
        may run it on fused kernels without hook points). Only for families with :attr:`splits_blocks`."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------------------- weights
    def token_embeddings(self, ids: Sequence[int]) -> Float[Tensor, "n d_model"]:
        """Rows of the token embedding for ``ids``."""
        raise NotImplementedError

    def mlp_on(self, layer: int, x: Float[Tensor, "... d_model"]) -> Float[Tensor, "... d_model"]:
        """What MLP ``layer`` writes when its block's residual input is ``x`` (its input norm included)."""
        raise NotImplementedError

    def attn_in(self, layer: int, x: Float[Tensor, "... d_model"]) -> Float[Tensor, "... d_model"]:
        """What attention ``layer`` reads when its block's residual input is ``x`` (its input norm applied)."""
        raise NotImplementedError

    def attn_weights(self, layer: int) -> dict[str, Tensor]:
        """``W_Q, W_K, W_V`` ``[head, d_model, d_head]``, ``W_O`` ``[head, d_head, d_model]``, ``b_Q, b_K, b_V``
        ``[head, d_head]`` of one layer, as the forward pass uses them."""
        raise NotImplementedError

    def direct_logits(self, stack: Float[Tensor, "... batch pos d_model"],
                      resid_final: Float[Tensor, "batch pos d_model"],
                      ids: Int[Tensor, "batch k"]) -> Float[Tensor, "... batch pos k"]:
        """Direct contribution of each stacked residual-stream term to the logits of ``ids`` through the output head,
        with the final normalisation's scale frozen at ``resid_final``'s (linear output heads only)."""
        raise NotImplementedError

    def output_of_residual(self, x: Float[Tensor, "... d_model"], ids: Sequence[int]) -> Float[Tensor, "... k"]:
        """Logits of ``ids`` if ``x`` were the whole final residual stream (the OV-circuit readout of notebook 03)."""
        raise NotImplementedError
