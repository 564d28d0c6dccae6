"""Figures measured again on disjoint prompt sets: the spread that a verdict needs (issue 21; notebooks 05 and 06).

A claim of the study is reproduced only when its rule holds on every one of several disjoint prompt sets and it
beats its control on each of them (:func:`dcirc_utils.report.results.decide`). The sets here are the notebook's own
prompts split into :data:`N_SETS` disjoint parts (:func:`disjoint_sets`): their union is the notebook's set, so the
spread costs about one more pass over the prompts, not five. Each part is measured on its own (its own mean
ablation, its own clean Δl), as a fresh prompt set would be. A figure on a fifth of the prompts varies more than on
all of them, so the spread is wider than the notebook's own uncertainty: verdicts from it are conservative.

Circuits and matches are held fixed at the notebook's (found on all its prompts): the spread is that of the
measurement, not of circuit discovery (notebook 02 shows how circuits move with the prompt set).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..core.components import Component, parse_component
from ..core.metrics import MIN_DL, DegenerateBaselineError
from ..core.paths import DATA_DIR
from ..core.records import Record
from ..engine import Engine
from ..methods import brittleness as br
from ..models.adapters import ModelAdapter
from .cache import cached, model_fingerprint
from .discover import discover, prompts_digest

__all__ = ["N_SETS", "set_indices", "disjoint_sets", "sets_description", "SetDrops", "drops_by_set", "SetShares",
           "clipped_mean_head_drop",
           "mean_circuit_head_drop", "largest_head_ratio", "ratio", "circuit_shares_by_set", "SHIPPED_PATH", "shipped_or_compute", "ship"]

#: Disjoint prompt sets per spread (the least a verdict takes: ``report.results.MIN_SETS``).
N_SETS = 5


def set_indices(n: int, n_sets: int = N_SETS) -> list[list[int]]:
    """The positions ``0 … n − 1`` split into ``n_sets`` contiguous parts whose sizes differ by at most one (fewer
    when ``n < n_sets``): the parts :func:`disjoint_sets` takes, for figures that are means over prompts.

    Raises:
        ValueError: if ``n_sets`` is not a positive integer or ``n`` is not positive.
    """
    if not isinstance(n_sets, int) or n_sets < 1:
        raise ValueError(f"n_sets must be a positive integer, not {n_sets!r}")
    if n < 1:
        raise ValueError("the prompt set is empty: there is nothing to split")
    return [[int(i) for i in part] for part in np.array_split(np.arange(n), n_sets) if len(part)]


def disjoint_sets(prompts, n_sets: int = N_SETS) -> list:
    """The prompts split into ``n_sets`` disjoint, contiguous parts whose sizes differ by at most one (fewer parts
    when there are fewer prompts than ``n_sets``: a verdict then reads "inconclusive").

    Raises:
        ValueError: if ``n_sets`` is not a positive integer or the prompt set is empty.
    """
    return [prompts.subset(part) for part in set_indices(len(prompts), n_sets)]


def sets_description(prompts, sets: Sequence) -> str:
    """The sets in words, e.g. ``"5 disjoint sets of 20 of the notebook's 100 prompts"``."""
    sizes = sorted({len(s) for s in sets})
    size = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]}"
    return f"{len(sets)} disjoint sets of {size} of the notebook's {len(prompts)} prompts"


@dataclass(frozen=True, eq=False)
class SetDrops(Record):
    """The drops of one disjoint prompt set (a row of :func:`drops_by_set`; reads as a mapping of its fields).
    Every drop is in points of % of the set's clean metric (negative: the score falls when the component is
    removed).

    Attributes:
        full: every component's full-model drop (:func:`~dcirc_utils.methods.brittleness.full_model_drops`).
        circuit: each circuit component's removal drop from the circuit
            (:func:`~dcirc_utils.methods.brittleness.circuit_removal_drops`; empty for an empty circuit).
    """

    full: dict[Component, float]
    circuit: dict[Component, float]


@dataclass(frozen=True, eq=False)
class SetShares(Record):
    """How much of a model a circuit found afresh on one disjoint prompt set keeps (a row of the per-set circuits
    behind :func:`circuit_shares_by_set`; reads as a mapping of its fields).

    Attributes:
        share: circuit components / all components (0–1; ``nan`` where the model does not solve the set).
        mlp_share: circuit MLPs / the model's MLPs (0–1; ``nan`` likewise).
    """

    share: float
    mlp_share: float


def _drops_to_json(rows: list[SetDrops]) -> list[dict]:
    return [{k: {str(c): v for c, v in d.items()} for k, d in row.items()} for row in rows]


def _drops_from_json(rows: list[dict]) -> list[SetDrops]:
    return [SetDrops.from_mapping({k: {parse_component(c): v for c, v in d.items()} for k, d in row.items()})
            for row in rows]


def drops_by_set(adapter: ModelAdapter, prompts, circuit: Sequence[Component], n_sets: int = N_SETS,
                 refresh: bool = False) -> list[SetDrops]:
    """Full-model and circuit-removal drops of every component on each disjoint prompt set, cached on disk.

    Returns:
        One :class:`SetDrops` per set: ``full`` (``{component: drop}``,
        :func:`~dcirc_utils.methods.brittleness.full_model_drops`) and ``circuit`` (``{circuit component: drop}``,
        :func:`~dcirc_utils.methods.brittleness.circuit_removal_drops` with ``circuit`` held fixed; empty when the
        circuit is). The cache holds them as JSON objects keyed by the components' names.
    """
    circuit = sorted(set(circuit))
    key = {"model": model_fingerprint(adapter.model), "prompts": prompts_digest(prompts), "n_sets": n_sets,
           "circuit": [str(c) for c in circuit]}

    def compute() -> list[SetDrops]:
        rows = []
        for part in disjoint_sets(prompts, n_sets):
            engine = Engine.for_prompts(adapter, part, progress=False, check_baseline=False)
            rows.append(SetDrops(full=br.full_model_drops(engine),
                                 circuit=br.circuit_removal_drops(engine, circuit) if circuit else {}))
        return rows

    return cached("drops-by-set", key, compute, _drops_to_json, _drops_from_json, refresh=refresh)


def clipped_mean_head_drop(full: dict[Component, float]) -> float:
    """The study's mean full-model head drop: every head's drop clipped with ``min(0, ·)``, then averaged."""
    heads = [min(0.0, float(v)) for c, v in full.items() if not c.is_mlp]
    return float(np.mean(heads)) if heads else math.nan


def mean_circuit_head_drop(circuit: dict[Component, float]) -> float:
    """The mean removal drop of the circuit's heads (``nan`` when the circuit has no head)."""
    heads = [float(v) for c, v in circuit.items() if not c.is_mlp]
    return float(np.mean(heads)) if heads else math.nan


def ratio(num: float, den: float) -> float:
    """``num / den``, ``nan`` when either is not finite or ``den`` is 0."""
    if not (math.isfinite(num) and math.isfinite(den)) or den == 0:
        return math.nan
    return num / den


def largest_head_ratio(student_drops: dict[Component, float], teacher_drops: dict[Component, float], matches,
                       min_drop: float = br.SUBSTANTIVE_DROP_PP) -> float:
    """The largest substantive sensitivity ratio among matched *heads* (student drop ≥ ``min_drop`` pp, counterpart
    in the teacher's circuit): the study's headline compares head 2.4 with head 4.4. ``nan`` when there is none."""
    rows = [r for r in br.sensitivity_ratios(student_drops, teacher_drops, matches)
            if not r.student.is_mlp and not r.teacher.is_mlp and br.is_substantive(r, min_drop)]
    return max((r.ratio for r in rows), default=math.nan)


#: Spreads too slow to recompute on every run of the course, shipped with it (issue 21): one entry per measurement,
#: keyed by the weights' fingerprint, the prompts and the settings; a run whose key differs recomputes (and caches).
SHIPPED_PATH = DATA_DIR / "results" / "spreads.json"


def _shipped() -> list[dict]:
    return json.loads(SHIPPED_PATH.read_text())["entries"] if SHIPPED_PATH.exists() else []


def shipped_or_compute(key: dict, compute) -> tuple[float, ...]:
    """The values shipped in :data:`SHIPPED_PATH` under exactly ``key`` (weights' fingerprint, prompts, settings), or
    ``compute()`` when no entry has that key (a retrained model, other prompts or settings): shipped spreads are
    reused only for the very weights and prompts they were measured on. ``None`` in the file stands for ``nan``."""
    for entry in _shipped():
        if entry["key"] == key:
            return tuple(math.nan if v is None else float(v) for v in entry["values"])
    return tuple(float(v) for v in compute())


def ship(key: dict, values: Sequence[float]) -> None:
    """Write ``values`` under ``key`` into :data:`SHIPPED_PATH`, replacing an entry with the same key."""
    entries = [e for e in _shipped() if e["key"] != key]
    entries.append({"key": key, "values": [None if not math.isfinite(v) else float(v) for v in values]})
    SHIPPED_PATH.parent.mkdir(parents=True, exist_ok=True)
    SHIPPED_PATH.write_text(json.dumps({"about": "spreads over disjoint prompt sets, keyed by the weights' fingerprint "
                                                  "(python -m dcirc_utils.studies.spread)", "entries": entries},
                                       indent=1, sort_keys=True) + "\n")


def _shares_key(adapter: ModelAdapter, prompts, rule: str, n_sets: int, min_dl: float, what: str = "share") -> dict:
    label = {"share": "circuit shares by set", "mlp_share": "circuit MLP shares by set"}[what]
    return {"what": label, "model": model_fingerprint(adapter.model),
            "prompts": prompts_digest(prompts), "rule": rule, "n_sets": n_sets, "threshold": 0.8, "min_dl": min_dl}


def _circuits_by_set(adapter: ModelAdapter, prompts, pair_name: str, role: str, rule: str, n_sets: int,
                     min_dl: float) -> list[SetShares]:
    """A circuit found afresh on each disjoint set (each cached by :func:`~dcirc_utils.studies.discover.discover`):
    per set, a :class:`SetShares`: the share of all components it keeps and the share of the model's MLPs it keeps
    (``nan`` where the model's clean Δl on the set is below ``min_dl``)."""
    rows = []
    for part in disjoint_sets(prompts, n_sets):
        engine = Engine.for_prompts(adapter, part, progress=False, check_baseline=False)
        found = None
        if float(engine.clean_value) >= min_dl:
            try:
                found = discover(engine, pair_name, role, edges=False, rule=rule)
            except DegenerateBaselineError:
                found = None
        if found is None:
            rows.append(SetShares(share=math.nan, mlp_share=math.nan))
            continue
        rows.append(SetShares(share=len(found.circuit.components) / len(engine.components),
                              mlp_share=len(found.circuit.mlps) / engine.n_layers))
    return rows


def circuit_shares_by_set(adapter: ModelAdapter, prompts, pair_name: str, role: str, rule: str = "corrected",
                          n_sets: int = N_SETS, min_dl: float = MIN_DL, use_shipped: bool = True,
                          what: str = "share") -> tuple[float, ...]:
    """The share of the model's components that node pruning keeps (``what="share"``), or the share of its MLPs
    (``what="mlp_share"``), with a circuit found afresh on each disjoint prompt set (circuits move with the prompt
    set, notebook 02), each cached by :func:`~dcirc_utils.studies.discover.discover`. Slow (a full pruning per set),
    so the course ships the values for its default pair (:func:`shipped_or_compute`; ``use_shipped=False``
    recomputes).

    A set on which the model's clean Δl is below ``min_dl`` gives ``nan``: a model that does not solve the set has no
    circuit worth counting (and a percentage of a Δl near 0 means nothing).

    Raises:
        ValueError: for a ``what`` other than ``"share"`` or ``"mlp_share"``.
    """
    if what not in ("share", "mlp_share"):
        raise ValueError(f"what must be 'share' or 'mlp_share', not {what!r}")

    def compute() -> list[float]:
        return [row[what] for row in _circuits_by_set(adapter, prompts, pair_name, role, rule, n_sets, min_dl)]

    if not use_shipped:
        return tuple(compute())
    return shipped_or_compute(_shares_key(adapter, prompts, rule, n_sets, min_dl, what), compute)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dcirc_utils.studies.spread [--pair small] [--prompts 100]``: measure notebook 02's circuit shares
    (of all components and of the MLPs) on the disjoint sets (teacher, student and the copy before distillation, both pruning rules) and ship them."""
    import argparse

    from ..core.tasks import make_prompts
    from ..models.pairs import copy_control_name, load_pair
    ap = argparse.ArgumentParser(prog="python -m dcirc_utils.studies.spread", description=main.__doc__.split("\n")[0])
    ap.add_argument("--pair", default="small")
    ap.add_argument("--prompts", type=int, default=100)
    args = ap.parse_args(argv)
    pair = load_pair(args.pair, device="cpu")
    prompts = make_prompts(args.prompts, seed=0, tokenizer=pair.tokenizer)      # notebook 02's prompts
    models = [(pair.teacher, pair.name, "teacher"), (pair.student, pair.name, "student")]
    copy = copy_control_name(pair.name)
    if copy and copy != pair.name:
        models.append((load_pair(copy, device="cpu").student, copy, "student"))
    for rule in ("corrected", "study"):
        for model, name, role in models:
            for what in ("share", "mlp_share"):      # one pruning per set: the second reads discover's cache
                values = circuit_shares_by_set(model, prompts, name, role, rule, use_shipped=False, what=what)
                ship(_shares_key(model, prompts, rule, N_SETS, MIN_DL, what), values)
                print(f"{name} {role} ({rule} rule), {what}: {', '.join(f'{v:.3f}' for v in values)}")
    print(f"-> {SHIPPED_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
