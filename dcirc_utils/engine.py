"""The one engine that ablates and patches: many variants per forward pass, each started at the first layer it changes.

Every analysis of the course that removes or patches a component goes through :class:`Engine` (notebooks 02, 05
and 06 through ``discovery``, ``brittleness`` and ``alignment``). A *variant* is a list of :class:`Patch` es (set
this hook's activation, or one head's slice of it, to these values); the engine

* stacks many variants along the batch (chunked to bound memory: ``chunk_rows`` rows per forward),
* starts each chunk at the earliest layer its patches touch, from a cached residual stream of the untouched prefix
  (TransformerBridge's own ``start_at_layer`` still runs the earlier blocks, so the engine drives the blocks itself),
* reads out only the two answer logits at the final position instead of the whole vocabulary.

Components are addressed by hook names as TransformerLens spells them (``blocks.{l}.attn.hook_z``,
``blocks.{l}.hook_mlp_out``, ``blocks.{l}.attn.hook_q``...), through a small adapter
(:class:`BridgeAdapter`) so that another model family only needs an adapter exposing the same names.

Correctness: ``tests/test_engine.py`` compares every result with a naive reference (one ``run_with_hooks`` forward
per variant) and with ``transformer_lens.patching``.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm import tqdm

from .metrics import DegenerateBaselineError, MIN_CLEAN_LOGIT_DIFF

__all__ = ["Component", "Patch", "BridgeAdapter", "Engine", "all_components", "parse_component"]


# --------------------------------------------------------------------------------------------- components
@dataclass(frozen=True, order=True)
class Component:
    """An attention head (``head >= 0``) or the MLP (``head == -1``) of a layer.

    Printed as the study writes them: ``"4.10"`` for layer 4 head 10, ``"MLP3"`` for the MLP of layer 3.
    """

    layer: int
    head: int = -1

    @property
    def is_mlp(self) -> bool:
        return self.head < 0

    @property
    def hook_name(self) -> str:
        """The hook whose output this component writes: ``hook_z`` (one head's slice) or ``hook_mlp_out``."""
        return f"blocks.{self.layer}.hook_mlp_out" if self.is_mlp else f"blocks.{self.layer}.attn.hook_z"

    @property
    def index(self) -> int | None:
        """Index into the hook's head axis (``None`` for an MLP: the whole activation)."""
        return None if self.is_mlp else self.head

    def __str__(self) -> str:
        return f"MLP{self.layer}" if self.is_mlp else f"{self.layer}.{self.head}"

    __repr__ = __str__


def parse_component(text: str) -> Component:
    """``"4.10"`` → head 10 of layer 4; ``"MLP3"`` → MLP of layer 3."""
    m = re.fullmatch(r"\s*(?:MLP\s*(\d+)|(\d+)\.(\d+))\s*", text)
    if not m:
        raise ValueError(f"cannot read component {text!r}: write heads as 'layer.head' (e.g. '4.10') and MLPs as "
                         "'MLP<layer>' (e.g. 'MLP3')")
    return Component(int(m.group(1))) if m.group(1) else Component(int(m.group(2)), int(m.group(3)))


def all_components(n_layers: int, n_heads: int) -> list[Component]:
    """Every head and MLP, layer by layer (heads first, then the MLP)."""
    return [Component(l, h) for l in range(n_layers) for h in list(range(n_heads)) + [-1]]


@dataclass(frozen=True)
class Patch:
    """Set activation ``hook_name`` (or its head ``index``) to ``values`` during a forward pass.

    Attributes:
        hook_name: a TransformerLens hook name, e.g. ``blocks.3.attn.hook_z``.
        index: head index along axis 2 (``hook_z``/``hook_q``/``hook_k``/``hook_v``), or ``None`` for all of it.
        values: broadcastable to the patched slice of one variant: ``[pos, ...]`` (e.g. a mean over prompts) or
            ``[batch, pos, ...]`` (per prompt).
        key: a name for the values (``"mean"``, ``"corrupted"``...): patches are equal when hook, index and key
            are; the engine's prefix cache relies on it.
    """

    hook_name: str
    index: int | None
    values: Tensor = field(compare=False, hash=False, repr=False)
    key: str = "mean"


_LAYER = re.compile(r"blocks\.(\d+)\.")


def hook_layer(hook_name: str) -> int:
    """The block a hook lives in (``blocks.{l}...``)."""
    m = _LAYER.match(hook_name)
    if not m:
        raise ValueError(f"hook {hook_name!r} is not inside a block ('blocks.<layer>.')")
    return int(m.group(1))


# --------------------------------------------------------------------------------------------- adapter
class BridgeAdapter:
    """What the engine needs of a model, for a TransformerLens ``TransformerBridge`` (decoder, residual stream).

    Another model family (the encoder pair) provides the same methods and hook names.
    """

    def __init__(self, model, readout_position: int = -1):
        self.model = model
        self.n_layers: int = model.cfg.n_layers
        self.n_heads: int = model.cfg.n_heads
        self.readout_position = readout_position

    # hook names, as TransformerLens spells them
    def qkv_hook(self, layer: int, kind: str) -> str:
        if kind not in ("q", "k", "v"):
            raise ValueError(f"kind must be 'q', 'k' or 'v', got {kind!r}")
        return f"blocks.{layer}.attn.hook_{kind}"

    def mlp_in_hook(self, layer: int) -> str:
        """The MLP's input (the residual stream entering ``ln2``; patching it changes only the MLP's input)."""
        return f"blocks.{layer}.ln2.hook_in"

    def embed(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        """``blocks.0.hook_resid_pre``."""
        return self.model(tokens, stop_at_layer=0)

    def block(self, layer: int, resid: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        out = self.model.blocks[layer](resid)
        return out[0] if isinstance(out, tuple) else out

    def readout(self, resid_final: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch d_model"]:
        """The final residual stream at the answer position."""
        return resid_final[:, self.readout_position]

    def logits_for(self, resid_end: Float[Tensor, "batch d_model"], ids: Int[Tensor, "batch k"]) -> Float[Tensor, "batch k"]:
        """Logits of the token ids ``ids`` (per row) from the final residual at the answer position."""
        x = self.model.ln_final(resid_end[:, None, :])[:, 0]
        W_U, b_U = self.model.W_U, self.model.b_U
        cols = W_U[:, ids.reshape(-1)].T.reshape(*ids.shape, -1)  # [batch, k, d_model]
        return torch.einsum("bd,bkd->bk", x, cols) + b_U[ids]

    def hooks(self, fwd_hooks):
        return self.model.hooks(fwd_hooks=fwd_hooks)

    def full_logits(self, tokens: Int[Tensor, "batch pos"], fwd_hooks=()) -> Float[Tensor, "batch pos d_vocab"]:
        """The library's own forward (used by the naive reference and checks)."""
        return self.model.run_with_hooks(tokens, fwd_hooks=list(fwd_hooks))


# --------------------------------------------------------------------------------------------- engine
def _default_chunk_rows(device: torch.device, d_model: int) -> int:
    """Rows per forward. Measured on 2 CPU cores: GPT-2 small (d_model 768) runs fastest per row at 16-32 rows,
    the offline pair (d_model 128) at about 200 (below that, per-call overhead dominates); GPUs want large batches."""
    if device.type == "cpu":
        return max(16, 24576 // d_model)
    return max(1024, (2048 * 768) // d_model)


class Engine:
    """Batched mean ablation and activation patching on one model and one prompt set (notebooks 02, 05, 06).

    Args:
        model: a ``TransformerBridge`` (or anything :class:`BridgeAdapter` understands), or an adapter.
        clean_tokens: ``[batch, pos]`` clean prompts.
        corrupted_tokens: ``[batch, pos]`` corrupted prompts (the mean-ablation values are their per-position
            means).
        correct, incorrect: answer token ids ``[batch]``.
        chunk_rows: rows (variants × prompts) per forward; ``None`` picks a size for the device.
        progress: show tqdm bars for long scans.

    Raises:
        ValueError: on an empty prompt set or mismatched shapes.
        DegenerateBaselineError: when the clean Δl is too close to zero for scores to mean anything.
    """

    def __init__(self, model, clean_tokens: Int[Tensor, "batch pos"], corrupted_tokens: Int[Tensor, "batch pos"],
                 correct: Int[Tensor, "batch"], incorrect: Int[Tensor, "batch"], chunk_rows: int | None = None,
                 progress: bool = True, check_baseline: bool = True):
        self.adapter = model if hasattr(model, "logits_for") else BridgeAdapter(model)
        if clean_tokens.ndim != 2 or clean_tokens.shape[0] == 0:
            raise ValueError(f"clean_tokens must be a non-empty [batch, pos] tensor, got shape "
                             f"{tuple(clean_tokens.shape)}: pass at least one prompt")
        if corrupted_tokens.shape != clean_tokens.shape:
            raise ValueError(f"corrupted tokens {tuple(corrupted_tokens.shape)} and clean tokens "
                             f"{tuple(clean_tokens.shape)} differ in shape: corrupt each clean prompt in place")
        if correct.shape != (clean_tokens.shape[0],) or incorrect.shape != correct.shape:
            raise ValueError("pass one correct and one incorrect answer id per prompt")
        self.device = next(self.adapter.model.parameters()).device
        self.tokens = {"clean": clean_tokens.to(self.device), "corrupted": corrupted_tokens.to(self.device)}
        self.answer_ids = torch.stack([correct, incorrect], dim=-1).to(self.device)  # [batch, 2]
        self.n_prompts = clean_tokens.shape[0]
        self.n_layers, self.n_heads = self.adapter.n_layers, self.adapter.n_heads
        self.chunk_rows = chunk_rows or _default_chunk_rows(self.device, self.adapter.model.cfg.d_model)
        self.progress = progress
        self._prefix: dict[tuple, Tensor] = {}
        self.components = all_components(self.n_layers, self.n_heads)
        with torch.inference_mode():
            self.clean_logit_diff = float(self.logit_diffs([[]], progress=False)[0])
            acts = self.capture([c.hook_name for c in self.components if c.head in (0, -1)], which="corrupted")
        if check_baseline and not abs(self.clean_logit_diff) >= MIN_CLEAN_LOGIT_DIFF:
            raise DegenerateBaselineError(
                f"clean logit difference is {self.clean_logit_diff:.3g}: too close to zero to serve as the 100% "
                "reference of ablation scores. Use a model that solves the task or filter the prompts "
                "(tasks.filter_prompts); pass check_baseline=False only to inspect raw Δl values.")
        #: per-position means over the corrupted prompts, keyed by hook name: [pos, n_heads, d_head] / [pos, d_model]
        self.means = {name: a[0].mean(0) for name, a in acts.items()}

    # ----------------------------------------------------------------------------------------- patches
    def mean_ablation(self, components: Iterable[Component]) -> list[Patch]:
        """Patches that replace each component's output by its per-position mean over the corrupted prompts."""
        return [Patch(c.hook_name, c.index, self.means[c.hook_name][:, c.head] if not c.is_mlp
                      else self.means[c.hook_name], "mean") for c in components]

    # ----------------------------------------------------------------------------------------- prefix cache
    def _resid_pre(self, layer: int, base: Sequence[Patch], which: str) -> Tensor:
        """Residual stream entering ``layer`` on the ``which`` prompts with the ``base`` patches applied."""
        key_of = lambda l: (which, l, frozenset(p for p in base if hook_layer(p.hook_name) < l))  # noqa: E731
        if key_of(layer) in self._prefix:
            return self._prefix[key_of(layer)]
        start = max((l for l in range(layer + 1) if key_of(l) in self._prefix), default=None)
        if start is None:
            x, start = self.adapter.embed(self.tokens[which]), 0
            self._prefix[key_of(0)] = x
        x = self._prefix[key_of(start)]
        for l in range(start, layer):
            with self._hooks(base, [], l, rows_per_variant=self.n_prompts):
                x = self.adapter.block(l, x)
            self._prefix[key_of(l + 1)] = x
        if len(self._prefix) > 4 * (self.n_layers + 1):  # keep the cache bounded: drop the oldest entries
            for k in list(self._prefix)[: len(self._prefix) - 2 * (self.n_layers + 1)]:
                if k != key_of(layer):
                    del self._prefix[k]
        return x

    def clear_cache(self) -> None:
        """Forget cached residual streams (they are rebuilt on demand)."""
        self._prefix.clear()

    # ----------------------------------------------------------------------------------------- hooks
    @contextlib.contextmanager
    def _hooks(self, base: Sequence[Patch], variants: Sequence[Sequence[Patch]], start: int,
               rows_per_variant: int, capture: dict | None = None, prompts: slice = slice(None)):
        """Install one hook per touched hook name: base patches on every row, each variant's on its rows."""
        per_hook: dict[str, tuple[list, list]] = {}
        for p in base:
            if hook_layer(p.hook_name) >= start:
                per_hook.setdefault(p.hook_name, ([], []))[0].append(p)
        for i, var in enumerate(variants):
            for p in var:
                if hook_layer(p.hook_name) >= start:
                    per_hook.setdefault(p.hook_name, ([], []))[1].append((i, p))
        for name in capture or {}:
            per_hook.setdefault(name, ([], []))

        def make(name, base_ps, var_ps):
            def fn(act, hook):
                act = act.clone() if (base_ps or var_ps) else act
                for p in base_ps:
                    _assign(act, p.index, _rows(p.values, prompts, len(variants) if variants else 1))
                if var_ps:
                    view = act.view(-1, rows_per_variant, *act.shape[1:])
                    for i, p in var_ps:
                        _assign(view[i], p.index, _rows(p.values, prompts, 1))
                if capture is not None and name in capture:
                    capture[name].append(act.detach().clone())
                return act
            return fn

        fwd = [(name, make(name, *ps)) for name, ps in per_hook.items()]
        with self.adapter.hooks(fwd):
            yield

    # ----------------------------------------------------------------------------------------- running
    def _start_layer(self, variant: Sequence[Patch]) -> int:
        return min((hook_layer(p.hook_name) for p in variant), default=self.n_layers)

    def run(self, variants: Sequence[Sequence[Patch]], base: Sequence[Patch] = (), which: str = "clean",
            capture: Sequence[str] = (), desc: str | None = None, progress: bool | None = None):
        """Run every variant (on top of ``base``) and return per-prompt answer logits and captured activations.

        Args:
            variants: each a list of patches; variants are grouped by start layer and stacked along the batch.
            base: patches applied to every variant (e.g. the mean ablation of everything outside a circuit).
            which: ``"clean"`` or ``"corrupted"`` prompts.
            capture: hook names whose (patched) activations to return per variant; ``"resid_final"`` returns the
                final residual stream at the answer position.
            desc: progress-bar label.
            progress: show a bar (default: the engine's setting, and only for runs of more than a few chunks).

        Returns:
            ``(logits, captured)``: ``logits[v]`` is ``[batch, 2]`` (correct, incorrect) for variant ``v``;
            ``captured[name][v]`` is that activation for variant ``v`` (``[batch, ...]``).
        """
        n, B = len(variants), self.n_prompts
        logits = torch.empty(n, B, 2, device=self.device)
        captured: dict[str, list] = {name: [[] for _ in range(n)] for name in capture}
        starts = [self._start_layer(v) for v in variants]
        if capture:  # captured activations must be produced inside the run: start no later than their layer
            first = min(hook_layer(c) if c != "resid_final" else self.n_layers for c in capture)
            starts = [min(s, first) for s in starts]
        # a chunk is (start layer, variant indices, prompt slice) with at most chunk_rows rows
        rows_p = min(B, self.chunk_rows)
        per_chunk = max(1, self.chunk_rows // rows_p)
        groups: dict[int, list[int]] = {}
        for i, s in enumerate(starts):
            groups.setdefault(s, []).append(i)
        jobs = [(s, idx[j:j + per_chunk], slice(p, min(p + rows_p, B)))
                for s, idx in sorted(groups.items()) for j in range(0, len(idx), per_chunk)
                for p in range(0, B, rows_p)]
        show = (self.progress if progress is None else progress) and len(jobs) >= 8
        bar = tqdm(jobs, desc=desc or "variants", disable=not show, leave=False, mininterval=1.0)
        with torch.inference_mode():
            for start, idx, ps in bar:
                b = ps.stop - ps.start
                x = self._resid_pre(min(start, self.n_layers), base, which)[ps]
                x = x.repeat(len(idx), 1, 1)
                store = {name: [] for name in capture if name != "resid_final"}
                with self._hooks(base, [variants[i] for i in idx], start, b, capture=store, prompts=ps):
                    for l in range(start, self.n_layers):
                        x = self.adapter.block(l, x)
                end = self.adapter.readout(x)
                ids = self.answer_ids[ps].repeat(len(idx), 1)
                out = self.adapter.logits_for(end, ids).view(len(idx), b, 2)
                logits[idx, ps] = out
                for name, acts in store.items():
                    a = torch.cat(acts, 0).view(len(idx), b, *acts[0].shape[1:])
                    for k, i in enumerate(idx):
                        captured[name][i].append(a[k])
                if "resid_final" in captured:
                    e = end.view(len(idx), b, -1)
                    for k, i in enumerate(idx):
                        captured["resid_final"][i].append(e[k])
        for name in captured:
            captured[name] = [torch.cat(parts, 0) if parts else None for parts in captured[name]]
        return logits, captured

    def logit_diffs(self, variants: Sequence[Sequence[Patch]], base: Sequence[Patch] = (),
                    which: str = "clean", desc: str | None = None,
                    progress: bool | None = None) -> Float[Tensor, "variants"]:
        """Mean Δl over the prompts for each variant."""
        logits, _ = self.run(variants, base, which, desc=desc, progress=progress)
        return (logits[..., 0] - logits[..., 1]).mean(-1)

    def capture(self, hook_names: Sequence[str], base: Sequence[Patch] = (), which: str = "clean") -> dict:
        """Activations ``[batch, ...]`` (wrapped in a one-element list) of one run with ``base`` applied."""
        _, cap = self.run([[]], base, which, capture=hook_names, progress=False)
        return {name: [cap[name][0]] for name in hook_names}

    def logit_diff_from_resid(self, resid_end: Float[Tensor, "batch d_model"]) -> float:
        """Mean Δl read out of a final residual stream at the answer position."""
        with torch.inference_mode():
            lg = self.adapter.logits_for(resid_end, self.answer_ids)
        return float((lg[:, 0] - lg[:, 1]).mean())

    # ----------------------------------------------------------------------------------------- scans
    def ablation_scan(self, components: Sequence[Component] | None = None, base_ablated: Iterable[Component] = (),
                      desc: str = "ablation scan") -> dict[Component, float]:
        """Δl when each component is mean-ablated (on top of the mean ablation of ``base_ablated``).

        With ``base_ablated`` empty this is the single-component scan of the full model (influences, notebook
        05); with the complement of a circuit it scores each circuit component's removal from the circuit.
        """
        components = list(self.components if components is None else components)
        base = self.mean_ablation(base_ablated)
        values = self.logit_diffs([self.mean_ablation([c]) for c in components], base, desc=desc)
        return {c: float(v) for c, v in zip(components, values)}

    def score(self, logit_diff: float | Tensor) -> float:
        """``100 · Δl / Δl_clean`` (the study's percentage)."""
        return 100.0 * float(logit_diff) / self.clean_logit_diff


def _rows(values: Tensor, prompts: slice, repeat: int) -> Tensor:
    """Per-prompt values (3 dims: [batch, pos, d]) are sliced to the chunk's prompts and tiled over its variants;
    per-position values ([pos, d]) broadcast as they are."""
    if values.ndim < 3:
        return values
    v = values[prompts]
    return v.repeat(repeat, *([1] * (v.ndim - 1))) if repeat > 1 else v


def _assign(act: Tensor, index: int | None, values: Tensor) -> None:
    if index is None:
        act[...] = values
    else:
        act[:, :, index] = values
