"""Circuit discovery as in the study: iterative node pruning with mean ablation, then path patching (notebook 02).

Both run on :class:`dcirc_utils.engine.Engine`; results are plain data (:class:`Circuit`, :class:`EdgeScores`)
that later notebooks reuse through the on-disk cache of :mod:`dcirc_utils.cache`.

Procedure (the study's public code, ``apartresearch/seqcont_circuits``; see ``data/reference/paper-results.md``):

* Node pruning: start from the full model; sweep the layers backward (each layer's MLP, then its heads 0..n-1),
  then forward (heads, then the MLP), repeating until a sweep changes nothing. A candidate is removed (and stays
  mean-ablated) when the circuit without it keeps at least ``threshold`` of the full model's clean Δl. Removal is
  greedy: later candidates are tested with earlier removals in place.
* Path patching, with everything outside the circuit mean-ablated: for a sender, run the clean prompts with every
  head frozen to its clean (circuit) activation except the sender, which takes its activation on the corrupted
  prompts; record the receiver's input (its q, k or v; the MLP input; the final residual stream); rerun the clean
  prompts with only that input patched. The edge's score is Δl / clean Δl of the full model; an edge is kept when
  its score falls below ``edge_threshold``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from tqdm import tqdm

from .engine import Component, Engine, Patch, parse_component

__all__ = ["Circuit", "prune_nodes", "sweep_order", "Edge", "EdgeScores", "path_patch", "influences", "Discovery",
           "make_engine", "discover"]


@dataclass
class Circuit:
    """A circuit found by node pruning (plain data; ``to_dict``/``from_dict`` for the cache).

    Attributes:
        components: the kept heads and MLPs, sorted.
        score: 100 · Δl(circuit) / Δl(full model, clean).
        clean_logit_diff: the full model's clean Δl.
        threshold: the pruning threshold (fraction).
        n_sweeps: sweeps run (the last changed nothing).
        removal_scores: the score (%) measured when each removed component was removed.
    """

    components: list[Component]
    score: float
    clean_logit_diff: float
    threshold: float
    n_sweeps: int
    removal_scores: dict[Component, float] = field(default_factory=dict)

    @property
    def heads(self) -> list[Component]:
        return [c for c in self.components if not c.is_mlp]

    @property
    def mlps(self) -> list[Component]:
        return [c for c in self.components if c.is_mlp]

    def to_dict(self) -> dict:
        return {"components": [str(c) for c in self.components], "score": self.score,
                "clean_logit_diff": self.clean_logit_diff, "threshold": self.threshold, "n_sweeps": self.n_sweeps,
                "removal_scores": {str(c): s for c, s in self.removal_scores.items()}}

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


def prune_nodes(engine: Engine, threshold: float = 0.8, candidates: Iterable[Component] | None = None,
                max_sweeps: int = 20, progress: bool = True) -> Circuit:
    """Iterative node pruning with mean ablation (the study's procedure; see the module docstring).

    Greedy removal is evaluated in batches without changing the result: for the remaining candidates of a layer,
    the engine scores the chain of variants "remove c1", "remove c1, c2", ... in one batched call; the first
    candidate whose chain variant falls below the threshold is kept (all before it are removed, exactly as the
    sequential procedure would have done), and the chain restarts after it.

    Args:
        engine: the model and prompts.
        threshold: fraction of the clean Δl a circuit must keep (0.8 in the study).
        candidates: components eligible for removal (default: all); the others always stay.
        max_sweeps: safety bound on the number of sweeps.
        progress: show a progress bar over layers.

    Raises:
        ValueError: if the threshold is not in [0, 1.5].
    """
    if not 0.0 <= threshold <= 1.5:
        raise ValueError(f"threshold is a fraction of the clean Δl, e.g. 0.8; got {threshold}")
    eligible = set(engine.components if candidates is None else candidates)
    removed: list[Component] = []
    removal_scores: dict[Component, float] = {}
    target = threshold * 100.0
    n_sweeps = 0
    chain_len = 4
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
                base = engine.mean_ablation(removed)
                variants = [engine.mean_ablation(chain[: k + 1]) for k in range(len(chain))]
                scores = [engine.score(v) for v in engine.logit_diffs(variants, base, progress=False)]
                n_ok = next((k for k, s in enumerate(scores) if not s >= target), len(chain))
                for c, s in zip(chain[:n_ok], scores[:n_ok]):
                    removed.append(c)
                    removal_scores[c] = s
                    changed = True
                todo = todo[n_ok + 1:] if n_ok < len(chain) else todo[len(chain):]
                chain_len = min(2 * chain_len, 32) if n_ok == len(chain) else max(1, chain_len // 2)
            bar.update(1)
        if not changed:  # a sweep that removes nothing ends the pruning (the state cannot change any more)
            break
    bar.close()
    kept = sorted(c for c in engine.components if c not in removed)
    final = engine.logit_diffs([[]], engine.mean_ablation(removed), progress=False)[0]
    return Circuit(kept, engine.score(final), engine.clean_logit_diff, threshold, n_sweeps, removal_scores)


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


def _receivers(engine: Engine, sender: Component, circuit: Sequence[Component]) -> list[tuple[Edge, str, int | None]]:
    """(edge, hook name, head index) for every receiver input downstream of ``sender``."""
    ad, out = engine.adapter, []
    for r in circuit:
        if r.is_mlp and r.layer >= sender.layer and not (sender.is_mlp and r.layer == sender.layer):
            out.append((Edge(sender, r, "mlp_in"), ad.mlp_in_hook(r.layer), None))
        elif not r.is_mlp and r.layer > sender.layer:
            for kind in "qkv":
                out.append((Edge(sender, r, kind), ad.qkv_hook(r.layer, kind), r.head))
    out.append((Edge(sender, None, "resid"), "resid_final", None))
    return out


def path_patch(engine: Engine, circuit: Sequence[Component], threshold: float = 0.8,
               senders: Sequence[Component] | None = None) -> EdgeScores:
    """Score every edge between circuit components (and into the final residual stream) by path patching.

    Args:
        engine: the model and prompts.
        circuit: the circuit's components; everything else is mean-ablated throughout.
        threshold: an edge is kept when its score (Δl / clean Δl) falls below it.
        senders: restrict the senders (default: every circuit component).
    """
    circuit = sorted(circuit)
    outside = [c for c in engine.components if c not in set(circuit)]
    base = engine.mean_ablation(outside)
    heads = [c for c in circuit if not c.is_mlp]
    senders = circuit if senders is None else sorted(senders)
    sender_hooks = sorted({s.hook_name for s in senders})
    head_hooks = sorted({h.hook_name for h in heads})
    corrupted = engine.capture(sender_hooks, base, which="corrupted")
    clean = engine.capture(head_hooks, base, which="clean")

    def value(store, c):
        a = store[c.hook_name][0]
        return a if c.is_mlp else a[:, :, c.head]

    # step 1: one variant per sender (heads frozen after it, sender corrupted), capturing every receiver input
    variants, plans = [], []
    for s in senders:
        frozen = [Patch(h.hook_name, h.head, value(clean, h), "clean") for h in heads if h.layer > s.layer]
        variants.append(frozen + [Patch(s.hook_name, s.index, value(corrupted, s), "corrupted")])
        plans.append(_receivers(engine, s, circuit))
    capture_names = sorted({name for plan in plans for _, name, _ in plan})
    _, captured = engine.run(variants, base, capture=capture_names, desc="path patching: senders")

    # step 2: rerun the clean prompts with one receiver input patched at a time
    scores: dict[Edge, float] = {}
    step2, edges = [], []
    for i, plan in enumerate(plans):
        for edge, name, index in plan:
            rec = captured[name][i]
            if name == "resid_final":
                scores[edge] = engine.logit_diff_from_resid(rec) / engine.clean_logit_diff
                continue
            vals = rec if index is None else rec[:, :, index]
            step2.append([Patch(name, index, vals, f"edge:{edge}")])
            edges.append(edge)
    if step2:
        lds = engine.logit_diffs(step2, base, desc="path patching: receivers")
        for edge, ld in zip(edges, lds):
            scores[edge] = float(ld) / engine.clean_logit_diff
    return EdgeScores(scores, threshold)


@dataclass
class Discovery:
    """One model's engine, circuit and edge scores (what notebooks 02, 05 and 06 share)."""

    engine: Engine
    circuit: Circuit
    edges: EdgeScores | None


def _prompts_digest(prompts) -> str:
    import hashlib
    return hashlib.sha256("\n".join(prompts.clean + prompts.corrupted + prompts.correct).encode()).hexdigest()[:16]


def make_engine(model, tokenizer, prompts, **kwargs) -> Engine:
    """An :class:`Engine` for ``model`` on a :class:`~dcirc_utils.tasks.PromptSet`."""
    correct, incorrect = prompts.answer_ids(tokenizer)
    return Engine(model, prompts.tokens(tokenizer), prompts.tokens(tokenizer, "corrupted"), correct, incorrect,
                  **kwargs)


def discover(model, tokenizer, prompts, pair_name: str, role: str, threshold: float = 0.8,
             edge_threshold: float = 0.8, edges: bool = True, refresh: bool = False,
             engine: Engine | None = None) -> Discovery:
    """Node pruning and path patching for one model, cached on disk (notebook 02 computes; 05 and 06 reuse).

    The cache key holds the pair, the role, a fingerprint of the weights, the prompts and both thresholds.
    """
    from .cache import cached, model_fingerprint
    engine = engine or make_engine(model, tokenizer, prompts)
    key = {"pair": pair_name, "role": role, "weights": model_fingerprint(model), "prompts": _prompts_digest(prompts),
           "threshold": threshold, "version": 1}
    circuit = cached("circuit", key, lambda: prune_nodes(engine, threshold), Circuit.to_dict, Circuit.from_dict,
                     refresh=refresh)
    scores = None
    if edges:
        scores = cached("edges", dict(key, edge_threshold=edge_threshold, circuit=[str(c) for c in circuit.components]),
                        lambda: path_patch(engine, circuit.components, edge_threshold), EdgeScores.to_dict,
                        EdgeScores.from_dict, refresh=refresh)
    return Discovery(engine, circuit, scores)
