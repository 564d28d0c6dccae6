"""Benchmark: the engine's exact component scans against first-order attribution and EAP-IG (issues 16 and 26,
notebook 02).

Run from the repository root::

    python -m bench.attribution                          # pair small, 100 prompts, 2 threads, teacher and student
    python -m bench.attribution --pair mini --prompts 20 # a quick run
    python -m bench.attribution --no-tl                  # this module's gradient only (no TransformerLens tool)
    python -m bench.attribution --ig-steps 5 30          # EAP-IG with m = 5 (MIB's) and m = 30 (its library's)
    python -m bench.attribution --edges                  # also EAP-IG edges against path patching

For each model of the pair it builds the engine on the numeral task's held-out prompts (the notebooks' set), takes
the exact node-pruning circuit (``studies.discover``, cached on disk like notebook 02's), and compares
(``dcirc_utils.methods.attribution.exact_vs_approximate``):

* activation patching, denoising (corrupted run, one component's clean activation written in): the engine's exact
  scan against TransformerLens's ``attribution_patch`` (``(a_clean − a_corrupt)·∇`` at the corrupted run);
* mean ablation (clean run, one component replaced by its corrupted-prompt mean): the engine's exact scan against
  its first-order estimate ``(mean − a_clean)·∇`` at the clean run (this package's gradient);
* for both, EAP-IG-inputs (``dcirc_utils.methods.eap_ig.eap_ig_effects``): the gradient averaged over ``m`` points
  between the two runs' input embeddings (to the corrupted prompts' per-position mean input for mean ablation),
  against the same exact scan (reused, not rerun);
* with ``--edges``: EAP-IG edge scores (``eap_ig_edges``, clean run, corrupted sender, outside of the circuit
  mean-ablated: path patching's direction and context) against the engine's path patching of the circuit, as ratios
  to the clean Δl (Spearman's ρ over all edges and over the direct head → head edges, and the kept edges outside the
  estimate's lowest |kept|).

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
from dcirc_utils.methods.attribution import Comparison, compare, exact_vs_approximate, is_direct_edge, spearman
from dcirc_utils.methods.discovery import path_patch
from dcirc_utils.methods.eap_ig import eap_ig_edges, eap_ig_effects
from dcirc_utils.studies.discover import discover

#: the run patched and the target of each quantity of ``exact_vs_approximate``
RUNS = {"activation patching (denoising)": ("corrupted", "clean"), "mean ablation": ("clean", "mean")}


def _names(comps) -> str:
    return ", ".join(str(c) for c in comps) if comps else "—"


def _method(c: Comparison) -> str:
    if c.note.startswith("EAP-IG"):
        return c.note.split(":")[0]
    return "TL attribution_patch" if c.note.startswith("TransformerLens attribution_patch") else "first order"


def _row(role: str, c: Comparison) -> str:
    worst = max(abs(c.exact[k] - c.approx[k]) for k in c.exact)
    scale = max(abs(v) for v in c.exact.values())
    own = c.extra_seconds.get("own gradient")
    own_s = f"{own:8.2f}" if own is not None else f"{'—':>8}"
    return (f"{role:8} {c.quantity:32} {_method(c):20} {c.seconds_exact:8.2f} {c.seconds_approx:8.2f} {own_s} "
            f"{c.spearman:7.3f} {c.spearman_abs:7.3f} {worst / scale:9.3f} {len(c.missed):3d}/{len(c.circuit):<3d} "
            f"{len(c.missed_by_exact):3d}/{len(c.circuit):<3d}")


def _edges(role: str, engine: Engine, circuit, steps: list[int]) -> list[str]:
    """EAP-IG edges against the engine's path patching of ``circuit`` (both timed here, path patching uncached)."""
    t0 = time.perf_counter()
    exact = path_patch(engine, circuit)
    t_exact = time.perf_counter() - t0
    kept = set(exact.kept)
    edges = sorted(exact.scores)
    direct = [e for e in edges if is_direct_edge(e, circuit)]
    out = []
    for m in steps:
        t0 = time.perf_counter()
        est = eap_ig_edges(engine, circuit, steps=m, which="clean", toward="corrupted", in_circuit=True).ratios()
        t_est = time.perf_counter() - t0
        lowest = set(sorted(edges, key=lambda e: (est[e], e))[:len(kept)])
        rho = spearman([exact.scores[e] for e in edges], [est[e] for e in edges])
        rho_d = (f"{spearman([exact.scores[e] for e in direct], [est[e] for e in direct]):8.3f}"
                 if len(direct) > 2 else f"{'—':>8}")
        out.append(f"{role:8} {len(edges):6d} {len(kept):5d} {len(direct):6d} {t_exact:15.2f} "
                   f"{'EAP-IG m=' + str(m):12} {t_est:7.2f} {rho:7.3f} {rho_d} {len(kept - lowest):4d}/{len(kept):<4d}")
        print(f"  edges: EAP-IG m={m} done", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", default="small")
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--roles", nargs="*", default=["teacher", "student"])
    ap.add_argument("--threshold", type=float, default=0.8, help="node-pruning threshold of the exact circuit")
    ap.add_argument("--no-tl", action="store_true", help="estimate activation patching with this package's gradient")
    ap.add_argument("--ig-steps", type=int, nargs="+", default=[5], help="EAP-IG interpolation points m (one row each)")
    ap.add_argument("--edges", action="store_true", help="also EAP-IG edges against path patching (slow)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, device {args.device or 'auto'}")

    pair = load_pair(args.pair, device=args.device)
    prompts = make_prompts(args.prompts, seed=0, tokenizer=pair.tokenizer)
    rows, details, edge_rows = [], [], []
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
            which, toward = RUNS[cmp.quantity]
            for m in args.ig_steps:
                t0 = time.perf_counter()
                est = eap_ig_effects(engine, which=which, toward=toward, steps=m)
                ig = compare(cmp.exact, est, circuit.components, cmp.quantity, cmp.seconds_exact,
                             time.perf_counter() - t0, f"EAP-IG m={m}: which={which!r}, toward={toward!r}, the "
                                                       "exact scan above reused")
                rows.append(_row(role, ig))
                details.append((role, ig))
                print(f"  {cmp.quantity}: EAP-IG m={m} done", flush=True)
        if args.edges:
            edge_rows.append(_edges(role, engine, circuit.components, args.ig_steps))

    print()
    print(f"{'model':8} {'quantity':32} {'estimate':20} {'exact s':>8} {'approx s':>8} {'own ∇ s':>8} {'ρ':>7} "
          f"{'ρ |·|':>7} {'max err':>9} {'missed':>7} {'exact':>7}")
    print("\n".join(rows))
    print("(approx s: the estimate's time — TransformerLens attribution_patch, this package's first-order gradient, "
          "or EAP-IG with m interpolation points; own ∇ s: this package's gradient for activation patching; max err: "
          "max |exact − approx| / max |exact|; missed: circuit components outside the estimate's top |circuit|; "
          "exact: the same for the exact single-component scan)")
    if edge_rows:
        print()
        print(f"{'model':8} {'edges':>6} {'kept':>5} {'direct':>6} {'path patching s':>15} {'estimate':12} {'s':>7} "
              f"{'ρ':>7} {'ρ direct':>8} {'missed':>9}")
        print("\n".join(r for block in edge_rows for r in block))
        print("(edges: path patching's scores Δl/clean Δl against EAP-IG's estimate (start + score)/clean Δl, clean "
              "run, corrupted sender, outside of the circuit mean-ablated; direct, ρ direct: the head → head q/k/v "
              "edges with no circuit MLP in between (where both are the direct path) and ρ over them; missed: kept "
              "edges (score < 0.8) outside the estimate's lowest |kept|)")
    print()
    for role, cmp in details:
        print(f"{role}, {cmp.quantity}, {_method(cmp)}:")
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
