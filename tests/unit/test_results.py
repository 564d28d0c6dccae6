"""Computed conclusions (dcirc_utils.report.results): verdicts follow the test, not the author."""
from __future__ import annotations

import math

import pytest

from dcirc_utils.report.results import Results


def test_verdicts_come_from_the_test(tmp_path):
    r = Results("02", "mini")
    a = r.check("02.a", "the student keeps a larger share", 0.4 > 0.2, ours=0.4, study=0.17, source="paper-results.md")
    b = r.check("02.b", "scores sit just above the threshold", False, ours=84.4, study=81.0)
    c = r.check("02.c", "head 7.11 moves numbers", None, why_not="this teacher has 6 layers")
    assert (a.verdict, b.verdict, c.verdict) == ("reproduced", "differs", "not computable")
    assert "this teacher has 6 layers" in c.sentence() and "REPRODUCED" in a.sentence()
    assert r.record("x", math.nan) is not None and r.values["x"] is None
    path = r.save(tmp_path)
    back = Results.load(path)
    assert [f.verdict for f in back.findings] == ["reproduced", "differs", "not computable"]
    # the first cites the study's figures, the other two no source: the course's own checks, which hold or do not
    assert [f.kind for f in back.findings] == ["study", "course", "course"]
    assert list(back.table()["verdict"]) == ["reproduced", "does not hold", "not computable"]
    with pytest.raises(ValueError, match="why it is not computable"):
        r.check("02.d", "claim", None)
    with pytest.raises(ValueError, match="twice"):
        r.check("02.a", "again", True)


def test_the_study_claims_and_the_course_checks_are_kept_apart(capsys):
    from dcirc_utils.report.results import claim_kind
    assert claim_kind("data/reference/paper-results.md, Circuit discovery") == "study"
    assert claim_kind("paper-results.md, 'Ablation brittleness'") == "study"
    assert claim_kind("") == "course"
    assert claim_kind("not in the study (it has no copy control)") == "course"
    assert claim_kind("paper-results.md (a further check a reader proposed, not the study's own question)") == "course"
    assert claim_kind("data/models/small/README.md") == "course"
    r = Results("05", "small")
    r.check("05.a", "the student is more brittle", True, ours=2.6, study=2.64, source="paper-results.md")
    r.check("05.b", "the copy is already brittle", False, source="not in the study")
    r.check("05.c", "told explicitly", None, why_not="no copy", source="paper-results.md", kind="course")
    with pytest.raises(ValueError, match="kind"):
        r.check("05.d", "x", True, kind="reader")
    assert [f.kind for f in r.findings] == ["study", "course", "course"]
    assert list(r.table("study").index) == ["05.a"] and list(r.table("course").index) == ["05.b", "05.c"]
    assert r.findings[0].sentence().startswith("[study claim]") and r.findings[1].sentence().startswith("[course check]")
    r.summary()
    out = capsys.readouterr().out
    assert "The study's claims, tested on small (a stand-in, not the study's pair): 1 findings — 1 reproduced" in out
    assert "The course's own checks" in out and "0 holds, 1 does not hold, 1 not computable" in out
    assert "DOES NOT HOLD" in r.findings[1].sentence() and "REPRODUCED" in r.findings[0].sentence()
    assert "the study's own pair" in (Results("02", "gpt2").summary() or capsys.readouterr().out)
