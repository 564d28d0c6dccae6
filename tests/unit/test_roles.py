"""studies.roles: a role's head is held fixed across disjoint prompt sets, with the base rate beside it."""
import math

import pytest
import torch

from dcirc_utils.methods import heads as H
from dcirc_utils.studies.roles import role_heads, scores_by_set
from dcirc_utils.studies.spread import set_indices


def _toy(batch=10, seed=0):
    # the task's layout: word verb "in" number "." ... "in"; ids: 10+ words, 11 verb, 12 "in", 1..4 numbers, 13 "."
    row = [10, 11, 12, 1, 13, 20, 11, 12, 2, 13, 21, 11, 12, 3, 13, 22, 11, 12]
    tokens = torch.tensor([row] * batch)
    g = torch.Generator().manual_seed(seed)
    pos = tokens.shape[1]
    logits = 2 * torch.randn(2, batch, 3, pos, pos, generator=g)
    future = torch.triu(torch.ones(pos, pos, dtype=torch.bool), diagonal=1)
    return tokens, logits.masked_fill(future, float("-inf")).softmax(-1)


def _roles(tokens, patterns):
    return {"numeral detection": H.numeral_detection_scores(None, tokens, element_ids=[1, 2, 3, 4], patterns=patterns),
            "number mover": H.number_mover_scores(None, tokens, element_ids=[1, 2, 3, 4], patterns=patterns)}


def test_role_heads_hold_the_head_fixed_and_measure_each_set():
    tokens, pat = _toy()
    sets = set_indices(len(tokens), 5)
    full = _roles(tokens, pat)
    per_set = scores_by_set(_roles, tokens, pat, sets)
    got = role_heads(full, per_set)
    counted = H.exclusive_roles(full)
    for role, r in got.items():
        assert r.head is not None and bool(counted[role][r.head.layer, r.head.head])
        assert r.score == pytest.approx(float(full[role][r.head.layer, r.head.head]))
        for k, idx in enumerate(sets):          # naive: the score recomputed on the set's own prompts
            again = _roles(tokens[idx], pat[:, idx])[role]
            assert r.by_set[k] == pytest.approx(float(again[r.head.layer, r.head.head]))
            assert r.base_by_set[k] == pytest.approx(float(torch.quantile(again.flatten().double(), 0.95)))
    assert got["numeral detection"].head != got["number mover"].head
    assert sum(r.n_counted for r in got.values()) == 6


def test_scores_by_set_refuses_misfits():
    tokens, pat = _toy()
    with pytest.raises(ValueError, match="do not fit"):
        scores_by_set(_roles, tokens[:3], pat, [[0]])
    with pytest.raises(ValueError, match="one per prompt"):
        scores_by_set(_roles, tokens, pat, [[0]], readout=torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="empty"):
        scores_by_set(_roles, tokens, pat, [[]])
    with pytest.raises(ValueError, match="no score"):
        role_heads(_roles(tokens, pat), [{"numeral detection": torch.zeros(2, 3)}])


def test_a_role_without_heads_reads_nan():
    s = {"a": torch.tensor([[1.0, 2.0]]), "b": torch.tensor([[0.0, 0.0]])}
    got = role_heads(s, [s])
    assert got["b"].head is None and math.isnan(got["b"].score) and got["b"].n_counted == 0
