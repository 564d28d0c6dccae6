"""Circuits with known ground truth: tracr programs, and what node pruning and path patching recover of them.

Each program of :data:`TASKS` is compiled by tracr, loaded through the package's adapter
(:mod:`dcirc_utils.models.tracr`: TransformerLens converts it), and given a clean/corrupted prompt set whose answers
(read at the last position) differ in every pair. Then

* **ground truth** (:func:`ground_truth`): the components the program uses and the edges between them, read off the
  compiled weights (:func:`~dcirc_utils.models.tracr.component_io`: a head or MLP is used when it writes a residual
  direction on a path to the output variable; ``A → B.q/k/v/mlp_in`` is an edge when ``A`` writes a variable whose
  value changes that input of ``B``; ``A → resid_final`` when ``A`` writes the output variable; edges that exist in
  the weights but carry no information are listed apart as *inert*), and checked against tracr's RASP graph
  (:func:`check_against_rasp`: every edge is a dependency of the program);
* **recovery** (:func:`recover`): :func:`~dcirc_utils.methods.discovery.prune_nodes` on an
  :class:`~dcirc_utils.engine.Engine` over the converted model gives the circuit, then
  :func:`~dcirc_utils.methods.discovery.path_patch` on that circuit gives the edges; both are compared with the
  ground truth (false positives and negatives).

**Metric.** A categorical tracr output is one-hot on the output variable's directions, so the logit difference
becomes the *output-score difference*: the residual stream's coordinate on the correct value minus its coordinate on
the corrupted prompt's answer (:class:`~dcirc_utils.core.metrics.LogitDiff` over the output columns), ≈ 1 on a clean
prompt, ≈ −1 on its corrupted one.

**Ablation.** The course mean-ablates (per-position mean over the corrupted prompts). tracr's MLPs are lookup
tables on one-hot inputs, and a mean of one-hot vectors is not one of their inputs: :func:`ablation_check` measures
how far a table's output falls from its entries when the components feeding it are mean-ablated (a selector width's
MLP discretises its input and lands on an entry; detect_pattern's AND tables do not), and a mean-ablated head writes
a mixture of one-hot values. ``ablation="resample"`` runs both methods with corrupted-prompt patching instead
(:class:`ResampleEngine`: a removed component takes its value on the paired corrupted prompt, always a table input,
so every per-prompt score stays at the clean or the corrupted answer). On the four programs both give the same
circuits and edges; ``docs/ground-truth.md`` has the measured table.

**What the methods cannot see.** A component whose output is the same on every prompt of the set
(:func:`constant_components`: e.g. ``reverse``'s length, when every prompt has one length, as the engine needs) is
unchanged by either ablation; path patching, as the course defines it, freezes only heads, so an edge's score also
counts paths through MLPs (:func:`mlp_mediated`). :attr:`Recovery.unexplained` lists the false positives and
negatives these two do not account for.

``python -m dcirc_utils.studies.tracr_truth`` prints the table (tracr and JAX required: the ``tracr`` extra).
"""
from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from ..core.components import Component, Site
from ..core.metrics import LogitDiff
from ..engine import Engine, Patch
from ..methods.discovery import Circuit, Edge, EdgeScores, path_patch, prune_nodes
from ..models.tracr import TRACR_MISSING, TracrModel, compile_program, component_io

__all__ = ["TracrTask", "TASKS", "TaskPrompts", "GroundTruth", "Recovery", "ResampleEngine", "ABLATIONS", "build",
           "prompts_for", "ground_truth", "check_against_rasp", "constant_components", "mlp_mediated", "make_engine",
           "recover", "ablation_check", "table", "main"]


# --------------------------------------------------------------------------------------------- programs and prompts
@dataclass(frozen=True)
class TracrTask:
    """A tracr program with its vocabulary, context and clean/corrupted prompt pairs.

    Attributes:
        name: the task's name.
        program: ``() -> rasp.SOp`` (built when needed: tracr is optional).
        vocab: the input values.
        length: the prompt length (without BOS); also the compiled ``max_seq_len``.
        pairs: ``() -> [(clean values, corrupted values), ...]``, each pair's answers (at the last position) differ.
        what: one line on the program and the contrast.
    """

    name: str
    program: Callable[[], Any]
    vocab: tuple
    length: int
    pairs: Callable[[], list[tuple[tuple, tuple]]]
    what: str


def _lib():
    """tracr's program library and RASP, or ImportError naming the install command."""
    try:
        from tracr.compiler import lib
        from tracr.rasp import rasp
    except ImportError as err:
        raise ImportError(TRACR_MISSING) from err
    return lib, rasp


def _sort_pairs() -> list[tuple[tuple, tuple]]:
    """Every arrangement of 4 distinct values of 1..5; corrupted: its largest value replaced by the absent one (so
    the sorted sequence's last value changes)."""
    out = []
    for seq in itertools.permutations(range(1, 6), 4):
        absent = (set(range(1, 6)) - set(seq)).pop()
        out.append((seq, tuple(absent if v == max(seq) else v for v in seq)))
    return out


def _pattern_pairs() -> list[tuple[tuple, tuple]]:
    """Sequences of 5 ending in "abc" against the same with one of the three broken (each way of breaking each
    position), and the reverse pairs (clean without the pattern, corrupted with it)."""
    out = []
    for head in itertools.product("abc", repeat=2):
        clean = (*head, "a", "b", "c")
        for pos in (2, 3, 4):
            for v in "abc":
                if v != clean[pos]:
                    broken = tuple(v if i == pos else x for i, x in enumerate(clean))
                    out += [(clean, broken), (broken, clean)]
    return out


def _changed_pairs(task_program: Callable[[], Any], vocab: tuple, length: int) -> Callable[[], list]:
    """Every sequence, each paired with the ``k``-th (rotating over the prompts) single-value change that changes the
    program's output at the last position."""
    def pairs():
        from tracr.rasp import rasp
        prog = task_program()
        answer = lambda s: rasp.evaluate(prog, list(s))[-1]  # noqa: E731
        out = []
        for k, seq in enumerate(itertools.product(vocab, repeat=length)):
            a = answer(seq)
            options = [c for i in range(length) for v in vocab if v != seq[i]
                       for c in [tuple(v if j == i else x for j, x in enumerate(seq))] if answer(c) != a]
            if options:
                out.append((seq, options[k % len(options)]))
        return out
    return pairs


def _reverse_pairs() -> list[tuple[tuple, tuple]]:
    """Every sequence of 4 of a, b, c; corrupted: its first value changed (the reversed sequence's last value)."""
    nxt = {"a": "b", "b": "c", "c": "a"}
    return [(seq, (nxt[seq[0]], *seq[1:])) for seq in itertools.product("abc", repeat=4)]


def _count_less_freq():
    lib, _ = _lib()
    return lib.make_count_less_freq(2)


#: The programs (tracr's ``compiler.lib``), in the table's order.
TASKS: dict[str, TracrTask] = {t.name: t for t in [
    TracrTask("sort_unique", lambda: _lib()[0].make_sort_unique(_lib()[1].tokens, _lib()[1].tokens),
              (1, 2, 3, 4, 5), 4, _sort_pairs,
              "sort distinct values (selector width of 'smaller', then an aggregate); read: the largest value"),
    TracrTask("detect_pattern", lambda: _lib()[0].detect_pattern(_lib()[1].tokens, "abc"), ("a", "b", "c"), 5,
              _pattern_pairs, "does the sequence end in 'abc' (three maps, two shifts, two ANDs); read: True/False"),
    TracrTask("count_less_freq", _count_less_freq, ("a", "b", "c"), 5,
              _changed_pairs(_count_less_freq, ("a", "b", "c"), 5),
              "how many values occur at most twice (histogram, then a selector width on it); read: the count"),
    TracrTask("reverse", lambda: _lib()[0].make_reverse(_lib()[1].tokens), ("a", "b", "c"), 4, _reverse_pairs,
              "reverse the sequence (length, opp_idx = length − i − 1, aggregate); read: the first value"),
]}


@dataclass(frozen=True)
class TaskPrompts:
    """A task's prompts on a compiled model: tokens and the output columns of each pair's answers."""

    clean: torch.Tensor
    corrupted: torch.Tensor
    correct: torch.Tensor
    incorrect: torch.Tensor

    @property
    def metric(self) -> LogitDiff:
        """The output-score difference: correct value's coordinate minus the corrupted answer's."""
        return LogitDiff(self.correct, self.incorrect)


def build(name: str, device: torch.device | str = "cpu") -> tuple[TracrTask, TracrModel]:
    """Compile task ``name``'s program with tracr and load it (``model.compile_seconds`` is the compile time).

    Raises:
        KeyError: naming the known tasks.
        ImportError: naming the install command when tracr is missing.
    """
    if name not in TASKS:
        raise KeyError(f"unknown tracr task {name!r}: known {sorted(TASKS)}")
    task = TASKS[name]
    program = task.program()
    return task, compile_program(program, set(task.vocab), task.length, name=name, device=device)


def prompts_for(task: TracrTask, model: TracrModel) -> TaskPrompts:
    """The task's prompt pairs as tokens, with each pair's answers from RASP's own evaluator (not the model)."""
    from tracr.rasp import rasp
    program = task.program()
    pairs = task.pairs()
    answers = [(rasp.evaluate(program, list(c))[-1], rasp.evaluate(program, list(x))[-1]) for c, x in pairs]
    same = [p for p, (a, b) in zip(pairs, answers) if a == b]
    if same:
        raise ValueError(f"{task.name}: the pair {same[0]} has the same answer on both prompts")
    return TaskPrompts(model.tokens([c for c, _ in pairs]), model.tokens([x for _, x in pairs]),
                       torch.tensor([model.output_index(a) for a, _ in answers]),
                       torch.tensor([model.output_index(b) for _, b in answers]))


# --------------------------------------------------------------------------------------------- ground truth
@dataclass(frozen=True)
class GroundTruth:
    """What a compiled program uses (from its weights; see the module docstring).

    Attributes:
        components: the heads and MLPs on a path to the output, sorted.
        edges: the direct edges between them and into ``resid_final`` that carry information, sorted.
        inert: edges that exist in the weights (the receiver reads a direction the sender writes) but carry no
            information: the receiver reads the variable through equal rows, so its value changes nothing
            (:class:`~dcirc_utils.models.tracr.ComponentIO`). No method that measures effects can find them.
        variables: per used component, the program variables it writes (for the table).
    """

    components: list[Component]
    edges: list[Edge]
    inert: list[Edge] = field(default_factory=list)
    variables: dict[Component, tuple[str, ...]] = field(default_factory=dict)


def _before(a: Component, b: Component) -> bool:
    """Whether ``b`` runs after ``a`` (a later layer, or ``a`` a head and ``b`` the MLP of its layer)."""
    return a.layer < b.layer or (a.layer == b.layer and not a.is_mlp and b.is_mlp)


def ground_truth(model: TracrModel) -> GroundTruth:
    """The components and direct edges the compiled program uses (:func:`~dcirc_utils.models.tracr.component_io`):
    ``A → B.kind`` when ``A`` writes a variable that informs that input of ``B``; ``A → resid_final`` when ``A``
    writes the output variable; the used components are those with a path of such edges to the output."""
    io = component_io(model)
    live = [c for c, x in io.items() if not x.empty]
    written = {c: {model.label_variable(w) for w in io[c].writes} for c in live}
    edges = {Edge(a, None, "resid") for a in live if model.output_label in written[a]}
    inert = set()
    for a in live:
        for b in live:
            if not _before(a, b):
                continue
            for kind, read in io[b].reads.items():
                if written[a] & io[b].informative[kind]:
                    edges.add(Edge(a, b, kind))
                elif written[a] & {model.label_variable(r) for r in read}:
                    inert.add(Edge(a, b, kind))
    used = {e.sender for e in edges if e.receiver is None}
    while True:
        more = {e.sender for e in edges if e.receiver in used} - used
        if not more:
            break
        used |= more
    keep = lambda e: e.sender in used and (e.receiver is None or e.receiver in used)  # noqa: E731
    variables = {c: tuple(sorted(written[c])) for c in sorted(used)}
    return GroundTruth(sorted(used), sorted(filter(keep, edges)), sorted(filter(keep, inert)), variables)


def check_against_rasp(task: TracrTask, model: TracrModel, truth: GroundTruth) -> list[str]:
    """Problems found when the weight-derived ground truth is compared with tracr's RASP graph of the program (an
    empty list when they agree): every variable a used component writes is a node of the program, every edge
    ``A → B`` (inert ones included) carries a variable that ``B``'s own variable depends on (directly or through the
    selector of ``B``'s aggregate), or the selector-width attention output into its own MLP, and the edges into
    ``resid_final`` carry the program's output."""
    from tracr.compiler import nodes as tracr_nodes
    from tracr.compiler import rasp_to_graph
    from tracr.rasp import rasp
    graph = rasp_to_graph.extract_rasp_graph(task.program()).graph
    # a label ends in an id that depends on how many RASP expressions were built before: compare without it
    strip = lambda v: v.removesuffix("_selector_width_attn_output").rsplit("_", 1)[0]  # noqa: E731
    names = {strip(n): n for n in graph.nodes}

    def inputs(node: str) -> set[str]:
        """The SOps ``node`` reads: its children, through selectors (a selector's keys and queries)."""
        out = set()
        for d in graph.predecessors(node):
            if isinstance(graph.nodes[d][tracr_nodes.EXPR], rasp.Select):
                out |= inputs(d)
            else:
                out.add(strip(d))
        return out

    problems = [f"{c} writes {v}, which is no variable of the program" for c, vs in truth.variables.items()
                for v in vs if strip(v) not in names]
    for e in [*truth.edges, *truth.inert]:
        sent = {strip(v) for v in truth.variables[e.sender]}
        if e.receiver is None:
            if strip(model.output_label) not in sent:
                problems.append(f"{e} does not carry the output {model.output_label}")
            continue
        recv = {strip(v) for v in truth.variables[e.receiver]}
        deps = set().union(*(inputs(names[r]) for r in recv if r in names))
        if not sent & (deps | recv):
            problems.append(f"{e}: {sorted(sent)} is not an input of {sorted(recv)} in the RASP graph")
    return problems


def constant_components(model: TracrModel, prompts: TaskPrompts, components: Sequence[Component]) -> list[Component]:
    """The components whose output is the same on every clean and corrupted prompt (at every position): no
    ablation built from these prompts (mean or corrupted-prompt) changes them, so no contrast of these prompts can
    find them or their edges."""
    tokens = torch.cat([prompts.clean, prompts.corrupted])
    acts = model.adapter.capture_unpatched(tokens, sorted({c.site for c in components}))
    out = []
    for c in components:
        a = acts[c.site] if c.is_mlp else acts[c.site][:, :, c.head]
        if float((a - a[:1]).abs().max()) <= 1e-6 * max(1.0, float(a.abs().max())):
            out.append(c)
    return sorted(out)


def mlp_mediated(truth: GroundTruth) -> list[Edge]:
    """Edges that are not direct but that path patching, as the course defines it, also measures: ``A → R`` when a
    chain of direct edges ``A → M₁ → … → Mₖ → R`` runs through MLPs only (path patching freezes the heads after the
    sender to their clean values but recomputes every MLP). Into heads, the receiver input is the one the last MLP
    feeds."""
    direct = set(truth.edges)
    out: set[Edge] = set()
    for a in truth.components:
        frontier = [e.receiver for e in truth.edges if e.sender == a and e.receiver is not None and e.receiver.is_mlp]
        seen: set[Component] = set()
        while frontier:
            m = frontier.pop()
            if m in seen:
                continue
            seen.add(m)
            for e in truth.edges:
                if e.sender != m:
                    continue
                via = Edge(a, e.receiver, e.kind)
                if via not in direct and (e.receiver is None or _before(a, e.receiver)):
                    out.add(via)
                if e.receiver is not None and e.receiver.is_mlp:
                    frontier.append(e.receiver)
    return sorted(out)


# --------------------------------------------------------------------------------------------- ablation
class ResampleEngine(Engine):
    """An :class:`~dcirc_utils.engine.Engine` whose "mean ablation" is corrupted-prompt patching: a removed component
    takes its activation on the paired corrupted prompt instead of the mean over the corrupted prompts (so
    :func:`~dcirc_utils.methods.discovery.prune_nodes` and :func:`~dcirc_utils.methods.discovery.path_patch` run
    unchanged). For tracr, whose MLPs are lookup tables of one-hot inputs: a corrupted prompt's activation is always
    an input the table was built for, a mean of one-hot vectors is not."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sites = list(dict.fromkeys(c.site for c in self.components))
        self.corrupted_acts: dict[Site, torch.Tensor] = {s: a.to(self.device)
                                                         for s, a in self.capture(sites, which="corrupted").items()}

    def mean_ablation(self, components) -> list[Patch]:
        out = []
        for c in self.check_components(components):
            p = self._mean_patches.get(c)
            if p is None:
                a = self.corrupted_acts[c.site]
                p = self._mean_patches[c] = Patch(c.site, c.index, a if c.is_mlp else a[:, :, c.head],
                                                  per_prompt=True)
            out.append(p)
        return out


ABLATIONS = {"mean": Engine, "resample": ResampleEngine}


def make_engine(model: TracrModel, prompts: TaskPrompts, ablation: str = "mean") -> Engine:
    """An engine on the task's prompts with the output-score difference as metric and ``ablation`` (``"mean"``: the
    course's; ``"resample"``: corrupted-prompt patching)."""
    if ablation not in ABLATIONS:
        raise ValueError(f"ablation must be one of {sorted(ABLATIONS)}, got {ablation!r}")
    return ABLATIONS[ablation](model.adapter, prompts.clean, prompts.corrupted, prompts.metric, progress=False)


def ablation_check(model: TracrModel, prompts: TaskPrompts, truth: GroundTruth) -> dict[Component, float]:
    """For each used MLP fed by other components: how far its output falls from its lookup table when those
    components are mean-ablated. The distance (L∞) from each clean prompt's MLP output, at each position, to the
    nearest output the MLP gives at that position on any clean or corrupted prompt of the intact model; the largest
    over prompts and positions. 0: the mean lands on a table entry; tracr's one-hot outputs differ by 1 from one
    entry to the next (a selector width's table: a one-hot count)."""
    eng = make_engine(model, prompts, "mean")
    out = {}
    for c in truth.components:
        senders = sorted({e.sender for e in truth.edges if e.receiver == c})
        if not c.is_mlp or not senders:
            continue
        site = c.site
        seen = torch.cat([eng.capture([site], which=w)[site] for w in ("clean", "corrupted")])    # [2·batch, pos, d]
        ablated = eng.capture([site], eng.mean_ablation(senders), which="clean")[site]           # [batch, pos, d]
        dist = (ablated[:, None] - seen[None]).abs().amax(-1).amin(1)                            # [batch, pos]
        out[c] = float(dist.max())
    return out


# --------------------------------------------------------------------------------------------- recovery
@dataclass(frozen=True)
class Recovery:
    """What node pruning and path patching found on one task, against the ground truth.

    Attributes:
        task: the task's name.
        ablation: ``"mean"`` or ``"resample"``.
        truth: the ground truth.
        circuit: node pruning's circuit.
        edges: path patching's scores on that circuit.
        constant: the used components whose output is the same on every prompt (:func:`constant_components`).
        mediated: the edges path patching measures besides the direct ones (:func:`mlp_mediated`).
        accuracy: the model's top-1 accuracy on the clean prompts (against RASP's answers).
        clean_value: the mean output-score difference on the clean prompts.
        n_prompts: prompt pairs.
        compile_seconds, seconds: tracr's compile time, and the time of pruning plus path patching.
    """

    task: str
    ablation: str
    truth: GroundTruth
    circuit: Circuit
    edges: EdgeScores
    constant: list[Component]
    mediated: list[Edge]
    accuracy: float
    clean_value: float
    n_prompts: int
    compile_seconds: float
    seconds: float

    @property
    def components(self) -> list[Component]:
        return self.circuit.components

    @property
    def false_positives(self) -> list[Component]:
        return sorted(set(self.circuit.components) - set(self.truth.components))

    @property
    def false_negatives(self) -> list[Component]:
        return sorted(set(self.truth.components) - set(self.circuit.components))

    @property
    def edge_false_positives(self) -> list[Edge]:
        return sorted(set(self.edges.kept) - set(self.truth.edges))

    @property
    def edge_false_negatives(self) -> list[Edge]:
        return sorted(set(self.truth.edges) - set(self.edges.kept))

    @property
    def unexplained(self) -> dict[str, list]:
        """False positives and negatives that neither the prompts (constant components, and edges from them) nor the
        method's definition (edges through MLPs) account for: empty on every task of :data:`TASKS`."""
        const = set(self.constant)
        return {"components FP": self.false_positives,
                "components FN": [c for c in self.false_negatives if c not in const],
                "edges FP": [e for e in self.edge_false_positives if e not in set(self.mediated)],
                "edges FN": [e for e in self.edge_false_negatives if e.sender not in const]}


def recover(task: TracrTask, model: TracrModel, ablation: str = "mean", threshold: float = 0.8,
            edge_threshold: float = 0.8) -> Recovery:
    """Node pruning (``threshold``) then path patching (``edge_threshold``) on the task, compared with
    :func:`ground_truth`."""
    prompts = prompts_for(task, model)
    truth = ground_truth(model)
    start = time.perf_counter()
    eng = make_engine(model, prompts, ablation)
    circuit = prune_nodes(eng, threshold=threshold, progress=False)
    edges = path_patch(eng, circuit.components, threshold=edge_threshold)
    seconds = time.perf_counter() - start
    logits = model.adapter.readout_logits(prompts.clean)
    accuracy = float((logits.argmax(-1) == prompts.correct).float().mean())
    return Recovery(task.name, ablation, truth, circuit, edges, constant_components(model, prompts, truth.components),
                    mlp_mediated(truth), accuracy, eng.clean_value, len(prompts.correct), model.compile_seconds,
                    seconds)


def _fmt(items: Sequence, note: Callable[[Any], str] = lambda _: "") -> str:
    return ", ".join(f"{x}{note(x)}" for x in items) if items else "—"


def table(recoveries: Sequence[Recovery]) -> str:
    """The recovery table as Markdown: per task and ablation, ground truth, recovered, false positives and
    negatives (components, then edges), each marked with its reason: ``(const)`` a component whose output is the
    same on every prompt, or an edge from one; ``(via MLP)`` an edge path patching measures through MLPs."""
    rows = ["| program | ablation | ground truth: components | recovered | FP | FN | ground truth: edges | "
            "recovered edges | edge FP | edge FN |", "|---" * 10 + "|"]
    for r in recoveries:
        const = set(r.constant)
        c_note = lambda c: " (const)" if c in const else ""  # noqa: E731
        e_note = lambda e: (" (via MLP)" if e in set(r.mediated) else  # noqa: E731
                            " (const)" if e.sender in const else "")
        rows.append(f"| {r.task} | {r.ablation} | {_fmt(r.truth.components)} | {_fmt(r.components)} | "
                    f"{_fmt(r.false_positives)} | {_fmt(r.false_negatives, c_note)} | {_fmt(r.truth.edges)} | "
                    f"{_fmt(r.edges.kept)} | {_fmt(r.edge_false_positives, e_note)} | "
                    f"{_fmt(r.edge_false_negatives, e_note)} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the recovery table for every task (or ``--tasks``), with both ablations (or ``--ablation``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--ablation", nargs="*", default=list(ABLATIONS), choices=list(ABLATIONS))
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    recs = []
    for name in args.tasks:
        task, model = build(name)
        truth = ground_truth(model)
        bad = check_against_rasp(task, model, truth)
        print(f"{name}: compiled in {model.compile_seconds:.1f} s; {model.adapter!r}; RASP graph check: "
              f"{'agrees' if not bad else bad}")
        print(f"  inert edges (in the weights, no information): {_fmt(truth.inert)}")
        prompts = prompts_for(task, model)
        dist = ablation_check(model, prompts, truth)
        print(f"  with its senders mean-ablated, each MLP's output distance to its table: "
              f"{_fmt(list(dist), lambda c: f' {dist[c]:.3f}')}")
        for ablation in args.ablation:
            eng = make_engine(model, prompts, ablation)
            scan = eng.ablation_scan(truth.components)
            print(f"  {ablation}: each used component ablated alone, % of the clean value: "
                  f"{_fmt(list(scan), lambda c: f' {eng.score(scan[c]):.1f}')}")
            r = recover(task, model, ablation)
            recs.append(r)
            print(f"  {ablation}: accuracy {r.accuracy:.3f}, clean value {r.clean_value:.3f}, {r.n_prompts} pairs, "
                  f"circuit score {r.circuit.score:.1f} %, {r.seconds:.1f} s; unexplained: "
                  f"{ {k: [str(x) for x in v] for k, v in r.unexplained.items() if v} or 'none'}")
    print()
    print(table(recs))


if __name__ == "__main__":
    main()
