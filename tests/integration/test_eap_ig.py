"""EAP-IG (``dcirc_utils.methods.eap_ig``, notebook 02) on the offline ``mini`` pair (a stand-in trained in this
project): the one-step identity with the first-order estimate, a naive reference written here (one plain
``run_with_hooks`` forward of the TransformerLens bridge per interpolation point, ``torch.autograd.grad``, the hook
names, the input norm and the weights spelled out independently of the package's adapters), the completeness axiom at
the input embeddings, the edge/node identity, and the errors."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.components import Component
from dcirc_utils.core.tasks import make_prompts, make_task
from dcirc_utils.engine import Engine
from dcirc_utils.methods import attribution as at
from dcirc_utils.methods import eap_ig as ig
from dcirc_utils.methods.discovery import Edge
from dcirc_utils.models.adapters import FamilyError

from ..helpers import assert_scores_close
from ..naive_reference import ablation_hooks, corrupted_means

QUANTITIES = [("clean", "mean"), ("corrupted", "clean"), ("clean", "corrupted")]
EMBED = "blocks.0.hook_resid_pre"


@pytest.fixture(scope="module")
def engine(mini_pair):
    ps = make_prompts(10, seed=3, tokenizer=mini_pair.tokenizer)
    return Engine.for_prompts(mini_pair.teacher, ps, progress=False)


# --------------------------------------------------------------------------------------------- naive reference
def _z(l: int) -> str:
    return f"blocks.{l}.attn.hook_z"


def _mlp(l: int) -> str:
    return f"blocks.{l}.hook_mlp_out"


def _layer_norm(x, eps):
    """The bridge's input norm in compatibility mode (weights folded into the next matrices): centre, scale."""
    x = x - x.mean(-1, keepdim=True)
    return x / (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()


class Naive:
    """EAP-IG-inputs by hand on the bridge: caches of the two runs, and the metric's gradient at each point of the
    line between their ``blocks.0.hook_resid_pre`` (one forward and one ``autograd.grad`` per point)."""

    def __init__(self, engine, which, toward, ablate=()):
        self.model = engine.adapter.model
        self.ids = engine.metric.ids
        self.runs = {"clean": engine.tokens["clean"], "corrupted": engine.tokens["corrupted"]}
        self.which, self.toward = which, toward
        n = self.model.cfg.n_layers
        self.names = [name for l in range(n) for name in (_z(l), _mlp(l))]
        self.base = ablation_hooks(ablate, corrupted_means(self.model, self.runs["corrupted"])) if ablate else []
        self.cache = {k: self._cache(t) for k, t in self.runs.items()}
        start = self.cache[which][EMBED]
        self.start = start
        self.end = (self.cache["corrupted"][EMBED].mean(0, keepdim=True).expand_as(start) if toward == "mean"
                    else self.cache[toward][EMBED])

    def _cache(self, tokens):
        store = {}

        def saver(name):        # keyed by the name asked for (the bridge may report an alias as hook.name)
            def save(act, hook):
                store[name] = act.detach().clone()
            return save
        names = [EMBED] + self.names + [f"blocks.{l}.hook_resid_pre" for l in range(self.model.cfg.n_layers)]
        with torch.inference_mode():
            self.model.run_with_hooks(tokens, fwd_hooks=self.base + [(n, saver(n)) for n in dict.fromkeys(names)])
        return store

    def activation(self, name):
        return self.cache[self.which][name]

    def target(self, name):
        return self.cache["corrupted"][name].mean(0) if self.toward == "mean" else self.cache[self.toward][name]

    def value(self, logits):
        end = logits[:, -1]
        rows = torch.arange(end.shape[0])
        return (end[rows, self.ids[:, 0]] - end[rows, self.ids[:, 1]]).mean()

    def point(self, alpha, hooks, wrt):
        """Gradient of the mean Δl at ``start + alpha (end − start)`` with respect to ``wrt()`` (evaluated after
        the forward: the hooks create the leaves), the input embeddings first."""
        x_in = (self.start + alpha * (self.end - self.start)).detach().requires_grad_(True)
        with torch.enable_grad():
            logits = self.model.run_with_hooks(self.runs[self.which],
                                               fwd_hooks=[(EMBED, lambda act, hook: x_in)] + self.base + hooks)
            return torch.autograd.grad(self.value(logits), [x_in] + wrt())

    def nodes(self, steps, comps):
        total = {name: 0.0 for name in self.names}
        total_in = 0.0
        for k in range(steps):
            leaves = {}

            def leaf(name):
                def add(act, hook):
                    leaves[name] = torch.zeros_like(act, requires_grad=True)
                    return act + leaves[name]
                return add
            g_in, *gs = self.point(k / steps, [(n, leaf(n)) for n in self.names],
                                   lambda: [leaves[n] for n in self.names])
            total_in = total_in + g_in
            for n, g in zip(self.names, gs):
                total[n] = total[n] + g
        out = {}
        for c in comps:
            name = _mlp(c.layer) if c.is_mlp else _z(c.layer)
            d = (self.target(name) - self.activation(name)) * total[name] / steps
            out[c] = float((d if c.is_mlp else d[:, :, c.head]).sum())
        return out, float(((self.end - self.start) * total_in / steps).sum())

    def edge(self, steps, edge):
        """d(mean Δl)/dε averaged over the points, where the receiver's own input is moved by ε·δ (δ: the sender's
        write, moved to its target): the head's q/k/v recomputed from its norm applied to resid_pre + ε·δ, the MLP's
        input plus ε·δ, or the final residual stream plus ε·δ."""
        model, s = self.model, edge.sender
        if s.is_mlp:
            delta = self.target(_mlp(s.layer)) - self.activation(_mlp(s.layer))
        else:
            dz = (self.target(_z(s.layer)) - self.activation(_z(s.layer)))[..., s.head, :]
            delta = dz @ model.W_O[s.layer][s.head]
        total = 0.0
        for k in range(steps):
            eps = torch.zeros((), requires_grad=True)
            hooks = []
            if edge.kind in ("q", "k", "v"):
                r, l, resid = edge.receiver, edge.receiver.layer, {}
                W = getattr(model, "W_" + edge.kind.upper())[l][r.head]

                def keep(act, hook):
                    resid["x"] = act.detach()

                def move(act, hook):
                    x, ln_eps = resid["x"], model.cfg.eps
                    act = act.clone()
                    act[:, :, r.head] = act[:, :, r.head] + (
                        _layer_norm(x + eps * delta, ln_eps) - _layer_norm(x, ln_eps)) @ W
                    return act
                hooks = [(f"blocks.{l}.hook_resid_pre", keep), (f"blocks.{l}.attn.hook_{edge.kind}", move)]
            else:
                name = (f"blocks.{edge.receiver.layer}.ln2.hook_in" if edge.kind == "mlp_in" else
                        f"blocks.{model.cfg.n_layers - 1}.hook_resid_post")
                hooks = [(name, lambda act, hook: act + eps * delta)]
            total = total + self.point(k / steps, hooks, lambda: [eps])[1]
        return float(total / steps)


# --------------------------------------------------------------------------------------------- (i) one step
@pytest.mark.parametrize("which,toward", QUANTITIES)
def test_one_step_is_the_first_order_estimate(engine, which, toward):
    """The left Riemann sum's only point with m = 1 is α = 0, the patched run itself: EAP-IG is then the first-order
    estimate (t − a)·∇ at the run where the gradient is taken, to float precision; and the input attribution is the
    input embeddings' own first-order term."""
    first = at.first_order_effects(engine, which=which, toward=toward)
    one = ig.eap_ig_nodes(engine, which=which, toward=toward, steps=1)
    assert one.steps == 1 and set(one.scores) == set(engine.components)
    assert max(abs(v) for v in first.values()) > 0.1                         # not vacuous
    assert_scores_close(one.scores, first, rel=1e-6)
    assert one.start_value == pytest.approx(float(engine.evaluate([[]], which=which, progress=False)[0]), abs=1e-4)
    # more points change the estimate (the test above is not an identity of the code)
    five = ig.eap_ig_effects(engine, which=which, toward=toward)
    assert max(abs(five[c] - first[c]) for c in first) > 1e-2


# --------------------------------------------------------------------------------------------- (ii) naive reference
@pytest.mark.parametrize("which,toward", QUANTITIES[:2])
def test_nodes_and_edges_equal_a_naive_loop_over_the_points(engine, which, toward):
    """Every node score, the input attribution and edges of each receiver kind equal the naive reference (one bridge
    forward and backward per interpolation point, m = 3) to 1e-4 of the largest value."""
    steps = 3
    naive = Naive(engine, which, toward)
    ref_nodes, ref_input = naive.nodes(steps, engine.components)
    ours = ig.eap_ig_nodes(engine, which=which, toward=toward, steps=steps)
    assert_scores_close(ours.scores, ref_nodes)
    assert ours.input_score == pytest.approx(ref_input, rel=1e-4, abs=1e-5)

    C = Component
    picked = [Edge(C(1, 2), C(3, 1), "q"), Edge(C(0, 3), C(2, 0), "k"), Edge(C(2, 1), C(4, 3), "v"),
              Edge(C(1), C(3), "mlp_in"), Edge(C(2, 0), C(2), "mlp_in"), Edge(C(4), None, "resid"),
              Edge(C(5, 2), None, "resid")]
    edges = ig.eap_ig_edges(engine, engine.components, steps=steps, which=which, toward=toward)
    ref = {e: naive.edge(steps, e) for e in picked}
    assert max(abs(v) for v in ref.values()) > 1e-3
    assert_scores_close(edges.scores, ref)


def test_edges_in_the_circuit_context_equal_the_naive_loop(engine):
    """With everything outside the circuit mean-ablated on every run (path_patch's context, ``in_circuit=True``) and
    the noising direction, edges equal the naive reference run with the same ablation hooks."""
    C = Component
    circuit = [C(0), C(1, 2), C(2, 0), C(2), C(3, 1), C(4), C(5, 2)]
    steps = 2
    naive = Naive(engine, "clean", "corrupted", ablate=engine.outside(circuit))
    picked = [Edge(C(1, 2), C(3, 1), "q"), Edge(C(2, 0), C(2), "mlp_in"), Edge(C(4), None, "resid"),
              Edge(C(0), C(5, 2), "v")]
    edges = ig.eap_ig_edges(engine, circuit, steps=steps, which="clean", toward="corrupted", in_circuit=True)
    ref = {e: naive.edge(steps, e) for e in picked}
    assert_scores_close(edges.scores, ref)
    circuit_value = float(engine.evaluate([[]], engine.circuit_base(circuit), progress=False)[0])
    assert edges.start_value == pytest.approx(circuit_value, abs=1e-4)
    ratios = edges.ratios()
    assert ratios[picked[0]] == pytest.approx((circuit_value + edges.scores[picked[0]]) / engine.clean_value)
    assert set(edges.as_edge_scores(0.8).scores) == set(edges.scores)
    # without the ablation the numbers differ (the context matters: the check is not vacuous)
    free = ig.eap_ig_edges(engine, circuit, steps=steps, which="clean", toward="corrupted")
    assert max(abs(free.scores[e] - edges.scores[e]) for e in picked) > 1e-3


@pytest.mark.parametrize("which,toward", QUANTITIES)
def test_a_senders_edges_sum_to_its_node_score(engine, which, toward):
    """In a pre-norm model the gradient at the residual stream where a component writes is the sum of the gradients
    at its readers' own inputs: with every component in the circuit, each sender's edges (into every later head's
    q, k and v, every later MLP and the final residual stream) add up to its node score, at any m."""
    steps = 2
    nodes = ig.eap_ig_effects(engine, which=which, toward=toward, steps=steps)
    edges = ig.eap_ig_edges(engine, engine.components, steps=steps, which=which, toward=toward)
    n, H = engine.n_layers, engine.n_heads
    sums: dict[Component, float] = {}
    count: dict[Component, int] = {}
    for e, v in edges.scores.items():
        sums[e.sender] = sums.get(e.sender, 0.0) + v
        count[e.sender] = count.get(e.sender, 0) + 1
    for c in engine.components:                           # the engine's edge set: every reader after the sender
        later = n - 1 - c.layer
        assert count[c] == 3 * H * later + later + (0 if c.is_mlp else 1) + 1, c
    assert_scores_close(sums, nodes)


# --------------------------------------------------------------------------------------------- (iii) completeness
@pytest.mark.parametrize("which,toward", QUANTITIES)
def test_input_attribution_approaches_the_change_along_the_line(engine, which, toward):
    """Completeness at the input: the integrated-gradients attribution of the input embeddings approaches
    Δl(end of the line) − Δl(start) as m grows (left Riemann sum): far off with one point, within 1 % with 64. The
    end values are the runs on the other prompts' embeddings (their clean/corrupted Δl) or on the corrupted prompts'
    per-position mean embedding."""
    one = ig.eap_ig_nodes(engine, [Component(0)], which=which, toward=toward, steps=1)
    many = ig.eap_ig_nodes(engine, [Component(0)], which=which, toward=toward, steps=64)
    change = many.end_value - many.start_value
    assert abs(change) > 1.0
    if toward != "mean":
        assert many.end_value == pytest.approx(float(engine.evaluate([[]], which=toward, progress=False)[0]),
                                               abs=1e-4)
    assert one.start_value == pytest.approx(many.start_value, abs=1e-6)
    assert abs(one.completeness_gap) > 0.3 * abs(change)
    assert abs(many.completeness_gap) <= 0.01 * abs(change)
    assert abs(many.completeness_gap) <= abs(one.completeness_gap) / 50


# --------------------------------------------------------------------------------------------- (iv) bad input
def test_bad_arguments_raise(engine):
    for steps in (0, -2, 2.5, True, "5"):
        with pytest.raises(ValueError, match="steps must be a whole number"):
            ig.eap_ig_effects(engine, steps=steps)
        with pytest.raises(ValueError, match="steps must be a whole number"):
            ig.eap_ig_edges(engine, [Component(0)], steps=steps)
    with pytest.raises(ValueError, match="which must be"):
        ig.eap_ig_effects(engine, which="patched")
    with pytest.raises(ValueError, match="toward must be"):
        ig.eap_ig_effects(engine, toward="zero")
    with pytest.raises(ValueError, match="changes nothing"):
        ig.eap_ig_edges(engine, [Component(0)], which="clean", toward="clean")
    with pytest.raises(ValueError, match="outside 'mini-teacher'"):
        ig.eap_ig_effects(engine, [Component(9, 0)])
    with pytest.raises(ValueError, match="has no edges"):
        ig.eap_ig_edges(engine, [])
    # numpy integers are whole numbers too
    import numpy as np
    assert set(ig.eap_ig_effects(engine, [Component(0)], steps=np.int64(1))) == {Component(0)}


def test_encoders_get_node_scores_and_refuse_edges(bert_small_pair):
    """On the offline encoder pair (post-LayerNorm) node scores work as on decoders (m = 1 is the first-order
    estimate), and edge scores raise FamilyError naming the reason and the alternatives."""
    ps = make_task("numerals_masked", 6, seed=0, tokenizer=bert_small_pair.tokenizer)
    engine = Engine.for_prompts(bert_small_pair.student, ps, progress=False)
    comps = [Component(0, 0), Component(1), Component(engine.n_layers - 1, 1)]
    one = ig.eap_ig_effects(engine, comps, which="clean", toward="mean", steps=1)
    assert_scores_close(one, at.first_order_effects(engine, comps, which="clean", toward="mean"), rel=1e-5)
    with pytest.raises(FamilyError, match="pre-norm blocks.*eap_ig_effects.*path_patch"):
        ig.eap_ig_edges(engine, comps)
