"""Results that notebooks compute, set beside the study's claims: conclusions written by code, not by hand
(every notebook's "what this run shows" cells; the report site collects them).

A notebook states no number or comparison outcome in its markdown: it records each result here and lets this module
say whether the study's claim holds *on the pair that ran*. Every :class:`Finding` carries the study's claim in
words, the study's figure and its source, this run's figure and a verdict computed from the two:

* ``"reproduced"`` — the claim's test holds on this pair;
* ``"differs"`` — it does not;
* ``"not computable"`` — this pair cannot answer it (e.g. a head named by the study does not exist in a smaller
  model, or random weights do not solve the task), with the reason.

:class:`Results` gathers a notebook's findings and measured values and writes them to
``$DCIRC_RESULTS_DIR/<notebook>.json`` (default ``build/results/``), which ``report.site`` merges into
``build/results.json``.

A finding is of one of two kinds (:data:`KINDS`): a claim **of the study** (its figures or its words,
``paper-results.md``/``study-spec.md``), or **the course's own check** (a control the study did not run, a property
of the offline pairs, a further question a reader proposed). Each notebook ends with :meth:`Results.summary`: the
study's claims in one table, the course's checks in another.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.paths import REPO_ROOT

__all__ = ["Finding", "Results", "VERDICTS", "KINDS", "COURSE_WORDS", "claim_kind", "results_dir"]

VERDICTS = ("reproduced", "differs", "not computable")
#: A finding's kind: a claim of the study, or the course's own check.
KINDS = ("study", "course")
#: How a verdict reads for the course's own checks: there is nothing of the study's to reproduce, so a check holds
#: or does not (the stored verdict stays one of :data:`VERDICTS`; only the words shown change).
COURSE_WORDS = {"reproduced": "holds", "differs": "does not hold", "not computable": "not computable"}

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


def results_dir() -> Path:
    """``$DCIRC_RESULTS_DIR`` or ``<repo>/build/results``."""
    return Path(os.environ.get("DCIRC_RESULTS_DIR") or REPO_ROOT / "build" / "results")


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
        kind: ``"study"`` for a claim of the study, ``"course"`` for the course's own check (:data:`KINDS`).
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

    def sentence(self) -> str:
        """The finding as one line, its kind first, e.g. ``"[study claim]   REPRODUCED — the student's circuit ...
        (study: 0.17; this run: 0.25)"``; the course's own checks read ``[course check]``."""
        figures = f" (study: {_fmt(self.study)}; this run: {_fmt(self.ours)})"
        tag = "[study claim] " if self.kind == "study" else "[course check]"
        return f"{tag} {self.shown_verdict.upper():>14s} — {self.claim}{figures}" + (f". {self.note}" if self.note
                                                                                    else "")

    @property
    def shown_verdict(self) -> str:
        """The verdict in the words of its kind: ``reproduced``/``differs`` for a claim of the study,
        ``holds``/``does not hold`` for the course's own check (:data:`COURSE_WORDS`)."""
        return self.verdict if self.kind == "study" else COURSE_WORDS[self.verdict]


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
              note: str = "", section: str = "", why_not: str = "", kind: str | None = None) -> Finding:
        """Record a finding whose verdict is ``holds`` (``None`` with ``why_not`` when this pair cannot answer).
        ``kind`` is ``"study"`` or ``"course"``; ``None`` takes it from ``source`` (:func:`claim_kind`).

        Raises:
            ValueError: if ``holds`` is ``None`` without a reason, the id is used twice, or ``kind`` is unknown.
        """
        kind = claim_kind(source) if kind is None else kind
        if kind not in KINDS:
            raise ValueError(f"finding {id!r}: kind {kind!r} is not one of {KINDS}")
        if holds is None and not why_not:
            raise ValueError(f"finding {id!r}: say why it is not computable on this pair (why_not=...)")
        if any(f.id == id for f in self.findings):
            raise ValueError(f"finding {id!r} is recorded twice in notebook {self.notebook}")
        verdict = "not computable" if holds is None else ("reproduced" if bool(holds) else "differs")
        f = Finding(id, claim, _plain(study), _plain(ours), verdict, source, why_not if holds is None else note,
                    section, kind)
        self.findings.append(f)
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
        """The findings (all, or those of one ``kind``) as a DataFrame (claim, study, this run, verdict)."""
        rows = [f for f in self.findings if kind is None or f.kind == kind]
        return pd.DataFrame([{"claim": f.claim, "study": _fmt(f.study), "this run": _fmt(f.ours),
                              "verdict": f.shown_verdict} for f in rows], index=[f.id for f in rows],
                            columns=["claim", "study", "this run", "verdict"])

    def summary(self) -> None:
        """Display the notebook's closing tables: the study's claims tested on this pair, then the course's own
        checks apart, each with its verdict counts; the heading says whether the pair is a stand-in."""
        from IPython.display import display

        from ..models.pairs import is_stand_in
        what = " (a stand-in, not the study's pair)" if is_stand_in(self.pair) else " (the study's own pair)"
        for kind, title in (("study", f"The study's claims, tested on {self.pair}{what}"),
                            ("course", "The course's own checks (controls and properties the study did not test)")):
            rows = [f for f in self.findings if f.kind == kind]
            words = VERDICTS if kind == "study" else [COURSE_WORDS[v] for v in VERDICTS]
            counts = ", ".join(f"{sum(f.verdict == v for f in rows)} {w}" for v, w in zip(VERDICTS, words))
            print(f"{title}: {len(rows)} findings — {counts}")
            if rows:
                display(self.table(kind)[["verdict", "this run", "study"]])

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
