"""EAP-IG: node and edge attribution by integrated gradients on the input embeddings (notebook 02, issue 26).

Hanna, Pezzelle & Belinkov (2024), "Have faith in faithfulness" (arXiv 2403.17806), replace the one gradient of
attribution patching (EAP; :func:`~dcirc_utils.methods.attribution.first_order_effects`) by the mean of ``m``
gradients taken along a straight line between the two runs. Of their variants this module implements the one the
Mechanistic Interpretability Benchmark (MIB) runs and calls **EAP-IG-inputs**: the line is drawn between the two
runs' *input embeddings* (the residual stream entering block 0: token plus position embeddings, as
``ModelAdapter.embed`` returns it), every activation downstream is whatever the model computes from the
interpolated input, and the activation difference that multiplies the averaged gradient is fixed at the two
endpoints. For a component ``c`` with activation ``a`` on the patched run and target ``t``::

    score(c) = mean over prompts of Σ_{positions, features} (t − a) · (1/m) Σ_{k=0}^{m−1} ∂Δl/∂a |_{e_k}
    e_k      = e_start + (k/m) · (e_end − e_start)

and for an edge ``s → r`` the same with ``t − a`` the sender's write into the residual stream (a head's
``(z_t − z_a) W_O``, an MLP's ``mlp_out`` difference) and the gradient taken with respect to the receiver's *own
copy of its input* (below). The quantities, arguments and signs are those of
:mod:`~dcirc_utils.methods.attribution` (its module docstring): a score is the estimated change of the mean metric
(Δl) when the ``which`` run's activation is moved to the ``toward`` target, so
:func:`~dcirc_utils.methods.attribution.compare` takes :func:`eap_ig_effects` unchanged.

**The discretisation** is the reference code's (the EAP-IG library's ``get_scores_eap_ig``, which MIB runs): a left
Riemann sum with ``α_k = k/m``, ``k = 0 … m−1``, anchored at the patched run. So ``steps=1`` is exactly the
first-order estimate at the run where the gradient is taken (EAP), and the end of the line (``α = 1``) is never
evaluated. **Default m = 5**: MIB's ``run_attribution.py`` (``--ig-steps``, default 5) and the EAP-IG library's
README workflow (``attribute(..., method='EAP-IG-inputs', ig_steps=5)``); the library function's own default is 30.

**The two quantities** (``which``, ``toward``; both prompt sets must be read at the same positions):

(a) *Activation patching, denoising* (``which="corrupted", toward="clean"``): the line runs from the corrupted
    prompts' input embeddings to the clean ones (prompt by prompt), ``t − a = a_clean − a_corrupted``. This is
    EAP-IG-inputs as MIB computes it, up to MIB's sign convention (it differentiates the negated logit difference
    and multiplies by ``a_corrupted − a_clean``: the two sign flips cancel, so its scores are these). The noising
    direction (``which="clean", toward="corrupted"``, the direction of ``path_patch``) is the same line walked from
    the other end: the left sum from the clean end is the right sum from the corrupted end, so the two agree with
    opposite signs only as ``m`` grows.
(b) *Mean ablation* (``which="clean", toward="mean"``, the course's quantity): the target of each component is its
    per-position mean over the corrupted prompts (``Engine.means``), and the line runs from the clean prompts' input
    embeddings to the **per-position mean of the corrupted prompts' input embeddings** (the same vector for every
    prompt). This is this module's extension: EAP-IG-inputs has no mean intervention (the library refuses
    ``intervention != 'patching'`` for it). Why this end point: it is the input-level analogue of the ablation (the
    same mean, taken one step earlier, at the input), it needs no per-prompt partner, and where the model is affine
    (every activation and the metric affine in the input embeddings) it is exact: the run on the mean input then has
    every activation at its mean, so the line ends where every ablated component sits at its target and the integral
    of the gradient equals the ablation's effect. The model is not affine, so the run on the mean input is not the
    mean of the runs (its activations differ from ``Engine.means``); :attr:`NodeAttribution.end_value` reports the
    metric at that end.

**Edges** (:func:`eap_ig_edges`) are the engine's (``methods.discovery``: the receivers ``path_patch`` uses): a
sender of the circuit into every later head's ``q``, ``k`` and ``v``, every MLP after it (or at its layer, for a
head sender) and the final residual stream. MIB's graph also has the input embeddings as a sender; the engine's has
not (their integrated attribution as a whole is :attr:`NodeAttribution.input_score`). The gradient along an edge is
taken with respect to the receiver's input as EAP-IG's graph defines it, in the residual stream: the final residual
stream for ``resid_final``, the MLP's own copy of its input (``Site("mlp_in", layer)``, the residual stream entering
its norm) for an MLP, and for a head's ``q`` (``k``, ``v``) the head's own copy of the residual stream its query
(key, value) is computed from. The adapters expose no per-head residual copy, so that last gradient is obtained
exactly by the chain rule: the gradient at the head's slice of ``Site("q", layer)`` pulled back through ``x ↦
attn_in(layer, x) · W_Q[h] + b_Q[h]`` (its norm's Jacobian at the run's residual stream, by autograd). That map is
checked against the model's own ``q``/``k``/``v`` on the first run and a mismatch raises
:class:`~dcirc_utils.models.adapters.FamilyError` instead of returning a wrong number. Supported exactly: pre-norm
decoders whose heads read one key/value head each (GPT-2, the offline pairs, and Llama/Qwen2 pairs loaded with their
key/value heads ungrouped, as ``hf:`` pairs are; rotary models have no ``W_Q``/``W_K`` at the adapter, so their
``q``/``k`` edges raise). Not supported: encoders (post-LayerNorm: a sender's write reaches a later block only
through the intervening LayerNorms, so it is not a term of the receiver's input; score their nodes instead) and
grouped-query ``k``/``v`` edges (the query heads of a group share one input; load the pair ungrouped). Two
differences from ``path_patch`` remain by construction: the edge is the *direct* path only (``path_patch`` also
carries the sender's change through the circuit's MLPs in between, ``methods.attribution``'s module docstring, point
4), and by default the model is intact (``in_circuit=True`` mean-ablates everything outside the circuit on every
run, ``path_patch``'s context).

**Cost.** ``m`` forward and backward passes with every prompt in one batch (``chunk_prompts`` splits them when
memory is short), however many components or edges are scored, plus one forward without gradient for the metric
at the end of the line; the endpoints' activations come from at most two captures.

Used by ``bench/attribution.py`` (beside the first-order estimate and TransformerLens's ``attribution_patch``) and
by the faithfulness curves (``eap_ig_effects(engine, which="clean", toward="mean", steps=m)`` as a ranking).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from ..core.components import Component, Site
from ..engine import Engine, Patch, assign_patch
from ..models.adapters import FamilyError
from .attribution import check_run, component_slice, patch_hooks, patch_targets, resolve_components
from .discovery import Edge, EdgeScores, edge_receivers

__all__ = ["DEFAULT_STEPS", "NodeAttribution", "EdgeAttribution", "eap_ig_nodes", "eap_ig_effects", "eap_ig_edges"]

#: Interpolation points m by default: MIB's (``run_attribution.py --ig-steps``) and the EAP-IG README's.
DEFAULT_STEPS = 5


def _check_steps(steps) -> int:
    try:
        m = operator.index(steps)
    except TypeError:
        m = None
    if m is None or isinstance(steps, bool) or m < 1:
        raise ValueError(f"steps must be a whole number >= 1 (the interpolation points m of the Riemann sum; "
                         f"steps=1 is the first-order estimate, MIB runs EAP-IG-inputs with {DEFAULT_STEPS}), got "
                         f"{steps!r}")
    return m


def _check_positions(engine: Engine) -> None:
    if not torch.equal(engine.positions["clean"], engine.positions["corrupted"]):
        raise ValueError("clean and corrupted prompts are read at different positions: the line between their input "
                         "embeddings pairs them position by position; corrupt each prompt in place")


def _endpoints(engine: Engine, which: str, toward: str) -> tuple[Float[Tensor, "batch pos d_model"],
                                                                  Float[Tensor, "batch pos d_model"]]:
    """The input embeddings at the start (the ``which`` prompts) and end of the line (the ``toward`` prompts, or the
    per-position mean over the corrupted prompts, the same for every prompt)."""
    with torch.no_grad():
        start = engine.adapter.embed(engine.tokens[which]).detach()
        other = engine.adapter.embed(engine.tokens["corrupted" if toward == "mean" else toward]).detach()
    end = other.mean(0, keepdim=True).expand_as(start) if toward == "mean" else other
    return start, end


@dataclass
class _Point:
    """One interpolation point on one slice of the prompts: gradients of the summed metric, captured values."""

    k: int
    rows: slice
    grads: dict[Site, Tensor]            # ∂(Σ_i Δl_i)/∂site, [rows, ...]
    values: dict[Site, Tensor]           # the sites' activations on this run
    resid_pre: list[Tensor]              # the residual stream entering each block, [rows, pos, d_model]
    input_grad: Tensor                   # ∂(Σ_i Δl_i)/∂(input embeddings)
    final_grad: Tensor | None            # ∂(Σ_i Δl_i)/∂resid_final (all positions), when asked for
    metric: Tensor                       # per-prompt metric on this run [rows]


def _points(engine: Engine, which: str, start: Tensor, end: Tensor, steps: int, grad_sites: Sequence[Site],
            value_sites: Sequence[Site] = (), base: Sequence[Patch] = (), final: bool = False,
            chunk_prompts: int | None = None) -> Iterator[_Point]:
    """Run the model from ``start + (k/steps)(end − start)`` for ``k = 0 … steps−1`` (each prompt slice in one
    batch) and yield the metric's gradients there: with respect to each of ``grad_sites`` (a zero tensor that
    requires grad is added to the activation, so the forward is unchanged), to the input embeddings, and (``final``)
    to the final residual stream; ``base`` patches are applied on every run; parameters stay frozen."""
    adapter = engine.adapter
    B = engine.n_prompts
    size = B if chunk_prompts is None else max(1, int(chunk_prompts))
    by_site: dict[Site, list[Patch]] = {}
    for p in base:
        by_site.setdefault(engine.check_patch(p).site, []).append(p)
    grad_set, value_set = set(grad_sites), set(value_sites)
    hooked = list(dict.fromkeys([*by_site, *grad_sites, *value_sites]))
    positions = engine.positions[which]
    diff = end - start
    for k in range(steps):
        alpha = k / steps
        for first in range(0, B, size):
            rows = slice(first, min(first + size, B))
            leaves: dict[Site, Tensor] = {}
            seen: dict[Site, Tensor] = {}

            def make(site: Site):
                def fn(act: Tensor) -> Tensor:
                    if site in by_site:
                        act = act.clone()
                        for p in by_site[site]:
                            assign_patch(act, p.index, p.values[rows] if p.per_prompt else p.values)
                    if site in value_set:
                        seen[site] = act.detach().clone()
                    if site in grad_set:
                        leaves[site] = torch.zeros_like(act, requires_grad=True)
                        act = act + leaves[site]
                    return act
                return fn

            pre: list[Tensor] = []
            with torch.enable_grad(), adapter.hooks([(s, make(s)) for s in hooked]):
                x0 = (start[rows] + alpha * diff[rows]).detach().requires_grad_(True)
                x = x0
                for layer in range(engine.n_layers):
                    pre.append(x.detach())
                    x = adapter.block(layer, x)
                fin = torch.zeros_like(x, requires_grad=True) if final else None
                if fin is not None:
                    x = x + fin
                pos = positions[rows]
                out = x[torch.arange(x.shape[0], device=x.device), pos]
                vals = engine.metric.rows(rows, 1)(adapter.logits_at(
                    out, None if engine.ids is None else engine.ids[rows]))
                wrt = [x0] + [leaves[s] for s in grad_sites] + ([fin] if fin is not None else [])
                got = torch.autograd.grad(vals.sum(), wrt, allow_unused=True)
            got = [torch.zeros_like(t) if g is None else g.detach() for t, g in zip(wrt, got)]
            yield _Point(k, rows, dict(zip(grad_sites, got[1:1 + len(grad_sites)])), seen, pre, got[0],
                         got[-1] if fin is not None else None, vals.detach())


def _end_value(engine: Engine, which: str, end: Tensor, base: Sequence[Patch] = ()) -> float:
    """Mean metric of the run whose input embeddings are ``end`` (the end of the line, α = 1)."""
    adapter = engine.adapter

    with torch.no_grad(), adapter.hooks(patch_hooks(base)):
        x = end
        for layer in range(engine.n_layers):
            x = adapter.block(layer, x)
        out = x[torch.arange(x.shape[0], device=x.device), engine.positions[which]]
        vals = engine.metric(adapter.logits_at(out, engine.ids))
    return float(vals.float().mean())


# --------------------------------------------------------------------------------------------- nodes
@dataclass(frozen=True)
class NodeAttribution:
    """EAP-IG-inputs node scores of one model (plain data; :func:`eap_ig_nodes`).

    Attributes:
        scores: ``{component: estimated change of the mean metric}`` when it alone is moved to its target (Δl
            units; compare with :func:`~dcirc_utils.methods.attribution.exact_effects`).
        input_score: the integrated-gradients attribution of the input embeddings themselves, ``(e_end − e_start) ·
            (1/m) Σ_k ∂Δl/∂e`` summed over positions and features, mean over prompts; by the completeness axiom it
            approaches ``end_value − start_value`` as ``steps`` grows.
        start_value: mean metric at the start of the line (the ``which`` run, α = 0).
        end_value: mean metric at the end (α = 1: the ``toward`` prompts' input embeddings, or the corrupted prompts'
            per-position mean input for ``toward="mean"``).
        which, toward, steps: the run patched, the target, the interpolation points m.
    """

    scores: dict[Component, float]
    input_score: float
    start_value: float
    end_value: float
    which: str
    toward: str
    steps: int

    @property
    def completeness_gap(self) -> float:
        """``input_score − (end_value − start_value)``: the Riemann sum's error at the input (0 as m → ∞)."""
        return self.input_score - (self.end_value - self.start_value)


def eap_ig_nodes(engine: Engine, components: Iterable[Component] | None = None, which: str = "clean",
                 toward: str = "mean", steps: int = DEFAULT_STEPS,
                 chunk_prompts: int | None = None) -> NodeAttribution:
    """EAP-IG-inputs node scores with the input attribution and the metric at both ends of the line (notebook 02;
    the module docstring gives the formula, the discretisation and the two quantities).

    Args:
        engine: the model, prompts and metric.
        components: heads and MLPs to score (default: all).
        which: the run that is patched: ``"clean"`` or ``"corrupted"`` (the line starts at its input embeddings).
        toward: ``"clean"``, ``"corrupted"`` (the other run, prompt by prompt) or ``"mean"`` (the per-position mean
            over the corrupted prompts).
        steps: interpolation points m (``1``: the first-order estimate at the ``which`` run).
        chunk_prompts: prompts per forward/backward (default: all at once).

    Raises:
        ValueError: for an unknown ``which``/``toward``, ``toward == which``, ``steps < 1``, a component the model
            lacks, or prompt sets read at different positions.
    """
    check_run(which, toward)
    steps = _check_steps(steps)
    _check_positions(engine)
    comps = resolve_components(engine, components)
    sites = sorted({c.site for c in comps})
    start, end = _endpoints(engine, which, toward)
    B = engine.n_prompts
    gsum: dict[Site, Tensor] = {}
    acts: dict[Site, list[Tensor]] = {s: [] for s in sites}
    in_sum = torch.zeros(start.shape, dtype=torch.float64, device=start.device)
    start_vals = []
    for pt in _points(engine, which, start, end, steps, sites, sites, chunk_prompts=chunk_prompts):
        for s in sites:
            g = pt.grads[s].double()
            if s not in gsum:
                gsum[s] = torch.zeros((B, *g.shape[1:]), dtype=torch.float64, device=g.device)
            gsum[s][pt.rows] += g
            if pt.k == 0:
                acts[s].append(pt.values[s])
        in_sum[pt.rows] += pt.input_grad.double()
        if pt.k == 0:
            start_vals.append(pt.metric.float())
    own = {s: torch.cat(v) for s, v in acts.items()}
    targets = patch_targets(engine, sites, toward)
    scores = {}
    for c in comps:
        a, g = component_slice(own[c.site], c).double(), component_slice(gsum[c.site], c) / steps
        t = targets[c.site]
        t = (t if c.is_mlp else t[:, c.head]) if toward == "mean" else component_slice(t, c)
        scores[c] = float(((t.to(a) - a) * g).flatten(1).sum(-1).mean())
    input_score = float(((end - start).double() * in_sum / steps).flatten(1).sum(-1).mean())
    return NodeAttribution(scores, input_score, float(torch.cat(start_vals).mean()),
                           _end_value(engine, which, end), which, toward, steps)


def eap_ig_effects(engine: Engine, components: Iterable[Component] | None = None, which: str = "clean",
                   toward: str = "mean", steps: int = DEFAULT_STEPS) -> dict[Component, float]:
    """EAP-IG-inputs estimate of each component's patching effect, with the arguments, signs and units of
    :func:`~dcirc_utils.methods.attribution.first_order_effects` (so ``compare`` takes it unchanged; notebook 02):
    mean over prompts of ``(t − a) · (1/m) Σ_k ∂Δl/∂a`` at ``m`` points on the line between the two runs' input
    embeddings (module docstring). ``steps=1`` gives ``first_order_effects(engine, components, which, toward)``.

    * ``which="clean", toward="mean"``: mean ablation (the course's quantity; the line ends at the corrupted prompts'
      per-position mean input embedding);
    * ``which="corrupted", toward="clean"``: activation patching, denoising (MIB's EAP-IG-inputs).

    Returns:
        ``{component: estimated change of the mean metric}`` (Δl units).

    Raises:
        ValueError: as :func:`eap_ig_nodes`.
    """
    return eap_ig_nodes(engine, components, which, toward, steps).scores


# --------------------------------------------------------------------------------------------- edges
@dataclass(frozen=True)
class EdgeAttribution:
    """EAP-IG-inputs edge scores of one circuit (plain data; :func:`eap_ig_edges`).

    Attributes:
        scores: ``{edge: estimated change of the mean metric}`` when the sender's write into that receiver's input
            alone is moved to its target (Δl units), for every edge of the engine's edge set between senders and
            circuit receivers (``methods.discovery``).
        which, toward, steps: the run patched, the target, the interpolation points m.
        in_circuit: whether everything outside the circuit was mean-ablated on every run (``path_patch``'s context).
        start_value: mean metric of the ``which`` run (with the ablation, when ``in_circuit``).
        clean_value: the full model's clean metric (``path_patch``'s denominator).
    """

    scores: dict[Edge, float]
    which: str
    toward: str
    steps: int
    in_circuit: bool
    start_value: float
    clean_value: float

    def ratios(self) -> dict[Edge, float]:
        """``(start_value + score) / clean_value`` per edge: the estimated metric with the edge moved, over the full
        model's clean metric. With ``which="clean", toward="corrupted", in_circuit=True`` this is the unit of
        :func:`~dcirc_utils.methods.discovery.path_patch`'s scores (which also carry the path through the circuit's
        MLPs: module docstring)."""
        return {e: (self.start_value + s) / self.clean_value for e, s in self.scores.items()}

    def as_edge_scores(self, threshold: float = 0.8) -> EdgeScores:
        """:meth:`ratios` as :class:`~dcirc_utils.methods.discovery.EdgeScores` (its ``kept`` list: edges whose
        estimated ratio falls below ``threshold``)."""
        return EdgeScores(self.ratios(), threshold)


def _require_edges(engine: Engine, kinds: set[str]) -> None:
    adapter = engine.adapter
    if adapter.family != "decoder" or not adapter.splits_blocks:
        why = ("an encoder (post-LayerNorm blocks: a write reaches later blocks only through the LayerNorms in "
               "between)" if adapter.family == "encoder" else
               f"a {adapter.family} whose blocks do not split into a pre-norm attention and MLP part")
        raise FamilyError(
            f"EAP-IG edge scores need pre-norm blocks, where each sender's write is a term of every later receiver's "
            f"input; {adapter.label!r} is {why}. Score its components with eap_ig_effects, or its edges exactly "
            "with path_patch")
    if getattr(adapter, "kv_group", 1) > 1 and kinds & {"k", "v"}:
        raise FamilyError(
            f"{adapter.label!r} uses grouped-query attention: the query heads of a group share one key/value input, "
            "so a k or v edge into one head has no input of its own. Load the pair with its key/value heads "
            "ungrouped (register_hf_pair(..., ungroup_gqa=True), the default; 'hf:' pairs always are)")


def _head_input_weights(engine: Engine, layers: Iterable[int], kinds: set[str]) -> dict[int, dict[str, Tensor]]:
    """``W_Q/W_K/W_V`` ``[head, d_model, d_head]`` and their biases for each receiving layer."""
    adapter = engine.adapter
    out = {}
    for layer in layers:
        w = adapter.attn_weights(layer)
        try:
            out[layer] = {k: (w["W_" + k.upper()], w["b_" + k.upper()]) for k in sorted(kinds)}
        except FamilyError as err:
            raise FamilyError(f"EAP-IG edges into heads' {''.join(sorted(kinds))} inputs need each head's input "
                              f"weights: {err}. Score the components (eap_ig_effects), or use path_patch") from err
    return out


def _check_head_inputs(engine: Engine, layer: int, x: Tensor, seen: dict[Site, Tensor],
                       weights: dict[str, tuple[Tensor, Tensor]]) -> None:
    """The map ``x ↦ attn_in(layer, x) · W + b`` the edge gradient pulls back through must give the model's own
    ``q``/``k``/``v``: checked once, on the first run."""
    with torch.no_grad():
        h = engine.adapter.attn_in(layer, x)
        for kind, (W, b) in weights.items():
            ours = torch.einsum("bpd,hdk->bphk", h, W) + b
            got = seen[Site(kind, layer)]
            worst = float((ours - got).abs().max())
            tol = (1e-4 if got.dtype == torch.float32 else 3e-2) * max(1.0, float(got.abs().max()))
            if not worst <= tol:
                raise FamilyError(
                    f"{engine.adapter.label!r}: attn_in({layer}, x)·W_{kind.upper()} + b_{kind.upper()} differs from "
                    f"the model's {kind} by {worst:.3g} (tolerance {tol:.3g}), so a head's own {kind} input cannot be "
                    "recovered exactly and EAP-IG edges into heads are not computed for this model. Score the "
                    "components (eap_ig_effects), or use path_patch")


def eap_ig_edges(engine: Engine, circuit: Sequence[Component], steps: int = DEFAULT_STEPS, which: str = "corrupted",
                 toward: str = "clean", senders: Sequence[Component] | None = None, in_circuit: bool = False,
                 chunk_prompts: int | None = None) -> EdgeAttribution:
    """EAP-IG-inputs edge scores for the engine's edge set of ``circuit`` (notebook 02; module docstring).

    For an edge ``s → r``: mean over prompts of ``δ_s · (1/m) Σ_k ∂Δl/∂(r's input)`` at the ``m`` points of the line
    between the two runs' input embeddings, where ``δ_s`` is the sender's write into the residual stream moved from
    the ``which`` run to its target (a head's ``(z_t − z_a) W_O``, an MLP's ``mlp_out`` difference) and ``r``'s input
    is its own copy of the residual stream (a head's ``q``/``k``/``v`` input, an MLP's ``mlp_in``, or the final
    residual stream). The defaults are MIB's EAP-IG-inputs (denoising: corrupted run, clean target, intact model);
    ``which="clean", toward="corrupted", in_circuit=True`` is ``path_patch``'s direction and context. For every
    sender, its edges into all later components (circuit = all components) sum to its :func:`eap_ig_effects` score.

    Args:
        engine: the model (a pre-norm decoder), prompts and metric.
        circuit: the circuit's components (senders and receivers, as in ``path_patch``).
        steps: interpolation points m.
        which, toward: the run patched and the target (as :func:`eap_ig_effects`).
        senders: restrict the senders (default: every circuit component).
        in_circuit: mean-ablate everything outside ``circuit`` on every run (``path_patch``'s context); the senders'
            activations and per-prompt targets are then captured with that ablation (as ``path_patch`` captures its
            corrupted senders), while ``toward="mean"`` targets stay ``Engine.means`` (the intact model's means, the
            values the ablation itself writes).
        chunk_prompts: prompts per forward/backward (default: all at once).

    Returns:
        :class:`EdgeAttribution`.

    Raises:
        ValueError: for an empty circuit, a component the model lacks, bad ``which``/``toward``/``steps``, or prompt
            sets read at different positions.
        FamilyError: for encoders, grouped-query ``k``/``v`` edges, or a model whose head inputs cannot be recovered
            exactly (module docstring).
    """
    check_run(which, toward)
    steps = _check_steps(steps)
    _check_positions(engine)
    circuit = sorted(engine.check_components(circuit))
    if not circuit:
        raise ValueError("circuit=[] has no edges: pass the circuit's components (e.g. discover(...).circuit."
                         "components, or engine.components for every edge of the model)")
    senders = circuit if senders is None else sorted(engine.check_components(senders))
    plans = {s: edge_receivers(s, circuit) for s in senders}
    kinds = {e.kind for plan in plans.values() for e, _, _ in plan}
    _require_edges(engine, kinds)
    adapter = engine.adapter
    base = engine.circuit_base(circuit) if in_circuit else []

    # the senders' writes into the residual stream, δ_s = (target − activation) [· W_O]: [sender, batch, pos, d]
    s_sites = sorted({s.site for s in senders})
    own = engine.capture(s_sites, base, which=which)
    target = {s: engine.means[s] for s in s_sites} if toward == "mean" else engine.capture(s_sites, base, which=toward)
    deltas = []
    for s in senders:
        a, t = component_slice(own[s.site], s), target[s.site]
        t = (t if s.is_mlp else t[:, s.head]) if toward == "mean" else component_slice(t, s)
        d = t.to(a) - a
        deltas.append((d if s.is_mlp else d @ adapter.head_out_weights(s.layer)[s.head]).double())
    delta = torch.stack(deltas)                                                  # [S, B, P, d]
    s_index = {s: i for i, s in enumerate(senders)}

    # the receivers, grouped: MLP inputs, heads' q/k/v inputs by layer, the final residual stream
    incoming: dict[tuple, list[tuple[Edge, int]]] = {}
    for s, plan in plans.items():
        for edge, site, head in plan:
            key = ("resid",) if site.kind == "resid_final" else (site.kind, site.layer, head)
            incoming.setdefault(key, []).append((edge, s_index[edge.sender]))
    head_keys = sorted(k for k in incoming if k[0] in ("q", "k", "v"))
    head_layers = sorted({k[1] for k in head_keys})
    head_kinds = {k[0] for k in head_keys}
    weights = _head_input_weights(engine, head_layers, head_kinds) if head_keys else {}
    grad_sites = sorted({Site(k[0], k[1]) for k in incoming if k[0] != "resid"})
    value_sites = sorted({Site(kind, layer) for layer in head_layers for kind in head_kinds})

    by_layer: dict[int, list[tuple]] = {}
    for key in incoming:
        by_layer.setdefault(engine.n_layers if key[0] == "resid" else key[1], []).append(key)
    by_layer = [by_layer[layer] for layer in sorted(by_layer)]

    start, end = _endpoints(engine, which, toward)
    totals = {e: 0.0 for pairs in incoming.values() for e, _ in pairs}
    start_vals = []
    checked = False
    for pt in _points(engine, which, start, end, steps, grad_sites, value_sites, base, final=("resid",) in incoming,
                      chunk_prompts=chunk_prompts):
        rows = pt.rows
        n = rows.stop - rows.start
        receiver_grads: dict[tuple, Tensor] = {}
        for key in incoming:
            if key[0] == "resid":
                receiver_grads[key] = pt.final_grad
            elif key[0] == "mlp_in":
                receiver_grads[key] = pt.grads[Site("mlp_in", key[1])]
        for layer in head_layers:
            x = pt.resid_pre[layer]
            if not checked:
                _check_head_inputs(engine, layer, x, pt.values, weights[layer])
            keys = [k for k in head_keys if k[1] == layer]
            # cotangent in the residual stream's norm output, per (kind, head): ∂Δl/∂q_h · W_Q[h]ᵀ
            cot = torch.stack([pt.grads[Site(kind, layer)][:, :, h] @ weights[layer][kind][0][h].T
                               for kind, _, h in keys], 1)                        # [n, R, P, d]
            with torch.enable_grad():
                xr = x[:, None].expand(n, len(keys), *x.shape[1:]).reshape(-1, *x.shape[1:]).clone()
                xr.requires_grad_(True)
                (gx,) = torch.autograd.grad(adapter.attn_in(layer, xr), xr, cot.reshape(-1, *x.shape[1:]))
            gx = gx.view(n, len(keys), *x.shape[1:])
            for j, key in enumerate(keys):
                receiver_grads[key] = gx[:, j]
        checked = True
        d_rows = delta[:, rows].reshape(len(senders), -1)                       # [S, n·P·d]
        for keys in by_layer:                      # one product per receiving layer: [R, n·P·d] @ [n·P·d, S]
            g = torch.stack([receiver_grads[key].double().reshape(-1) for key in keys])
            prod = (g @ d_rows.T).tolist()                                       # [R, S]
            for j, key in enumerate(keys):
                for edge, i in incoming[key]:
                    totals[edge] += prod[j][i]
        if pt.k == 0:
            start_vals.append(pt.metric.float())
    B = engine.n_prompts
    return EdgeAttribution({e: v / (steps * B) for e, v in sorted(totals.items())}, which, toward, steps,
                           bool(in_circuit), float(torch.cat(start_vals).mean()), engine.clean_value)
