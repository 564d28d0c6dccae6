"""Computed conclusions (dcirc_utils.report.results): verdicts follow the test, not the author."""
from __future__ import annotations

import math

import pytest

from dcirc_utils.report.results import (COURSE_WORDS, MIN_SETS, VERDICTS, Control, Results, Rule, Spread,
                                        decide)


def test_verdicts_come_from_the_test(tmp_path):
    r = Results("02", "mini")
    a = r.check("02.a", "the student keeps a larger share", 0.4 > 0.2, ours=0.4, study=0.17, source="paper-results.md")
    b = r.check("02.b", "scores sit just above the threshold", False, ours=84.4, study=81.0)
    c = r.check("02.c", "head 7.11 moves numbers", None, why_not="this teacher has 6 layers")
    # a claim of the study measured once (no spread, no control) is not a verdict: it reads "inconclusive"
    assert (a.verdict, b.verdict, c.verdict) == ("inconclusive", "differs", "not computable")
    assert "this teacher has 6 layers" in c.sentence() and "INCONCLUSIVE" in a.sentence()
    assert "one prompt set" in a.reason and "(holds)" in a.reason and not b.reason
    assert r.record("x", math.nan) is not None and r.values["x"] is None
    path = r.save(tmp_path)
    back = Results.load(path)
    assert [f.verdict for f in back.findings] == ["inconclusive", "differs", "not computable"]
    # the first cites the study's figures, the other two no source: the course's own checks, which hold or do not
    assert [f.kind for f in back.findings] == ["study", "course", "course"]
    assert list(back.table()["verdict"]) == ["inconclusive", "does not hold", "not computable"]
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
    assert ("The study's claims, tested on small (a stand-in, not the study's pair): 1 findings — 0 reproduced, "
            "0 differs, 1 inconclusive, 0 not computable") in out
    assert "The course's own checks" in out and "0 holds, 1 does not hold, 0 inconclusive, 1 not computable" in out
    assert "Sanity checks" not in out                                   # none recorded: no empty section
    assert "DOES NOT HOLD" in r.findings[1].sentence() and "INCONCLUSIVE" in r.findings[0].sentence()
    assert "the study's own pair" in (Results("02", "gpt2").summary() or capsys.readouterr().out)


# --- Rule: direction and magnitude as an interval -------------------------------------------------------------------

def test_rule_holds_fails_or_straddles_at_its_boundaries():
    above = Rule.above(1.0)
    assert above.text == "> 1" and (above.low, above.high) == (1.0, math.inf)
    assert above.test(1.5, 2.0) == "holds"
    assert above.test(0.2, 0.9) == "fails"
    assert above.test(0.2, 1.0) == "fails"                  # touching the boundary from outside is not above it
    assert above.test(1.0, 2.0) == "straddles"              # an interval that reaches the boundary is not past it
    assert above.test(0.9, 1.1) == "straddles"
    below = Rule.below(3.0)
    assert below.test(1.0, 2.9) == "holds" and below.test(3.0, 4.0) == "fails" and below.test(2.0, 3.0) == "straddles"
    between = Rule.between(1.0, 2.0)
    assert between.test(1.2, 1.8) == "holds" and between.test(2.5, 3.0) == "fails"
    assert between.test(0.1, 0.5) == "fails" and between.test(0.5, 1.5) == "straddles"
    assert between.test(1.5, 2.5) == "straddles" and between.test(0.5, 2.5) == "straddles"


def test_rules_join_by_intersection_and_within_factor_has_its_bounds():
    both = Rule.above(1.0, "student > teacher") & Rule.below(3.0, "less than three times")
    assert (both.low, both.high) == (1.0, 3.0) and both.text == "student > teacher and less than three times"
    assert both.test(1.5, 2.5) == "holds" and both.test(2.5, 3.5) == "straddles" and both.test(3.0, 4.0) == "fails"
    tighter = Rule.between(0.0, 10.0) & Rule.between(2.0, 20.0)
    assert (tighter.low, tighter.high) == (2.0, 10.0)
    f = Rule.within_factor(5.39, 2)
    assert f.low == pytest.approx(2.695) and f.high == pytest.approx(10.78) and "5.39" in f.text
    assert f.test(3.0, 10.0) == "holds" and f.test(1.0, 2.5) == "fails" and f.test(2.0, 4.0) == "straddles"
    assert f.test(11.0, 12.0) == "fails"
    assert Rule.within_factor(4.0, 1).test(3.9, 4.1) == "straddles"   # a factor 1 is the point itself
    for study, factor in ((0.0, 2.0), (-1.0, 2.0), (5.0, 0.5), (math.nan, 2.0)):
        with pytest.raises(ValueError, match="within_factor"):
            Rule.within_factor(study, factor)


def test_an_empty_rule_raises():
    with pytest.raises(ValueError, match="empty"):
        Rule("nothing", 2.0, 1.0)
    with pytest.raises(ValueError, match="empty"):
        Rule.above(3.0) & Rule.below(1.0)
    with pytest.raises(ValueError, match="empty"):
        Rule.between(5.0, 4.0)
    assert Rule("a point", 1.0, 1.0).test(1.0, 1.0) == "fails"          # a one-point rule can never hold


# --- decide: each branch ---------------------------------------------------------------------------------------------

SETS = (1.4, 1.5, 1.6, 1.7, 1.8)                                        # a spread over MIN_SETS disjoint sets


def test_decide_needs_a_figure_and_a_spread_over_min_sets():
    rule = Rule.above(1.0)
    assert MIN_SETS == 5 and len(SETS) == MIN_SETS
    assert decide(rule, None, Spread(SETS))[0] == "not computable"
    assert decide(rule, math.nan, Spread(SETS))[0] == "not computable"
    verdict, reason = decide(rule, 1.6, None)
    assert verdict == "inconclusive" and "0 prompt sets" in reason
    # four finite values (the fifth set could not be measured) are fewer than MIN_SETS
    short = Spread((1.4, 1.5, math.nan, 1.7, 1.8))
    assert short.n_sets == 4 and (short.low, short.high) == (1.4, 1.8)
    verdict, reason = decide(rule, 1.6, short)
    assert verdict == "inconclusive" and "4 prompt sets" in reason
    assert decide(rule, 1.6, Spread(SETS[:4]))[0] == "inconclusive"
    assert decide(rule, 1.6, Spread(SETS[:4]), min_sets=4)[0] == "reproduced"
    assert decide(rule, 1.6, Spread(SETS))[0] == "reproduced"


def test_decide_tests_the_rule_on_the_whole_spread():
    verdict, reason = decide(Rule.above(1.0), 1.6, Spread(SETS))
    assert verdict == "reproduced" and "holds on every set" in reason and "1.4…1.8 over 5 sets" in reason
    verdict, reason = decide(Rule.above(2.0), 1.6, Spread(SETS))
    assert verdict == "differs" and "fails on every set" in reason
    verdict, reason = decide(Rule.above(1.5), 1.6, Spread(SETS))
    assert verdict == "inconclusive" and "straddles" in reason
    # the figure on the notebook's prompts is part of the interval: outside the spread, it can break the rule
    assert decide(Rule.above(1.0), 0.9, Spread(SETS))[0] == "inconclusive"
    assert decide(Rule.below(1.2), 1.0, Spread(SETS))[0] == "inconclusive"   # holds on the prompts, fails on the sets
    assert decide(Rule.below(1.2), 1.5, Spread(SETS))[0] == "differs"
    assert decide(Rule.within_factor(1.6, 2), 1.6, Spread(SETS))[0] == "reproduced"


def test_a_control_without_a_value_is_inconclusive_and_must_say_why():
    with pytest.raises(ValueError, match="missing"):
        Control("the copy before distillation", None)
    control = Control("the copy before distillation", None, missing="this pair has no copy")
    verdict, reason = decide(Rule.above(1.0), 1.6, Spread(SETS), control)
    assert verdict == "inconclusive" and "this pair has no copy" in reason and "the rule holds" in reason
    # the rule still decides first: a claim whose rule fails differs whatever its control
    assert decide(Rule.above(5.0), 1.6, Spread(SETS), control)[0] == "differs"
    with pytest.raises(ValueError, match="beat"):
        Control("copy", 1.0, beat="sideways")


def test_decide_needs_the_claim_to_beat_its_control_on_every_set():
    rule = Rule.above(1.0)
    spread = Spread(SETS)
    # paired differences all above zero: reproduced, although the control's range overlaps the claim's
    beaten = Control("the copy", 1.3, values=tuple(v - 0.1 for v in SETS))
    verdict, reason = decide(rule, 1.6, spread, beaten)
    assert verdict == "reproduced" and "it beats the copy on every set" in reason
    # the control does better on every set
    better = Control("the copy", 1.9, values=tuple(v + 0.3 for v in SETS))
    verdict, reason = decide(rule, 1.6, spread, better)
    assert verdict == "differs" and "the copy does as well on every set" in reason
    # mixed signs: not beyond the spread
    mixed = Control("the copy", 1.5, values=(1.3, 1.6, 1.5, 1.8, 1.7))
    verdict, reason = decide(rule, 1.6, spread, mixed)
    assert verdict == "inconclusive" and "beyond the spread" in reason
    # a single set where the claim does not beat its control is enough to withhold "reproduced"
    one_tie = Control("the copy", 1.0, values=(1.0, 1.0, 1.0, 1.0, 1.8))
    assert decide(rule, 1.6, spread, one_tie)[0] == "inconclusive"
    # the full set alone does not count as a control spread
    few = Control("the copy", 1.0, values=(1.0, 1.0))
    verdict, reason = decide(rule, 1.6, spread, few)
    assert verdict == "inconclusive" and "measured on 2 sets" in reason


def test_the_copy_as_its_own_control_is_never_reproduced():
    """A control equal to the claim on every set (e.g. the copy passed as its own control) gives paired differences
    of zero: the claim does not beat it, whatever the rule says."""
    rule = Rule.above(1.0)
    for beat in ("above", "below"):
        same = Control("the claim itself", 1.6, values=SETS, beat=beat)
        verdict, _ = decide(rule, 1.6, Spread(SETS), same)
        assert verdict == "differs"


def test_every_control_must_be_beaten():
    rule = Rule.above(1.0)
    spread = Spread(SETS)
    beaten = Control("the copy", 1.3, values=tuple(v - 0.1 for v in SETS))
    also_beaten = Control("a random matching", 1.0, values=(1.0,) * 5)
    equal = Control("the claim itself", 1.6, values=SETS)
    mixed = Control("all heads", 1.5, values=(1.3, 1.6, 1.5, 1.8, 1.7))
    missing = Control("the copy", None, missing="no copy")
    verdict, reason = decide(rule, 1.6, spread, [beaten, also_beaten])
    assert verdict == "reproduced" and "the copy" in reason and "a random matching" in reason
    assert decide(rule, 1.6, spread, [beaten, mixed])[0] == "inconclusive"
    assert decide(rule, 1.6, spread, [beaten, missing])[0] == "inconclusive"
    assert decide(rule, 1.6, spread, [beaten, equal])[0] == "differs"
    assert decide(rule, 1.6, spread, [mixed, equal])[0] == "differs"          # one the claim does not beat at all
    assert decide(rule, 1.6, spread, [])[0] == "reproduced"                   # no control: the rule decides
    # a control whose figure is not finite is no control
    verdict, reason = decide(rule, 1.6, spread, Control("the copy", math.nan, values=SETS))
    assert verdict == "inconclusive" and "no control" in reason


def test_beat_below_mirrors_beat_above():
    rule = Rule.above(1.0)
    spread = Spread(SETS)
    higher = Control("random matching", 2.0, values=tuple(v + 0.3 for v in SETS), beat="below")
    lower = Control("random matching", 1.2, values=tuple(v - 0.3 for v in SETS), beat="below")
    mixed = Control("random matching", 1.6, values=(1.3, 1.6, 1.5, 1.8, 1.7), beat="below")
    assert decide(rule, 1.6, spread, higher)[0] == "reproduced"
    assert decide(rule, 1.6, spread, lower)[0] == "differs"
    assert decide(rule, 1.6, spread, mixed)[0] == "inconclusive"
    # and the same controls read the other way with beat="above"
    assert decide(rule, 1.6, spread, Control("m", 2.0, values=higher.values))[0] == "differs"
    assert decide(rule, 1.6, spread, Control("m", 1.2, values=lower.values))[0] == "reproduced"


# --- Results.test: what a tested claim records -----------------------------------------------------------------------

def test_a_tested_claim_records_its_rule_control_spread_and_pair(tmp_path):
    r = Results("02", "small")
    control = Control("the copy before distillation", 1.3, values=tuple(v - 0.1 for v in SETS))
    f = r.test("02.share", "the student keeps a larger share", rule=Rule.above(1.0, "student/teacher > 1"),
               ours=1.6, spread=Spread(SETS, "5 disjoint sets of 20 prompts"), control=control, study=1.7,
               source="paper-results.md")
    assert f.verdict == "reproduced" and f.kind == "study" and f.rule == "student/teacher > 1"
    assert f.spread == {"n_sets": 5, "low": 1.4, "high": 1.8, "values": list(SETS),
                        "what": "5 disjoint sets of 20 prompts"}
    assert isinstance(f.control, list) and len(f.control) == 1
    c = f.control[0]
    assert c["what"] == "the copy before distillation" and c["value"] == 1.3
    assert c["low"] == pytest.approx(1.3) and c["high"] == pytest.approx(1.7)
    assert c["beat"] == "above" and c["missing"] == "" and len(c["values"]) == 5
    assert "beats the copy before distillation" in f.reason
    assert f.pair == "small" and f.stand_in is True
    assert "on small (stand-in)" in f.sentence() and "Rule: student/teacher > 1" in f.sentence()
    g = r.test("02.none", "a claim with no spread yet", rule=Rule.above(1.0), ours=1.6, spread=None)
    assert g.verdict == "inconclusive" and g.spread is None and g.control is None
    missing = Control("the copy", None, missing="no copy of this pair")
    h = r.test("02.nocopy", "beats the copy", rule=Rule.above(1.0), ours=1.6, spread=Spread(SETS), control=missing)
    assert h.verdict == "inconclusive" and h.control[0]["value"] is None
    assert h.control[0]["missing"] == "no copy of this pair"
    two = r.test("02.two", "beats two controls", rule=Rule.above(1.0), ours=1.6, spread=Spread(SETS),
                 control=[Control("the copy", 1.3, values=tuple(v - 0.1 for v in SETS)),
                          Control("a random matching", 1.0, values=(1.0,) * 5)])
    assert two.verdict == "reproduced" and [c["what"] for c in two.control] == ["the copy", "a random matching"]
    n = r.test("02.head", "head 7.11 moves numbers", rule=Rule.above(0.5), ours=None, spread=None,
               why_not="this teacher has 6 layers")
    assert n.verdict == "not computable" and n.note == "this teacher has 6 layers" and n.reason == ""
    # no figure and no reason given: decide's reason becomes the note
    m = r.test("02.nofig", "x", rule=Rule.above(0.5), ours=math.nan, spread=Spread(SETS))
    assert m.verdict == "not computable" and "no figure" in m.note
    s = r.test("02.sum", "the shares sum to one", rule=Rule.between(0.99, 1.01), ours=1.0,
               spread=Spread((1.0,) * 5), kind="sanity")
    assert s.kind == "sanity" and s.verdict == "reproduced" and s.shown_verdict == "holds"
    with pytest.raises(ValueError, match="twice"):
        r.test("02.share", "again", rule=Rule.above(1.0), ours=1.6, spread=Spread(SETS))
    with pytest.raises(ValueError, match="kind"):
        r.test("02.k", "x", rule=Rule.above(1.0), ours=1.6, spread=Spread(SETS), kind="reader")
    assert Results("02", "gpt2").test("02.g", "x", rule=Rule.above(1.0), ours=2.0, spread=None).stand_in is False

    back = Results.load(r.save(tmp_path))
    assert [(b.id, b.verdict, b.kind, b.rule, b.control, b.spread, b.reason, b.pair, b.stand_in, b.note)
            for b in back.findings] == [(a.id, a.verdict, a.kind, a.rule, a.control, a.spread, a.reason, a.pair,
                                         a.stand_in, a.note) for a in r.findings]
    table = back.table("study")
    assert table.loc["02.share", "spread"] == "1.4…1.8 (5 sets)"
    assert table.loc["02.share", "rule"] == "student/teacher > 1" and table.loc["02.none", "spread"] == "—"
    assert table.loc["02.nocopy", "control"] == "the copy: none on this pair"


def test_an_old_results_file_without_the_new_fields_loads(tmp_path):
    import json
    (tmp_path / "03.json").write_text(json.dumps({"notebook": "03", "pair": "small", "findings": [
        {"id": "03.a", "claim": "c", "study": 1, "ours": 1, "verdict": "reproduced", "source": "paper-results.md"}]}))
    f = Results.load(tmp_path / "03.json").findings[0]
    assert (f.kind, f.rule, f.control, f.spread, f.reason, f.pair, f.stand_in) == ("study", "", None, None, "", "",
                                                                                    None)
    assert "REPRODUCED" in f.sentence()


def test_the_summary_shows_sanity_checks_apart_and_never_counts_them(capsys):
    r = Results("04", "small")
    r.test("04.a", "the student is more brittle", rule=Rule.above(1.0), ours=1.6, spread=Spread(SETS),
           source="paper-results.md")
    r.check("04.b", "the copy is brittle too", True, source="not in the study")
    r.check("04.c", "scores lie in [0, 1]", True, ours=0.5, kind="sanity")
    r.check("04.d", "the shares sum to one", False, ours=1.2, kind="sanity")
    assert r.findings[2].verdict == "reproduced" and r.findings[2].reason == ""   # a sanity check keeps its outcome
    assert COURSE_WORDS == {"reproduced": "holds", "differs": "does not hold", "inconclusive": "inconclusive",
                            "not computable": "not computable"} and set(COURSE_WORDS) == set(VERDICTS)
    assert r.findings[2].sentence().startswith("[sanity check]") and "HOLDS" in r.findings[2].sentence()
    r.summary()
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "findings —" in line]
    assert len(lines) == 3
    assert lines[0].startswith("The study's claims") and lines[0].endswith(
        "1 findings — 1 reproduced, 0 differs, 0 inconclusive, 0 not computable")
    assert lines[1].startswith("The course's own checks") and "1 findings — 1 holds, 0 does not hold" in lines[1]
    assert lines[2].startswith("Sanity checks") and "never counted" in lines[2]
    assert "2 findings — 1 holds, 1 does not hold, 0 inconclusive, 0 not computable" in lines[2]
    assert "04.c" in out and "04.d" in out
    assert list(r.table("sanity").index) == ["04.c", "04.d"] and list(r.table("study").index) == ["04.a"]


# --- the report site: counts and tables by kind ----------------------------------------------------------------------

def _site_results(folder):
    """Results of two notebooks: a new one with every kind and verdict, and an old file without the new fields."""
    import json
    r = Results("01", "small")
    control = Control("the copy <before>", 1.3, values=tuple(v - 0.1 for v in SETS))
    r.test("01.a", "the student keeps <more>", rule=Rule.above(1.0, "ratio > 1"), ours=1.6,
           spread=Spread(SETS, "5 sets"), control=control, study=1.7, source="paper-results.md")
    r.test("01.b", "straddles", rule=Rule.above(1.5), ours=1.6, spread=Spread(SETS), source="paper-results.md")
    r.test("01.c", "no copy here", rule=Rule.above(1.0), ours=1.6, spread=Spread(SETS), source="paper-results.md",
           control=Control("the copy", None, missing="this pair has no copy"))
    r.test("01.d", "fails", rule=Rule.above(5.0), ours=1.6, spread=Spread(SETS), source="paper-results.md")
    r.check("01.e", "head 7.11", None, why_not="6 layers", source="paper-results.md")
    r.check("01.f", "a course check", False, source="not in the study")
    r.check("01.g", "bounded", True, kind="sanity")
    r.save(folder)
    (folder / "02.json").write_text(json.dumps({"notebook": "02", "pair": "gpt2", "findings": [
        {"id": "02.a", "claim": "an old claim", "study": 1, "ours": 1.5, "verdict": "reproduced",
         "source": "paper-results.md", "note": "old"}]}))


def test_the_site_counts_only_the_study_claims(tmp_path):
    from dcirc_utils.report.site import collect_results
    _site_results(tmp_path)
    data = collect_results(tmp_path)
    assert data["counts"] == {"reproduced": 2, "differs": 1, "inconclusive": 2, "not computable": 1}
    assert data["counts_course"] == {"reproduced": 0, "differs": 1, "inconclusive": 0, "not computable": 0}
    assert data["counts_sanity"] == {"reproduced": 1, "differs": 0, "inconclusive": 0, "not computable": 0}
    assert len(data["findings"]) == 8 and data["pairs"] == ["gpt2", "small"]


def test_the_site_shows_spread_control_rule_and_reason(tmp_path, monkeypatch):
    import nbformat
    from dcirc_utils.report.site import build_site
    fake = tmp_path / "tex-svg.js"
    fake.write_text("// stand-in\n")
    monkeypatch.setenv("DCIRC_MATHJAX", str(fake))
    nbs, res = tmp_path / "nbs", tmp_path / "results"
    nbs.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# a")]), nbs / "01_a.ipynb")
    res.mkdir()
    _site_results(res)
    page = build_site(nbs, res, tmp_path / "site").read_text()
    study, rest = page.split("<h2>The course's own checks")
    course, sanity = rest.split("<h2>Sanity checks")
    assert "Counts (study claims): reproduced 2, differs 1, inconclusive 2, not computable 1" in page
    assert "holds 0, does not hold 1, inconclusive 0, not computable 0" in course.split("</h2>")[0]
    assert "1; true by construction, never counted" in sanity.split("</h2>")[0]
    assert study.count("<tr><td>") == 6 and course.count("<tr><td>") == 1 and sanity.count("<tr><td>") == 1
    assert ".inconclusive {" in page and 'class="inconclusive"' in study and 'class="not-computable"' in study
    assert "1.4…1.8 over 5 sets" in study and "ratio &gt; 1" in study
    assert "the copy &lt;before&gt;: 1.3 (1.3…1.7)" in study and "&lt;more&gt;" in study and "<more>" not in page
    assert "the copy: none on this pair: this pair has no copy" in study
    assert "small (stand-in)" in study and "gpt2 (stand-in)" not in study
    assert '<small class="reason">' in study and "straddles a boundary of the rule" in study
    assert 'class="differs">does not hold' in course and 'class="reproduced">holds' in sanity
    assert "bounded" in sanity and "bounded" not in study + course
    # the old file (no kind, rule, spread, control, reason, pair flag) still renders, with dashes
    old = next(row for row in study.splitlines() if "an old claim" in row)
    assert old.count("<td>—</td>") == 3 and 'class="reproduced">reproduced</td>' in old


def test_a_finding_names_the_pair_that_produced_it_when_it_is_not_the_notebooks():
    r = Results("02", "gpt2")
    f = r.check("02.mini_x", "on mini, the student keeps more", True, source="paper-results.md", pair="mini")
    g = r.test("02.mini_y", "on mini, a ratio", rule=Rule.above(1), ours=2.0, spread=Spread((2.0,) * 5), pair="mini")
    h = r.check("02.own", "on the notebook's pair", True, source="paper-results.md")
    assert (f.pair, f.stand_in, g.pair, g.stand_in) == ("mini", True, "mini", True)
    assert (h.pair, h.stand_in) == ("gpt2", False)
    assert "this run on mini (stand-in)" in f.sentence() and "this run on gpt2:" in h.sentence()


def test_a_control_that_fails_its_own_condition_decides():
    """'Distillation discards the role' needs a copy that had the role: a copy without it makes the claim differ,
    however far below it the student sits."""
    rule = Rule.below(0.3)
    spread = Spread((0.10, 0.12, 0.11, 0.09, 0.10))
    had_it = Control("the copy", 0.6, values=(0.6, 0.62, 0.58, 0.61, 0.6), beat="below", must=Rule.above(0.3))
    never = Control("the copy", 0.2, values=(0.2, 0.21, 0.19, 0.2, 0.2), beat="below", must=Rule.above(0.3))
    borderline = Control("the copy", 0.31, values=(0.29, 0.31, 0.32, 0.3, 0.33), beat="below", must=Rule.above(0.3))
    assert decide(rule, 0.1, spread, had_it)[0] == "reproduced"
    verdict, reason = decide(rule, 0.1, spread, never)
    assert verdict == "differs" and "fails its own condition" in reason
    assert decide(rule, 0.1, spread, borderline)[0] == "inconclusive"
    assert decide(rule, 0.1, spread, Control("the copy", 0.2, values=never.values, beat="below"))[0] == "reproduced"
    assert never.as_dict()["must"] == "> 0.3"
