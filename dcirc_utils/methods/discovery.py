"""Circuit discovery: iterative node pruning with mean ablation, then path patching (notebook 02).

Both run on :class:`dcirc_utils.engine.Engine`; results are plain data (:class:`Circuit`, :class:`EdgeScores`)
that later notebooks reuse through the on-disk cache (``dcirc_utils.studies.discover``).

The study's procedure (its public code, ``apartresearch/seqcont_circuits``), corrected where that code departs from
its own description (``data/reference/study-spec.md`` lists the departures; ``prune_nodes(rule="study")`` runs the
study's version of the pruning):

* Node pruning: start from the full model; sweep the layers backward (each layer's MLP, then its heads 0..n-1),
  then forward (heads, then the MLP), repeating until a sweep changes nothing. A candidate is removed (and stays
  mean-ablated) when the circuit without it keeps at least ``threshold`` of the full model's clean Δl. Removal is
  greedy: later candidates are tested with earlier removals in place. Corrected: every mean comes from the intact
  model's corrupted run, and "at least" is ≥ (the study's code: MLP means with heads ablated, strict >).
* Path patching, with everything outside the circuit mean-ablated: for a sender, run the clean prompts with every
  head frozen to its clean (circuit) activation except the sender, which takes its activation on the corrupted
  prompts; record the receiver's input (its q, k or v; the MLP input; the final residual stream); rerun the clean
  prompts with only that input patched. The edge's score is Δl / clean Δl of the full model; an edge is kept when
  its score falls below ``edge_threshold``. Corrected: an MLP → head edge patches only that head's input (a filter
  typo in the study's code replaced the whole layer's ``z``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from tqdm.auto import tqdm

from ..core.components import Component, Site, parse_component
from ..engine import Engine, Patch

__all__ = ["Circuit", "prune_nodes", "PRUNING_RULES", "sweep_order", "Edge", "EdgeScores", "path_patch",
           "influences"]


@dataclass
class Circuit:
    """A circuit found by node pruning (plain data; ``to_dict``/``from_dict`` for the cache).

    Attributes:
        components: the kept heads and MLPs, sorted.
        score: 100 · metric(circuit) / metric(full model, clean) (Δl for the numeral task).
        clean_value: the full model's clean metric (Δl).
        threshold: the pruning threshold (fraction).
        n_sweeps: sweeps run (the last changed nothing).
        removal_scores: the score (%) measured when each removed component was removed.
        rule: the pruning rule (``"corrected"`` or ``"study"``, :func:`prune_nodes`).
    """

    components: list[Component]
    score: float
    clean_value: float
    threshold: float
    n_sweeps: int
    removal_scores: dict[Component, float] = field(default_factory=dict)
    rule: str = "corrected"

    @property
    def heads(self) -> list[Component]:
        return [c for c in self.components if not c.is_mlp]

    @property
    def mlps(self) -> list[Component]:
        return [c for c in self.components if c.is_mlp]

    def to_dict(self) -> dict:
        return {"components": [str(c) for c in self.components], "score": self.score,
                "clean_value": self.clean_value, "threshold": self.threshold, "n_sweeps": self.n_sweeps,
                "removal_scores": {str(c): s for c, s in self.removal_scores.items()}, "rule": self.rule}

    @classmethod
    def from_dict(cls, d: dict) -> "Circuit":
        d = dict(d)
        d["components"] = [parse_component(c) for c in d["components"]]
        d["removal_scores"] = {parse_component(c): s for c, s in d.get("removal_scores", {}).items()}
        return cls(**d)


def sweep_order(n_layers: int, n_heads: int, direction: str) -> list[list[Component]]:
    """Candidates layer by layer: backward = layers high→low, MLP then heads; forward = low→high, heads then MLP."""
    heads = lambda l: [Component(l, h) for h in range(n_heads)]  # noqa: E731
    if direction == "backward":
        return [[Component(l)] + heads(l) for l in reversed(range(n_layers))]
    if direction == "forward":
        return [heads(l) + [Component(l)] for l in range(n_layers)]
    raise ValueError(f"direction must be 'backward' or 'forward', got {direction!r}")


#: The two pruning rules: the course's corrected one and the study's as its public code runs it.
PRUNING_RULES = ("corrected", "study")


def _study_value(engine: Engine, removed: Sequence[Component]) -> float:
    """The metric with ``removed`` ablated the way the study's code does it: heads by their mean over the corrupted
    prompts, MLPs by their mean over the corrupted prompts *computed with those heads already ablated* (its
    ``add_mean_ablation_hook_MLP_head`` installs the head hooks before it measures the MLP means)."""
    heads = engine.mean_ablation([c for c in removed if not c.is_mlp])
    mlps = [c for c in removed if c.is_mlp]
    patches = list(heads)
    if mlps:
        acts = engine.capture(sorted({c.site for c in mlps}), heads, which="corrupted")
        patches += [Patch(c.site, None, acts[c.site].mean(0)) for c in mlps]
    return float(engine.evaluate([[]], patches, progress=False)[0])


def prune_nodes(engine: Engine, threshold: float = 0.8, candidates: Iterable[Component] | None = None,
                max_sweeps: int = 20, progress: bool = True, rule: str = "corrected") -> Circuit:
    """Iterative node pruning with mean ablation (see the module docstring; notebook 02).

    Two rules (``rule``):

    * ``"corrected"`` (default): every component's mean is taken over the corrupted prompts of the intact model, and a
      candidate is removed when the circuit without it keeps **at least** ``threshold`` of the clean metric (≥).
      Greedy removal is evaluated in batches without changing the result: for the remaining candidates of a layer,
      the engine scores the chain of variants "remove c1", "remove c1, c2", ... in one batched call; the first
      candidate whose chain variant falls below the threshold is kept (all before it are removed, exactly as the
      sequential procedure would have done), and the chain restarts after it.
    * ``"study"``: as the study's public code runs it (``apartresearch/seqcont_circuits``,
      ``loop_node_ablation_fns.py`` with ``add_mean_ablation_hook_MLP_head``): an MLP's mean is measured over the
      corrupted prompts **with the currently removed heads already mean-ablated**, and a candidate is removed only
      when the circuit keeps **more than** ``threshold`` (its ``100 − score < 20`` test is a strict ``>`` 80 %).
      Evaluated one candidate at a time (each removal changes the MLP means).

    Args:
        engine: the model and prompts.
        threshold: fraction of the clean metric a circuit must keep (0.8 in the study).
        candidates: components eligible for removal (default: all); the others always stay.
        max_sweeps: safety bound on the number of sweeps.
        progress: show a progress bar over layers.
        rule: ``"corrected"`` or ``"study"``.

    Raises:
        ValueError: if the threshold is not in [0, 1.5], the rule is unknown, or ``candidates`` is empty or names a
            component the model does not have.
    """
    if not 0.0 <= threshold <= 1.5:
        raise ValueError(f"threshold is a fraction of the clean Δl, e.g. 0.8; got {threshold}")
    if rule not in PRUNING_RULES:
        raise ValueError(f"rule must be one of {PRUNING_RULES}, got {rule!r}")
    study = rule == "study"
    eligible = set(engine.components if candidates is None else engine.check_components(candidates))
    if not eligible:
        raise ValueError("candidates=[] leaves nothing to prune (the circuit would be the whole model): pass "
                         "candidates=None to prune among every component, or list the components to try")
    removed: list[Component] = []
    removal_scores: dict[Component, float] = {}
    target = threshold * 100.0
    keeps = (lambda s: s > target) if study else (lambda s: s >= target)  # noqa: E731
    n_sweeps = 0
    chain_len = 1 if study else 4
    bar = tqdm(total=0, desc="node pruning", disable=not (progress and engine.progress), leave=False, mininterval=1.0)
    for n_sweeps in range(1, max_sweeps + 1):
        direction = "backward" if n_sweeps % 2 == 1 else "forward"
        changed = False
        layers = sweep_order(engine.n_layers, engine.n_heads, direction)
        bar.total += len(layers)
        bar.set_description(f"node pruning (sweep {n_sweeps}, {direction})")
        for layer_cands in layers:
            todo = [c for c in layer_cands if c in eligible and c not in removed]
            while todo:
                chain = todo[:chain_len]
                if study:
                    scores = [engine.score(_study_value(engine, removed + chain))]
                else:
                    base = engine.mean_ablation(removed)
                    variants = [engine.mean_ablation(chain[: k + 1]) for k in range(len(chain))]
                    scores = [engine.score(v) for v in engine.evaluate(variants, base, progress=False)]
                n_ok = next((k for k, s in enumerate(scores) if not keeps(s)), len(chain))
                for c, s in zip(chain[:n_ok], scores[:n_ok]):
                    removed.append(c)
                    removal_scores[c] = s
                    changed = True
                todo = todo[n_ok + 1:] if n_ok < len(chain) else todo[len(chain):]
                if not study:
                    chain_len = min(2 * chain_len, 32) if n_ok == len(chain) else max(1, chain_len // 2)
            bar.update(1)
        if not changed:  # a sweep that removes nothing ends the pruning (the state cannot change any more)
            break
    bar.close()
    kept = sorted(c for c in engine.components if c not in removed)
    final = _study_value(engine, removed) if study else engine.evaluate([[]], engine.mean_ablation(removed),
                                                                         progress=False)[0]
    return Circuit(kept, engine.score(final), engine.clean_value, threshold, n_sweeps, removal_scores, rule)


def influences(engine: Engine, components: Sequence[Component] | None = None) -> dict[Component, float]:
    """Influence of each component: |Δl drop| (in % of clean Δl) when it alone is mean-ablated from the full model,
    normalised to sum to 1 over the components (the study's normalisation; notebooks 05 and 06)."""
    scan = engine.ablation_scan(components, desc="influence scan")
    drops = {c: abs(100.0 - engine.score(v)) for c, v in scan.items()}
    total = sum(drops.values())
    if total == 0:
        raise ValueError("no component changes the logit difference: influences are undefined (all zero)")
    return {c: d / total for c, d in drops.items()}


# --------------------------------------------------------------------------------------------- path patching
@dataclass(frozen=True)
class Edge:
    """An edge from a sender component to a receiver input.

    ``kind`` is ``"q"``, ``"k"`` or ``"v"`` for a head receiver, ``"mlp_in"`` for an MLP and ``"resid"`` for the
    final residual stream (then ``receiver`` is ``None``).
    """

    sender: Component
    receiver: Component | None
    kind: str

    def _key(self):
        r = (10**9, 0) if self.receiver is None else (self.receiver.layer, self.receiver.head)
        return (self.sender.layer, self.sender.head, *r, self.kind)

    def __lt__(self, other: "Edge") -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        recv = "resid_final" if self.receiver is None else f"{self.receiver}" + (
            f".{self.kind}" if self.kind in "qkv" else "")
        return f"{self.sender} -> {recv}"


@dataclass
class EdgeScores:
    """Scores (Δl / clean Δl) of every tested edge, and the kept ones (score below the threshold)."""

    scores: dict[Edge, float]
    threshold: float

    @property
    def kept(self) -> list[Edge]:
        return sorted(e for e, s in self.scores.items() if s < self.threshold)

    def to_dict(self) -> dict:
        return {"threshold": self.threshold,
                "scores": [[str(e.sender), None if e.receiver is None else str(e.receiver), e.kind, s]
                           for e, s in sorted(self.scores.items())]}

    @classmethod
    def from_dict(cls, d: dict) -> "EdgeScores":
        scores = {Edge(parse_component(s), None if r is None else parse_component(r), k): v
                  for s, r, k, v in d["scores"]}
        return cls(scores, d["threshold"])


def edge_receivers(sender: Component, circuit: Sequence[Component]) -> list[tuple[Edge, Site, int | None]]:
    """(edge, receiver site, head index) for every receiver input downstream of ``sender``."""
    out = []
    for r in circuit:
        if r.is_mlp and r.layer >= sender.layer and not (sender.is_mlp and r.layer == sender.layer):
            out.append((Edge(sender, r, "mlp_in"), Site("mlp_in", r.layer), None))
        elif not r.is_mlp and r.layer > sender.layer:
            for kind in "qkv":
                out.append((Edge(sender, r, kind), Site(kind, r.layer), r.head))
    out.append((Edge(sender, None, "resid"), Site("resid_final"), None))
    return out


def path_patch(engine: Engine, circuit: Sequence[Component], threshold: float = 0.8,
               senders: Sequence[Component] | None = None) -> EdgeScores:
    """Score every edge between circuit components (and into the final residual stream) by path patching.

    Args:
        engine: the model and prompts.
        circuit: the circuit's components; everything else is mean-ablated throughout.
        threshold: an edge is kept when its score (metric / clean metric) falls below it.
        senders: restrict the senders (default: every circuit component).

    Raises:
        ValueError: if ``circuit`` or ``senders`` names a component the model does not have.
    """
    circuit = sorted(engine.check_components(circuit))
    base = engine.circuit_base(circuit)
    heads = [c for c in circuit if not c.is_mlp]
    senders = circuit if senders is None else sorted(engine.check_components(senders))
    corrupted = engine.capture(sorted({s.site for s in senders}), base, which="corrupted")
    clean = engine.capture(sorted({h.site for h in heads}), base, which="clean")

    def value(store, c):
        a = store[c.site]
        return a if c.is_mlp else a[:, :, c.head]

    # step 1: one variant per sender (heads frozen after it, sender corrupted), capturing every receiver input
    variants, plans = [], []
    for s in senders:
        frozen = [Patch(h.site, h.head, value(clean, h), per_prompt=True) for h in heads if h.layer > s.layer]
        variants.append(frozen + [Patch(s.site, s.index, value(corrupted, s), per_prompt=True)])
        plans.append(edge_receivers(s, circuit))
    capture_sites = sorted({site for plan in plans for _, site, _ in plan}, key=lambda t: (t.layer is None, t))
    _, captured = engine.run(variants, base, capture=capture_sites, desc="path patching: senders")

    # step 2: rerun the clean prompts with one receiver input patched at a time
    scores: dict[Edge, float] = {}
    step2, edges = [], []
    for i, plan in enumerate(plans):
        for edge, site, index in plan:
            rec = captured[site][i]
            if site.kind == "resid_final":
                scores[edge] = engine.value_from_resid(rec) / engine.clean_value
                continue
            vals = rec if index is None else rec[:, :, index]
            step2.append([Patch(site, index, vals, per_prompt=True)])
            edges.append(edge)
    if step2:
        values = engine.evaluate(step2, base, desc="path patching: receivers")
        for edge, v in zip(edges, values):
            scores[edge] = float(v) / engine.clean_value
    return EdgeScores(scores, threshold)
