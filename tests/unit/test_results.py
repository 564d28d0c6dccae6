"""Computed conclusions (dcirc_utils.report.results): verdicts follow the test, not the author."""
from __future__ import annotations

import math

import pytest

from dcirc_utils.report.results import Results


def test_verdicts_come_from_the_test(tmp_path):
    r = Results("02", "mini")
    a = r.check("02.a", "the student keeps a larger share", 0.4 > 0.2, ours=0.4, study=0.17, source="paper")
    b = r.check("02.b", "scores sit just above the threshold", False, ours=84.4, study=81.0)
    c = r.check("02.c", "head 7.11 moves numbers", None, why_not="this teacher has 6 layers")
    assert (a.verdict, b.verdict, c.verdict) == ("reproduced", "differs", "not computable")
    assert "this teacher has 6 layers" in c.sentence() and "REPRODUCED" in a.sentence()
    assert r.record("x", math.nan) is not None and r.values["x"] is None
    path = r.save(tmp_path)
    back = Results.load(path)
    assert [f.verdict for f in back.findings] == ["reproduced", "differs", "not computable"]
    assert list(back.table()["verdict"]) == ["reproduced", "differs", "not computable"]
    with pytest.raises(ValueError, match="why it is not computable"):
        r.check("02.d", "claim", None)
    with pytest.raises(ValueError, match="twice"):
        r.check("02.a", "again", True)
