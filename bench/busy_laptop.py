"""Benchmark: the course's heaviest kind of cell on a laptop that is also busy with other programs.

Run from the repository root::

    python -m bench.busy_laptop                    # the `small` pair, 100 prompts, 2 busy processes, 3 repeats

Times the single-component ablation scan of the default pair's teacher (all 156 components, 100 prompts: the scan
that node pruning repeats, notebook 02's first heavy cell) in a fresh process per run, so that each run's OpenMP
runtime starts with its own settings:

* at the thread count the package picks (:func:`dcirc_utils.core.runtime.default_threads`: the physical cores this
  process may run on) and at 1 and 2 threads, all with the package's passive OpenMP wait policy;
* at 2 threads with OpenMP's active (spinning) wait policy, the old behaviour, for comparison;

each quiet and beside ``--busy`` CPU-bound processes (pure Python loops, like a browser tab or a build). It prints the
median of ``--repeats`` runs per setting and the ratio busy/quiet; the last line is that ratio at the chosen thread
count.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

_WORKER = r"""
import json, sys, time
import dcirc_utils                          # sets the OpenMP wait policy (unless the environment set one)
import torch
from dcirc_utils import load_pair, make_prompts
from dcirc_utils.engine import Engine
torch.set_num_threads(int(sys.argv[2]))
torch.set_grad_enabled(False)
pair = load_pair(sys.argv[1], device="cpu")
ps = make_prompts(int(sys.argv[3]), seed=0, tokenizer=pair.tokenizer)
engine = Engine.for_prompts(pair.teacher, ps, progress=False)
t0 = time.perf_counter()
engine.ablation_scan()
print(json.dumps({"seconds": time.perf_counter() - t0, "threads": torch.get_num_threads()}))
"""


def _run(pair: str, threads: int, prompts: int, policy: str) -> float:
    env = dict(os.environ, OMP_WAIT_POLICY=policy)
    out = subprocess.run([sys.executable, "-c", _WORKER, pair, str(threads), str(prompts)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def _busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main(argv=None) -> None:
    from dcirc_utils.core.runtime import default_threads
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", default="small")
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--busy", type=int, default=2, help="CPU-bound processes running beside the busy runs")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    chosen = default_threads()
    settings = [(chosen, "PASSIVE"), (1, "PASSIVE"), (2, "PASSIVE"), (2, "ACTIVE")]
    settings = list(dict.fromkeys(settings))
    print(f"machine: {chosen} cores; pair {args.pair}, teacher ablation scan, {args.prompts} prompts; "
          f"threads chosen by the package: {chosen}; busy processes: {args.busy}; median of {args.repeats} runs")
    ratios = {}
    for threads, policy in settings:
        quiet = statistics.median(_run(args.pair, threads, args.prompts, policy) for _ in range(args.repeats))
        procs = _busy(args.busy)
        try:
            time.sleep(0.5)
            busy = statistics.median(_run(args.pair, threads, args.prompts, policy) for _ in range(args.repeats))
        finally:
            for p in procs:
                p.kill()
                p.wait()
        ratios[(threads, policy)] = busy / quiet
        print(f"threads {threads}, OMP_WAIT_POLICY={policy:<7}: quiet {quiet:6.1f} s, beside {args.busy} busy "
              f"{busy:6.1f} s, ratio {busy / quiet:.2f}", flush=True)
    print(f"ratio busy/quiet at the chosen thread count ({chosen}, passive): {ratios[(chosen, 'PASSIVE')]:.2f}")


if __name__ == "__main__":
    main()
