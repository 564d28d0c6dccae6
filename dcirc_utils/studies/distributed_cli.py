"""The command line of the sharded scans: ``torchrun --nproc-per-node N -m dcirc_utils.studies.distributed_cli``.

The library (:func:`~dcirc_utils.engine.distributed.sharded_ablation_scan`, :func:`~dcirc_utils.engine.distributed.
run_sharded`, ...) lives in the engine layer; this entry point sits above it because it loads a pair and builds the
task's prompts. Under ``torchrun`` every rank runs :func:`main`; rank 0 prints the largest effects and writes
``--out``::

    torchrun --nproc-per-node 2 -m dcirc_utils.studies.distributed_cli --pair small --prompts 64 --out scan.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

import torch.distributed as dist

from ..core.tasks import make_prompts
from ..engine import Engine
from ..engine.distributed import SHARD_STRATEGIES, init_distributed, sharded_ablation_scan
from ..models.pairs import load_pair

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """``torchrun --nproc-per-node N -m dcirc_utils.studies.distributed_cli``: the sharded single-component scan of
    one model of a pair; rank 0 prints the largest effects and writes ``--out`` (JSON: component → mean metric)."""
    ap = argparse.ArgumentParser(prog="dcirc_utils.studies.distributed_cli",
                                 description=main.__doc__.splitlines()[0])
    ap.add_argument("--pair", default=None, help="a load_pair name (default: $DCIRC_PAIR or the course's default)")
    ap.add_argument("--model", choices=("teacher", "student"), default="teacher")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when visible)")
    ap.add_argument("--strategy", choices=SHARD_STRATEGIES, default="strided")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    owns_group = not (dist.is_available() and dist.is_initialized())
    device = init_distributed(args.device)
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        pair = load_pair(args.pair, device=device)
        adapter = pair.models[args.model]
        prompts = make_prompts(args.prompts, seed=args.seed, tokenizer=pair.tokenizer)
        engine = Engine.for_prompts(adapter, prompts, progress=rank == 0)
        scan = sharded_ablation_scan(engine, strategy=args.strategy)
        if rank == 0:
            print(f"{pair.name} {args.model}: {len(scan)} components x {args.prompts} prompts on {world} rank(s); "
                  f"clean value {engine.clean_value:.4f}")
            for c, v in sorted(scan.items(), key=lambda kv: -abs(100.0 - engine.score(kv[1])))[: args.top]:
                print(f"  {str(c):>8}  {engine.score(v):7.2f} % of clean")
            if args.out is not None:
                args.out.write_text(json.dumps({str(c): v for c, v in scan.items()}, indent=1))
        # rank 0 prints and writes while the others wait: a rank that tears down gloo while its peer still holds the
        # connection can be aborted at exit ("terminate called without an active exception", SIGABRT)
        dist.barrier()
    finally:
        if owns_group:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
