"""Benchmark: the engine's exact component scans against first-order attribution (issue 16, notebook 02).

Run from the repository root::

    python -m bench.attribution                          # pair small, 100 prompts, 2 threads, teacher and student
    python -m bench.attribution --pair mini --prompts 20 # a quick run
    python -m bench.attribution --no-tl                  # this module's gradient only (no TransformerLens tool)

For each model of the pair it builds the engine on the numeral task's held-out prompts (the notebooks' set), takes
the exact node-pruning circuit (``studies.discover``, cached on disk like notebook 02's), and compares
(``dcirc_utils.methods.attribution.exact_vs_approximate``):

* activation patching, denoising (corrupted run, one component's clean activation written in): the engine's exact
  scan against TransformerLens's ``attribution_patch`` (``(a_clean − a_corrupt)·∇`` at the corrupted run);
* mean ablation (clean run, one component replaced by its corrupted-prompt mean): the engine's exact scan against
  its first-order estimate ``(mean − a_clean)·∇`` at the clean run (this package's gradient).

It prints the machine, the times, Spearman's ρ over all components (signed values, and magnitudes) and the circuit
components that fall outside each ranking's top ``|circuit|``.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from dcirc_utils import load_pair, make_prompts
from dcirc_utils.engine import Engine
from dcirc_utils.methods.attribution import Comparison, exact_vs_approximate
from dcirc_utils.studies.discover import discover


def _names(comps) -> str:
    return ", ".join(str(c) for c in comps) if comps else "—"


def _row(role: str, c: Comparison) -> str:
    worst = max(abs(c.exact[k] - c.approx[k]) for k in c.exact)
    scale = max(abs(v) for v in c.exact.values())
    own = c.extra_seconds.get("own gradient")
    own_s = f"{own:8.2f}" if own is not None else f"{'—':>8}"
    return (f"{role:8} {c.quantity:32} {c.seconds_exact:8.2f} {c.seconds_approx:8.2f} {own_s} "
            f"{c.spearman:7.3f} {c.spearman_abs:7.3f} {worst / scale:9.3f} {len(c.missed):3d}/{len(c.circuit):<3d} "
            f"{len(c.missed_by_exact):3d}/{len(c.circuit):<3d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", default="small")
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--roles", nargs="*", default=["teacher", "student"])
    ap.add_argument("--threshold", type=float, default=0.8, help="node-pruning threshold of the exact circuit")
    ap.add_argument("--no-tl", action="store_true", help="estimate activation patching with this package's gradient")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, device {args.device or 'auto'}")

    pair = load_pair(args.pair, device=args.device)
    prompts = make_prompts(args.prompts, seed=0, tokenizer=pair.tokenizer)
    rows, details = [], []
    for role in args.roles:
        adapter = pair.models[role]
        t0 = time.perf_counter()
        engine = Engine.for_prompts(adapter, prompts, progress=False)
        t_engine = time.perf_counter() - t0
        t0 = time.perf_counter()
        circuit = discover(engine, pair.name, role, threshold=args.threshold, edges=False, rule="corrected").circuit
        t_circuit = time.perf_counter() - t0
        print(f"{role}: {adapter!r}, {len(engine.components)} components, {engine.n_prompts} prompts, clean Δl "
              f"{engine.clean_value:.3f}; engine {t_engine:.1f} s; circuit ({len(circuit.components)} components, "
              f"score {circuit.score:.1f}%) {t_circuit:.1f} s (cached on disk after the first run)", flush=True)
        for cmp in exact_vs_approximate(engine, circuit.components, use_tl=not args.no_tl):
            rows.append(_row(role, cmp))
            details.append((role, cmp))
            print(f"  {cmp.quantity}: done ({cmp.note})", flush=True)

    print()
    print(f"{'model':8} {'quantity':32} {'exact s':>8} {'approx s':>8} {'own ∇ s':>8} {'ρ':>7} {'ρ |·|':>7} "
          f"{'max err':>9} {'missed':>7} {'exact':>7}")
    print("\n".join(rows))
    print("(approx s: TransformerLens attribution_patch for activation patching, this package's gradient for mean "
          "ablation; own ∇ s: this package's gradient for activation patching; max err: max |exact − approx| / "
          "max |exact|; missed: circuit components outside the estimate's top |circuit|; exact: the same for the "
          "exact single-component scan)")
    print()
    for role, cmp in details:
        print(f"{role}, {cmp.quantity}:")
        print(f"  missed by the approximation : {_names(cmp.missed)}")
        print(f"  missed by the exact ranking : {_names(cmp.missed_by_exact)}")
        only = [c for c in cmp.missed if c not in cmp.missed_by_exact]
        print(f"  missed by the approximation only: {_names(only)}")
        for c in only:
            print(f"    {c}: exact {cmp.exact[c]:+.3f}, estimate {cmp.approx[c]:+.3f}")
        worst = sorted(cmp.exact, key=lambda c: -abs(cmp.exact[c] - cmp.approx[c]))[:3]
        print("  largest errors: " + "; ".join(f"{c} exact {cmp.exact[c]:+.3f}, estimate {cmp.approx[c]:+.3f}"
                                              for c in worst))


if __name__ == "__main__":
    main()
