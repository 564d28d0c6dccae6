"""The sharded scans (dcirc_utils.engine.distributed) against the single-process engine: 2 gloo ranks on the
offline `mini` pair give every rank the dict that ``engine.ablation_scan()`` gives in one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dcirc_utils.core.components import Component
from dcirc_utils.core.metrics import LogitDiff
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine
from dcirc_utils.engine.distributed import (SHARD_STRATEGIES, backend_for, init_distributed, run_sharded,
                                            shard, shard_indices, sharded_ablation_scan, sharded_evaluate)

ROOT = Path(__file__).resolve().parents[2]
N_PROMPTS, SEED, CHUNK_ROWS = 12, 0, 20
TOL = 1e-6  # relative to the largest |value|; the gathered floats are the ranks' own float32 values


def _engine(adapter, device=None) -> Engine:
    ps = make_prompts(N_PROMPTS, seed=SEED, tokenizer=adapter.tokenizer)
    tok = adapter.tokenizer
    c, i = ps.answer_ids(tok)
    return Engine(adapter, ps.tokens(tok), ps.tokens(tok, "corrupted"), LogitDiff(c, i), chunk_rows=CHUNK_ROWS,
                  progress=False)


def _subset(engine: Engine) -> tuple[list[Component], list[Component]]:
    """7 components (an uneven count for 2 ranks) scanned on top of 2 base-ablated ones."""
    comps = engine.components
    return [comps[k] for k in (0, 3, 4, 9, 14, 20, 29)], [comps[1], comps[-1]]


def _variants(engine: Engine) -> list:
    """Mixed patch-sets: the empty variant, single and double ablations, a variant starting late."""
    c = engine.components
    return [[], engine.mean_ablation([c[0]]), engine.mean_ablation([c[2], c[17]]), engine.zero_ablation([c[-1]]),
            engine.mean_ablation([c[10], c[11], c[12]])]


def _rank_job(device: torch.device) -> dict:
    """What each rank runs (module level: spawned processes import it by name)."""
    import torch.distributed as dist

    from dcirc_utils import load_pair
    engine = _engine(load_pair("mini", device=device).teacher)
    comps, base = _subset(engine)
    out = {"rank": dist.get_rank(), "world": dist.get_world_size(), "clean": engine.clean_value,
           "scan": sharded_ablation_scan(engine),
           "sub": sharded_ablation_scan(engine, comps, base_ablated=base, strategy="contiguous"),
           "one": sharded_ablation_scan(engine, engine.components[:1]),  # rank 1 has nothing to evaluate
           "corrupted": sharded_evaluate(engine, _variants(engine), which="corrupted").cpu()}
    try:  # ranks that disagree must all fail with the same message, not hang
        sharded_ablation_scan(engine, engine.components[: 3 + dist.get_rank()])
        out["mismatch"] = None
    except ValueError as err:
        out["mismatch"] = str(err)
    return out


def _close(got: dict, want: dict) -> None:
    assert list(got) == list(want), "the gathered dict lists the components in a different order"
    scale = max(max(abs(v) for v in want.values()), 1e-6)
    worst = max(abs(got[k] - want[k]) for k in want)
    assert worst <= TOL * scale, f"max deviation {worst:.3g} > {TOL} x {scale:.3g}"


# --------------------------------------------------------------------------------------------- unit
@pytest.mark.parametrize("strategy", SHARD_STRATEGIES)
def test_shards_cover_every_variant_once(strategy):
    for n in range(0, 12):
        for world in (1, 2, 3, 4, 5):
            shards = [shard_indices(n, world, r, strategy) for r in range(world)]
            flat = sorted(i for s in shards for i in s)
            assert flat == list(range(n)), (n, world, shards)
            sizes = [len(s) for s in shards]
            assert max(sizes) - min(sizes) <= 1, (n, world, sizes)


def test_uneven_shards_are_the_expected_ones():
    assert [shard_indices(7, 2, r) for r in range(2)] == [[0, 2, 4, 6], [1, 3, 5]]
    assert [shard_indices(7, 3, r) for r in range(3)] == [[0, 3, 6], [1, 4], [2, 5]]
    assert [shard_indices(7, 2, r, "contiguous") for r in range(2)] == [[0, 1, 2, 3], [4, 5, 6]]
    assert [shard_indices(7, 3, r, "contiguous") for r in range(3)] == [[0, 1, 2], [3, 4], [5, 6]]
    assert shard(list("abcdefg"), 3, 1) == ["b", "e"]


def test_bad_arguments_raise(mini_pair, monkeypatch):
    with pytest.raises(ValueError, match="world_size must be"):
        shard_indices(7, 0, 0)
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        shard_indices(7, 2, 2)
    with pytest.raises(ValueError, match="strategy must be one of"):
        shard_indices(7, 2, 0, "random")
    with pytest.raises(ValueError, match="world_size must be"):
        run_sharded(_rank_job, 0)
    with pytest.raises(ValueError, match="module-level function"):
        run_sharded(lambda device: None, 2)
    assert backend_for("cpu") == "gloo" and backend_for(torch.device("cuda", 1)) == "nccl"
    engine = _engine(mini_pair.teacher)
    with pytest.raises(RuntimeError, match="process group is not initialised"):
        sharded_ablation_scan(engine)
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match="torchrun"):
        init_distributed("cpu")


# --------------------------------------------------------------------------------------------- 2 ranks
def test_two_gloo_ranks_match_the_single_process_scan(mini_pair):
    engine = _engine(mini_pair.teacher)
    comps, base = _subset(engine)
    want = engine.ablation_scan()
    want_sub = engine.ablation_scan(comps, base_ablated=base)
    want_corrupted = engine.evaluate(_variants(engine), which="corrupted").cpu()

    results = run_sharded(_rank_job, 2, threads=1, timeout_s=120)

    assert [r["rank"] for r in results] == [0, 1] and all(r["world"] == 2 for r in results)
    for r in results:  # every rank holds the whole result, equal to the single-process one
        assert r["clean"] == pytest.approx(engine.clean_value, rel=1e-6)
        _close(r["scan"], want)
        _close(r["sub"], want_sub)
        _close(r["one"], {engine.components[0]: want[engine.components[0]]})
        torch.testing.assert_close(r["corrupted"], want_corrupted, rtol=TOL, atol=TOL)
        assert r["mismatch"] is not None and "ranks disagree" in r["mismatch"] and "n_variants" in r["mismatch"]
    assert results[0]["scan"] == results[1]["scan"]  # bit-identical on both ranks (one gather)
    assert len(set(want.values())) > 1  # the scan is not trivially constant


def test_torchrun_command_line(mini_pair, tmp_path):
    """The documented `torchrun --nproc-per-node 2 -m dcirc_utils.studies.distributed_cli` path (env:// rendezvous)."""
    out = tmp_path / "scan.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "dcirc_utils.studies.distributed_cli", "--pair", "mini", "--prompts", "8", "--device", "cpu",
           "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = json.loads(out.read_text())
    engine = Engine.for_prompts(mini_pair.teacher, make_prompts(8, seed=0, tokenizer=mini_pair.tokenizer),
                                progress=False)
    want = {str(c): v for c, v in engine.ablation_scan().items()}
    _close(got, want)
    assert "on 2 rank(s)" in proc.stdout
