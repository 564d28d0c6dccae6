"""The measurements of the capacity-limited family's model card (``data/models/small2/eval.json``).

``python -m dcirc_utils.offline.family_eval`` evaluates every model of ``data/models/small2`` that exists, and the
copies before distillation rebuilt from each teacher:

* held-out top-1 and mean metric per task and variant (``distill.evaluate_prompts``: 200 prompts per set, seed 0, the
  sets of the ``small`` pair's card) for each teacher, student, replica and copy;
* cross-entropy on held-out general text (WordNet sentences never trained on, ``offline.prose``) for each model, and
  each student's excess over its teacher;
* each teacher with one block removed at a time, block 0 alone and DistilGPT2's six blocks (:func:`block_removal`):
  whether the task needs the depth that a student loses;
* the teacher's circuit on the notebooks' default prompts (``make_prompts(100, seed=0)``): node pruning at 80% (the
  course's rule), its size, the layers its heads sit in, and every single component's mean-ablation cost as a share
  of the clean Δl (the largest head's is the "one-hub" test of issue 22).

Nothing here tunes anything: it measures what the training commands produced.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch

from ..core import tasks
from ..engine import Engine
from ..methods.discovery import prune_nodes
from ..models.init import init_student_from_teacher
from . import corpus as corpus_mod
from .pair_eval import end_logits, evaluate_prompts
from .train import FAMILY_DIR, SMALL2, load_model, prose_ce

__all__ = ["family_sources", "teacher_circuit", "keep_blocks", "block_scores", "block_removal", "evaluate_family", "plot_training", "card_tables",
           "main"]


def teacher_circuit(pair_name: str = "small2-init", n_prompts: int = 100, threshold: float = 0.8,
                    folder: Path | None = None) -> dict:
    """The teacher's circuit on the default numeral prompts: size, layers with heads, single-component costs (and
    the same single-component costs for the pair's student: by default the copy before distillation)."""
    from ..models.pairs import load_pair
    pair = load_pair(pair_name, device="cpu", folder=folder)
    prompts = tasks.make_prompts(n_prompts, seed=0, tokenizer=pair.tokenizer)
    from ..core.metrics import DegenerateBaselineError
    out = {}
    for role, adapter in pair.models.items():
        try:
            e = Engine.for_prompts(adapter, prompts, progress=False)
        except DegenerateBaselineError as err:      # e.g. a copy before distillation that fails the task
            out[role] = {"degenerate": str(err)}
            continue
        scan = e.ablation_scan()
        cost = {str(c): round(100.0 - e.score(v), 2) for c, v in scan.items()}
        heads = {c: v for c, v in cost.items() if "MLP" not in c}
        entry = {"clean_logit_diff": round(float(e.clean_value), 4), "n_components": len(scan),
                 "single_cost_pct": cost, "largest_head_cost": max(heads.items(), key=lambda kv: kv[1]),
                 "largest_cost": max(cost.items(), key=lambda kv: kv[1])}
        if role == "teacher":
            t0 = time.perf_counter()
            circ = prune_nodes(e, threshold, progress=False)
            layers = sorted({c.layer for c in circ.heads})
            entry.update(circuit=[str(c) for c in circ.components], circuit_size=len(circ.components),
                         circuit_share=round(len(circ.components) / len(scan), 4), circuit_score=round(circ.score, 2),
                         head_layers=layers, n_head_layers=len(layers), circuit_seconds=round(time.perf_counter() - t0))
        out[role] = entry
    return out


def keep_blocks(model, keep: Sequence[int]):
    """A copy of a ``GPT2LMHeadModel`` that runs only the blocks ``keep`` (in that order; embeddings and the final
    LayerNorm kept): the copy-before-distillation experiment for any subset of blocks."""
    import copy
    n = model.config.n_layer
    if not keep or any(not 0 <= k < n for k in keep):
        raise ValueError(f"blocks to keep must be a non-empty subset of 0..{n - 1}, got {list(keep)}")
    m = copy.deepcopy(model)
    m.transformer.h = torch.nn.ModuleList([m.transformer.h[k] for k in keep])
    m.config.n_layer = len(keep)
    m.config.use_cache = False
    for i, block in enumerate(m.transformer.h):      # attention layers index the cache by their position
        block.attn.layer_idx = i
    return m.eval()


@torch.no_grad()
def block_scores(model, tokenizer, subsets: dict[str, Sequence[int]], n_prompts: int = 100,
                 seed: int = 0) -> dict[str, dict[str, float]]:
    """Top-1 and mean Δl on the default numeral prompts (``make_prompts(n_prompts, seed=seed)``) of ``model`` running
    only the blocks of each subset (:func:`keep_blocks`): ``{name: {"top1", "logit_diff"}}`` for ``{name: blocks}``.
    The one scoring of every block-subset experiment (:func:`block_removal`, the card's pilot scripts)."""
    from ..core import metrics
    ps = tasks.make_prompts(n_prompts, seed=seed, tokenizer=tokenizer)
    c, i = ps.answer_ids(tokenizer)
    out = {}
    for name, keep in subsets.items():
        end = end_logits(keep_blocks(model, keep), ps, tokenizer, torch.device("cpu"))
        out[name] = {"top1": round(metrics.accuracy(end, c), 4),
                     "logit_diff": round(float(metrics.logit_diff_per_prompt(end, c, i).mean()), 4)}
    return out


def block_removal(model, tokenizer, n_prompts: int = 100, seed: int = 0) -> dict:
    """Top-1 and mean Δl on the default numeral prompts with each single block removed, with only block 0, and with
    DistilGPT2's six blocks: how much of the task the depth carries (a teacher whose later blocks can all be dropped
    one at a time without loss computes the task in a shallow path, and its copy before distillation keeps it)."""
    from ..core.components import student_layer_map
    n = model.config.n_layer
    subsets = {"all": list(range(n)), "block0_only": [0], "copy_map": student_layer_map(n, (n + 1) // 2)}
    subsets.update({f"drop{b}": [k for k in range(n) if k != b] for b in range(n)})
    r = block_scores(model, tokenizer, subsets, n_prompts, seed)
    return {"all": r["all"], "block0_only": r["block0_only"], "copy_map": r["copy_map"],
            "drop": {str(b): r[f"drop{b}"] for b in range(n)}}


def family_sources(folder: Path = FAMILY_DIR) -> tuple[str, ...]:
    """The prose sources the family in ``folder`` was trained on (its teacher's ``training.json``; WordNet alone when
    it does not say), so that its held-out prose and vocabulary are measured on the same text."""
    log = folder / "teacher" / "training.json"
    if log.exists():
        return tuple(json.loads(log.read_text()).get("corpus", {}).get("sources", ["wordnet"]))
    return ("wordnet",)


def evaluate_family(folder: Path = FAMILY_DIR, n_prose: int = 1000, wordnet: str | None = None) -> dict:
    """Every set of the card for every model in ``folder`` (and each teacher's copy before distillation)."""
    sources = family_sources(folder)
    pool = corpus_mod.prose_pool(wordnet, sources)
    tokenizer = corpus_mod.build_tokenizer(model_max_length=SMALL2.n_positions,
                                           spec=corpus_mod.small2_spec(wordnet, sources))
    models: dict = {}
    teachers = sorted(d.name for d in folder.iterdir() if d.name.startswith("teacher") and (d / "config.json").exists())
    for t in teachers:
        teacher = load_model(folder / t)
        models[t] = teacher
        models[t.replace("teacher", "copy")] = init_student_from_teacher(teacher, SMALL2.student_layers).eval()
    for d in sorted(folder.iterdir()):
        if d.name.startswith("student") and (d / "config.json").exists():
            models[d.name] = load_model(d)
    cfg = replace(SMALL2, eval_suite="all")
    t0 = time.perf_counter()
    prompts = evaluate_prompts(models, tokenizer, cfg, torch.device("cpu"))
    ce = {name: round(prose_ce(m, tokenizer, pool, n=n_prose), 4) for name, m in models.items()}
    removal = {t: block_removal(models[t], tokenizer) for t in teachers}      # the teachers loaded above
    return {"models": sorted(models), "prompts": prompts, "prose_ce": ce, "prose_sentences": n_prose,
            "block_removal": removal,
            "eval_prompts": cfg.eval_prompts, "eval_seed": cfg.eval_seed, "seconds": round(time.perf_counter() - t0)}


def plot_training(folder: Path = FAMILY_DIR) -> Path:
    """``training_curves.png``: each model's training loss, the teachers' held-out top-1 per task and every model's
    held-out prose cross-entropy against the step (from each folder's ``training.json``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    logs = {d.name: json.loads((d / "training.json").read_text()) for d in sorted(folder.iterdir())
            if (d / "training.json").exists()}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for i, (name, info) in enumerate(logs.items()):
        loss = info["log"]["loss"]
        k = 25
        smooth = [sum(loss[max(0, j - k + 1): j + 1]) / len(loss[max(0, j - k + 1): j + 1]) for j in range(len(loss))]
        axes[0].plot(smooth, color=f"C{i}", label=name)
        ev = info["log"]["evals"]
        axes[2].plot([e["step"] for e in ev], [e["prose_ce"] for e in ev], marker="o", color=f"C{i}", label=name)
        if info["role"] == "teacher":
            for j, task in enumerate(("numerals", "ioi", "qa", "greater_than")):
                axes[1].plot([e["step"] for e in ev], [100 * e[task]["top1"] for e in ev], marker="o",
                             color=f"C{j}", ls="-" if name == "teacher" else "--", label=f"{name}: {task}")
            if ev and "copy" in ev[0]:        # the copy before distillation, logged since pilot 3 (train.copy_eval)
                axes[1].plot([e["step"] for e in ev], [100 * e["copy"]["numerals"]["top1"] for e in ev], marker="s",
                             color="black", ls=":", label=f"copy of {name}: numerals")
                axes[2].plot([e["step"] for e in ev], [e["copy"]["prose_ce"] for e in ev], marker="s", color=f"C{i}",
                             ls=":", label=f"copy of {name}")
    axes[0].set(title="training loss (running mean of 25 steps)", xlabel="step", ylabel="loss", yscale="log")
    axes[1].set(title="teachers: held-out top-1 (100 prompts, seed 1)", xlabel="step", ylabel="top-1 (%)",
                ylim=(0, 102))
    axes[2].set(title="cross-entropy on held-out prose", xlabel="step", ylabel="nats per token")
    for ax in axes:
        ax.legend(fontsize=10)
        ax.title.set_fontsize(12)
    fig.tight_layout()
    path = folder / "training_curves.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def card_tables(folder: Path = FAMILY_DIR) -> str:
    """The model card's measured tables as Markdown, from ``eval.json`` and each model's ``training.json``."""
    ev = json.loads((folder / "eval.json").read_text())
    names = ev["models"]
    order = [n for k in ("teacher", "copy", "student") for n in names if n.startswith(k)]
    rows = ["| set | " + " | ".join(f"`{n}`" for n in order) + " |", "|---" * (len(order) + 1) + "|"]
    for key, entry in ev["prompts"].items():
        metric = "prob_diff" if "prob_diff" in entry[order[0]] else "logit_diff"
        cells = [f"{100 * entry[n]['top1']:.0f}% / {entry[n][metric]:.2f}" for n in order]
        rows.append(f"| {key} | " + " | ".join(cells) + " |")
    ce = ev["prose_ce"]
    rows += ["", "| model | held-out prose cross-entropy | relative to its teacher |", "|---|---|---|"]
    for n in order:
        m = re.search(r"@t(\d+)", n)
        t = f"teacher@t{m.group(1)}" if m else "teacher"
        rel = f"{ce[n] / ce[t]:.3f}×" if t in ce else "(its teacher is not in the folder)"
        rows.append(f"| `{n}` | {ce[n]:.3f} | {rel} |")
    c = ev["circuit"]["teacher"]
    rows += ["", f"Teacher circuit (80%, course rule, 100 default prompts): {c['circuit_size']} of {c['n_components']} "
             f"components ({100 * c['circuit_share']:.0f}%), heads in layers {c['head_layers']}, score "
             f"{c['circuit_score']:.1f}%; largest single-head mean-ablation cost {c['largest_head_cost'][1]:.1f}% "
             f"({c['largest_head_cost'][0]}), largest of all {c['largest_cost'][1]:.1f}% ({c['largest_cost'][0]})."]
    rows += ["", "| model | steps | training time | threads | tokens |", "|---|---|---|---|---|"]
    for d in sorted(folder.iterdir()):
        if (d / "training.json").exists():
            info = json.loads((d / "training.json").read_text())
            rows.append(f"| `{d.name}` | {info['settings']['steps']} | {info['train_seconds'] / 60:.1f} min | "
                        f"{info['threads']} | {info['training_tokens']:,} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m dcirc_utils.offline.family_eval", description=__doc__.split("\n")[0])
    p.add_argument("--folder", default=str(FAMILY_DIR))
    p.add_argument("--circuit-only", action="store_true", help="only the teacher's circuit (fast)")
    p.add_argument("--wordnet", default=None, help="folder of WordNet 3.0's data files (default: find or fetch)")
    args = p.parse_args(argv)
    folder = Path(args.folder)
    plot_training(folder)
    out = {"circuit": teacher_circuit(folder=None if folder.resolve() == FAMILY_DIR.resolve() else folder)}
    if args.circuit_only:
        tokenizer = corpus_mod.build_tokenizer(model_max_length=SMALL2.n_positions,
                                               spec=corpus_mod.small2_spec(args.wordnet, family_sources(folder)))
        out["block_removal"] = {d.name: block_removal(load_model(d), tokenizer) for d in sorted(folder.iterdir())
                                if d.name.startswith("teacher") and (d / "config.json").exists()}
    else:   # loads each model once, and the block-removal check reuses its teachers
        out |= evaluate_family(folder, wordnet=args.wordnet)
    path = folder / ("circuit.json" if args.circuit_only else "eval.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    if not args.circuit_only:
        print(card_tables(folder))
    print(json.dumps({k: v for k, v in out["circuit"]["teacher"].items() if k not in ("single_cost_pct", "circuit")}))
    return out


if __name__ == "__main__":
    main()
