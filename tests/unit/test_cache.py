import json
import os
import shutil
import threading
from pathlib import Path

import pytest
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


def test_a_damaged_entry_is_a_miss_that_is_recomputed_and_overwritten(tmp_path, monkeypatch):
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    assert cache.cached("demo", {"a": 1}, lambda: {"x": 1}) == {"x": 1}
    (entry,) = tmp_path.glob("demo-*.json")
    entry.write_text(entry.read_text()[:7])                       # truncated, as by a kill mid-write
    with pytest.warns(cache.CacheWarning, match=str(entry.name)):
        assert cache.cached("demo", {"a": 1}, lambda: {"x": 2}) == {"x": 2}
    assert json.loads(entry.read_text())["value"] == {"x": 2}     # overwritten: the next read is a clean hit
    assert cache.cached("demo", {"a": 1}, lambda: {"x": 3}) == {"x": 2}


def test_a_read_only_cache_returns_the_result_and_says_so(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    monkeypatch.setenv("DCIRC_CACHE", str(folder))
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write a read-only folder (root)")
        with pytest.warns(cache.CacheWarning, match="DCIRC_CACHE"):
            assert cache.cached("demo", {"a": 1}, lambda: {"x": 1}) == {"x": 1}
    finally:
        folder.chmod(0o755)


def test_a_read_only_cache_file_is_not_lost(tmp_path, monkeypatch):
    """The rename into place fails (as in a folder the user may not write: simulated by an os.replace that raises
    PermissionError, since root can write anywhere): the computed value is still returned, no temporary file
    is left."""
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(cache.os, "replace", refuse)
    with pytest.warns(cache.CacheWarning, match="not cached"):
        assert cache.cached("demo", {"a": 1}, lambda: {"x": 1}) == {"x": 1}
    assert not list(tmp_path.glob("*.tmp"))                       # no temporary file left behind


def test_concurrent_writers_of_one_key_never_fail(tmp_path, monkeypatch):
    """Every writer has its own temporary file (the old code shared `<name>.tmp`, so one writer's rename took the
    other's file away: FileNotFoundError, and the computed result was lost)."""
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    errors = []

    def writer(i):
        try:
            for _ in range(40):
                assert cache.cached("demo", {"a": 1}, lambda: {"x": i}, refresh=True) == {"x": i}
        except Exception as err:                                   # noqa: BLE001 (collected, asserted below)
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    (entry,) = tmp_path.glob("demo-*.json")
    assert json.loads(entry.read_text())["value"]["x"] in range(6)
    assert not list(tmp_path.glob("*.tmp"))


def test_the_key_includes_the_code(tmp_path, monkeypatch):
    """Changing the package's code changes every key: an entry computed by other code is not served."""
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    assert cache.cached("demo", {"a": 1}, lambda: 1) == 1
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "other code")
    assert cache.cached("demo", {"a": 1}, lambda: 2) == 2


def test_code_fingerprint_follows_the_source(tmp_path, monkeypatch):
    real = cache.code_fingerprint()
    assert len(real) == 16 and real == cache.code_fingerprint()
    src = Path(cache.__file__).resolve().parents[1]
    copy = tmp_path / "dcirc_utils"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
    fake = copy / "studies" / "cache.py"
    monkeypatch.setattr(cache, "__file__", str(fake))
    cache.code_fingerprint.cache_clear()
    try:
        assert cache.code_fingerprint() == real                   # same source, same fingerprint
        cache.code_fingerprint.cache_clear()
        with open(copy / "methods" / "discovery.py", "a") as f:
            f.write("\n# an edit\n")
        assert cache.code_fingerprint() != real
    finally:
        cache.code_fingerprint.cache_clear()


def test_discover_keys_on_the_engine_it_is_given(mini_pair, tmp_path, monkeypatch):
    """The bug of issue 23: an engine built on prompts B passed with prompts A computed on B and stored the result
    under A's key, so a later discover(A) served B's circuit. discover() now takes the engine alone, and its entry is
    keyed on what that engine computes on: B's entry never serves A, and anything but an engine is refused."""
    from dcirc_utils.core.tasks import make_task
    from dcirc_utils.engine import Engine
    from dcirc_utils.studies.discover import discover
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    t = mini_pair.teacher
    a = make_task("numerals", 12, 0, tokenizer=mini_pair.tokenizer)
    b = make_task("numerals", 12, 1, tokenizer=mini_pair.tokenizer)
    eng_a, eng_b = Engine.for_prompts(t, a, progress=False), Engine.for_prompts(t, b, progress=False)
    with pytest.raises(TypeError, match="Engine.for_prompts"):
        discover(t, "mini", "teacher", edges=False)
    on_b = discover(eng_b, "mini", "teacher", edges=False).circuit
    on_a = discover(eng_a, "mini", "teacher", edges=False).circuit
    fresh_a = discover(eng_a, "mini", "teacher", edges=False, refresh=True).circuit
    assert on_a == fresh_a
    assert cache.engine_fingerprint(eng_b) != cache.engine_fingerprint(eng_a)
    assert cache.engine_fingerprint(eng_b) == cache.engine_fingerprint(Engine.for_prompts(t, b, progress=False))
    assert len(list(tmp_path.glob("circuit-*.json"))) == 2
    assert discover(Engine.for_prompts(t, b, progress=False), "mini", "teacher", edges=False).circuit == on_b
