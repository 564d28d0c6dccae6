"""tracr's compiled transformers behind the adapter interface: circuits whose ground truth is known by construction.

`tracr <https://github.com/google-deepmind/tracr>`_ compiles a RASP program into transformer weights: each RASP
operation becomes an attention head (``Aggregate``, ``SelectorWidth``'s attention) or an MLP (``Map``,
``SequenceMap``, ``SelectorWidth``'s lookup table), and every value lives in its own named directions of the
residual stream (one-hot for categorical values). So which heads and MLPs a program uses, and which of them reads
what another writes, can be read off the weights.

**How.** TransformerLens 4.3 has no ``HookedTransformer`` (the old ``Tracr_to_Transformer_Lens_Demo`` built one),
but it converts tracr models for its ``TransformerBridge``: ``transformer_lens.utilities.tracr`` builds a bridge
config and a state dict from a compiled model, and ``TransformerBridge.boot_native`` builds the bridge (a TL-native
transformer: no LayerNorm, ReLU MLPs, ``softmax(QKᵀ/√d_head)`` attention, bidirectional unless tracr compiled a
causal model, token and position embeddings copied from tracr's one-hot embeddings, a linear unembedding that reads
the output variable's directions). :func:`load_tracr` does that and boots it in compatibility mode **without weight
processing** (``no_processing=True``): the default processing centres the writing weights, which is only a no-op for
a model with LayerNorm, and changes a tracr model's residual stream (measured on ``make_length`` while this adapter
was written: outputs moved by up to 0.17). :class:`TracrAdapter` is a
:class:`~dcirc_utils.models.decoder.DecoderAdapter` (so the hook names stay there) with what a tracr model changes:
no norm (direct logit attribution is linear), no fused kernels (they assume LayerNorm and causal attention),
attention bidirectional. :func:`load_tracr` checks that the bridge holds tracr's own weights (TL's
``load_state_dict`` reports the MLP weights as missing even when their aliases were written) and that its
block-by-block forward equals the bridge's.

**The grid.** tracr's assembler gives each of its layers an attention sublayer then an MLP sublayer (craft blocks
are placed in the next free sublayer of the right kind; the skipped ones stay zero), which is the engine's block:
block ``l`` is tracr's ``layer_l`` (attention sublayer ``2l``, MLP sublayer ``2l+1``); head ``h`` is the ``h``-th head
of tracr's multi-head block (layers with fewer heads than ``n_heads`` are padded with zero heads). Unused parts are
components with zero weights: ablating them changes nothing.

**The readout.** The "logits" are the residual stream's coordinates on the output variable's directions (one per
output value, in tracr's output-encoder order), read at the last position (tracr's program output at that token);
for a categorical program they are ≈ one-hot, so the logit difference of the correct value over the corrupted
prompt's value is ≈ 1 on a clean prompt and ≈ −1 on a corrupted one.

:func:`component_io` lists, for every head and MLP, the residual directions each of its inputs reads (``q``, ``k``,
``v``, ``mlp_in``) and those it writes (from the nonzero rows and columns of its weights): the ground truth of
``dcirc_utils.studies.tracr_truth``.

tracr, JAX and Haiku are an optional extra (``pip install tracr-pypi jax``); only :func:`compile_program` imports
them. Used by ``dcirc_utils.studies.tracr_truth`` and ``tests/integration/test_tracr.py``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from ..core.components import Component
from .adapters import FamilyError
from .decoder import DecoderAdapter

__all__ = ["TracrAdapter", "TracrModel", "ComponentIO", "load_tracr", "compile_program", "component_io",
           "TRACR_MISSING"]

#: what to install when tracr is absent (the ``tracr`` extra)
TRACR_MISSING = ("tracr and JAX are not installed: `pip install tracr-pypi jax` (CPU JAX is enough; the pins are "
                 "in constraints.txt and the `tracr` extra)")


class TracrAdapter(DecoderAdapter):
    """A tracr model as a TransformerLens bridge (see the module docstring): a decoder adapter without norm and
    without fused kernels, whose attention is bidirectional unless tracr compiled a causal model."""

    def __init__(self, bridge: torch.nn.Module, causal: bool, label: str = "tracr"):
        super().__init__(bridge, tokenizer=None, label=label)
        self.causal = causal

    def _check_fused(self) -> bool:
        return False          # the fused kernels apply LayerNorm and causal masks: not this family's blocks

    def direct_logits(self, stack, resid_final, ids):
        """No final norm: each residual term's direct contribution is its projection on the output directions."""
        cols = self.model.W_U[:, ids.reshape(-1).to(self.device)].T.reshape(*ids.shape, -1).to(stack)   # [b, k, d]
        return torch.einsum("...bpd,bkd->...bpk", stack, cols)


@dataclass(frozen=True)
class ComponentIO:
    """The residual directions a component reads and writes (labels of ``TracrModel.residual_labels``).

    Attributes:
        reads: per input (``"q"``, ``"k"``, ``"v"`` for a head, ``"mlp_in"`` for an MLP), the labels with a nonzero
            row in that input's weight matrix.
        informative: per input, the *variables* (``"hist_3"``, not ``"hist_3:2"``) whose value changes that input:
            a categorical variable whose directions have rows that are not all equal, a one-direction (numerical)
            variable whose row is nonzero. A categorical variable read through equal rows adds the same vector
            whatever its value (tracr wires a selector's query to its variable even when the predicate ignores the
            query, e.g. ``lambda k, q: k <= 2``): it is read, but carries no information.
        writes: the labels with a nonzero column in the component's output matrix.
    """

    reads: dict[str, frozenset[str]]
    informative: dict[str, frozenset[str]]
    writes: frozenset[str]

    @property
    def empty(self) -> bool:
        """Whether the component writes nothing (a padding head or an unused sublayer)."""
        return not self.writes


@dataclass(frozen=True)
class TracrModel:
    """A compiled tracr program loaded for the engine.

    Attributes:
        adapter: the :class:`TracrAdapter` (what :class:`~dcirc_utils.engine.Engine` takes).
        name: the program's name (for tables).
        output_label: the residual label of the program's output variable (e.g. ``"sort_3"``).
        residual_labels: tracr's label of each residual direction (``"tokens:a"``, ``"sort_3:4"``, ``"one"``...).
        input_values: the token value of each input id (``input_values[id]``; BOS and PAD included).
        output_values: the output value of each readout column.
        bos: tracr's BOS token value (always first in a prompt).
        compile_seconds: how long tracr took to compile the program (0 when loaded from a compiled model).
        assembled: tracr's own compiled model (its JAX forward is the reference).
    """

    adapter: TracrAdapter
    name: str
    output_label: str
    residual_labels: tuple[str, ...]
    input_values: tuple[Any, ...]
    output_values: tuple[Any, ...]
    bos: Any
    compile_seconds: float = 0.0
    assembled: Any = field(default=None, repr=False, compare=False)

    def encode(self, values: Sequence[Any]) -> list[int]:
        """Token ids of one prompt: BOS, then ``values``.

        Raises:
            ValueError: for a value outside the program's vocabulary, or a prompt longer than the model's context.
        """
        ids = {v: i for i, v in enumerate(self.input_values)}
        bad = [v for v in values if v not in ids or v == self.bos]
        if bad:
            raise ValueError(f"{bad[0]!r} is not in {self.name!r}'s vocabulary "
                             f"{[v for v in self.input_values if v != self.bos]}: build prompts from those values "
                             "(BOS is prepended by encode)")
        n_ctx = self.adapter.model.cfg.n_ctx
        if len(values) + 1 > n_ctx:
            raise ValueError(f"a prompt of {len(values)} values plus BOS exceeds {self.name!r}'s context of {n_ctx}: "
                             "compile the program with a larger max_seq_len")
        return [ids[self.bos]] + [ids[v] for v in values]

    def tokens(self, prompts: Sequence[Sequence[Any]]) -> Int[Tensor, "batch pos"]:
        """``[batch, pos]`` token ids of equal-length prompts (each without BOS; :meth:`encode` adds it)."""
        rows = [self.encode(p) for p in prompts]
        if len({len(r) for r in rows}) != 1:
            raise ValueError("prompts of different lengths: the engine patches position by position, so every prompt "
                             "of a set (clean and corrupted) must have the same length")
        return torch.tensor(rows, dtype=torch.long)

    def output_index(self, value: Any) -> int:
        """The readout column of output ``value``."""
        try:
            return self.output_values.index(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an output value of {self.name!r}: {list(self.output_values)}") from None

    def label_variable(self, label: str) -> str:
        """The variable a residual label belongs to (``"sort_3:4"`` → ``"sort_3"``, ``"one"`` → ``"one"``)."""
        return label.rsplit(":", 1)[0] if ":" in label else label


def load_tracr(assembled, output_label: str, name: str = "tracr", compile_seconds: float = 0.0,
               device: torch.device | str = "cpu") -> TracrModel:
    """A compiled tracr model (``tracr.compiler.compiling.compile_rasp_to_model``'s result) as a :class:`TracrModel`,
    converted by TransformerLens (see the module docstring) and checked: every weight equals tracr's, and the
    block-by-block forward equals the bridge's.

    Args:
        assembled: tracr's ``AssembledTransformerModel``.
        output_label: the program's label (``program.label``): the residual variable read out.
        name: a short name for tables.

    Raises:
        FamilyError: for a program with a numerical output (TransformerLens converts categorical outputs only), a
            model compiled with LayerNorm, or weights the bridge did not take.
    """
    from transformer_lens.model_bridge import TransformerBridge
    from transformer_lens.utilities import tracr as tl_tracr

    if getattr(assembled.output_encoder, "encoding_map", None) is None:
        raise FamilyError(f"{name!r} has a numerical output; TransformerLens's tracr converter reads categorical "
                          "outputs only: compile a program whose output is categorical (rasp.categorical)")
    if assembled.model_config.layer_norm:
        raise FamilyError(f"{name!r} was compiled with layer_norm=True, which TransformerLens's converter does not "
                          "support: compile without it (tracr's default)")
    cfg = tl_tracr.make_tracr_transformer_bridge_config(assembled)
    bridge = TransformerBridge.boot_native(cfg, device=torch.device(device))
    bridge.load_state_dict(tl_tracr.make_tracr_transformer_bridge_state_dict(assembled, output_label), strict=False)
    bridge.enable_compatibility_mode(no_processing=True, disable_warnings=True)
    bridge.eval()
    for p in bridge.parameters():
        p.requires_grad_(False)
    adapter = TracrAdapter(bridge, causal=bool(assembled.model_config.causal), label=name)
    _check_weights(adapter, assembled, output_label, name)
    adapter.check_blockwise_forward(adapter.probe_tokens(min(8, cfg.n_ctx)))
    enc = assembled.input_encoder.encoding_map
    out = assembled.output_encoder.encoding_map
    return TracrModel(adapter=adapter, name=name, output_label=output_label,
                      residual_labels=tuple(assembled.residual_labels),
                      input_values=tuple(sorted(enc, key=enc.get)), output_values=tuple(sorted(out, key=out.get)),
                      bos=assembled.input_encoder.bos_token, compile_seconds=compile_seconds, assembled=assembled)


def _check_weights(adapter: TracrAdapter, assembled, output_label: str, name: str) -> None:
    """Raise :class:`FamilyError` unless every weight of the bridge equals tracr's (biases included)."""
    from transformer_lens.utilities import tracr as tl_tracr
    P = {k: {p: np.asarray(v) for p, v in d.items()} for k, d in assembled.params.items()}
    m, H, dh = adapter.model, adapter.n_heads, adapter.d_head
    t = lambda a: torch.tensor(np.array(a, dtype=np.float32))  # noqa: E731  (a writable copy)
    pairs = [("W_E", m.W_E, t(P["token_embed"]["embeddings"])), ("W_pos", m.W_pos, t(P["pos_embed"]["embeddings"])),
             ("W_U", m.W_U, t(tl_tracr.make_tracr_categorical_unembed(assembled, output_label))),
             ("b_U", m.b_U, torch.zeros(m.b_U.shape))]
    for l in range(adapter.n_layers):
        pre = f"transformer/layer_{l}"
        split_in = lambda w: t(w).reshape(-1, H, dh).permute(1, 0, 2)  # noqa: E731  [d, H·dh] -> [H, d, dh]
        for ours, theirs in (("Q", "query"), ("K", "key"), ("V", "value")):
            pairs += [(f"W_{ours}[{l}]", getattr(m.blocks[l].attn, f"W_{ours}"),
                       split_in(P[f"{pre}/attn/{theirs}"]["w"])),
                      (f"b_{ours}[{l}]", getattr(m.blocks[l].attn, f"b_{ours}"),
                       t(P[f"{pre}/attn/{theirs}"]["b"]).reshape(H, dh))]
        pairs += [(f"W_O[{l}]", m.blocks[l].attn.W_O, t(P[f"{pre}/attn/linear"]["w"]).reshape(H, dh, -1)),
                  (f"b_O[{l}]", m.blocks[l].attn.b_O, t(P[f"{pre}/attn/linear"]["b"])),
                  (f"W_in[{l}]", m.blocks[l].mlp.W_in, t(P[f"{pre}/mlp/linear_1"]["w"])),
                  (f"b_in[{l}]", m.blocks[l].mlp.b_in, t(P[f"{pre}/mlp/linear_1"]["b"])),
                  (f"W_out[{l}]", m.blocks[l].mlp.W_out, t(P[f"{pre}/mlp/linear_2"]["w"])),
                  (f"b_out[{l}]", m.blocks[l].mlp.b_out, t(P[f"{pre}/mlp/linear_2"]["b"]))]
    bad = [n for n, ours, theirs in pairs
           if tuple(ours.shape) != tuple(theirs.shape) or not torch.equal(ours.detach().float().cpu(), theirs)]
    if bad:
        raise FamilyError(f"{name!r}: the TransformerLens bridge does not hold tracr's weights for {bad}: the "
                          "converter (transformer_lens.utilities.tracr) or boot_native changed; check the pinned "
                          "transformer-lens version")


def compile_program(program, vocab: set, max_seq_len: int, name: str | None = None, causal: bool = False,
                    device: torch.device | str = "cpu") -> TracrModel:
    """Compile a RASP ``program`` with tracr (BOS token ``"BOS"``) and load it with :func:`load_tracr`; the compile
    time is kept as ``compile_seconds``.

    Raises:
        ImportError: naming the install command when tracr or JAX is missing.
    """
    try:
        from tracr.compiler import compiling
    except ImportError as err:
        raise ImportError(TRACR_MISSING) from err
    start = time.perf_counter()
    assembled = compiling.compile_rasp_to_model(program, vocab=set(vocab), max_seq_len=max_seq_len, causal=causal,
                                                compiler_bos="BOS")
    seconds = time.perf_counter() - start
    return load_tracr(assembled, program.label, name=name or program.label, compile_seconds=seconds, device=device)


def component_io(model: TracrModel, atol: float = 0.0) -> dict[Component, ComponentIO]:
    """What each head and MLP reads and writes, as residual labels (nonzero rows of ``W_Q``, ``W_K``, ``W_V``,
    ``W_in``; nonzero columns of ``W_O``, ``W_out``; entries with ``|w| > atol``), and which variables inform each
    input (:class:`ComponentIO`). Every component of the grid is listed, the empty ones (zero weights) with nothing
    read or written."""
    ad, labels = model.adapter, list(model.residual_labels)
    variables: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        variables.setdefault(model.label_variable(lab), []).append(i)

    def io(mats: dict[str, Tensor], W_out: Tensor) -> ComponentIO:
        """``mats``: per input ``[d_model, k]``; ``W_out``: ``[k, d_model]``."""
        writes = frozenset(lab for lab, w in zip(labels, (W_out.abs().amax(0) > atol).tolist()) if w)
        if not writes:
            return ComponentIO({k: frozenset() for k in mats}, {k: frozenset() for k in mats}, writes)
        reads, informative = {}, {}
        for kind, W in mats.items():
            W = W.float().cpu()
            nonzero = (W.abs().amax(-1) > atol).tolist()
            reads[kind] = frozenset(lab for lab, r in zip(labels, nonzero) if r)
            informative[kind] = frozenset(
                v for v, rows in variables.items() if any(nonzero[i] for i in rows) and (
                    len(rows) == 1 or bool((W[rows] - W[rows[0]]).abs().max() > atol)))
        return ComponentIO(reads, informative, writes)

    out: dict[Component, ComponentIO] = {}
    for l in range(ad.n_layers):
        w = ad.attn_weights(l)
        for h in range(ad.n_heads):
            out[Component(l, h)] = io({k: w[f"W_{k.upper()}"][h] for k in "qkv"}, w["W_O"][h])
        mlp = ad.model.blocks[l].mlp
        out[Component(l)] = io({"mlp_in": mlp.W_in}, mlp.W_out)
    return out
