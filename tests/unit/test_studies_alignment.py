"""A per task, pair and recipe (dcirc_utils.studies.alignment): cached, with the study's value and provenance."""
from __future__ import annotations

import pytest

from dcirc_utils.methods.recipes import COURSE
from dcirc_utils.studies.alignment import STUDY_A, alignment_rows, task_alignment


def test_rows_with_study_values_and_unmakeable_tasks(mini_pair, tmp_path, monkeypatch):
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    rows = alignment_rows([mini_pair], ["numerals", "qa"], n=6, recipes="both")
    num = [r for r in rows if r["task"] == "numerals"]
    assert len(num) == 2 and all(0 < r["A"] <= 1 for r in num)
    assert num[0]["study A"] == 0.895 and "number words" in num[1]["note"]
    qa = [r for r in rows if r["task"] == "qa"]
    assert qa and all(r["A"] is None and "not computable" in r["note"] for r in qa)   # mini lacks the cities
    again = task_alignment(mini_pair, "numerals", COURSE, n=6)
    assert again["A"] == pytest.approx(num[0]["A"]) and len(list(tmp_path.glob("alignment-*.json"))) == 2
    assert set(STUDY_A) == {"numerals", "number_words", "ioi", "qa", "greater_than"}
