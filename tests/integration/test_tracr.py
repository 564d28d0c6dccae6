"""Circuits with known ground truth: tracr programs compiled at test time, loaded through the package's adapter
(TransformerLens converts them), and what node pruning and path patching recover of them.

* the converted model equals tracr's own JAX forward (every sublayer's residual stream, every input of the vocab);
* the ground truth read off the weights is the program's, written out by hand below from each RASP program, and
  agrees with tracr's RASP graph;
* the engine on a tracr model equals the naive reference (one forward with the bridge's own hooks per ablation or
  edge), so the recovery below measures the methods, not the adapter;
* node pruning and path patching recover each program's components and edges, with exactly the false positives and
  negatives explained at each program (measured: both ablations give the same sets);
* mean ablation leaves tracr's lookup tables, corrupted-prompt patching does not.

Compiled at test time (tracr, JAX: ``pip install tracr-pypi jax``; skipped without them): each program compiles in
2–13 s on the project's shared 2-core CPU (the first one pays JAX's start-up), once per module; the whole file runs
in 40–70 s.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

pytest.importorskip("jax", reason="the tracr tests need JAX: pip install tracr-pypi jax (the tracr extra)")
pytest.importorskip("tracr", reason="the tracr tests need tracr: pip install tracr-pypi jax (the tracr extra)")

from dcirc_utils.core.components import Component, parse_component  # noqa: E402
from dcirc_utils.methods.discovery import Edge, path_patch  # noqa: E402
from dcirc_utils.models.adapters import FamilyError  # noqa: E402
from dcirc_utils.models.tracr import compile_program, component_io  # noqa: E402
from dcirc_utils.studies import tracr_truth as tt  # noqa: E402

from .. import naive_reference as naive  # noqa: E402
from ..helpers import assert_scores_close  # noqa: E402

TASKS = list(tt.TASKS)


def _c(names: str) -> list[Component]:
    return sorted(parse_component(n) for n in names.split()) if names else []


def _e(*specs: str) -> list[Edge]:
    """Edges written "0.0>MLP0", "MLP0>1.0.k", "1.0>resid"."""
    out = []
    for s in specs:
        a, b = s.split(">")
        if b == "resid":
            out.append(Edge(parse_component(a), None, "resid"))
        elif b.startswith("MLP"):
            out.append(Edge(parse_component(a), parse_component(b), "mlp_in"))
        else:
            layer, head, kind = b.split(".")
            out.append(Edge(parse_component(a), Component(int(layer), int(head)), kind))
    return sorted(out)


#: The ground truth, by hand from each RASP program (tracr's ``compiler.lib``) and tracr's layer allocation (an
#: attention sublayer then an MLP sublayer per layer; a selector width is a head plus the MLP after it):
TRUTH = {
    # smaller = Select(tokens, tokens, <); target_pos = SelectorWidth(smaller) -> head 0.0 + MLP0;
    # sort = Aggregate(Select(target_pos, indices, ==), tokens) -> head 1.0 (key: target_pos; query: indices and
    # value: tokens come from the embedding).
    "sort_unique": (_c("0.0 MLP0 1.0"), _e("0.0>MLP0", "MLP0>1.0.k", "1.0>resid"), []),
    # MLP0 computes tokens=="c", =="a", =="b" at once; 1.0 = shift_by(2) of =="a" and 1.1 = shift_by(1) of =="b"
    # (aggregates of MLP0's booleans: values); MLP1 = AND of the two shifts; MLP2 = AND with =="c" -> output.
    "detect_pattern": (_c("MLP0 1.0 1.1 MLP1 MLP2"),
                       _e("MLP0>1.0.v", "MLP0>1.1.v", "MLP0>MLP2", "1.0>MLP1", "1.1>MLP1", "MLP1>MLP2",
                          "MLP2>resid"), []),
    # hist = SelectorWidth(Select(tokens, tokens, ==)) -> 0.0 + MLP0; select_less = Select(hist, hist, k <= 2) and
    # its SelectorWidth -> 1.0 (key: hist) + MLP1 -> output. The predicate ignores the query, yet tracr wires the
    # query to hist through equal rows: MLP0 -> 1.0.q is in the weights but carries no information (inert).
    "count_less_freq": (_c("0.0 MLP0 1.0 MLP1"), _e("0.0>MLP0", "MLP0>1.0.k", "1.0>MLP1", "MLP1>resid"),
                        _e("MLP0>1.0.q")),
    # length = SelectorWidth(all true) -> 0.0 + MLP0; opp_idx = length - indices -> MLP1; opp_idx - 1 -> MLP2;
    # reverse = Aggregate(Select(indices, opp_idx-1, ==), tokens) -> 3.0 (query: opp_idx-1) -> output.
    "reverse": (_c("0.0 MLP0 MLP1 MLP2 3.0"), _e("0.0>MLP0", "MLP0>MLP1", "MLP1>MLP2", "MLP2>3.0.q", "3.0>resid"), []),
}

#: What node pruning and path patching find (measured, the same with mean ablation and corrupted-prompt patching),
#: and why each difference from TRUTH is what it is:
FOUND = {
    # every component; one extra edge, 0.0 -> 1.0.k: path patching freezes the heads after the sender but recomputes
    # the MLPs, so the edge's score is the path 0.0 -> MLP0 -> 1.0.k (the course's definition, not an error).
    "sort_unique": (_c("0.0 MLP0 1.0"), _e("0.0>MLP0", "MLP0>1.0.k", "0.0>1.0.k", "1.0>resid")),
    # every component and direct edge; six extra edges, each a path through MLP1 and/or MLP2 (recomputed, not
    # frozen): MLP0/MLP1/1.0/1.1 -> resid_final and 1.0/1.1 -> MLP2.
    "detect_pattern": (_c("MLP0 1.0 1.1 MLP1 MLP2"),
                       _e("MLP0>1.0.v", "MLP0>1.1.v", "MLP0>MLP2", "1.0>MLP1", "1.1>MLP1", "MLP1>MLP2", "MLP2>resid",
                          "MLP0>resid", "MLP1>resid", "1.0>MLP2", "1.1>MLP2", "1.0>resid", "1.1>resid")),
    # every component and direct edge; two extra, through MLP0 (0.0 -> 1.0.k) and MLP1 (1.0 -> resid_final). The
    # inert MLP0 -> 1.0.q is (rightly) not found.
    "count_less_freq": (_c("0.0 MLP0 1.0 MLP1"),
                        _e("0.0>MLP0", "MLP0>1.0.k", "1.0>MLP1", "MLP1>resid", "0.0>1.0.k", "1.0>resid")),
    # only 3.0: length, opp_idx and opp_idx-1 are the same on every prompt of one length (all prompts of a set have
    # one length: the engine patches position by position), so neither ablation changes them; four false negatives
    # and their four edges, by construction of the contrast, not by the methods.
    "reverse": (_c("3.0"), _e("3.0>resid")),
}
#: the used components whose output is the same on every prompt of the task
CONSTANT = {"sort_unique": [], "detect_pattern": [], "count_less_freq": [], "reverse": _c("0.0 MLP0 MLP1 MLP2")}


@pytest.fixture(scope="module")
def built():
    torch.set_grad_enabled(False)
    cache = {}

    def get(name):
        if name not in cache:
            task, model = tt.build(name)
            cache[name] = (task, model, tt.prompts_for(task, model))
        return cache[name]
    return get


@pytest.mark.parametrize("name", TASKS)
def test_converted_model_equals_tracrs_forward(name, built):
    """On every input of the program's vocabulary at its full length: the residual stream after every attention and
    MLP sublayer equals tracr's own JAX forward (and each block is its attention part then its MLP part), the
    readout's argmax is tracr's decoded output at every position after BOS (at a near-tie, one of our best tokens and a
    position RASP leaves undefined), and RASP's answer at the last position
    wherever RASP defines one."""
    import jax.numpy as jnp
    from tracr.rasp import rasp
    task, model, _ = built(name)
    seqs = list(itertools.product(task.vocab, repeat=task.length))
    tokens = model.tokens(seqs)
    ref = model.assembled.forward(model.assembled.params, jnp.asarray(tokens.numpy()))
    resid = [torch.tensor(np.asarray(r)) for r in ref.transformer_output.residuals]
    ad = model.adapter
    assert len(resid) == 2 * ad.n_layers
    x = ad.embed(tokens)
    for layer in range(ad.n_layers):
        mid = ad.attention_part(layer, x)
        after = ad.mlp_part(layer, mid)
        assert torch.equal(after, ad.block(layer, x))
        x = after
        for ours, theirs in ((mid, resid[2 * layer]), (x, resid[2 * layer + 1])):
            assert float((ours - theirs).abs().max()) <= 1e-4 * max(1.0, float(theirs.abs().max()))
    logits = ad.logits_at(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:2], -1)[:, 1:]
    theirs = torch.tensor(np.asarray(ref.unembedded_output), dtype=torch.long)[:, 1:]
    program = task.program()
    # Where our two best readout logits are within the residual tolerance (exact ties, e.g. an all-zero readout where
    # RASP is undefined), tracr's argmax is decided by its JAX forward's float noise (~1e-8), which differs between
    # CPUs: there tracr's choice need only be one of our best, and such a position must be one RASP leaves undefined.
    # Everywhere else the argmax must be the same token.
    tol = 1e-4 * max(1.0, float(logits.abs().max()))
    top2 = logits.topk(min(2, logits.shape[-1]), dim=-1).values
    near_tie = (top2[..., 0] - top2[..., -1]) <= tol if logits.shape[-1] > 1 else torch.zeros_like(theirs, dtype=torch.bool)
    assert torch.equal(logits.argmax(-1)[~near_tie], theirs[~near_tie])
    chosen = logits.gather(-1, theirs.unsqueeze(-1)).squeeze(-1)
    assert bool((chosen[near_tie] >= top2[..., 0][near_tie] - tol).all())
    for i, p in near_tie.nonzero().tolist():
        assert rasp.evaluate(program, list(seqs[i]))[p] is None, (seqs[i], p)
    # RASP leaves some answers undefined (None: sort_unique with repeated values, the first positions of
    # detect_pattern); the compiled model's output there is unspecified
    answers = {i: a for i, s in enumerate(seqs) for a in [rasp.evaluate(program, list(s))[-1]] if a is not None}
    assert len(answers) >= 81
    top = logits[:, -1].argmax(-1)
    assert {i: model.output_values[int(top[i])] for i in answers} == answers


@pytest.mark.parametrize("name", TASKS)
def test_ground_truth_is_the_programs(name, built):
    """The components, edges and inert edges read off the weights are the hand-written ones, every one a
    dependency of tracr's RASP graph; every other component of the grid has zero weights."""
    task, model, _ = built(name)
    truth = tt.ground_truth(model)
    components, edges, inert = TRUTH[name]
    assert truth.components == components
    assert truth.edges == edges
    assert truth.inert == inert
    assert tt.check_against_rasp(task, model, truth) == []
    io = component_io(model)
    assert sorted(c for c, x in io.items() if not x.empty) == components


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("ablation", ["mean", "resample"])
def test_pruning_and_path_patching_recover_the_program(name, ablation, built):
    """Node pruning (80 %) then path patching (80 %) on the pruned circuit: exactly FOUND, whose differences from
    the ground truth are explained there (edges through MLPs; components constant on the prompts)."""
    task, model, _ = built(name)
    r = tt.recover(task, model, ablation)
    assert r.accuracy == 1.0 and abs(r.clean_value - 1.0) < 1e-3
    components, edges = FOUND[name]
    assert r.components == components
    assert r.edges.kept == edges
    assert r.constant == CONSTANT[name]
    assert r.unexplained == {"components FP": [], "components FN": [], "edges FP": [], "edges FN": []}
    assert set(r.edge_false_positives) <= set(tt.mlp_mediated(r.truth))
    assert not set(r.edges.kept) & set(r.truth.inert)


def test_engine_on_a_tracr_model_matches_the_naive_reference(built):
    """detect_pattern (two heads in a layer, MLP → head and MLP → MLP edges): the single-component mean-ablation
    scan over every component, and path patching's edge scores, equal one full forward with the bridge's own hooks
    per ablation or edge."""
    task, model, p = built("detect_pattern")
    ad = model.adapter
    eng = tt.make_engine(model, p, "mean")
    means = naive.corrupted_means(ad.model, p.corrupted)
    ours = eng.ablation_scan()
    ref = naive.ablation_scan(ad.model, p.clean, p.correct, p.incorrect, means)
    assert max(abs(v - eng.clean_value) for v in ref.values()) > 0.1
    assert_scores_close(ours, ref)
    circuit = TRUTH["detect_pattern"][0]
    scores = path_patch(eng, circuit).scores
    for e in _e("MLP0>1.0.v", "1.1>MLP1", "MLP1>MLP2", "1.0>MLP2", "MLP2>resid", "1.0>resid"):
        want = naive.path_patch_edge(ad.model, p.clean, p.corrupted, p.correct, p.incorrect, means, circuit,
                                     e.sender, e.receiver, e.kind)
        assert abs(scores[e] - want) <= 1e-4 * max(1.0, abs(want)), e


def test_resample_engine_patches_the_paired_corrupted_activation(built):
    """ResampleEngine's ablation of a head and of an MLP equals a forward with that activation replaced by its
    value on each prompt's own corrupted prompt (the adapter's hooks, one forward)."""
    _, model, p = built("sort_unique")
    ad = model.adapter
    eng = tt.make_engine(model, p, "resample")
    for c in _c("0.0 MLP0"):
        corrupted = ad.capture_unpatched(p.corrupted, [c.site])[c.site]

        def put(act, c=c, corrupted=corrupted):
            act = act.clone()
            if c.is_mlp:
                act[:] = corrupted
            else:
                act[:, :, c.head] = corrupted[:, :, c.head]
            return act
        with ad.hooks([(c.site, put)]):
            want = p.metric(ad.readout_logits(p.clean, p.metric.ids)).mean()
        got = eng.evaluate([eng.mean_ablation([c])])[0]
        assert abs(float(got) - float(want)) <= 1e-5


@pytest.mark.parametrize("name", ["sort_unique", "detect_pattern", "count_less_freq"])
def test_mean_ablation_leaves_the_lookup_tables(name, built):
    """tracr's MLPs are tables of one-hot inputs. With the components feeding it mean-ablated, a selector width's
    MLP still outputs one of its entries (it discretises its input: the mean of the attention's 1/(w+1) values is
    rounded to a count), but detect_pattern's AND tables give outputs that are none of their entries; and a
    mean-ablated head writes a mixture of one-hot values. So single-component mean ablations give per-prompt output
    scores strictly between the clean +1 and the corrupted −1, while corrupted-prompt patching keeps every
    per-prompt score at +1 or −1 (the clean or the corrupted answer)."""
    task, model, p = built(name)
    truth = tt.ground_truth(model)
    dist = {str(c): d for c, d in tt.ablation_check(model, p, truth).items()}
    if name == "detect_pattern":      # the two ANDs
        assert sorted(dist) == ["MLP1", "MLP2"] and min(dist.values()) > 0.25, dist
    else:                             # selector widths
        assert dist and max(dist.values()) < 1e-3, dist
    vals = {}
    for ablation in ("mean", "resample"):
        eng = tt.make_engine(model, p, ablation)
        vals[ablation] = eng.run([eng.mean_ablation([c]) for c in truth.components])[0]    # [component, prompt]
    off = (vals["resample"].abs() - 1).abs()
    assert float(off.max()) < 1e-2, "a corrupted-prompt patch left the table"
    fractional = (vals["mean"].abs() > 0.05) & (vals["mean"].abs() < 0.95)
    assert bool(fractional.any()), "mean ablation stayed on the tables"


def test_direct_logits_add_up_to_the_readout(built):
    """No final norm: the direct contributions of the embedding and of every block's attention and MLP (read
    through ``direct_logits``) add up to the readout logits of the correct and corrupted answers."""
    _, model, p = built("detect_pattern")
    ad = model.adapter
    x = ad.embed(p.clean)
    terms = [x]
    for layer in range(ad.n_layers):
        mid = ad.attention_part(layer, x)
        out = ad.mlp_part(layer, mid)
        terms += [mid - x, out - mid]
        x = out
    stack = torch.stack(terms)                                                          # [term, batch, pos, d]
    assert torch.allclose(stack.sum(0), x, atol=1e-5)
    ids = p.metric.ids
    direct = ad.direct_logits(stack, x, ids)[:, :, -1].sum(0)                          # [batch, 2]
    assert torch.allclose(direct, ad.logits_at(x[:, -1], ids), atol=1e-5)
    assert float(direct[:, 0].min()) > 0.99 and float(direct[:, 1].max()) < 0.01     # one-hot on the answer


def test_a_numerical_program_is_refused_with_the_reason():
    """TransformerLens's converter reads categorical outputs only: a numerical program (make_frac_prevs) raises
    FamilyError naming the fix, instead of loading with a wrong readout."""
    from tracr.compiler import lib
    from tracr.rasp import rasp
    with pytest.raises(FamilyError, match="numerical output"):
        compile_program(lib.make_frac_prevs(rasp.tokens == "x"), {"x", "y"}, 3, name="frac_prevs")


def test_prompts_are_checked(built):
    """Values outside the vocabulary, BOS inside a prompt, prompts beyond the context and prompts of different
    lengths raise ValueError naming the fix."""
    _, model, _ = built("sort_unique")
    with pytest.raises(ValueError, match="vocabulary"):
        model.encode([1, 2, 9])
    with pytest.raises(ValueError, match="vocabulary"):
        model.encode([1, "BOS"])
    with pytest.raises(ValueError, match="context"):
        model.encode([1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="same length"):
        model.tokens([[1, 2], [1, 2, 3]])
    assert model.encode([3, 1]) == [model.input_values.index("BOS"), model.input_values.index(3),
                                    model.input_values.index(1)]
