"""Spreads over disjoint prompt sets (dcirc_utils.studies.spread) and A's random-matching control (issue 21)."""
from __future__ import annotations

import json
import math

import pytest
import torch

from dcirc_utils import make_prompts
from dcirc_utils.core.components import Component
from dcirc_utils.engine import Engine
from dcirc_utils.methods import brittleness as br
from dcirc_utils.methods.recipes import COURSE, alignment_parts, random_matching_alignment, recipe_alignment_from_parts
from dcirc_utils.studies import spread as sp
from dcirc_utils.studies.alignment import alignment_by_set, task_alignment


def test_disjoint_sets_partition_the_prompts(mini_pair):
    ps = make_prompts(23, seed=0, tokenizer=mini_pair.tokenizer)
    sets = sp.disjoint_sets(ps, 5)
    assert [len(s) for s in sets] == [5, 5, 5, 4, 4]
    texts = [t for s in sets for t in s.clean]
    assert texts == list(ps.clean)                                   # disjoint, in order, nothing lost
    assert sp.sets_description(ps, sets) == "5 disjoint sets of 4–5 of the notebook's 23 prompts"
    assert len(sp.disjoint_sets(ps.subset([0, 1, 2]), 5)) == 3       # fewer prompts than sets: fewer sets
    with pytest.raises(ValueError, match="positive integer"):
        sp.disjoint_sets(ps, 0)
    with pytest.raises(ValueError, match="empty"):
        sp.disjoint_sets(ps.subset([]), 5)


def test_drops_by_set_equal_the_drops_measured_on_each_set(mini_pair, tmp_path, monkeypatch):
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    ps = make_prompts(10, seed=0, tokenizer=mini_pair.tokenizer)
    m = mini_pair.student
    circuit = [Component(0, 0), Component(1), Component(0, 1)]
    rows = sp.drops_by_set(m, ps, circuit, n_sets=5)
    assert len(rows) == 5
    for row, part in zip(rows, sp.disjoint_sets(ps, 5)):
        eng = Engine.for_prompts(m, part, progress=False, check_baseline=False)   # the naive way, set by set
        full = br.full_model_drops(eng)
        assert row["full"].keys() == full.keys()
        assert all(row["full"][c] == pytest.approx(v, abs=1e-4) for c, v in full.items())
        circ = br.circuit_removal_drops(eng, circuit)
        assert all(row["circuit"][c] == pytest.approx(v, abs=1e-4) for c, v in circ.items())
    again = sp.drops_by_set(m, ps, circuit, n_sets=5)                # from the cache, components parsed back
    assert again == rows and len(list(tmp_path.glob("drops-by-set-*.json"))) == 1


def test_set_summaries_by_hand():
    h = lambda l, i: Component(l, i)                                  # noqa: E731
    full = {h(0, 0): -4.0, h(0, 1): 2.0, h(1, 0): -2.0, Component(0): -50.0}
    assert sp.clipped_mean_head_drop(full) == pytest.approx(-2.0)    # (−4 + 0 − 2) / 3, the MLP left out
    assert sp.mean_circuit_head_drop({h(0, 0): -3.0, h(1, 1): -1.0, Component(1): -9.0}) == pytest.approx(-2.0)
    assert math.isnan(sp.mean_circuit_head_drop({Component(1): -9.0}))
    assert sp.ratio(-6.0, -2.0) == 3.0 and math.isnan(sp.ratio(1.0, 0.0)) and math.isnan(sp.ratio(math.nan, 1.0))
    student = {h(0, 0): -20.0, h(0, 1): -3.0, Component(0): -40.0}
    teacher = {h(2, 0): -5.0, h(2, 1): -1.0, Component(1): -4.0}
    matches = [(h(0, 0), h(2, 0)), (h(0, 1), h(2, 1)), (Component(0), Component(1))]
    # heads only (the MLP ratio 10 is left out) and substantive only (−3 pp is below 5 pp): 20 / 5
    assert sp.largest_head_ratio(student, teacher, matches) == pytest.approx(4.0)
    assert math.isnan(sp.largest_head_ratio({h(0, 1): -3.0}, teacher, matches))


def test_a_random_matching_is_a_control_below_a_model_against_itself(mini_pair):
    ps = make_prompts(6, seed=0, tokenizer=mini_pair.tokenizer)
    s = mini_pair.student
    parts = alignment_parts(s, s, ps, COURSE)
    assert parts.alignment(COURSE).value == pytest.approx(1.0, abs=1e-4)
    rand = random_matching_alignment(parts, COURSE, draws=10)
    assert 0.0 < rand < 0.95                                          # random pairs of heads are not the same head
    one = parts.alignment(COURSE, random_seed=3)
    assert one.value == recipe_alignment_from_parts(COURSE, parts.head_sim, parts.mlp_table, parts.student_influence,
                                                    parts.teacher_influence, s.n_heads, s.n_heads, 3).value
    assert one.n_matched == parts.alignment(COURSE).n_matched        # the same components, matched at random
    assert rand == pytest.approx(sum(parts.alignment(COURSE, random_seed=k).value for k in range(10)) / 10)
    with pytest.raises(ValueError, match="draws"):
        random_matching_alignment(parts, COURSE, draws=0)


def test_alignment_by_set_measures_each_part(mini_pair, tmp_path, monkeypatch):
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    rows = alignment_by_set(mini_pair, "numerals", COURSE, n=10, n_sets=5)
    assert len(rows) == 5 and all(0 < r["A"] <= 1 and 0 < r["A_random"] < r["A"] + 1 for r in rows)
    whole = task_alignment(mini_pair, "numerals", COURSE, n=10)
    assert whole["A"] not in [r["A"] for r in rows]                  # each part is its own measurement
    torch.manual_seed(0)
    assert alignment_by_set(mini_pair, "numerals", COURSE, n=10, n_sets=5) == rows   # cached, deterministic


def test_circuit_shares_by_set_find_a_circuit_on_each_set(mini_pair, tmp_path, monkeypatch):
    """Each set's share is that of node pruning run on the set alone (the naive way); a set the model does not
    solve (clean Δl below the bar) gives nan."""
    from dcirc_utils.methods.discovery import prune_nodes
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    ps = make_prompts(15, seed=0, tokenizer=mini_pair.tokenizer)
    m = mini_pair.student
    shares = sp.circuit_shares_by_set(m, ps, "mini", "student", n_sets=3)
    mlp_shares = sp.circuit_shares_by_set(m, ps, "mini", "student", n_sets=3, what="mlp_share")
    assert len(shares) == 3 and any(math.isfinite(s) for s in shares)
    for share, mlp_share, part in zip(shares, mlp_shares, sp.disjoint_sets(ps, 3)):
        eng = Engine.for_prompts(m, part, progress=False, check_baseline=False)
        if eng.clean_value < 1.0:
            assert math.isnan(share) and math.isnan(mlp_share)
            continue
        circuit = prune_nodes(eng, 0.8, rule="corrected")
        assert share == pytest.approx(len(circuit.components) / len(eng.components))
        assert mlp_share == pytest.approx(sum(c.is_mlp for c in circuit.components) / m.n_layers)
    assert all(math.isnan(s) for s in sp.circuit_shares_by_set(m, ps, "mini", "student", n_sets=3, min_dl=1e9))
    with pytest.raises(ValueError, match="mlp_share"):
        sp.circuit_shares_by_set(m, ps, "mini", "student", n_sets=3, what="heads")


def test_shipped_spreads_are_used_only_for_their_exact_key(tmp_path, monkeypatch):
    """A shipped spread is returned for exactly its key (weights, prompts, settings); any other key recomputes."""
    monkeypatch.setattr(sp, "SHIPPED_PATH", tmp_path / "spreads.json")
    calls = []

    def compute():
        calls.append(1)
        return [0.5, 0.25]

    key = {"model": "abc", "prompts": "p", "rule": "corrected"}
    assert sp.shipped_or_compute(key, compute) == (0.5, 0.25) and len(calls) == 1     # nothing shipped yet
    sp.ship(key, [0.1, math.nan])
    got = sp.shipped_or_compute(key, compute)
    assert got[0] == 0.1 and math.isnan(got[1]) and len(calls) == 1                    # shipped: not recomputed
    assert sp.shipped_or_compute(dict(key, model="retrained"), compute) == (0.5, 0.25) and len(calls) == 2
    sp.ship(key, [0.2, 0.3])                                                             # replaces, does not duplicate
    assert sp.shipped_or_compute(key, compute) == (0.2, 0.3)
    assert len(json.loads((tmp_path / "spreads.json").read_text())["entries"]) == 1
