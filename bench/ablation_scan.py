"""Benchmark: the naive reference vs the engine on the full single-component mean-ablation scan.

Run from the repository root (``tests`` holds the naive reference)::

    python -m bench.ablation_scan                 # gpt2-random, 100 prompts, all 156 components (~30 min here)
    python -m bench.ablation_scan --layers 0 11   # a quicker partial scan

Times both on the same scan of the GPT-2 small architecture (``gpt2-random``), checks that they agree to 1e-4
(relative to the largest |Δl|), then times the full node pruning with the engine on ``gpt2-random`` and on the
offline pair. The last line printed is the ratio naive/engine.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from dcirc_utils import load_pair, make_prompts
from dcirc_utils.core.components import all_components
from dcirc_utils.engine import Engine
from dcirc_utils.methods.discovery import prune_nodes
from tests import naive_reference as naive


def _data(pair, n):
    ps = make_prompts(n, seed=0, tokenizer=pair.tokenizer)
    c, i = ps.answer_ids(pair.tokenizer)
    return ps, ps.tokens(pair.tokenizer), ps.tokens(pair.tokenizer, "corrupted"), c, i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--layers", type=int, nargs="*", default=None, help="restrict the scan to these layers")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--skip-pruning", action="store_true")
    ap.add_argument("--pruning-only", action="store_true", help="only time the node pruning (no naive scan)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, device {args.device or 'auto'}")

    pair = load_pair("gpt2-random", device=args.device)
    adapter, model = pair.teacher, pair.teacher.model
    ps, clean, corr, c, i = _data(pair, args.prompts)
    comps = all_components(adapter.n_layers, adapter.n_heads)
    if args.layers:
        comps = [x for x in comps if x.layer in set(args.layers)]
    print(f"scan: {len(comps)} components x {args.prompts} prompts on {pair.name} (GPT-2 small architecture)")

    if args.pruning_only:
        engine = Engine.for_prompts(adapter, ps, check_baseline=False)
        _time_pruning(engine, args)
        return

    t0 = time.perf_counter()
    means = naive.corrupted_means(model, corr)
    ref = naive.ablation_scan(model, clean, c, i, means, comps)
    t_naive = time.perf_counter() - t0
    print(f"naive reference: {t_naive:.1f} s")

    t0 = time.perf_counter()
    engine = Engine.for_prompts(adapter, ps, check_baseline=False)
    got = engine.ablation_scan(comps)
    if engine.device.type == "cuda":
        torch.cuda.synchronize()
    t_engine = time.perf_counter() - t0
    print(f"engine (chunk_rows={engine.chunk_rows}): {t_engine:.1f} s")
    scale = max(abs(v) for v in ref.values())
    err = max(abs(got[k] - ref[k]) for k in ref) / scale
    print(f"max |engine - naive| / max|Δl| = {err:.2e}")
    if not err <= 1e-4:
        raise SystemExit(f"engine and naive reference disagree ({err:.2e} > 1e-4)")

    if not args.skip_pruning:
        _time_pruning(engine, args)
    print(f"ratio naive/engine: {t_naive / t_engine:.2f}")


def _time_pruning(engine: Engine, args) -> None:
    t0 = time.perf_counter()
    circuit = prune_nodes(engine, 0.8)
    print(f"node pruning, gpt2-random (random weights): {time.perf_counter() - t0:.1f} s, "
          f"{len(circuit.components)} components kept, score {circuit.score:.1f}%, {circuit.n_sweeps} sweeps",
          flush=True)
    try:
        mini = load_pair("mini", device=args.device)
    except Exception as err:  # noqa: BLE001
        print(f"offline pair not available ({err}); skipping its pruning time")
        return
    for role, m in mini.models.items():
        ps = _data(mini, args.prompts)[0]
        t0 = time.perf_counter()
        e = Engine.for_prompts(m, ps)
        circuit = prune_nodes(e, 0.8)
        print(f"node pruning, mini {role}: {time.perf_counter() - t0:.1f} s, "
              f"{len(circuit.components)} components kept, score {circuit.score:.1f}%", flush=True)


if __name__ == "__main__":
    main()
