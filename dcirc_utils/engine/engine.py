"""The one engine that ablates and patches: many variants per forward pass, each started at the first layer it changes.

Every analysis of the course that removes or patches a component goes through :class:`Engine` (notebooks 02, 05,
06, 07 and 08 through ``methods.discovery``, ``methods.brittleness`` and ``methods.alignment``). A *variant* is a list
of :class:`Patch` es (set this site's activation, or one head's slice of it, to these values); the engine

* stacks many variants along the batch (chunked to bound memory: ``chunk_rows`` rows per forward),
* starts each chunk at the earliest layer its patches touch, from a cached residual stream of the untouched prefix
  (valid for any family whose blocks run in sequence, encoders included: a patch at layer ``l`` cannot change what
  enters layer ``l``),
* on families whose blocks split into attention then MLP (the decoders), runs a variant that only rewrites head
  outputs at its first layer as the base run's ``resid_mid`` of that layer plus each head's change through ``W_O``,
  then the layer's MLP (a whole-MLP ablation costs nothing in its own layer), runs the last layer at the answer
  position only when nothing is patched there, and lets layers where nothing is patched or captured run on the
  adapter's fused kernels,
* reads out, at each prompt's answer position, only the logits its :class:`~dcirc_utils.core.metrics.Metric` needs
  (two for Δl, the default) and reduces them to one value per prompt.

The engine knows no model family and no hook name: it talks to a :class:`~dcirc_utils.models.adapters.ModelAdapter`
by :class:`~dcirc_utils.core.components.Site`.

Correctness: ``tests/integration/test_engine.py`` compares every result with a naive reference (one forward with
library hooks per variant) and with ``transformer_lens.patching``; ``tests/integration/test_engine_shortcuts.py``
compares the shortcuts above with whole blocks, variant kind by variant kind.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import weakref
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from ..core.components import Component, Site, all_components, parse_component
from ..core.metrics import Metric
from ..core.metrics import check_baseline as _check_baseline
from ..models.adapters import ModelAdapter

__all__ = ["Patch", "Engine", "HEAD_SITES", "assign_patch"]

#: The sites with a head axis (``[batch, pos, head, d_head]``): the only ones a :class:`Patch` ``index`` applies to.
HEAD_SITES: tuple[str, ...] = ("q", "k", "v", "z")


@dataclass(frozen=True, eq=False)
class Patch:
    """Set activation ``site`` (or its head ``index``) to ``values`` during a forward pass.

    Attributes:
        site: the activation, e.g. ``Site("z", 3)``.
        index: head index along the site's head axis (``z``, ``q``, ``k``, ``v``), or ``None`` for all of it.
        values: what to write. ``per_prompt=False``: one value per position, ``[pos, ...]``, the same for every prompt
            (e.g. a mean over prompts); ``per_prompt=True``: ``[batch, pos, ...]``, row ``i`` for prompt ``i``.
        per_prompt: which of the two ``values`` is (said, never guessed from its shape).

    Two patches are equal when site, index, ``per_prompt`` and the *content* of ``values`` are (a SHA-1 digest of its
    bytes, computed once): the engine's prefix cache keys on patches, so equal keys always mean equal activations.
    """

    site: Site
    index: int | None
    values: Tensor = field(repr=False)
    per_prompt: bool = False

    @property
    def key(self) -> tuple:
        cached = self.__dict__.get("_key")
        if cached is None:
            v = self.values.detach().contiguous().cpu()
            digest = hashlib.sha1(v.view(torch.uint8).numpy().tobytes() if v.numel() else b"").hexdigest()
            cached = (self.site, self.index, self.per_prompt, str(v.dtype), tuple(v.shape), digest)
            object.__setattr__(self, "_key", cached)
        return cached

    def __eq__(self, other) -> bool:
        return isinstance(other, Patch) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def _default_chunk_rows(device: torch.device, d_model: int) -> int:
    """Rows per forward (at most: the prompts are split into equal slices). Measured on this project's 2-core CPU
    with the fused blocks (``python -m bench.ablation_scan --engine-only --layers 6 --chunk-rows N``, docs/benchmarks.md): GPT-2
    small (d_model 768) runs fastest per row at about 50 rows (64 → two slices of 50 prompts); the offline pair
    (d_model 128) between 100 and 400. GPUs want large batches."""
    if device.type == "cpu":
        return max(16, 49152 // d_model)
    return max(1024, (2048 * 768) // d_model)


class Engine:
    """Batched mean ablation and activation patching on one model and one prompt set (notebooks 02, 05–08).

    Args:
        adapter: the model (:class:`~dcirc_utils.models.adapters.ModelAdapter`).
        clean_tokens: ``[batch, pos]`` clean prompts.
        corrupted_tokens: ``[batch, pos]`` corrupted prompts (the mean-ablation values are their per-position means).
        metric: what to read at the answer position (:class:`~dcirc_utils.core.metrics.LogitDiff` for Δl, or any
            :class:`~dcirc_utils.core.metrics.Metric`), one value per prompt.
        chunk_rows: rows (variants × prompts) per forward; ``None`` picks a size for the device.
        progress: show progress bars for long scans.
        check_baseline: raise when the clean value is too close to zero to be a 100 % reference.

    Raises:
        ValueError: on an empty prompt set or mismatched shapes.
        RuntimeError: when the clean run gives non-finite values (the model's weights hold NaN or inf).
        DegenerateBaselineError: when the clean value is too close to zero for scores to mean anything.
    """

    def __init__(self, adapter: ModelAdapter, clean_tokens: Int[Tensor, "batch pos"],
                 corrupted_tokens: Int[Tensor, "batch pos"], metric: Metric, chunk_rows: int | None = None,
                 progress: bool = True, check_baseline: bool = True):
        if not isinstance(adapter, ModelAdapter):
            raise ValueError(f"Engine takes a ModelAdapter (pair.teacher, pair.student), got {type(adapter).__name__}")
        if clean_tokens.ndim != 2 or clean_tokens.shape[0] == 0:
            raise ValueError(f"clean_tokens must be a non-empty [batch, pos] tensor, got shape "
                             f"{tuple(clean_tokens.shape)}: pass at least one prompt")
        if corrupted_tokens.shape != clean_tokens.shape:
            raise ValueError(f"corrupted tokens {tuple(corrupted_tokens.shape)} and clean tokens "
                             f"{tuple(clean_tokens.shape)} differ in shape: corrupt each clean prompt in place")
        if not isinstance(metric, Metric) or len(metric) != clean_tokens.shape[0]:
            raise ValueError(f"metric must be a Metric with one entry per prompt ({clean_tokens.shape[0]}), e.g. "
                             "LogitDiff(correct, incorrect) or PromptSet.metric(tokenizer)")
        self.adapter = adapter
        self.metric = metric
        self.device = adapter.device
        self.tokens = {"clean": clean_tokens.to(self.device), "corrupted": corrupted_tokens.to(self.device)}
        self.positions = {k: adapter.readout_positions(t).to(self.device) for k, t in self.tokens.items()}
        self.ids = None if metric.ids is None else metric.ids.to(self.device)     # [batch, k]
        self.n_prompts = clean_tokens.shape[0]
        self.n_layers, self.n_heads = adapter.n_layers, adapter.n_heads
        self.chunk_rows = chunk_rows or _default_chunk_rows(self.device, adapter.d_model)
        self.progress = progress
        self._prefix: dict[tuple, Tensor] = {}
        self._mids: dict[tuple, tuple[Tensor, Tensor]] = {}
        self._mean_patches: dict[Component, Patch] = {}
        self._checked: weakref.WeakSet[Patch] = weakref.WeakSet()    # patches check_patch passed (a pruning loop
        #                                                              # hands the same ones to run thousands of times)
        self.components = all_components(self.n_layers, self.n_heads)
        with torch.inference_mode():
            self.clean_value = float(self.evaluate([[]], progress=False)[0])
            if not math.isfinite(self.clean_value):
                raise RuntimeError(
                    f"{adapter.label!r} gives non-finite logits on the clean prompts (its clean {metric.name} is "
                    f"{self.clean_value}): its weights are likely damaged (NaN or inf). Fix: restore the shipped "
                    "weights with `git checkout data/models` (or retrain the pair), or reload the model if code "
                    "changed its weights in place.")
            sites = list(dict.fromkeys(c.site for c in self.components))
            acts = self.capture(sites, which="corrupted")
        if check_baseline:
            _check_baseline(self.clean_value, metric.name)
        #: per-position means over the corrupted prompts, by site: ``[pos, n_heads, d_head]`` / ``[pos, d_model]``
        self.means: dict[Site, Tensor] = {site: a.mean(0) for site, a in acts.items()}

    @classmethod
    def for_prompts(cls, adapter: ModelAdapter, prompts, bos: bool = False, **kwargs) -> "Engine":
        """An engine for ``adapter`` on a :class:`~dcirc_utils.core.tasks.PromptSet` (its clean and corrupted
        tokens and its task's metric; ``bos`` prepends the tokenizer's BOS token)."""
        prompts.check_family(adapter.family)
        tok = adapter.tokenizer
        return cls(adapter, prompts.tokens(tok, bos=bos), prompts.tokens(tok, "corrupted", bos=bos),
                   prompts.metric(tok), **kwargs)

    # ----------------------------------------------------------------------------------------- checks
    def check_components(self, components: Iterable[Component | str]) -> list[Component]:
        """``components`` as a list, each checked to be a head or MLP of this model (strings such as ``"4.10"`` or
        ``"MLP3"`` are read with :func:`~dcirc_utils.core.components.parse_component`). Every entry point that takes
        components calls it: :meth:`mean_ablation`, :meth:`zero_ablation`, :meth:`outside`, :meth:`ablation_scan`,
        :meth:`check_patch` (a patch's head) and ``methods.discovery``'s ``prune_nodes`` and ``path_patch``.

        Raises:
            ValueError: naming the components outside the model, its layers and heads, and the fix.
        """
        comps = [parse_component(c) for c in components]
        bad = [c for c in comps if c.layer >= self.n_layers or c.head >= self.n_heads]
        if bad:
            L, H = self.n_layers, self.n_heads
            what = (f"component {bad[0]} is" if len(bad) == 1 else
                    f"components {', '.join(map(str, bad[:5]))}{' ...' if len(bad) > 5 else ''} are")
            raise ValueError(f"{what} outside {self.adapter.label!r}: it has {L} layers (0–{L - 1}) and {H} heads "
                             f"per layer (0–{H - 1}), and one MLP per layer (MLP0–MLP{L - 1}). Fix: name heads "
                             "'layer.head' and MLPs 'MLP<layer>' within these ranges; a circuit found on the other "
                             "model of the pair names that model's components, not components of this model.")
        return comps

    def _values_shape(self, site: Site, index: int | None, per_prompt: bool) -> tuple[int, ...]:
        """The shape a patch's values must have at ``site`` (one head's slice when ``index`` is given)."""
        P, H, D, Dh = self.tokens["clean"].shape[1], self.n_heads, self.adapter.d_model, self.adapter.d_head
        shape = (H, P, P) if site.kind == "pattern" else (P, H, Dh) if site.kind in HEAD_SITES else (P, D)
        if index is not None:
            shape = shape[:1] + shape[2:]
        return (self.n_prompts, *shape) if per_prompt else shape

    def check_patch(self, p: Patch) -> Patch:
        """``p`` checked against this model and prompt set (:meth:`run` checks every patch it is given): its site is
        one of the model's, its head index (per-head sites :data:`HEAD_SITES` only) names a head, and its values have
        the shape the site takes: ``[pos, ...]`` (``per_prompt=False``) or ``[batch, pos, ...]``.

        Raises:
            ValueError: naming the site, the value given and the value expected.
        """
        if p in self._checked:
            return p
        if not isinstance(p, Patch):
            raise ValueError(f"a variant is a list of Patch objects, got {type(p).__name__} {p!r:.80}: make patches "
                             "with Patch(site, index, values) or engine.mean_ablation(components)")
        site = self.adapter.check_site(p.site)
        if p.index is not None:
            if site.kind not in HEAD_SITES or p.index < 0:
                raise ValueError(f"the patch at {site} has index={p.index}, but a head index (0–{self.n_heads - 1}) "
                                 f"applies only to the per-head sites {HEAD_SITES}: pass index=None to set the whole "
                                 "activation")
            self.check_components([Component(site.layer, p.index)])
        if not isinstance(p.values, Tensor):
            raise ValueError(f"the patch at {site} has values of type {type(p.values).__name__}, not a tensor: pass "
                             "torch.as_tensor(values)")
        want, got = self._values_shape(site, p.index, p.per_prompt), tuple(p.values.shape)
        if got != want:
            where = f"{site}" if p.index is None else f"{site} (head {p.index})"
            form = ("[batch, pos, ...], one row per prompt" if p.per_prompt else
                    "[pos, ...], one value per position for every prompt")
            fix = (f"these are {'per-position' if p.per_prompt else 'per-prompt'} values: pass "
                   f"per_prompt={not p.per_prompt}" if got == self._values_shape(site, p.index, not p.per_prompt)
                   else "take the values from this engine's activations (engine.capture([site]), engine.means), "
                        "sliced to the head when index is given")
            raise ValueError(f"the patch at {where} has values of shape {got}, but {self.adapter.label!r} takes "
                             f"{want} there on these {self.n_prompts} prompts ({form}, per_prompt={p.per_prompt}): "
                             f"{fix}")
        self._checked.add(p)
        return p

    # ----------------------------------------------------------------------------------------- patches
    def mean_ablation(self, components: Iterable[Component]) -> list[Patch]:
        """Patches that replace each component's output by its per-position mean over the corrupted prompts (one
        :class:`Patch` object per component, made once: its content key, which reads the values back to the host,
        is computed once per engine, not on every call of a pruning loop)."""
        out = []
        for c in self.check_components(components):
            p = self._mean_patches.get(c)
            if p is None:
                m = self.means[c.site]
                p = self._mean_patches[c] = Patch(c.site, c.index, m if c.is_mlp else m[:, c.head])
            out.append(p)
        return out

    def zero_ablation(self, components: Iterable[Component]) -> list[Patch]:
        """Patches that set each component's output to zero at every position (the ablation of the study's IOI and
        QA alignment runs)."""
        out = []
        for c in self.check_components(components):
            m = self.means[c.site]
            out.append(Patch(c.site, c.index, torch.zeros_like(m if c.is_mlp else m[:, c.head])))
        return out

    def outside(self, circuit: Iterable[Component]) -> list[Component]:
        """Every component of the model that is not in ``circuit`` (what a circuit run mean-ablates)."""
        keep = set(self.check_components(circuit))
        return [c for c in self.components if c not in keep]

    def circuit_base(self, circuit: Iterable[Component]) -> list[Patch]:
        """The base patches of a circuit run: everything outside ``circuit`` mean-ablated."""
        return self.mean_ablation(self.outside(circuit))

    # ----------------------------------------------------------------------------------------- prefix cache
    def _layer(self, site: Site) -> int:
        return self.n_layers if site.layer is None else site.layer

    def _resid_pre(self, layer: int, base: Sequence[Patch], which: str) -> Tensor:
        """Residual stream entering ``layer`` on the ``which`` prompts with the ``base`` patches applied."""
        key_of = lambda l: (which, l, frozenset(p for p in base if self._layer(p.site) < l))  # noqa: E731
        if key_of(layer) in self._prefix:
            return self._prefix[key_of(layer)]
        start = max((l for l in range(layer + 1) if key_of(l) in self._prefix), default=None)
        if start is None:
            x, start = self.adapter.embed(self.tokens[which]), 0
            self._prefix[key_of(0)] = x
        x = self._prefix[key_of(start)]
        for l in range(start, layer):
            with self._hooks(base, [], l, rows_per_variant=self.n_prompts):
                x = self.adapter.block(l, x, hooked=self._touches(base, [], l))
            self._prefix[key_of(l + 1)] = x
        if len(self._prefix) > 4 * (self.n_layers + 1):  # keep the cache bounded: drop the oldest entries
            for k in list(self._prefix)[: len(self._prefix) - 2 * (self.n_layers + 1)]:
                if k != key_of(layer):
                    del self._prefix[k]
        return x

    # ----------------------------------------------------------------------------------------- hooks
    @contextlib.contextmanager
    def _hooks(self, base: Sequence[Patch], variants: Sequence[Sequence[Patch]], start: int, rows_per_variant: int,
               capture: dict | None = None, prompts: slice = slice(None)):
        """Install one hook per touched site: base patches on every row, each variant's on its rows."""
        per_site: dict[Site, tuple[list, list]] = {}
        for p in base:
            if self._layer(p.site) >= start:
                per_site.setdefault(p.site, ([], []))[0].append(p)
        for i, var in enumerate(variants):
            for p in var:
                if self._layer(p.site) >= start:
                    per_site.setdefault(p.site, ([], []))[1].append((i, p))
        for site in capture or {}:
            per_site.setdefault(site, ([], []))

        def make(site, base_ps, var_ps):
            def fn(act):
                act = act.clone() if (base_ps or var_ps) else act
                for p in base_ps:
                    assign_patch(act, p.index, _rows(p, prompts, max(1, len(variants))))
                if var_ps:
                    view = act.view(-1, rows_per_variant, *act.shape[1:])
                    for i, p in var_ps:
                        assign_patch(view[i], p.index, _rows(p, prompts, 1))
                if capture is not None and site in capture:
                    capture[site].append(act.detach().clone())
                return act
            return fn

        with self.adapter.hooks([(site, make(site, *ps)) for site, ps in per_site.items()]):
            yield

    # ----------------------------------------------------------------------------------------- running
    def _start_layer(self, variant: Sequence[Patch]) -> int:
        return min((self._layer(p.site) for p in variant), default=self.n_layers)

    def _kind(self, variant: Sequence[Patch], start: int, base: Sequence[Patch]) -> str:
        """How a variant starting at layer ``start`` runs on a model whose blocks split (attention, then MLP):

        * ``"z"``: its patches at ``start`` write head outputs only (one patch, or distinct heads). Layer ``start``
          is then the base run's ``resid_mid`` plus each patched head's change through ``W_O``, and the layer's MLP:
          the layer's attention is not recomputed (saving (b) of issue 16);
        * ``"mlp_out"``: one whole-MLP patch at ``start``: that layer's output is ``resid_mid`` plus the patch;
        * ``"block"``: anything else (or a family whose blocks do not split): whole blocks from ``start``.
        """
        if not self.adapter.splits_blocks or start >= self.n_layers:
            return "block"
        if any(p.site == Site("resid_pre", start) for p in base):   # fires only in a whole block's forward
            return "block"
        at = [p for p in variant if self._layer(p.site) == start]
        if at and all(p.site.kind == "z" for p in at) and (
                len(at) == 1 or len({p.index for p in at}) == len(at) and None not in {p.index for p in at}):
            return "z"
        if len(at) == 1 and at[0].site.kind == "mlp_out" and at[0].index is None:
            return "mlp_out"
        return "block"

    def _mid(self, layer: int, base: Sequence[Patch], which: str) -> tuple[Tensor, Tensor]:
        """``(resid_mid, z)`` of ``layer`` on the ``which`` prompts with the ``base`` patches applied (cached): the
        residual stream after the layer's attention ``[batch, pos, d_model]`` and its head outputs
        ``[batch, pos, n_heads, d_head]``."""
        key = (which, layer, frozenset(p for p in base if self._layer(p.site) <= layer))
        hit = self._mids.get(key)
        if hit is None:
            x = self._resid_pre(layer, base, which)
            store: dict[Site, list] = {Site("z", layer): []}
            with self._hooks(base, [], layer, rows_per_variant=self.n_prompts, capture=store):
                mid = self.adapter.attention_part(layer, x)
            hit = (mid, store[Site("z", layer)][0])
            if len(self._mids) >= 2:    # run() takes variants layer by layer: the current layer's entry is enough
                del self._mids[next(iter(self._mids))]
            self._mids[key] = hit
        return hit

    def _add_head_deltas(self, x: Float[Tensor, "rows pos d_model"], chunk: Sequence[Sequence[Patch]], layer: int,
                         z: Float[Tensor, "batch pos n_heads d_head"], prompts: slice) -> None:
        """Add to each variant's rows of ``x`` (``resid_mid`` of ``layer``) the change its ``z`` patches at ``layer``
        make to the attention output: ``(new z_h − base z_h) @ W_O[h]`` per patched head (in place)."""
        W_O = self.adapter.head_out_weights(layer)                                      # [head, d_head, d_model]
        xv = x.view(len(chunk), -1, *x.shape[1:])
        for k, var in enumerate(chunk):
            for p in var:
                if self._layer(p.site) != layer:
                    continue
                new = _rows(p, prompts, 1)
                if p.index is None:
                    xv[k] += torch.einsum("...hk,hkd->...d", new - z, W_O)
                else:
                    xv[k] += (new - z[:, :, p.index]) @ W_O[p.index]

    def _touches(self, base: Sequence[Patch], chunk: Sequence[Sequence[Patch]], layer: int,
                 kinds: tuple[str, ...] | None = None) -> bool:
        """Whether a base or variant patch writes a site of ``layer`` (of one of ``kinds``, if given)."""
        return any(self._layer(p.site) == layer and (kinds is None or p.site.kind in kinds)
                   for p in [*base, *(p for var in chunk for p in var)])

    def run(self, variants: Sequence[Sequence[Patch]], base: Sequence[Patch] = (), which: str = "clean",
            capture: Sequence[Site] = (), desc: str | None = None,
            progress: bool | None = None) -> tuple[Float[Tensor, "variants batch"], dict[Site, list[Tensor]]]:
        """Run every variant (on top of ``base``) and return per-prompt metric values and captured activations.

        Variants are grouped by the layer they start at (and by how that layer runs, see :meth:`_kind`), stacked
        along the batch in chunks of about ``chunk_rows`` rows (the prompts split into equal slices), and each
        chunk starts from the cached base run at its first patched layer. When the model's blocks split and nothing
        is patched or captured in the last layer, that layer runs at the answer position only (keys and values at
        every position; :meth:`~dcirc_utils.models.adapters.ModelAdapter.readout_block`, saving (c) of issue 16).

        Args:
            variants: each a list of patches.
            base: patches applied to every variant (e.g. the mean ablation of everything outside a circuit).
            which: ``"clean"`` or ``"corrupted"`` prompts.
            capture: sites whose (patched) activations to return per variant; ``Site("resid_final")`` returns the
                final residual stream at the answer position ``[batch, d_model]``.
            desc: progress-bar label.
            progress: show a bar (default: the engine's setting, and only for runs of more than a few chunks).

        Returns:
            ``(values, captured)``: ``values[v, i]`` is the metric of prompt ``i`` under variant ``v``;
            ``captured[site][v]`` is that activation for variant ``v`` (``[batch, ...]``).

        Raises:
            ValueError: for a patch that does not fit this model or these prompts (:meth:`check_patch`).
        """
        if which not in self.tokens:
            raise ValueError(f"which must be 'clean' or 'corrupted', got {which!r}")
        capture = [self.adapter.check_site(s) for s in capture]
        for p in [*base, *(p for var in variants for p in var)]:
            self.check_patch(p)
        n, B, L = len(variants), self.n_prompts, self.n_layers
        values = torch.empty(n, B, device=self.device)
        captured: dict[Site, list] = {s: [[] for _ in range(n)] for s in capture}
        starts = [self._start_layer(v) for v in variants]
        final = Site("resid_final")
        inner = [s for s in capture if s != final]
        if capture:  # captured activations must be produced inside the run: start no later than their layer
            first = min(self._layer(s) for s in capture)
            starts = [min(s, first) for s in starts]
        kinds = ["block" if inner else self._kind(v, s, base) for v, s in zip(variants, starts)]
        # a chunk is (start layer, kind, variant indices, prompt slice): the prompts in equal slices of at most
        # chunk_rows rows, as many variants per chunk as fit
        n_slices = -(-B // self.chunk_rows)
        rows_p = -(-B // n_slices)
        per_chunk = max(1, self.chunk_rows // rows_p)
        groups: dict[tuple[int, str], list[int]] = {}
        for i, key in enumerate(zip(starts, kinds)):
            groups.setdefault(key, []).append(i)
        jobs = [(s, kind, idx[j:j + per_chunk], slice(p, min(p + rows_p, B)))
                for (s, kind), idx in sorted(groups.items()) for j in range(0, len(idx), per_chunk)
                for p in range(0, B, rows_p)]
        show = (self.progress if progress is None else progress) and len(jobs) >= 8
        with torch.inference_mode():
            for start, kind, idx, ps in tqdm(jobs, desc=desc or "variants", disable=not show, leave=False,
                                             mininterval=1.0):
                b, chunk = ps.stop - ps.start, [variants[i] for i in idx]
                pos = self.positions[which][ps].repeat(len(idx))
                rows = torch.arange(len(pos), device=self.device)
                if kind == "block":
                    x, first = self._resid_pre(min(start, L), base, which)[ps].repeat(len(idx), 1, 1), start
                else:
                    mid, z = self._mid(start, base, which)
                    x, first = mid[ps].repeat(len(idx), 1, 1), start + 1
                    if kind == "z":
                        self._add_head_deltas(x, chunk, start, z[ps], ps)
                    else:
                        xv = x.view(len(idx), b, *x.shape[1:])
                        for k, var in enumerate(chunk):
                            xv[k] += _rows(next(p for p in var if self._layer(p.site) == start), ps, 1)
                store = {s: [] for s in inner}
                end = None
                with self._hooks(base, chunk, start, b, capture=store, prompts=ps):
                    if kind == "z":
                        hooked = self._touches(base, chunk, start, ("mlp_in", "mlp_out"))
                        if start == L - 1 and not hooked:
                            end = self.adapter.mlp_part(start, x[rows, pos][:, None], hooked=False)[:, 0]
                        else:
                            x = self.adapter.mlp_part(start, x, hooked=hooked)
                    for l in range(first, L):
                        hooked = l == start or self._touches(base, chunk, l) or any(
                            self._layer(s) == l for s in inner)
                        if l == L - 1 and self.adapter.splits_blocks and not hooked:
                            end = self.adapter.readout_block(l, x, pos)
                        else:
                            x = self.adapter.block(l, x, hooked=hooked)
                if end is None:
                    end = x[rows, pos]
                vals = self._metric_rows(end, ps, len(idx))
                values[idx, ps] = vals.view(len(idx), b)
                for s, acts in store.items():
                    a = torch.cat(acts, 0).view(len(idx), b, *acts[0].shape[1:])
                    for k, i in enumerate(idx):
                        captured[s][i].append(a[k])
                if final in captured:
                    e = end.view(len(idx), b, -1)
                    for k, i in enumerate(idx):
                        captured[final][i].append(e[k])
        for s in captured:
            captured[s] = [torch.cat(parts, 0) if parts else None for parts in captured[s]]
        return values, captured

    def _metric_rows(self, end: Tensor, prompts: slice, repeat: int) -> Tensor:
        """The metric of each row of ``end`` (``repeat`` variants × the chunk's prompts)."""
        sub = self.metric.rows(prompts, repeat)
        # read out in float32 whatever the model's dtype (a bf16/fp16 model's values land in a float32 table)
        return sub(self.adapter.logits_at(end, None if sub.ids is None else sub.ids.to(self.device)).float())

    def evaluate(self, variants: Sequence[Sequence[Patch]], base: Sequence[Patch] = (), which: str = "clean",
                 desc: str | None = None, progress: bool | None = None) -> Float[Tensor, "variants"]:
        """Mean metric over the prompts for each variant (Δl for the default metric)."""
        values, _ = self.run(variants, base, which, desc=desc, progress=progress)
        return values.mean(-1)

    def capture(self, sites: Sequence[Site], base: Sequence[Patch] = (), which: str = "clean") -> dict[Site, Tensor]:
        """Activations ``[batch, ...]`` of one run with ``base`` applied."""
        _, cap = self.run([[]], base, which, capture=sites, progress=False)
        return {s: cap[s][0] for s in cap}

    def value_from_resid(self, resid_end: Float[Tensor, "batch d_model"]) -> float:
        """Mean metric read out of a final residual stream at the answer position (clean prompts)."""
        with torch.inference_mode():
            return float(self._metric_rows(resid_end.to(self.device), slice(None), 1).mean())

    # ----------------------------------------------------------------------------------------- scans
    def ablation_scan(self, components: Sequence[Component] | None = None, base_ablated: Iterable[Component] = (),
                      desc: str = "ablation scan") -> dict[Component, float]:
        """Mean metric when each component is mean-ablated (on top of the mean ablation of ``base_ablated``).

        With ``base_ablated`` empty this is the single-component scan of the full model (influences, notebook 05);
        with the complement of a circuit it scores each circuit component's removal from the circuit.
        """
        components = self.components if components is None else self.check_components(components)
        base = self.mean_ablation(base_ablated)
        values = self.evaluate([self.mean_ablation([c]) for c in components], base, desc=desc)
        return dict(zip(components, values.tolist()))      # one device-to-host copy

    def score(self, value: float | Tensor) -> float:
        """``100 · value / clean value`` (the study's percentage of the clean Δl)."""
        return 100.0 * float(value) / self.clean_value


def _rows(p: Patch, prompts: slice, repeat: int) -> Tensor:
    """Per-prompt values are sliced to the chunk's prompts and tiled over its variants; per-position values
    broadcast as they are."""
    if not p.per_prompt:
        return p.values
    v = p.values[prompts]
    return v.repeat(repeat, *([1] * (v.ndim - 1))) if repeat > 1 else v


def assign_patch(act: Tensor, index: int | None, values: Tensor) -> None:
    """Write a patch's ``values`` into ``act`` in place: the whole activation (``index`` None, an MLP) or one head.

    The one definition of how a :class:`Patch` writes into an activation; the engine's runs and the attribution
    methods (``methods.attribution``) both use it.
    """
    if index is None:
        act[...] = values
    else:
        act[:, :, index] = values
