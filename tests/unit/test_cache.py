import json

import torch

from dcirc_utils.core.components import Component, parse_component
from dcirc_utils.methods.discovery import Circuit, Edge, EdgeScores
from dcirc_utils.studies import cache


def test_cached_computes_once_and_respects_key(tmp_path, monkeypatch):
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"x": len(calls)}

    assert cache.cached("demo", {"a": 1}, compute) == {"x": 1}
    assert cache.cached("demo", {"a": 1}, compute) == {"x": 1}       # hit
    assert cache.cached("demo", {"a": 2}, compute) == {"x": 2}       # another key
    assert cache.cached("demo", {"a": 1}, compute, refresh=True) == {"x": 3}
    assert len(list(tmp_path.glob("demo-*.json"))) == 2


def test_fingerprint_changes_with_weights():
    m = torch.nn.Linear(4, 3)
    before = cache.model_fingerprint(m)
    assert cache.model_fingerprint(m) == before
    with torch.no_grad():
        m.weight[0, 0] += 1e-3
    assert cache.model_fingerprint(m) != before


def test_circuit_and_edges_round_trip_through_json():
    circuit = Circuit([Component(0), Component(0, 1), Component(3, 2)], 81.5, 6.1, 0.8, 3,
                      {Component(1, 1): 90.0})
    back = Circuit.from_dict(json.loads(json.dumps(circuit.to_dict())))
    assert back == circuit
    edges = EdgeScores({Edge(Component(0, 1), Component(3, 2), "q"): 0.5,
                        Edge(Component(0), None, "resid"): 0.9}, 0.8)
    back = EdgeScores.from_dict(json.loads(json.dumps(edges.to_dict())))
    assert back.scores == edges.scores and back.kept == [Edge(Component(0, 1), Component(3, 2), "q")]
    assert str(parse_component("4.10")) == "4.10" and str(parse_component("MLP3")) == "MLP3"


def test_circuit_records_its_pruning_rule():
    c = Circuit([Component(0)], 81.0, 6.0, 0.8, 2, {}, "study")
    back = Circuit.from_dict(json.loads(json.dumps(c.to_dict())))
    assert back.rule == "study" and back == c


def test_fingerprint_is_exact_and_independent_of_threads():
    """The fingerprint hashes the weights' bytes: the same under any thread count (a float sum is not), and changed
    by a one-ulp edit of one weight."""
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(300, 300), torch.nn.LayerNorm(300))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = cache.model_fingerprint(m)
        torch.set_num_threads(max(2, threads))
        assert cache.model_fingerprint(m) == one
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        w = m[0].weight
        w[7, 7] = torch.nextafter(w[7, 7], torch.tensor(float("inf")))
    assert cache.model_fingerprint(m) != one
