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
    ap.add_argument("--engine-only", action="store_true", help="time the engine's scan only (no naive reference)")
    ap.add_argument("--chunk-rows", type=int, default=None, help="the engine's rows per forward (default: its own)")
    ap.add_argument("--half", choices=["auto", "none", "bf16", "fp16"], default="auto",
                    help="also run the engine's scan with the model in bf16/fp16 and print its time and its error "
                         "against fp32 (auto: bf16 on a GPU, none on the CPU, where half-precision matmuls are slow)")
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
    cfg = model.cfg
    fl = flop_estimate(adapter.n_layers, adapter.n_heads, adapter.d_model, cfg.d_mlp, adapter.d_vocab,
                       clean.shape[1], args.prompts, [(x.layer, x.is_mlp) for x in comps])
    print(f"FLOP estimate: naive {fl['naive']:.3g}; engine with (a)-(d), the floor of an exact scan "
          f"{fl['engine']:.3g} (naive/engine {fl['naive'] / fl['engine']:.2f}x); with (a) and (d) only "
          f"{fl['reuse']:.3g} ({fl['naive'] / fl['reuse']:.2f}x)", flush=True)

    if args.pruning_only:
        engine = Engine.for_prompts(adapter, ps, check_baseline=False)
        _time_pruning(engine, args)
        return

    if args.engine_only:
        t0 = time.perf_counter()
        engine = Engine.for_prompts(adapter, ps, check_baseline=False, chunk_rows=args.chunk_rows)
        engine.ablation_scan(comps)
        print(f"engine (chunk_rows={engine.chunk_rows}): {time.perf_counter() - t0:.1f} s")
        return

    t0 = time.perf_counter()
    means = naive.corrupted_means(model, corr)
    ref = naive.ablation_scan(model, clean, c, i, means, comps)
    t_naive = time.perf_counter() - t0
    print(f"naive reference: {t_naive:.1f} s")

    t0 = time.perf_counter()
    engine = Engine.for_prompts(adapter, ps, check_baseline=False, chunk_rows=args.chunk_rows)
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
    half = {"auto": "bf16" if engine.device.type == "cuda" else "none"}.get(args.half, args.half)
    if half != "none":
        _time_half(adapter, ps, comps, got, engine.clean_value, {"bf16": torch.bfloat16, "fp16": torch.float16}[half],
                   args)
    print(f"ratio naive/engine: {t_naive / t_engine:.2f}")


def _time_half(adapter, ps, comps, fp32: dict, clean32: float, dtype: torch.dtype, args) -> None:
    """The same scan with the model cast to ``dtype`` (in place: run last); its time, its error against fp32 and how
    many of the ten largest effects (|ablated Δl − clean Δl|) it shares with fp32's."""
    adapter.model.to(dtype)
    t0 = time.perf_counter()
    engine = Engine.for_prompts(adapter, ps, check_baseline=False, chunk_rows=args.chunk_rows)
    got = engine.ablation_scan(comps)
    if engine.device.type == "cuda":
        torch.cuda.synchronize()
    scale = max(abs(v) for v in fp32.values())
    err = max(abs(got[k] - fp32[k]) for k in fp32) / scale
    top = lambda d, clean: set(sorted(d, key=lambda k: -abs(d[k] - clean))[:10])  # noqa: E731
    print(f"engine in {str(dtype).removeprefix('torch.')}: {time.perf_counter() - t0:.1f} s, "
          f"max |{str(dtype).removeprefix('torch.')} - fp32| / max|Δl| = {err:.2e}, "
          f"top-10 effects shared with fp32: {len(top(got, engine.clean_value) & top(fp32, clean32))}/10")


def flop_estimate(n_layers: int, n_heads: int, d_model: int, d_mlp: int, d_vocab: int, n_pos: int, n_prompts: int,
                  variants: list[tuple[int, bool]]) -> dict[str, float]:
    """Multiply-add FLOPs (×2) of a single-component mean-ablation scan, for a GPT-2-style block (q, k, v, o of
    d_model², an MLP of 2·d_model·d_mlp, causal attention over ``n_pos`` positions); ``variants`` lists each ablated
    component as ``(layer, is_mlp)``.

    Returns ``naive`` (one full forward per variant, every logit at every position, as the naive reference runs),
    ``reuse`` (the engine before issue 16: (a) restart at the ablated layer from the cached clean prefix, (d) read
    only the two answer logits) and ``engine`` (today's engine, issue 16's floor: also (b) the ablated component's
    own layer is the clean ``resid_mid`` plus the head's output delta through ``W_O``, then the layer's MLP — nothing
    for an MLP — and (c) the last layer at the answer position only, its keys and values at every position).
    """
    d, t = d_model, n_pos
    attn_proj = 2 * 4 * d * d                      # q, k, v, o per token
    attn_mix = 2 * 2 * d * t / 2                   # scores and weighted sum, causal: on average t/2 keys
    mlp = 2 * 2 * d * d_mlp
    layer_tok = attn_proj + attn_mix + mlp
    last_layer = t * 2 * 2 * d * d + (2 * 2 * d * d + 2 * 2 * d * t + mlp)   # k, v everywhere; the rest at one position
    readout = 2 * d * 2
    naive = reuse = engine = 0.0
    for l, is_mlp in variants:
        naive += t * (n_layers * layer_tok + 2 * d * d_vocab)
        reuse += t * (n_layers - l) * layer_tok + readout
        later = max(0, n_layers - l - 2) * t * layer_tok + (last_layer if l < n_layers - 1 else 0)
        own = 0 if is_mlp else t * 2 * (d // n_heads) * d + (t if l < n_layers - 1 else 1) * mlp
        engine += later + own + readout
    return {k: v * n_prompts for k, v in {"naive": naive, "reuse": reuse, "engine": engine}.items()}


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
