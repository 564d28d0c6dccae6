"""Results that notebooks compute, set beside the study's claims: conclusions written by code, not by hand
(every notebook's "what this run shows" cells; the report site collects them).

A notebook states no number or comparison outcome in its markdown: it records each result here and lets this module
say whether the study's claim holds *on the pair that ran*. Every :class:`Finding` carries the study's claim in
words, the study's figure and its source, this run's figure and a verdict computed from the two:

* ``"reproduced"`` — the claim's rule (direction *and* magnitude) holds on every prompt set of its spread, and the
  claim beats its control (for what distillation does: the copy before distillation) beyond that spread;
* ``"differs"`` — the rule fails on every prompt set, or the control does as well on every set;
* ``"inconclusive"`` — the spread straddles the rule's boundary or the control's, or the claim has no spread over
  :data:`MIN_SETS` prompt sets yet, or no control on this pair: a difference below the noise floor is not a result;
* ``"not computable"`` — this pair cannot answer it (e.g. a head named by the study does not exist in a smaller
  model, or random weights do not solve the task), with the reason.

A claim of the study is tested with :meth:`Results.test`: a :class:`Rule`, this run's figure, its :class:`Spread`
over disjoint prompt sets and, where the claim is about what distillation does, a :class:`Control` measured on the
same sets. :func:`decide` turns them into the verdict and says why. A claim of the study recorded with the older
:meth:`Results.check` (one prompt set, no spread, no control) reads "inconclusive", its one-set outcome in the note.
Checks that hold by construction are **sanity checks** (kind ``"sanity"``): shown apart, never counted.

:class:`Results` gathers a notebook's findings and measured values and writes them to
``$DCIRC_RESULTS_DIR/<notebook>.json`` (default ``build/results/``), which ``report.site`` merges into
``build/results.json``.

A finding is of one of three kinds (:data:`KINDS`): a claim **of the study** (its figures or its words,
``paper-results.md``/``study-spec.md``), **the course's own check** (a control the study did not run, a property
of the offline pairs, a further question a reader proposed), or a **sanity check** (true by construction: a bound,
an identity; it tests the code, not the science). Each notebook ends with :meth:`Results.summary`: the study's
claims in one table, the course's checks in another, the sanity checks in a third; only the first is counted as the
reproduction.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ..core.settings import Settings

__all__ = ["Finding", "Results", "VERDICTS", "KINDS", "COURSE_WORDS", "claim_kind", "results_dir", "Rule", "Spread",
           "Control", "decide", "MIN_SETS"]

VERDICTS = ("reproduced", "differs", "inconclusive", "not computable")
#: A finding's kind: a claim of the study, the course's own check, or a sanity check (true by construction).
KINDS = ("study", "course", "sanity")
#: How a verdict reads for the course's own checks and the sanity checks: there is nothing of the study's to
#: reproduce, so a check holds or does not (the stored verdict stays one of :data:`VERDICTS`; only the words change).
COURSE_WORDS = {"reproduced": "holds", "differs": "does not hold", "inconclusive": "inconclusive",
                "not computable": "not computable"}
#: The fewest disjoint prompt sets a spread needs before a claim of the study can be reproduced or differ.
MIN_SETS = 5

#: Words in a finding's source that mark it as the course's own check although the source names the study's files.
_COURSE_SOURCES = ("not in the study", "not measured by the study", "not the study's", "further check",
                   "the definition of", "data/models/", "tests/", "sweep.json")
_STUDY_SOURCES = ("paper-results.md", "study-spec.md", "the study")


def claim_kind(source: str) -> str:
    """The kind of a finding from its ``source`` when :meth:`Results.check` is not told: ``"study"`` when the source
    cites the study (``paper-results.md``, ``study-spec.md``, "the study's ...") and does not say that the study did
    not make the claim; ``"course"`` otherwise (no source, the offline pairs' cards, the tests, a reader's further
    check)."""
    s = (source or "").lower()
    if not s or any(w in s for w in _COURSE_SOURCES):
        return "course"
    return "study" if any(w in s for w in _STUDY_SOURCES) else "course"


def results_dir(settings: Settings | None = None) -> Path:
    """The results folder of ``settings`` (default :meth:`Settings.from_env`: ``$DCIRC_RESULTS_DIR``), else
    ``<repo>/build/results``."""
    return (Settings.from_env() if settings is None else settings).resolved_results_dir


def _plain(v: Any) -> Any:
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


@dataclass(frozen=True)
class Rule:
    """A claim's test: this run's figure must lie strictly between ``low`` and ``high`` (an end may be infinite).
    ``text`` says it in words, direction and magnitude (e.g. "student/teacher > 1 and within a factor 2 of the
    study's 5.39").

    Build one with :meth:`above`, :meth:`below`, :meth:`between` or :meth:`within_factor`, and join two with ``&``.
    """

    text: str
    low: float = -math.inf
    high: float = math.inf

    def __post_init__(self):
        if not self.low <= self.high:
            raise ValueError(f"rule {self.text!r}: its bounds [{self.low}, {self.high}] are empty")

    @classmethod
    def above(cls, x: float, text: str | None = None) -> "Rule":
        return cls(text or f"> {_num(x)}", float(x), math.inf)

    @classmethod
    def below(cls, x: float, text: str | None = None) -> "Rule":
        return cls(text or f"< {_num(x)}", -math.inf, float(x))

    @classmethod
    def between(cls, low: float, high: float, text: str | None = None) -> "Rule":
        return cls(text or f"in [{_num(low)}, {_num(high)}]", float(low), float(high))

    @classmethod
    def within_factor(cls, study: float, factor: float, text: str | None = None) -> "Rule":
        """Within a factor ``factor`` of a positive figure of the study: ``[study/factor, study·factor]``."""
        if not study > 0 or not factor >= 1:
            raise ValueError(f"within_factor needs a positive figure and a factor ≥ 1 (got {study}, {factor})")
        return cls(text or f"within a factor {factor:g} of the study's {_num(study)} "
                           f"([{_num(study / factor)}, {_num(study * factor)}])", study / factor, study * factor)

    def __and__(self, other: "Rule") -> "Rule":
        return Rule(f"{self.text} and {other.text}", max(self.low, other.low), min(self.high, other.high))

    def test(self, low: float, high: float) -> str:
        """``"holds"`` when ``[low, high]`` lies inside the rule, ``"fails"`` when it lies outside, ``"straddles"``
        when it crosses a boundary."""
        if self.low < low and high < self.high:
            return "holds"
        if high <= self.low or low >= self.high:
            return "fails"
        return "straddles"


@dataclass(frozen=True)
class Spread:
    """A figure measured again on disjoint prompt sets (and student replicas, where a pair has them).

    Attributes:
        values: one figure per set (``nan`` where a set could not be measured).
        what: the sets in words (e.g. "5 disjoint sets of 20 of the notebook's 100 prompts").
    """

    values: tuple[float, ...]
    what: str = ""

    @property
    def finite(self) -> list[float]:
        return [float(v) for v in self.values if v is not None and math.isfinite(v)]

    @property
    def n_sets(self) -> int:
        return len(self.finite)

    @property
    def low(self) -> float:
        return min(self.finite, default=math.nan)

    @property
    def high(self) -> float:
        return max(self.finite, default=math.nan)

    def as_dict(self) -> dict:
        return {"n_sets": self.n_sets, "low": _plain(self.low), "high": _plain(self.high),
                "values": [_plain(v) for v in self.values], "what": self.what}


@dataclass(frozen=True)
class Control:
    """What a claim must beat: the same figure on a control (the copy before distillation, a random matching, the
    distribution over all heads), on the same prompt sets as the claim's spread.

    Attributes:
        what: the control in words, naming its pair.
        value: its figure on the notebook's prompts (``None`` when this pair has no such control: say why in
            ``missing``).
        values: its figure on each set of the claim's spread, in the same order (paired differences).
        beat: ``"above"`` when the claim's figure must exceed the control's, ``"below"`` when it must be smaller.
        missing: why there is no control on this pair.
        must: a rule the control itself must satisfy for the comparison to mean anything (e.g. for "distillation
            discards the role", the copy before distillation must *have* the role). A control that fails it on every
            set makes the claim "differs"; one that straddles it, "inconclusive".
    """

    what: str
    value: float | None
    values: tuple[float, ...] = ()
    beat: str = "above"
    missing: str = ""
    must: Rule | None = None

    def __post_init__(self):
        if self.beat not in ("above", "below"):
            raise ValueError(f"control {self.what!r}: beat must be 'above' or 'below', not {self.beat!r}")
        if self.value is None and not self.missing:
            raise ValueError(f"control {self.what!r} has no value: say why this pair has none (missing=...)")

    def as_dict(self) -> dict:
        finite = [v for v in self.values if v is not None and math.isfinite(v)]
        return {"what": self.what, "value": _plain(self.value), "low": _plain(min(finite, default=math.nan)),
                "high": _plain(max(finite, default=math.nan)), "values": [_plain(v) for v in self.values],
                "beat": self.beat, "missing": self.missing, "must": self.must.text if self.must else ""}


def _controls(control: "Control | Sequence[Control] | None") -> list["Control"]:
    if control is None:
        return []
    return [control] if isinstance(control, Control) else list(control)


def decide(rule: Rule, ours: float | None, spread: Spread | None,
           control: "Control | Sequence[Control] | None" = None, min_sets: int = MIN_SETS) -> tuple[str, str]:
    """The verdict on a claim and the reason, in words.

    The claim's figure on the notebook's prompts and on every set of its spread make an interval. The rule must hold
    on all of it (else "differs" when it fails on all of it, "inconclusive" when it straddles a boundary). Then the
    claim must beat each control on every set: the paired differences (claim − control, on the notebook's prompts
    and on each set) must all lie on the side ``control.beat`` names. A control that does as well on every set (all
    differences on the other side or zero) makes it "differs"; one that is missing on this pair or that the claim
    beats on some sets only makes it "inconclusive". A control with a ``must`` rule that it fails on every set makes
    it "differs" (e.g. the copy never had the role that distillation is said to discard), one that straddles it
    "inconclusive".

    Returns:
        ``(verdict, reason)``.
    """
    if ours is None or not math.isfinite(float(ours)):
        return "not computable", "this run has no figure for it"
    if spread is None or spread.n_sets < min_sets:
        got = 0 if spread is None else spread.n_sets
        return "inconclusive", f"no spread: measured on {got} prompt sets, a verdict needs {min_sets}"
    lo, hi = min(spread.low, float(ours)), max(spread.high, float(ours))
    span = f"{_num(lo)}…{_num(hi)} over {spread.n_sets} sets"
    outcome = rule.test(lo, hi)
    if outcome == "fails":
        return "differs", f"the rule fails on every set ({span})"
    if outcome == "straddles":
        return "inconclusive", f"the spread ({span}) straddles a boundary of the rule"
    verdicts, reasons = [], []
    for c in _controls(control):
        if c.value is None or not math.isfinite(float(c.value)):
            verdicts.append("inconclusive")
            reasons.append(f"there is no control ({c.what}): {c.missing or 'it has no figure on this pair'}")
            continue
        if c.must is not None:
            own = [float(c.value)] + [float(v) for v in c.values if v is not None and math.isfinite(v)]
            met = c.must.test(min(own), max(own))
            if met != "holds":
                verdicts.append("differs" if met == "fails" else "inconclusive")
                reasons.append(f"{c.what} {'fails' if met == 'fails' else 'straddles'} its own condition "
                               f"({c.must.text}: {_num(min(own))}…{_num(max(own))}), so the comparison cannot show it")
                continue
        sign = 1.0 if c.beat == "above" else -1.0
        diffs = [float(ours) - float(c.value)]
        diffs += [o - v for o, v in zip(spread.values, c.values)
                  if o is not None and v is not None and math.isfinite(o) and math.isfinite(v)]
        gap = (f"claim − control {_num(min(diffs))}…{_num(max(diffs))} on the notebook's prompts and "
               f"{len(diffs) - 1} sets")
        signed = [sign * d for d in diffs]
        if len(diffs) - 1 < min_sets:
            verdicts.append("inconclusive")
            reasons.append(f"{c.what} was measured on {len(diffs) - 1} sets, a verdict needs {min_sets}")
        elif min(signed) > 0:
            verdicts.append("reproduced")
            reasons.append(f"it beats {c.what} on every set ({gap})")
        elif max(signed) <= 0:
            verdicts.append("differs")
            reasons.append(f"{c.what} does as well on every set ({gap})")
        else:
            verdicts.append("inconclusive")
            reasons.append(f"it does not beat {c.what} beyond the spread ({gap})")
    head = f"the rule holds on every set ({span})"
    if not verdicts:
        return "reproduced", head
    verdict = ("differs" if "differs" in verdicts else "inconclusive" if "inconclusive" in verdicts
               else "reproduced")
    return verdict, head + "; " + "; ".join(reasons)


@dataclass
class Finding:
    """One claim of the study, tested on this run.

    Attributes:
        id: a stable identifier, ``"<notebook>.<topic>"`` (e.g. ``"02.student_circuit_share"``).
        claim: the study's claim, in words that do not depend on the pair.
        study: the study's figure (a number, a string, or ``None``).
        ours: this run's figure.
        verdict: one of :data:`VERDICTS`.
        source: where the study's figure comes from (a file of ``data/reference`` and its section).
        note: how the test was made or why it cannot be (printed next to the verdict).
        section: the notebook section that computes it (a link target on the report site).
        kind: ``"study"`` for a claim of the study, ``"course"`` for the course's own check, ``"sanity"`` for a
            check that holds by construction (:data:`KINDS`).
        rule: the test in words, direction and magnitude (:class:`Rule`).
        control: what the claim must beat: a list of :meth:`Control.as_dict` (the copy before distillation, a
            random matching, ...), or ``None``.
        spread: the figure over disjoint prompt sets (:meth:`Spread.as_dict`), or ``None``.
        reason: why the verdict is what it is (:func:`decide`).
        pair: the pair that produced it; ``stand_in``: whether that pair is a stand-in for the study's.
    """

    id: str
    claim: str
    study: Any
    ours: Any
    verdict: str
    source: str = ""
    note: str = ""
    section: str = ""
    kind: str = "study"
    rule: str = ""
    control: list[dict] | None = None
    spread: dict | None = None
    reason: str = ""
    pair: str = ""
    stand_in: bool | None = None

    def sentence(self) -> str:
        """The finding as one line, its kind first, e.g. ``"[study claim]   REPRODUCED — the student's circuit ...
        (study: 0.17; this run: 0.25)"``; the course's own checks read ``[course check]``."""
        where = f" on {self.pair}" + (" (stand-in)" if self.stand_in else "") if self.pair else ""
        figures = f" (study: {_fmt(self.study)}; this run{where}: {_fmt(self.ours)}"
        if self.spread and self.spread.get("n_sets"):
            figures += f", {_fmt(self.spread['low'])}…{_fmt(self.spread['high'])} over {self.spread['n_sets']} sets"
        for c in self.control or []:
            if c.get("value") is not None:
                figures += f"; {c['what']}: {_fmt(c['value'])}"
        figures += ")"
        tag = {"study": "[study claim] ", "course": "[course check]", "sanity": "[sanity check]"}[self.kind]
        text = f"{tag} {self.shown_verdict.upper():>14s} — {self.claim}{figures}"
        if self.rule:
            text += f". Rule: {self.rule}"
        if self.reason:
            text += f". {self.reason[0].upper()}{self.reason[1:]}"
        return text + (f". {self.note}" if self.note else "")

    @property
    def shown_verdict(self) -> str:
        """The verdict in the words of its kind: ``reproduced``/``differs`` for a claim of the study,
        ``holds``/``does not hold`` for the course's own check (:data:`COURSE_WORDS`)."""
        return self.verdict if self.kind == "study" else COURSE_WORDS[self.verdict]


def _spread_text(spread: dict | None) -> str:
    if not spread or not spread.get("n_sets"):
        return "—"
    return f"{_fmt(spread['low'])}…{_fmt(spread['high'])} ({spread['n_sets']} sets)"


def _control_text(controls: list[dict] | None) -> str:
    if not controls:
        return "—"
    parts = []
    for c in controls:
        if c.get("value") is None:
            parts.append(f"{c['what']}: none on this pair")
        else:
            parts.append(f"{c['what']}: {_fmt(c['value'])}" + (f" ({_fmt(c['low'])}…{_fmt(c['high'])})"
                                                               if c.get("low") is not None else "")
                         + (f", which must itself be {c['must']}" if c.get("must") else ""))
    return "; ".join(parts)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    if v is None:
        return "—"
    return str(v)


@dataclass
class Results:
    """A notebook's findings and measured values (notebooks 01–08; ``report.site``).

    Args:
        notebook: the notebook's number, e.g. ``"02"``.
        pair: the pair's name.
    """

    notebook: str
    pair: str
    findings: list[Finding] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def record(self, key: str, value: Any) -> Any:
        """Store a measured value under ``key`` (returned unchanged, so it can be recorded where computed)."""
        self.values[key] = _plain(value)
        return value

    def check(self, id: str, claim: str, holds: bool | None, ours: Any = None, study: Any = None, source: str = "",
              note: str = "", section: str = "", why_not: str = "", kind: str | None = None,
              pair: str | None = None) -> Finding:
        """Record a finding whose verdict is ``holds`` (``None`` with ``why_not`` when this pair cannot answer).
        ``kind`` is ``"study"``, ``"course"`` or ``"sanity"``; ``None`` takes it from ``source`` (:func:`claim_kind`).
        ``pair`` names the pair that produced the finding when it is not the notebook's (e.g. ``"mini"``).
        A claim of the study recorded here (one prompt set, no spread, no control) reads "inconclusive" with its
        one-set outcome in the reason; test it with :meth:`test` to give it a verdict.

        Raises:
            ValueError: if ``holds`` is ``None`` without a reason, the id is used twice, or ``kind`` is unknown.
        """
        kind = claim_kind(source) if kind is None else kind
        if kind not in KINDS:
            raise ValueError(f"finding {id!r}: kind {kind!r} is not one of {KINDS}")
        if holds is None and not why_not:
            raise ValueError(f"finding {id!r}: say why it is not computable on this pair (why_not=...)")
        verdict = "not computable" if holds is None else ("reproduced" if bool(holds) else "differs")
        reason = ""
        if kind == "study" and holds is not None:
            # a claim of the study measured once, with no spread and no control, cannot tell a reproduction from noise
            reason = (f"one prompt set, no spread and no control: the one-set test ({'holds' if holds else 'fails'}) "
                      "is not a verdict (use Results.test)")
            verdict = "inconclusive"
        f = Finding(id, claim, _plain(study), _plain(ours), verdict, source, why_not if holds is None else note,
                    section, kind, reason=reason, **self._where(pair))
        self._add(f)
        return f

    def _where(self, pair: str | None = None) -> dict:
        from ..models.pairs import is_stand_in
        pair = pair or self.pair
        return {"pair": pair, "stand_in": bool(is_stand_in(pair))}

    def _add(self, f: Finding) -> None:
        if any(g.id == f.id for g in self.findings):
            raise ValueError(f"finding {f.id!r} is recorded twice in notebook {self.notebook}")
        self.findings.append(f)

    def test(self, id: str, claim: str, *, rule: Rule, ours: float | None, spread: Spread | None,
             control: Control | Sequence[Control] | None = None, study: Any = None, source: str = "",
             note: str = "", section: str = "",
             why_not: str = "", kind: str = "study", pair: str | None = None) -> Finding:
        """Record a claim tested by a :class:`Rule` on this run's figure ``ours``, its :class:`Spread` over disjoint
        prompt sets and, for a claim about what distillation does, its :class:`Control` (:func:`decide` gives the
        verdict). ``why_not`` makes it "not computable" with that reason.

        Raises:
            ValueError: if the id is used twice or ``kind`` is unknown.
        """
        if kind not in KINDS:
            raise ValueError(f"finding {id!r}: kind {kind!r} is not one of {KINDS}")
        if why_not:
            verdict, reason = "not computable", ""
        else:
            verdict, reason = decide(rule, ours, spread, control)
            if verdict == "not computable":
                why_not, reason = reason, ""
        f = Finding(id, claim, _plain(study), _plain(ours), verdict, source, why_not or note, section, kind,
                    rule=rule.text, control=[c.as_dict() for c in _controls(control)] or None,
                    spread=spread.as_dict() if spread is not None else None, reason=reason, **self._where(pair))
        self._add(f)
        return f

    def show(self, ids: list[str] | None = None) -> None:
        """Print the findings (all, or those with ``ids``) one per line: a notebook's "what this run shows"."""
        for f in self.findings:
            if ids is None or f.id in ids:
                print(f.sentence())

    def figure(self, name: str, fig, folder: str | Path | None = None) -> Path:
        """Save a study-vs-ours figure for the report site as ``<folder>/<notebook>-<name>.png`` (default
        :func:`results_dir`); returns its path. The notebook still shows the figure itself."""
        folder = Path(folder) if folder else results_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.notebook}-{name}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        return path

    def table(self, kind: str | None = None) -> pd.DataFrame:
        """The findings (all, or those of one ``kind``) as a DataFrame: claim, the study's figure, this run's figure,
        its spread over prompt sets, the control's figure, the rule and the verdict."""
        rows = [f for f in self.findings if kind is None or f.kind == kind]
        cols = ["claim", "study", "this run", "spread", "control", "rule", "verdict"]
        return pd.DataFrame([{"claim": f.claim, "study": _fmt(f.study), "this run": _fmt(f.ours),
                              "spread": _spread_text(f.spread), "control": _control_text(f.control),
                              "rule": f.rule or "—", "verdict": f.shown_verdict} for f in rows],
                            index=[f.id for f in rows], columns=cols)

    def summary(self) -> None:
        """Display the notebook's closing tables: the study's claims tested on this pair (with their spreads and
        controls), then the course's own checks, then the sanity checks (never counted), each with its verdict
        counts; the heading names the pair and says whether it is a stand-in."""
        from IPython.display import display

        from ..models.pairs import is_stand_in
        what = " (a stand-in, not the study's pair)" if is_stand_in(self.pair) else " (the study's own pair)"
        for kind, title, cols in (
                ("study", f"The study's claims, tested on {self.pair}{what}",
                 ["verdict", "this run", "spread", "control", "study"]),
                ("course", "The course's own checks (controls and properties the study did not test)",
                 ["verdict", "this run", "study"]),
                ("sanity", "Sanity checks (true by construction: they test the code, not the science; never counted)",
                 ["verdict", "this run"])):
            rows = [f for f in self.findings if f.kind == kind]
            if kind == "sanity" and not rows:
                continue
            words = VERDICTS if kind == "study" else [COURSE_WORDS[v] for v in VERDICTS]
            counts = ", ".join(f"{sum(f.verdict == v for f in rows)} {w}" for v, w in zip(VERDICTS, words))
            print(f"{title}: {len(rows)} findings — {counts}")
            if rows:
                display(self.table(kind)[cols])

    def save(self, folder: str | Path | None = None) -> Path:
        """Write ``<folder>/<notebook>.json`` (default :func:`results_dir`) and return its path."""
        folder = Path(folder) if folder else results_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.notebook}.json"
        data = {"notebook": self.notebook, "pair": self.pair, "findings": [asdict(f) for f in self.findings],
                "values": self.values}
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Results":
        """Read a file written by :meth:`save`."""
        d = json.loads(Path(path).read_text())
        return cls(d["notebook"], d["pair"], [Finding(**{"kind": claim_kind(f.get("source", "")), **f})
                                              for f in d["findings"]], d.get("values", {}))
