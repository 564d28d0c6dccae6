"""Faithfulness curves, MIB's CPR and CMD, for every model of a pair on every task it can do (issue 26).

For each model (the teacher, the student and the student's copy before distillation, ``models.pairs.
copy_control_name``) and each task the pair's tokenizer can make (:data:`DEFAULT_TASKS`), each ranking of
:data:`DEFAULT_RANKINGS` (``methods.faithfulness.ranking_scores``) gives MIB's two curves (signed and absolute order,
``methods.faithfulness.mib_curves``) on all the prompts and on each of :data:`~dcirc_utils.studies.spread.N_SETS`
disjoint prompt sets (``studies.spread.disjoint_sets``: the prompts split in contiguous parts, each measured on its
own, its own ranking, mean ablation and clean metric). CPR (from the signed curve) and CMD (from the absolute curve)
are reported on all prompts with their spread over the sets (mean, minimum and maximum): five sets are too few for a
bootstrap interval to mean much, so the spread is stated as it is.

Beside the curves, the study's own single point: node pruning's circuit at 80 % (``studies.discover``, corrected
rule, cached; the circuits notebook 02 finds for the numeral task), its size in % of the components and its
faithfulness (``methods.faithfulness.circuit_faithfulness``), on all prompts and on each set (the circuit held fixed,
as in ``studies.spread``).

Every figure is the course's *analogue* of MIB's (nodes rather than edges, mean ablation over the corrupted prompts
rather than counterfactual patching: ``methods.faithfulness`` says where it is like for like). The command writes a
JSON (:meth:`FaithfulnessStudy.to_dict`) and the summary table (CSV) into the folder it is given::

    python -m dcirc_utils.studies.faithfulness --pair small --out build/faithfulness [--prompts 100] [--sets 5]
"""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..core.metrics import DegenerateBaselineError
from ..core.tasks import make_task
from ..engine import Engine
from ..methods.evaluation import evaluate_task
from ..methods.faithfulness import (MIB_SIZES, CircuitFaithfulness, MIBCurves, RankingUnavailableError,
                                    circuit_faithfulness, mib_curves, ranking_scores)
from .discover import discover
from .spread import N_SETS, disjoint_sets

__all__ = ["DEFAULT_TASKS", "DEFAULT_RANKINGS", "MODEL_ROLES", "FaithfulnessStudy", "study_models", "run_study",
           "summary_table", "spread", "main"]

#: The decoder tasks of the course (``core.tasks``); a task the pair's tokenizer cannot make is skipped, with why.
DEFAULT_TASKS: tuple[str, ...] = ("numerals", "number_words", "ioi", "qa", "greater_than")
#: The rankings (``methods.faithfulness.RANKINGS``); ``eap-ig`` is skipped, with why, where its module is missing.
DEFAULT_RANKINGS: tuple[str, ...] = ("exact", "first-order", "eap-ig")
#: The models of a pair the study curves: teacher, student and the student's copy before distillation.
MODEL_ROLES: tuple[str, ...] = ("teacher", "student", "copy")
#: A model "does" a task, and gets the pruning point, when its top-1 accuracy on all prompts is at least this.
MIN_TOP1 = 0.5


@dataclass(frozen=True)
class FaithfulnessStudy:
    """The study's results (plain data; ``to_dict``/``from_dict``).

    Attributes:
        pair: the pair's name; ``stand_in``: whether it is a stand-in for the study's (``models.pairs.is_stand_in``).
        copy: the copy before distillation's pair (``None`` when the pair has none).
        n_prompts, n_sets, sizes: the prompts per task, the disjoint sets, the circuit sizes (%).
        curves: one row per model, task, ranking and prompt set (``"all"`` or ``0 … n_sets − 1``):
            ``{"model", "task", "ranking", "set", "n_prompts", "cpr", "cmd", "curves": MIBCurves.to_dict()}``.
        points: one row per model, task and prompt set: node pruning's circuit at 80 %,
            ``{"model", "task", "set", **CircuitFaithfulness.to_dict()}``.
        models: one row per model and task: ``{"model", "task", "top1", "clean_value", "metric"}``.
        skipped: what was not computed, with why: ``{"model", "task", "ranking", "set", "reason"}``.
        seconds: wall time; ``date``, ``machine``: when and where it ran.
    """

    pair: str
    stand_in: bool
    copy: str | None
    n_prompts: int
    n_sets: int
    sizes: tuple[float, ...]
    curves: tuple[dict, ...]
    points: tuple[dict, ...]
    models: tuple[dict, ...]
    skipped: tuple[dict, ...]
    seconds: float
    date: str
    machine: str

    def to_dict(self) -> dict:
        return {"pair": self.pair, "stand_in": self.stand_in, "copy": self.copy, "n_prompts": self.n_prompts,
                "n_sets": self.n_sets, "sizes": list(self.sizes), "curves": list(self.curves),
                "points": list(self.points), "models": list(self.models), "skipped": list(self.skipped),
                "seconds": self.seconds, "date": self.date, "machine": self.machine}

    @classmethod
    def from_dict(cls, d: Mapping) -> "FaithfulnessStudy":
        return cls(d["pair"], bool(d["stand_in"]), d.get("copy"), int(d["n_prompts"]), int(d["n_sets"]),
                   tuple(float(s) for s in d["sizes"]), tuple(d["curves"]), tuple(d["points"]), tuple(d["models"]),
                   tuple(d["skipped"]), float(d["seconds"]), d["date"], d["machine"])

    def mib_curves(self, model: str, task: str, ranking: str, prompt_set: str | int = "all") -> MIBCurves:
        """One row's curves as :class:`~dcirc_utils.methods.faithfulness.MIBCurves`.

        Raises:
            KeyError: when the study has no such row.
        """
        for r in self.curves:
            if (r["model"], r["task"], r["ranking"], r["set"]) == (model, task, ranking, prompt_set):
                return MIBCurves.from_dict(r["curves"])
        raise KeyError(f"no curves for {model} / {task} / {ranking} / set {prompt_set!r}")


def machine_description() -> str:
    """The machine in words (platform, processor count, torch threads), for the record of a run."""
    import torch
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} with "
            f"{torch.get_num_threads()} thread(s)")


def study_models(pair, device="cpu") -> tuple[list[tuple[str, object, str, str]], str | None]:
    """``[(model, adapter, discovery name, discovery role)]`` for the teacher, the student and the copy before
    distillation (loaded as ``load_pair(copy).student``, the way notebook 02 and ``studies.spread`` load it), and the
    copy's pair name (``None`` when the pair has none; a pair that is its own copy lists its student once)."""
    from ..models.pairs import copy_control_name, load_pair
    models = [("teacher", pair.teacher, pair.name, "teacher"), ("student", pair.student, pair.name, "student")]
    copy = copy_control_name(pair.name)
    if copy and copy != pair.name:
        models.append(("copy", load_pair(copy, device=device).student, copy, "student"))
    return models, copy


def _curve_row(model: str, task: str, ranking: str, which, n: int, curves: MIBCurves) -> dict:
    return {"model": model, "task": task, "ranking": ranking, "set": which, "n_prompts": n, "cpr": curves.cpr,
            "cmd": curves.cmd, "curves": curves.to_dict()}


def run_study(pair, tasks: Sequence[str] = DEFAULT_TASKS, rankings: Sequence[str] = DEFAULT_RANKINGS,
              n: int = 100, n_sets: int = N_SETS, sizes: Sequence[float] = MIB_SIZES, seed: int = 0,
              device="cpu", ig_steps: int | None = None, progress: bool = True) -> FaithfulnessStudy:
    """Curves, CPR and CMD of every model of ``pair`` on every task, for every ranking, on all prompts and on
    ``n_sets`` disjoint sets, and node pruning's 80 % point (the module docstring).

    Args:
        pair: a loaded pair (``load_pair("small")``).
        tasks, rankings: what to compute (a task the tokenizer cannot make, or ``eap-ig`` without its module, is
            recorded in ``skipped``, not raised).
        n, seed: the prompts of each task (``make_task(task, n, seed)``; notebook 02's numeral prompts for
            ``n = 100, seed = 0``).
        n_sets: disjoint prompt sets for the spread.
        sizes: the circuit sizes (% of the components).
        device: where the copy before distillation is loaded.
        ig_steps: EAP-IG's steps (its default when ``None``).
        progress: print one line per model and task.
    """
    from ..models.pairs import is_stand_in
    t0 = time.perf_counter()
    models, copy = study_models(pair, device)
    curves, points, rows, skipped = [], [], [], []
    for task in tasks:
        try:
            prompts = make_task(task, n, seed, tokenizer=pair.tokenizer)
        except ValueError as err:
            skipped.append({"model": None, "task": task, "ranking": None, "set": None, "reason": str(err)})
            continue
        parts = disjoint_sets(prompts, n_sets)
        for model, adapter, disc_name, disc_role in models:
            t1 = time.perf_counter()
            ev = evaluate_task(adapter, prompts, corrupted=False)
            engine = Engine.for_prompts(adapter, prompts, progress=False, check_baseline=False)
            rows.append({"model": model, "task": task, "top1": float(ev["accuracy"]),
                         "clean_value": float(engine.clean_value), "metric": engine.metric.name})
            engines = [("all", engine)] + [(i, Engine.for_prompts(adapter, part, progress=False, check_baseline=False))
                                           for i, part in enumerate(parts)]
            for ranking in rankings:
                for which, e in engines:
                    try:
                        scores = ranking_scores(e, ranking, steps=ig_steps)
                        curves.append(_curve_row(model, task, ranking, which, e.n_prompts,
                                                 mib_curves(e, scores, sizes, ranking)))
                    except DegenerateBaselineError as err:
                        skipped.append({"model": model, "task": task, "ranking": ranking, "set": which,
                                        "reason": str(err)})
                    except RankingUnavailableError as err:      # eap-ig without its module
                        skipped.append({"model": model, "task": task, "ranking": ranking, "set": None,
                                        "reason": str(err)})
                        break
            if ev["accuracy"] >= MIN_TOP1:
                found = discover(engine, disc_name, disc_role, edges=False)
                for which, e in engines:
                    try:
                        point: CircuitFaithfulness = circuit_faithfulness(e, found.circuit.components)
                        points.append({"model": model, "task": task, "set": which, **point.to_dict()})
                    except DegenerateBaselineError as err:
                        skipped.append({"model": model, "task": task, "ranking": "pruning at 80 %", "set": which,
                                        "reason": str(err)})
            else:
                skipped.append({"model": model, "task": task, "ranking": "pruning at 80 %", "set": None,
                                "reason": f"top-1 {ev['accuracy']:.2f} < {MIN_TOP1}: the model does not do the "
                                          "task, so it has no circuit for it"})
            if progress:
                print(f"{pair.name} {model} {task}: {time.perf_counter() - t1:.1f} s", flush=True)
    return FaithfulnessStudy(pair.name, is_stand_in(pair.name), copy, n, n_sets, tuple(float(s) for s in sizes),
                             tuple(curves), tuple(points), tuple(rows), tuple(skipped),
                             time.perf_counter() - t0, datetime.date.today().isoformat(), machine_description())


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """``(mean, min, max)`` of the finite values (NaN where there is none)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if not v.size:
        return math.nan, math.nan, math.nan
    return float(v.mean()), float(v.min()), float(v.max())


def summary_table(study: FaithfulnessStudy, digits: int | None = 3):
    """CPR and CMD per model, task and ranking: on all prompts, and mean [min, max] over the disjoint sets; the
    model's top-1 and the pruning circuit's size and faithfulness beside them (a pandas DataFrame indexed by task,
    model and ranking).

    ``digits`` rounds the numbers (``None``: unrounded).
    """
    import pandas as pd
    tops = {(r["model"], r["task"]): r for r in study.models}
    pts = {(p["model"], p["task"], p["set"]): p for p in study.points}
    keys = list(dict.fromkeys((r["task"], r["model"], r["ranking"]) for r in study.curves))
    out = []
    for task, model, ranking in keys:
        rows = [r for r in study.curves if (r["task"], r["model"], r["ranking"]) == (task, model, ranking)]
        every = next((r for r in rows if r["set"] == "all"), None)
        sets = [r for r in rows if r["set"] != "all"]
        cpr_m, cpr_lo, cpr_hi = spread([r["cpr"] for r in sets])
        cmd_m, cmd_lo, cmd_hi = spread([r["cmd"] for r in sets])
        point = pts.get((model, task, "all"))
        out.append({"task": task, "model": model, "ranking": ranking, "top-1": tops[model, task]["top1"],
                    "CPR": every["cpr"] if every else math.nan, "CPR mean (sets)": cpr_m, "CPR min": cpr_lo,
                    "CPR max": cpr_hi, "CMD": every["cmd"] if every else math.nan, "CMD mean (sets)": cmd_m,
                    "CMD min": cmd_lo, "CMD max": cmd_hi, "sets": len(sets),
                    "pruning size %": point["size"] if point else math.nan,
                    "pruning f": point["faithfulness"] if point else math.nan})
    df = pd.DataFrame(out)
    if df.empty:
        return df
    df = df.set_index(["task", "model", "ranking"])
    return df.round(digits) if digits is not None else df


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dcirc_utils.studies.faithfulness --pair small --out DIR``: the curves, CPR and CMD of every model
    and task, written to ``DIR/faithfulness-<pair>.json`` and ``DIR/faithfulness-<pair>.csv``."""
    import argparse

    import torch

    from ..models.pairs import load_pair
    ap = argparse.ArgumentParser(prog="python -m dcirc_utils.studies.faithfulness",
                                 description=main.__doc__.split("\n")[0])
    ap.add_argument("--pair", default="small")
    ap.add_argument("--out", required=True, help="folder for the JSON and the table (created if missing)")
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--sets", type=int, default=N_SETS)
    ap.add_argument("--tasks", nargs="*", default=list(DEFAULT_TASKS))
    ap.add_argument("--rankings", nargs="*", default=list(DEFAULT_RANKINGS))
    ap.add_argument("--ig-steps", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    pair = load_pair(args.pair, device=args.device)
    study = run_study(pair, args.tasks, args.rankings, args.prompts, args.sets, device=args.device,
                      ig_steps=args.ig_steps)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"faithfulness-{pair.name}.json").write_text(json.dumps(study.to_dict(), indent=1) + "\n")
    table = summary_table(study)
    table.to_csv(out / f"faithfulness-{pair.name}.csv")
    import pandas as pd
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table)
    for s in study.skipped:
        print("skipped:", {k: v for k, v in s.items() if v is not None})
    print(f"{pair.name}{' (stand-in)' if study.stand_in else ''}: {study.seconds:.0f} s on {study.machine}, "
          f"{study.date} -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
