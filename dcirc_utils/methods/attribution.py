"""Exact vs approximate: the engine's exact component scores against gradient attribution (notebook 02, issue 16).

Attribution patching replaces one forward pass per component by one backward pass: the effect of moving an
activation ``a`` to a target ``t`` is estimated to first order as ``(t − a) · ∂m/∂a``, with the gradient of the
metric ``m`` (Δl) taken at the run being patched. This module puts that estimate next to the exact number the engine
measures, for two quantities:

(a) **Activation patching, denoising** — TransformerLens's convention (``transformer_lens.tools.analysis.
    attribution_patching.attribution_patch``): run the *corrupted* prompts, write one component's *clean*
    activation (per prompt, at every position), read Δl. Exact: :func:`exact_effects` with
    ``which="corrupted", toward="clean"``. Estimate: ``(a_clean − a_corrupt) · ∂Δl/∂a`` at the corrupted run,
    computed by TransformerLens's own tool (:func:`tl_attribution_patching`) and by this module's gradient
    (:func:`first_order_effects`, same arguments); the two estimates agree to float precision
    (``tests/integration/test_attribution.py``). A positive effect means the clean activation moves Δl up.
(b) **Mean ablation** — the course's own quantity (node pruning, influences): run the *clean* prompts, replace one
    component by its per-position mean over the corrupted prompts. Exact: :func:`exact_effects` with
    ``which="clean", toward="mean"`` (``Engine.ablation_scan`` minus the clean Δl). Estimate:
    ``(mean − a_clean) · ∂Δl/∂a`` at the clean run, :func:`first_order_effects` with the same arguments.
    TransformerLens's ``attribution_patch`` cannot compute it (it only pairs two token batches: its target is always
    another run's activation, never a mean), so the gradient here is this module's own: a zero tensor that requires
    grad is added to each site's activation through the adapter's hooks, and ``torch.autograd.grad`` of the summed
    per-prompt metric gives ``∂Δl_i/∂a_i`` for every prompt at once (prompts do not interact).

Both estimates sum over positions and features (a component is patched at every position) and average over
prompts, like the exact numbers. :func:`compare` ranks exact against estimate (Spearman's ρ over all components) and
lists the components of an exact node-pruning circuit that fall outside the estimate's top ``|circuit|``
("what the approximation misses"); :func:`exact_vs_approximate` runs both comparisons with timings
(``python -m bench.attribution``).

**What TransformerLens's tool needs from the model.** ``attribution_patch`` differentiates its cached hook tensors
and fails on the pairs as loaded ("element 0 of tensors does not require grad"): every pair freezes its parameters
(``requires_grad=False``), so no activation has a gradient path, and its embedding node lies upstream of every site
an adapter hook could open one at. :func:`tl_attribution_patching` therefore turns ``requires_grad`` on for the
duration of the call and restores every flag afterwards (the tool drives the backward with
``torch.autograd.grad``, so no parameter ``.grad`` is written). It runs one prompt at a time (so that the metric
knows its answer tokens) and only on decoder bridges; encoders (BERT pairs) raise
:class:`~dcirc_utils.models.adapters.FamilyError`.

**Direct path patching** (``transformer_lens.patching.get_act_patch_direct_path``; the module
``tools.analysis.direct_path_patching`` only forwards to it with a deprecation warning) computes something
different from :func:`~dcirc_utils.methods.discovery.path_patch`, for five reasons:

1. *receivers*: it patches one source head into a later head's Q, K or V input only. It has no MLP senders, no MLP
   receivers and no final-residual (logit) receiver, so the engine's ``sender → resid_final`` edge has no exact
   TransformerLens counterpart at all (``attribution_patch`` at edge granularity has a ``(writer, logits)`` edge,
   but it is the first-order *estimate* ``(a_clean − a_corrupt) · ∂m/∂resid_final`` at the corrupted run, not a
   measured patch);
2. *direction*: it runs the corrupted prompts and adds the source head's clean-minus-corrupted write
   ``(z_clean − z_corrupt) W_O`` (denoising); the engine runs the clean prompts with the sender corrupted (noising);
3. *context*: it patches the intact model; the engine mean-ablates everything outside the circuit first and divides
   by the full model's clean Δl;
4. *paths*: it adds the write to the receiver's own copy of the residual stream (its pre-norm Q/K/V input), so only
   the direct path changes; the engine's step 1 freezes later *heads* but recomputes the circuit's *MLPs*, so an MLP
   of the circuit between sender and receiver (at the sender's layer or later, before the receiver's) carries part
   of the sender's change into the receiver's input: the engine's edge is "direct + via circuit MLPs";
5. *value*: it returns the metric (Δl), the engine the metric over the clean Δl.

The nearest quantity that is the same: a head → later-head Q/K/V edge of a circuit with no MLP between them,
TransformerLens's function run on the *clean* prompts with the two caches swapped (our corrupted ``z`` as its
"clean", our clean ``z`` as its "corrupted": its added difference becomes corrupted-minus-clean, noising) inside
hooks that mean-ablate everything outside the circuit, divided by the clean Δl. Then both write the receiver's input
``LN(resid_clean + (z_corr − z_clean) W_O)`` and let everything after it run; :func:`tl_direct_path` computes this,
:func:`is_direct_edge` says when the engine's edge is purely direct, and the test checks that they agree to 1e-4.

Used by notebook 02 (exact vs approximate); ``bench/attribution.py`` prints the comparison on the ``small`` pair.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import torch
from torch import Tensor

from ..core.components import Component, Site
from ..engine import Engine, Patch
from ..engine import assign_patch    # how a patch writes into an activation: one definition, the engine's
from .discovery import Edge

__all__ = ["AttributionError", "RUNS", "TARGETS", "activation_gradients", "first_order_effects", "exact_effects",
           "tl_attribution_patching", "is_direct_edge", "tl_direct_path", "Comparison", "compare",
           "exact_vs_approximate", "spearman"]

#: The runs a patch can be applied to.
RUNS: tuple[str, ...] = ("clean", "corrupted")
#: What a patch can move an activation toward: another run's activation (per prompt) or the corrupted-prompt mean.
TARGETS: tuple[str, ...] = ("clean", "corrupted", "mean")


class AttributionError(RuntimeError):
    """TransformerLens's attribution tool could not run on a model; the message names the failure and the fix."""


def check_run(which: str, toward: str) -> None:
    """Raise a ValueError naming the fix unless ``which`` is a run and ``toward`` a target other than that run."""
    if which not in RUNS:
        raise ValueError(f"which must be one of {RUNS} (the run that is patched), got {which!r}")
    if toward not in TARGETS:
        raise ValueError(f"toward must be one of {TARGETS} (what the activation is moved to), got {toward!r}")
    if toward == which:
        raise ValueError(f"toward={toward!r} equals which={which!r}: patching a run with its own activations changes "
                         "nothing; use which='corrupted', toward='clean' (denoising, TransformerLens's convention) or "
                         "which='clean', toward='mean' (mean ablation, the course's)")


def resolve_components(engine: Engine, components: Iterable[Component] | None) -> list[Component]:
    """``components`` checked against the engine's model, or all of its components when ``None``."""
    return list(engine.components) if components is None else engine.check_components(components)


def patch_hooks(patches: Sequence[Patch]) -> list[tuple[Site, Callable[[Tensor], Tensor]]]:
    """(site, hook) pairs for ``adapter.hooks`` that write ``patches`` into the activations of a plain forward (each
    site's patches in order, on a copy of the activation), for code that runs the model outside the engine."""
    by_site: dict[Site, list[Patch]] = {}
    for p in patches:
        by_site.setdefault(p.site, []).append(p)

    def writer(ps: list[Patch]) -> Callable[[Tensor], Tensor]:
        def fn(act: Tensor) -> Tensor:
            act = act.clone()
            for p in ps:
                assign_patch(act, p.index, p.values)
            return act
        return fn

    return [(site, writer(ps)) for site, ps in by_site.items()]


def component_slice(act: Tensor, c: Component) -> Tensor:
    """A component's part of its site's activation ``[batch, pos, ...]`` (one head of ``z``, or all of ``mlp_out``)."""
    return act if c.is_mlp else act[:, :, c.head]


def _readout(engine: Engine, end_logits: Tensor, prompts: slice) -> Tensor:
    """Per-prompt metric from full-vocabulary logits at the answer position (rows = the prompts of ``prompts``)."""
    sub = engine.metric.rows(prompts, 1)
    if sub.ids is None:
        return sub(end_logits)
    return sub(end_logits.gather(-1, sub.ids.to(end_logits.device)))


# --------------------------------------------------------------------------------------------- our gradient
def activation_gradients(engine: Engine, sites: Sequence[Site], which: str = "clean", base: Sequence[Patch] = (),
                         chunk_prompts: int = 64) -> tuple[dict[Site, Tensor], dict[Site, Tensor]]:
    """Activations and per-prompt metric gradients ``∂m_i/∂a_i`` at every position of ``sites`` on one run
    (notebook 02).

    The gradient is this module's own (TransformerLens's tool cannot target a mean, see the module docstring): each
    site's hook adds a zero tensor that requires grad, so the forward is unchanged and the gradient with respect to
    that tensor is the gradient with respect to the activation, through every later path (including the other
    hooked sites). Parameters stay frozen. Prompts do not interact, so one backward of ``Σ_i m_i`` gives every
    prompt's own gradient.

    Args:
        engine: the model, prompts and metric.
        sites: activations to differentiate (e.g. ``Site("z", 3)``, ``Site("mlp_out", 3)``).
        which: ``"clean"`` or ``"corrupted"`` prompts.
        base: patches applied during the run (e.g. ``engine.circuit_base(circuit)``); per-prompt or per-position.
        chunk_prompts: prompts per forward/backward.

    Returns:
        ``(activations, gradients)``, each ``{site: [batch, ...]}`` float tensors on the engine's device.

    Raises:
        ValueError: for an unknown run or site.
    """
    if which not in RUNS:
        raise ValueError(f"which must be one of {RUNS}, got {which!r}")
    adapter = engine.adapter
    sites = [adapter.check_site(s) for s in dict.fromkeys(sites)]
    tokens, positions = engine.tokens[which], engine.positions[which]
    acts: dict[Site, list[Tensor]] = {s: [] for s in sites}
    grads: dict[Site, list[Tensor]] = {s: [] for s in sites}
    by_site: dict[Site, list[Patch]] = {}
    for p in base:
        by_site.setdefault(p.site, []).append(p)
    step = max(1, int(chunk_prompts))
    for start in range(0, engine.n_prompts, step):
        rows = slice(start, min(start + step, engine.n_prompts))
        leaves: dict[Site, Tensor] = {}
        seen: dict[Site, Tensor] = {}

        def make(site: Site, differentiate: bool):
            def fn(act: Tensor) -> Tensor:
                if site in by_site:
                    act = act.clone()
                    for p in by_site[site]:
                        assign_patch(act, p.index, p.values[rows] if p.per_prompt else p.values)
                if not differentiate:
                    return act
                seen[site] = act.detach().clone()
                leaves[site] = torch.zeros_like(seen[site], requires_grad=True)
                return act + leaves[site]
            return fn

        hooked = list(dict.fromkeys(list(by_site) + sites))
        with torch.enable_grad(), adapter.hooks([(s, make(s, s in sites)) for s in hooked]):
            x = adapter.run_blocks(tokens[rows])
            end = x[torch.arange(x.shape[0], device=x.device), positions[rows]]
            values = engine.metric.rows(rows, 1)(adapter.logits_at(
                end, None if engine.ids is None else engine.ids[rows]))
            got = torch.autograd.grad(values.sum(), [leaves[s] for s in sites], allow_unused=True)
        for s, g in zip(sites, got):
            acts[s].append(seen[s].float())
            grads[s].append(torch.zeros_like(seen[s]).float() if g is None else g.detach().float())
    return ({s: torch.cat(v) for s, v in acts.items()}, {s: torch.cat(v) for s, v in grads.items()})


def patch_targets(engine: Engine, sites: Sequence[Site], toward: str) -> dict[Site, Tensor]:
    """What each site's activation is moved to: the other run's activations ``[batch, ...]`` or the mean
    ``[pos, ...]`` (broadcast over prompts)."""
    if toward == "mean":
        return {s: engine.means[s].clone() for s in sites}
    return {s: a.clone() for s, a in engine.capture(list(sites), which=toward).items()}


def first_order_effects(engine: Engine, components: Iterable[Component] | None = None, which: str = "clean",
                        toward: str = "mean", scale: float = 1.0) -> dict[Component, float]:
    """First-order estimate of each component's patching effect: mean over prompts of ``scale · (t − a) · ∂m/∂a``,
    summed over positions and features, with ``a`` and the gradient taken on the ``which`` run (notebook 02).

    * ``which="clean", toward="mean"``: the estimate of mean ablation (quantity (b) of the module docstring; the
      course's), which TransformerLens's ``attribution_patch`` cannot compute;
    * ``which="corrupted", toward="clean"``: attribution patching as TransformerLens defines it (denoising,
      quantity (a)); equal to :func:`tl_attribution_patching`.

    Args:
        engine: the model, prompts and metric.
        components: heads and MLPs to score (default: all).
        which: the run that is patched (where the gradient is taken).
        toward: ``"clean"``, ``"corrupted"`` (the other run's activation of the same prompt) or ``"mean"``.
        scale: the fraction of the way to the target (the estimate is linear in it).

    Returns:
        ``{component: estimated change of the mean metric}`` (Δl units; compare with :func:`exact_effects`).
    """
    check_run(which, toward)
    comps = resolve_components(engine, components)
    sites = sorted({c.site for c in comps})
    acts, grads = activation_gradients(engine, sites, which)
    targets = patch_targets(engine, sites, toward)
    out = {}
    for c in comps:
        a, g = component_slice(acts[c.site], c).double(), component_slice(grads[c.site], c).double()
        t = targets[c.site]
        t = (t if c.is_mlp else t[:, c.head]) if toward == "mean" else component_slice(t, c)
        out[c] = float(scale * ((t.to(a) - a) * g).flatten(1).sum(-1).mean())
    return out


# --------------------------------------------------------------------------------------------- exact
def exact_effects(engine: Engine, components: Iterable[Component] | None = None, which: str = "clean",
                  toward: str = "mean", scale: float = 1.0) -> dict[Component, float]:
    """Exact change of the mean metric when each component alone is moved ``scale`` of the way to its target on the
    ``which`` run (at every position, per prompt), measured by the engine (notebook 02).

    * ``which="corrupted", toward="clean"``: activation patching, denoising (what attribution patching estimates);
    * ``which="clean", toward="mean"``: mean ablation (``Engine.ablation_scan`` minus the clean value; with
      ``scale=1`` it runs the engine's per-position mean patches);
    * a small ``scale`` (e.g. 1e-2) turns the effect divided by ``scale`` into the derivative that
      :func:`first_order_effects` estimates (the tests' check of the gradient).

    Args:
        engine: the model, prompts and metric.
        components: heads and MLPs (default: all).
        which: the run that is patched.
        toward: ``"clean"``, ``"corrupted"`` or ``"mean"``.
        scale: the fraction of the way from the activation to the target.

    Returns:
        ``{component: mean metric with the patch − mean metric of the unpatched which run}``.
    """
    check_run(which, toward)
    comps = resolve_components(engine, components)
    baseline = engine.clean_value if which == "clean" else float(engine.evaluate([[]], which="corrupted",
                                                                                 progress=False)[0])
    if which == "clean" and toward == "mean" and scale == 1.0:
        scan = engine.ablation_scan(comps, desc="mean ablation (exact)")
        return {c: v - baseline for c, v in scan.items()}
    sites = sorted({c.site for c in comps})
    own = engine.capture(sites, which=which)
    targets = patch_targets(engine, sites, toward)
    variants = []
    for c in comps:
        a = component_slice(own[c.site], c)
        t = targets[c.site]
        t = (t if c.is_mlp else t[:, c.head]) if toward == "mean" else component_slice(t, c)
        variants.append([Patch(c.site, c.index, (a + scale * (t.to(a) - a)).contiguous(), per_prompt=True)])
    values = engine.evaluate(variants, which=which, desc=f"activation patching (exact, {which} run)")
    return {c: float(v) - baseline for c, v in zip(comps, values)}


# --------------------------------------------------------------------------------------------- TransformerLens
@contextlib.contextmanager
def _parameters_require_grad(model: torch.nn.Module):
    """Turn ``requires_grad`` on for every parameter while the block runs, then restore each flag (TransformerLens's
    attribution tool needs a gradient path to its embedding node; the pairs freeze their parameters)."""
    saved = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in saved:
            p.requires_grad_(True)
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


def _node_component(node) -> Component | None:
    """TransformerLens's node as a component (``None`` for its embedding node, which is no component)."""
    if node.kind == "attn_head_out":
        return Component(node.layer, node.head)
    if node.kind == "mlp_out":
        return Component(node.layer)
    return None


def tl_attribution_patching(engine: Engine, components: Iterable[Component] | None = None,
                            progress: bool = False) -> dict[Component, float]:
    """TransformerLens's attribution patching (node granularity, ``ig_steps=1``) on the engine's prompts, per
    component (notebook 02).

    Calls ``transformer_lens.tools.analysis.attribution_patching.attribution_patch`` one prompt at a time (its
    metric function sees only logits, so each prompt gets a metric that knows its answer tokens), sums each
    component's node scores over positions and averages over prompts: the estimate ``(a_clean − a_corrupt) ·
    ∂m/∂a`` at the corrupted run (denoising) of :func:`exact_effects` ``(which="corrupted", toward="clean")``.
    Parameters are made to require grad during the call and restored afterwards (module docstring).

    Args:
        engine: the model (a decoder bridge), prompts and metric.
        components: heads and MLPs to return (default: all).
        progress: print a dot every 10 prompts.

    Returns:
        ``{component: estimated change of the mean metric}``.

    Raises:
        FamilyError: for an encoder (TransformerLens's tool runs on ``TransformerBridge`` decoders).
        AttributionError: when TransformerLens's tool fails on the model, with its error and the fallback
            (:func:`first_order_effects` with ``which="corrupted", toward="clean"`` computes the same estimate).
    """
    from transformer_lens.tools.analysis.attribution_patching import attribution_patch

    adapter = engine.adapter
    adapter.require("decoder", "TransformerLens's attribution patching")
    comps = resolve_components(engine, components)
    if not torch.equal(engine.positions["clean"], engine.positions["corrupted"]):
        raise ValueError("clean and corrupted prompts are read at different positions: attribution patching pairs "
                         "them position by position; corrupt each prompt in place")
    clean, corrupted = engine.tokens["clean"], engine.tokens["corrupted"]
    totals: dict[Component, float] = {c: 0.0 for c in engine.components}

    def metric_for(k: int):
        pos = int(engine.positions["clean"][k])
        return lambda logits: _readout(engine, logits[:, pos], slice(k, k + 1))[0]

    with torch.enable_grad(), _parameters_require_grad(adapter.model):
        for k in range(engine.n_prompts):
            try:
                result = attribution_patch(adapter.model, clean[k:k + 1], corrupted[k:k + 1], metric_for(k))
            except Exception as err:  # noqa: BLE001 - re-raised with the model and the fallback named
                raise AttributionError(
                    f"TransformerLens's attribution_patch failed on {adapter.label!r} ({type(adapter.model).__name__}) "
                    f"at prompt {k}: {type(err).__name__}: {err}. Use first_order_effects(engine, which='corrupted', "
                    "toward='clean'), which computes the same estimate through the adapter's hooks") from err
            for node, score in result.node_scores.items():
                comp = _node_component(node)
                if comp is not None:
                    totals[comp] += score
            if progress and (k + 1) % 10 == 0:
                print(".", end="", flush=True)
    return {c: totals[c] / engine.n_prompts for c in comps}


def is_direct_edge(edge: Edge, circuit: Iterable[Component]) -> bool:
    """Whether the engine's path-patching score of ``edge`` (a head → later-head Q/K/V edge) is the direct path
    alone: no MLP of ``circuit`` sits between them (from the sender's layer up to the layer before the receiver's),
    so nothing the engine recomputes in its step 1 carries the sender's change into the receiver's input
    (notebook 02)."""
    if edge.sender.is_mlp or edge.receiver is None or edge.kind not in ("q", "k", "v"):
        return False
    return not any(c.is_mlp and edge.sender.layer <= c.layer < edge.receiver.layer for c in circuit)


def tl_direct_path(engine: Engine, circuit: Sequence[Component], senders: Sequence[Component] | None = None,
                   kinds: str = "qkv") -> dict[Edge, float]:
    """Head → later-head edge scores by TransformerLens's direct path patching, in the engine's convention
    (notebook 02).

    Runs ``transformer_lens.patching.get_act_patch_direct_path`` on the *clean* prompts with the caches swapped
    (our corrupted ``z`` as its clean cache, our clean ``z`` as its corrupted cache: noising, like the engine) while
    the adapter's hooks mean-ablate everything outside ``circuit`` (like the engine), and divides its Δl by the full
    model's clean Δl. For every edge with :func:`is_direct_edge` true this equals
    :func:`~dcirc_utils.methods.discovery.path_patch`'s score; for the others, TransformerLens's number is the
    direct path alone and the engine's adds the path through the circuit's MLPs (module docstring). There is no
    counterpart for MLP senders, MLP receivers or the final residual stream.

    Args:
        engine: the model (a decoder bridge), prompts and metric.
        circuit: the circuit's components (heads are senders and receivers).
        senders: restrict the senders (default: every head of the circuit).
        kinds: receiver inputs among ``"q"``, ``"k"``, ``"v"``.

    Returns:
        ``{Edge(sender, receiver, kind): patched metric / clean metric}`` for every circuit head after each sender.

    Raises:
        FamilyError: for an encoder.
        ValueError: for an MLP sender or an unknown kind.
    """
    from transformer_lens.patching import get_act_patch_direct_path

    adapter = engine.adapter
    adapter.require("decoder", "TransformerLens's direct path patching")
    circuit = sorted(circuit)
    heads = [c for c in circuit if not c.is_mlp]
    senders = heads if senders is None else sorted(senders)
    if any(s.is_mlp for s in senders):
        raise ValueError("TransformerLens's direct path patching has head senders only: drop the MLPs from senders "
                         "(the engine's path_patch scores MLP senders)")
    if not set(kinds) <= set("qkv") or not kinds:
        raise ValueError(f"kinds must be letters of 'qkv', got {kinds!r}")
    base = engine.circuit_base(circuit)
    sites = sorted({s.site for s in senders})
    corrupted = engine.capture(sites, base, which="corrupted")
    clean = engine.capture(sites, base, which="clean")
    as_clean = {adapter.hook_name(s): corrupted[s].clone() for s in sites}      # swapped: noising
    as_corrupted = {adapter.hook_name(s): clean[s].clone() for s in sites}

    def metric(logits: Tensor) -> Tensor:
        pos = engine.positions["clean"].to(logits.device)
        end = logits[torch.arange(logits.shape[0], device=logits.device), pos]
        return _readout(engine, end, slice(None)).mean()

    scores: dict[Edge, float] = {}
    with torch.inference_mode(), adapter.hooks(patch_hooks(base)):
        for s in senders:
            receivers = [r for r in heads if r.layer > s.layer]
            if not receivers:
                continue
            for kind in kinds:
                res = get_act_patch_direct_path(adapter.model, engine.tokens["clean"], as_clean, as_corrupted, metric,
                                                s.layer, s.head, component=kind, verbose=False)
                for r in receivers:
                    scores[Edge(s, r, kind)] = float(res[r.layer, r.head]) / engine.clean_value
    return scores


# --------------------------------------------------------------------------------------------- comparison
def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant (notebook 02)."""
    from scipy.stats import spearmanr

    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two equally long lists of at least 2 values, got {len(a)} and {len(b)}")
    return float(spearmanr(a, b).statistic)


def _top(scores: Mapping[Component, float], k: int) -> list[Component]:
    return [c for c, _ in sorted(scores.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:k]]


@dataclass
class Comparison:
    """An exact scan next to its first-order estimate (plain data; notebook 02, ``bench/attribution.py``).

    Attributes:
        quantity: what is compared, e.g. ``"activation patching (denoising)"``.
        exact, approx: ``{component: change of the mean metric}``.
        seconds_exact, seconds_approx: wall time of each (engine construction excluded).
        spearman: Spearman's ρ of the signed values over all components.
        spearman_abs: Spearman's ρ of the magnitudes (the ranking a top-k list uses).
        circuit: the exact node-pruning circuit the lists are checked against.
        missed: circuit components outside the estimate's top ``|circuit|`` by magnitude ("what the approximation
            misses").
        missed_by_exact: circuit components outside the exact scan's own top ``|circuit|`` (what any
            single-component ranking misses, linearisation or not: the baseline for ``missed``).
        note: how the estimate was computed (e.g. a TransformerLens failure and the fallback used).
        extra_seconds: other timings (e.g. this module's gradient for the quantity TransformerLens also computes).
    """

    quantity: str
    exact: dict[Component, float]
    approx: dict[Component, float]
    seconds_exact: float
    seconds_approx: float
    spearman: float
    spearman_abs: float
    circuit: list[Component]
    missed: list[Component]
    missed_by_exact: list[Component]
    note: str = ""
    extra_seconds: dict[str, float] = field(default_factory=dict)


def compare(exact: Mapping[Component, float], approx: Mapping[Component, float], circuit: Sequence[Component] = (),
            quantity: str = "", seconds_exact: float = float("nan"), seconds_approx: float = float("nan"),
            note: str = "") -> Comparison:
    """Rank an estimate against the exact scan and list the circuit components it misses (notebook 02).

    Args:
        exact, approx: scores of the same components.
        circuit: an exact circuit (e.g. ``prune_nodes``'s); the estimate's top ``len(circuit)`` components by
            magnitude are checked against it.
        quantity, seconds_exact, seconds_approx, note: carried into the result.

    Raises:
        ValueError: when the two score different components.
    """
    if set(exact) != set(approx):
        raise ValueError(f"exact and approximate scores cover different components (only exact: "
                         f"{sorted(set(exact) - set(approx))[:5]}, only approximate: "
                         f"{sorted(set(approx) - set(exact))[:5]}): score the same list")
    comps = sorted(exact)
    circuit = sorted(circuit)
    k = len(circuit)
    top_a, top_e = set(_top(approx, k)), set(_top(exact, k))
    return Comparison(quantity, dict(exact), dict(approx), seconds_exact, seconds_approx,
                      spearman([exact[c] for c in comps], [approx[c] for c in comps]),
                      spearman([abs(exact[c]) for c in comps], [abs(approx[c]) for c in comps]),
                      circuit, [c for c in circuit if c not in top_a], [c for c in circuit if c not in top_e], note)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def exact_vs_approximate(engine: Engine, circuit: Sequence[Component], use_tl: bool = True) -> list[Comparison]:
    """Both comparisons of the module docstring on one model, timed (notebook 02; ``python -m bench.attribution``).

    1. activation patching (denoising): :func:`exact_effects` ``(which="corrupted", toward="clean")`` against
       :func:`tl_attribution_patching` (or, when TransformerLens's tool fails or ``use_tl`` is false, this
       module's identical estimate, with the reason in ``note``); the time of this module's estimate is in
       ``extra_seconds["own gradient"]``;
    2. mean ablation: :func:`exact_effects` ``(which="clean", toward="mean")`` against :func:`first_order_effects`
       with the same arguments.

    Args:
        engine: the model, prompts and metric.
        circuit: the exact node-pruning circuit (``prune_nodes`` or ``studies.discover``).
        use_tl: estimate (1) with TransformerLens's tool.
    """
    out = []
    exact, t_exact = _timed(lambda: exact_effects(engine, which="corrupted", toward="clean"))
    own, t_own = _timed(lambda: first_order_effects(engine, which="corrupted", toward="clean"))
    approx, t_approx, note = own, t_own, "this module's gradient (use_tl=False)"
    if use_tl:
        try:
            approx, t_approx = _timed(lambda: tl_attribution_patching(engine))
            note = "TransformerLens attribution_patch, one prompt at a time"
        except AttributionError as err:
            note = f"TransformerLens failed, this module's gradient used instead: {err}"
    cmp = compare(exact, approx, circuit, "activation patching (denoising)", t_exact, t_approx, note)
    cmp.extra_seconds["own gradient"] = t_own
    out.append(cmp)
    exact, t_exact = _timed(lambda: exact_effects(engine, which="clean", toward="mean"))
    approx, t_approx = _timed(lambda: first_order_effects(engine, which="clean", toward="mean"))
    out.append(compare(exact, approx, circuit, "mean ablation", t_exact, t_approx,
                       "this module's gradient (TransformerLens's attribution_patch has no mean target)"))
    return out

