"""Named result types (core.records.Record and its subclasses): each reads as a mapping with exactly the keys and
values of the dict its function returned before it was a record (the old construction is written out here, on one
hand-built input), and the records that are cached on disk survive JSON."""
from __future__ import annotations

import json
import math
import pickle
from dataclasses import FrozenInstanceError, dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dcirc_utils.core.components import Component
from dcirc_utils.core.records import Record
from dcirc_utils.methods import alignment as AL
from dcirc_utils.methods import brittleness as br
from dcirc_utils.methods import heads as H
from dcirc_utils.methods import mlps as M
from dcirc_utils.methods.concentration import gini
from dcirc_utils.methods.evaluation import TaskEvaluation
from dcirc_utils.methods.noise import noise_sweep
from dcirc_utils.methods.recipes import COURSE, study_recipe_for
from dcirc_utils.studies import alignment as SA
from dcirc_utils.studies import open_questions as OQ
from dcirc_utils.studies import shift as SH
from dcirc_utils.studies import spread as SP


def _same(record, old: dict) -> None:
    """``record`` reads as ``old``: the same keys in the same order, the same values (NaN equal to NaN)."""
    assert list(record) == list(old) and len(record) == len(old)
    for k, v in old.items():
        got = record[k]
        assert got is getattr(record, k)
        if isinstance(v, float) and math.isnan(v):
            assert isinstance(got, float) and math.isnan(got), k
        else:
            assert got == v and type(got) is type(v), (k, got, v)
    assert dict(record).keys() == old.keys()


# --------------------------------------------------------------------------------------------- the base
@dataclass(frozen=True, eq=False)
class _Pt(Record):
    x: int
    label: str
    values: list


def test_a_record_reads_as_a_read_only_mapping_of_its_fields():
    p = _Pt(1, "a", [1.0, 2.0])
    assert p["x"] == 1 and p.get("label") == "a" and p.get("nope", 7) == 7
    assert list(p) == ["x", "label", "values"] and len(p) == 3 and "x" in p and "nope" not in p and 0 not in p
    assert dict(p) == {"x": 1, "label": "a", "values": [1.0, 2.0]} == {**p} == p.to_dict()
    assert list(p.items()) == [("x", 1), ("label", "a"), ("values", [1.0, 2.0])]
    assert p == {"x": 1, "label": "a", "values": [1.0, 2.0]} and p == _Pt(1, "a", [1.0, 2.0])
    assert p != {"x": 2, "label": "a", "values": [1.0, 2.0]} and p != {"x": 1}
    with pytest.raises(KeyError, match=r"'nope': a _Pt has \['x', 'label', 'values'\]"):
        p["nope"]
    with pytest.raises(TypeError):
        p["x"] = 2                                   # read-only: no item assignment
    with pytest.raises(FrozenInstanceError):
        p.x = 2
    with pytest.raises(TypeError):
        hash(p)                                      # like a dict: its values may be mutable
    assert pickle.loads(pickle.dumps(p)) == p
    assert json.loads(json.dumps(p.to_dict())) == dict(p)
    with pytest.raises(TypeError):
        json.dumps(p)                                # not silently written as something else


def test_from_mapping_refuses_missing_and_unknown_keys():
    assert _Pt.from_mapping({"label": "a", "x": 1, "values": []}) == _Pt(1, "a", [])
    with pytest.raises(ValueError, match=r"missing \['values'\]; unknown \['y'\]"):
        _Pt.from_mapping({"x": 1, "label": "a", "y": 2})


def test_a_record_that_is_not_a_dataclass_says_how_to_fix_it():
    class Bare(Record):
        pass

    with pytest.raises(TypeError, match="@dataclass"):
        list(Bare())


def test_task_evaluation_is_a_record():
    ev = TaskEvaluation(n=2, accuracy=0.5, value=1.0, value_std=0.0, corrupted_value=math.nan, p_correct=0.4,
                        per_prompt=[1.0, 1.0], end_logits=torch.zeros(2, 3))
    assert isinstance(ev, Record) and list(ev) == ["n", "accuracy", "value", "value_std", "corrupted_value",
                                                   "p_correct", "per_prompt", "end_logits"]


# --------------------------------------------------------------------------------------------- methods
def test_alignment_terms_and_measure_read_as_the_old_dicts(monkeypatch):
    t_infl = {Component(0, 0): 0.5, Component(0, 1): 0.25, Component(0): 0.25}
    s_infl = {Component(0, 0): 0.4, Component(0, 1): 0.4, Component(0): 0.2}
    heads = [("0.0", "0.0", 0.9), ("0.1", "0.1", 0.5)]
    mlps = [("MLP0", "MLP0", 0.8)]
    res = AL.matched_alignment(heads, mlps, s_infl, t_infl)
    old_rows = [                                         # terms by hand: S · (1 − |I^S − I^T|)
        {"student": Component(0, 0), "teacher": Component(0, 0), "kind": "head", "similarity": 0.9,
         "student_influence": 0.4, "teacher_influence": 0.5, "term": 0.9 * 0.9},
        {"student": Component(0, 1), "teacher": Component(0, 1), "kind": "head", "similarity": 0.5,
         "student_influence": 0.4, "teacher_influence": 0.25, "term": 0.5 * 0.85},
        {"student": Component(0), "teacher": Component(0), "kind": "mlp", "similarity": 0.8,
         "student_influence": 0.2, "teacher_influence": 0.25, "term": 0.8 * 0.95}]
    assert all(isinstance(r, AL.AlignmentTerm) for r in res.rows)
    for row, old in zip(res.rows, old_rows, strict=True):
        assert list(row) == list(old)
        for k, v in old.items():
            assert row[k] == (pytest.approx(v, abs=1e-12) if isinstance(v, float) else v), k
    assert res.value == pytest.approx((0.81 + 0.425 + 0.76) / 3)

    # the noise sweep's measure: the old dict, written out from the same parts
    monkeypatch.setattr(AL, "influences", lambda engine: dict(s_infl))
    engine = SimpleNamespace(clean_value=3.0)
    measure = AL.make_alignment_measure(t_infl, lambda student: engine, lambda student: (heads, mlps))
    out = measure(object())
    mean_s = float(np.mean([0.9, 0.5, 0.8]))
    old = {"alignment": res.value, "alignment_heads": res.value_heads, "alignment_mlps": res.value_mlps,
           "mean_similarity": mean_s, "influence_term": mean_s - res.value,
           "clean_value": engine.clean_value, "influence_gini": gini(list(s_infl.values()))}
    assert isinstance(out, AL.AlignmentMeasure)
    _same(out, old)
    assert out.influence_term == pytest.approx(np.mean([0.9 * 0.1, 0.5 * 0.15, 0.8 * 0.05]))


def test_noise_sweep_takes_a_record_from_its_measure(mini_pair):
    student = mini_pair.student
    rec = AL.AlignmentMeasure(alignment=0.5, alignment_heads=0.4, alignment_mlps=0.6, mean_similarity=0.7,
                              influence_term=0.2, clean_value=1.5, influence_gini=0.3)
    rows = noise_sweep(mini_pair.teacher, student, [0.0, 0.1], [0], lambda m: rec, progress=False)
    assert rows == [{"level": 0.0, "seed": 0, **dict(rec)}, {"level": 0.1, "seed": 0, **dict(rec)}]
    with pytest.raises(ValueError, match="must return a mapping"):
        noise_sweep(mini_pair.teacher, student, [0.1], [0], lambda m: [1.0], progress=False)


def test_role_ranks_read_as_the_old_rows():
    s = torch.tensor([[0.1, 0.9], [0.5, float("nan")]])
    rows = H.role_table({"mover": s}, top_k=3)
    f = lambda x: float(torch.tensor(x, dtype=torch.float32))       # noqa: E731  (the scores are float32)
    old = [{"role": "mover", "rank": 1, "head": Component(0, 1), "score": f(0.9)},
           {"role": "mover", "rank": 2, "head": Component(1, 0), "score": f(0.5)},
           {"role": "mover", "rank": 3, "head": Component(0, 0), "score": f(0.1)}]          # NaN skipped
    assert all(isinstance(r, H.RoleRank) for r in rows) and len(rows) == len(old)
    for r, o in zip(rows, old):
        _same(r, o)


def test_cosine_summary_reads_as_the_old_dict():
    cos = torch.tensor([[1.0, 0.5, 0.0], [0.5, 0.5, -0.5]])
    out = M.cosine_summary(cos)
    # by hand: prompt means 0.5 and 1/6; their population std 1/6; linear quantiles between them
    lo, hi = 1 / 6, 0.5
    old = {"all": 1 / 3, "token0": 0.75, "other": 0.125, "by_position": [0.75, 0.5, -0.25], "prompt_std": 1 / 6,
           "prompt_p05": lo + 0.05 * (hi - lo), "prompt_p50": lo + 0.5 * (hi - lo), "prompt_p95": lo + 0.95 * (hi - lo),
           "n_prompts": 2}
    assert isinstance(out, M.CosineSummary) and list(out) == list(old)
    for k, v in old.items():
        assert out[k] == pytest.approx(v, abs=1e-7), k
        assert type(out[k]) is type(v)


def test_merge_test_rows_read_as_the_old_dicts():
    g = torch.Generator().manual_seed(0)
    t0, t1 = torch.randn(8, 4, 6, generator=g), torch.randn(8, 4, 6, generator=g)
    student = t0 + t1                                       # the two teacher MLPs together, exactly
    rows = M.merge_test(student, [t0, t1])
    first, second = M.merge_r2(student, [t0], "scalar", 0.5, 0), M.merge_r2(student, [t1], "scalar", 0.5, 0)
    both = M.merge_r2(student, [t0, t1], "scalar", 0.5, 0)
    gain = both - max(first, second)
    old = {"teachers": (0, 1), "label": "T0+T1", "r2_first": first, "r2_second": second, "r2_pair": both,
           "gain": gain, "claim": bool(gain >= M.DEFAULT_MERGE_MARGIN and both > 0)}
    assert len(rows) == 1 and isinstance(rows[0], M.MergeTestResult)
    _same(rows[0], old)
    assert rows[0].claim and both == pytest.approx(1.0, abs=1e-6)     # the pair explains all of it


def test_layer_correspondences_read_as_the_old_rows():
    rows = M.layer_correspondences(6, 3)                    # DistilGPT2's map for 6 → 3: [0, 2, 5]
    old = [{"teacher": 0, "student": 0, "kind": "init", "label": "T0/S0"},
           {"teacher": 1, "student": 0, "kind": "dropped", "label": "T1/S0"},
           {"teacher": 2, "student": 1, "kind": "init", "label": "T2/S1"},
           {"teacher": 3, "student": 1, "kind": "dropped", "label": "T3/S1"},
           {"teacher": 4, "student": 1, "kind": "dropped", "label": "T4/S1"},
           {"teacher": 5, "student": 2, "kind": "init", "label": "T5/S2"}]
    assert len(rows) == len(old) and all(isinstance(r, M.LayerCorrespondence) for r in rows)
    for r, o in zip(rows, old):
        _same(r, o)


# --------------------------------------------------------------------------------------------- studies
def _fake_pair():
    return SimpleNamespace(name="fake", tokenizer=None, teacher=SimpleNamespace(model=None),
                           student=SimpleNamespace(model=None))


def _no_prompts(monkeypatch, module):
    monkeypatch.setattr(module, "make_task", lambda *a, **k: "prompts")
    monkeypatch.setattr(module, "prompts_digest", lambda p: "digest")
    monkeypatch.setattr(module, "model_fingerprint", lambda m: "weights")


def test_task_alignment_and_sign_range_read_as_the_old_dicts(monkeypatch):
    _no_prompts(monkeypatch, SA)
    stored = {"A": 0.8, "A_heads": 0.7, "A_mlps": 0.9, "A_random": 0.2, "n_pairs": 14, "n_duplicates": 1,
              "mean_similarity": 0.85, "teacher_clean": 9.4, "student_clean": 9.1}
    monkeypatch.setattr(SA, "cached", lambda kind, key, compute, refresh=False: json.loads(json.dumps(stored)))
    pair = _fake_pair()
    r = SA.task_alignment(pair, "numerals", COURSE, n=10)
    old = {"task": "numerals", "pair": "fake", "recipe": COURSE.name, **stored}
    assert isinstance(r, SA.TaskAlignment)
    _same(r, old)
    assert SA.TaskAlignment.from_mapping(json.loads(json.dumps(r.to_dict()))) == r

    # alignment_rows keeps table rows as mutable dicts: the record's fields, the note and the study's value
    rows = SA.alignment_rows([pair], ["numerals"], n=10, recipes="course")
    assert rows == [dict(old, note="", **{"study A": SA.STUDY_A["numerals"][0]})] and type(rows[0]) is dict

    signs = {"A_fixed": 0.8, "A_lapack": 0.79, "A_low": 0.7, "A_median": 0.78, "A_high": 0.82, "draws": 50}
    monkeypatch.setattr(SA, "cached", lambda kind, key, compute, refresh=False: dict(signs))
    recipe = study_recipe_for("numerals")
    s = SA.sign_range_row(pair, "numerals", recipe, n=10, draws=50)
    assert isinstance(s, SA.TaskSignRange)
    _same(s, {"task": "numerals", "pair": "fake", "recipe": recipe.name, **signs})


def test_a_part_that_cannot_be_measured_reads_as_the_old_dict(monkeypatch):
    def fail(pair, task, recipe, n, seed, part):
        raise ValueError(f"every influence is zero on part {part[0]}")

    monkeypatch.setattr(SA, "task_alignment", fail)
    rows = SA.alignment_by_set(_fake_pair(), "numerals", COURSE, n=10, n_sets=2)
    assert len(rows) == 2 and all(isinstance(r, SA.AlignmentNotMeasured) for r in rows)
    for k, r in enumerate(rows):
        _same(r, {"task": "numerals", "pair": "fake", "recipe": COURSE.name, "A": None, "A_random": None,
                  "note": f"every influence is zero on part {k}"})


def test_discarded_functions_reads_as_the_old_dict(monkeypatch):
    sim = torch.zeros(4, 4)                    # [student head, teacher head], 2 layers × 2 heads each
    sim[3, 0] = 1.0                            # teacher 0.0 → student 1.1
    sim[0, 3] = 1.0                            # teacher 1.1 → student 0.0
    table = torch.tensor([[0.0, 1.0], [1.0, 0.0]])      # [teacher MLP, student MLP]: MLP0 → MLP1
    monkeypatch.setattr(OQ, "attention_patterns", lambda model, tokens: None)
    monkeypatch.setattr(OQ, "head_similarity", lambda a, b: sim)
    monkeypatch.setattr(OQ, "mlp_outputs", lambda model, tokens: None)
    monkeypatch.setattr(OQ, "mlp_similarity_table", lambda a, b, kind: table)
    model = SimpleNamespace(tokenizer=None, n_heads=2)
    prompts = SimpleNamespace(tokens=lambda tok, bos: None)
    d = OQ.discarded_functions(model, model, prompts, [Component(0, 0), Component(1, 1), Component(0)],
                               [Component(1, 1), Component(0)])
    assert isinstance(d, OQ.DiscardedFunctions)
    _same(d, {"kept": ["0.0->1.1"], "discarded": ["1.1->0.0", "MLP0->MLP1"], "share_discarded": 2 / 3})
    assert json.loads(json.dumps(d.to_dict())) == dict(d)        # what a profile stores


def _oq():
    prof = {"A_study": 0.7, "student_value": 4.0, "student_accuracy": 0.9, "noise_retained": 0.8,
            "student_worst_drop": -30.0, "student_layers": 6}
    return {"profiles": [
        dict(prof, pair="p", task="numerals", A_course=0.85, student_circuit=["0.0", "MLP1"]),
        dict(prof, pair="p", task="ioi", A_course=0.75, A_study=None, student_circuit=["MLP1", "1.1"]),
        {"pair": "p", "task": "qa", "error": "does not solve it"},
        dict(prof, pair="p-init", task="numerals", A_course=None, student_circuit=["0.0"])],
        "shift": [{"pair": "p", "model": "student", "variant": v, "accuracy": a, "seed": s}
                  for v, a, s in (("numerals", 0.9, 0), ("numerals", 1.0, 1), ("long7", 0.5, 0), ("long7", 0.7, 1))]
        + [{"pair": "p", "model": "teacher", "variant": "long7", "accuracy": 0.0, "seed": 0}]}


def test_circuit_overlap_reads_as_the_old_dict():
    o = OQ.circuit_overlap(_oq(), "p")
    assert isinstance(o, OQ.CircuitOverlap)
    _same(o, {"tasks": ["ioi", "numerals"], "in_every_task": ["MLP1"], "in_any_task": ["0.0", "1.1", "MLP1"],
              "jaccard": 1 / 3})
    _same(OQ.circuit_overlap(_oq(), "nobody"), {"tasks": [], "in_every_task": [], "in_any_task": [],
                                                "jaccard": math.nan})


def test_robustness_points_read_as_the_old_dicts():
    pts = OQ.robustness_points(_oq())
    loss = 100.0 * (0.95 - 0.6)                  # the student's accuracy: numerals 0.9, 1.0; long7 0.5, 0.7
    old = [{"pair": "p", "task": "numerals", "distilled": True, "student_layers": 6, "A_course": 0.85,
            "A_study": 0.7, "student_value": 4.0, "student_accuracy": 0.9, "noise_retained": 0.8, "worst_drop": -30.0,
            "shift_loss": loss},
           {"pair": "p", "task": "ioi", "distilled": True, "student_layers": 6, "A_course": 0.75,
            "A_study": None, "student_value": 4.0, "student_accuracy": 0.9, "noise_retained": 0.8, "worst_drop": -30.0,
            "shift_loss": math.nan}]
    assert len(pts) == 2 and all(isinstance(p, OQ.RobustnessPoint) for p in pts)
    assert pts[0]["shift_loss"] == pytest.approx(loss)
    _same(pts[0], dict(old[0], shift_loss=pts[0]["shift_loss"]))
    _same(pts[1], old[1])


def test_shift_rows_read_as_the_old_dicts(monkeypatch):
    ev = TaskEvaluation(n=5, accuracy=0.8, value=2.5, value_std=0.1, corrupted_value=math.nan, p_correct=0.6,
                        per_prompt=[2.5] * 5, end_logits=torch.zeros(5, 3))

    def prompts(variant, n, seed, tokenizer):
        if variant == "broken":
            raise ValueError("no such word")
        return SimpleNamespace(tokens=lambda tok, which="clean": None)

    monkeypatch.setattr(SH, "variant_prompts", prompts)
    monkeypatch.setattr(SH, "evaluate_task", lambda adapter, p, corrupted: ev)
    pair = SimpleNamespace(tokenizer=None, models={"teacher": "T", "student": "S"})
    rows = SH.shift_study(pair, ("numerals", "broken"), n=5, seed=[3])
    old = []                                      # the old construction, then dict(row, seed=s) per seed
    for role in ("teacher", "student"):
        old.append(dict({"variant": "numerals", "model": role, "n": ev["n"], "accuracy": ev["accuracy"],
                         "value": ev["value"], "p_correct": ev["p_correct"], "circuit_score": math.nan,
                         "error": None}, seed=3))
    for role in ("teacher", "student"):
        old.append(dict({"variant": "broken", "model": role, "n": 0, "accuracy": math.nan, "value": math.nan,
                         "p_correct": math.nan, "circuit_score": math.nan, "error": "no such word"}, seed=3))
    assert len(rows) == 4 and all(isinstance(r, SH.ShiftRow) for r in rows)
    for r, o in zip(rows, old):
        _same(r, o)
    # a row keeps its type when its score is masked; a dict row stays a dict
    scored = [SH.ShiftRow(**dict(rows[0], value=0.5, circuit_score=70.0)), dict(rows[1], value=0.5,
                                                                                  circuit_score=70.0)]
    masked = SH.undefined_unless_solved(scored, min_value=1.0)
    assert isinstance(masked[0], SH.ShiftRow) and type(masked[1]) is dict
    for m in masked:
        assert math.isnan(m["circuit_score"]) and "clean Δl 0.50 < 1" in m["error"]
    assert scored[0].circuit_score == 70.0                        # the input is not changed


def test_set_drops_read_as_the_old_dicts_fresh_and_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("DCIRC_CACHE", str(tmp_path))
    monkeypatch.setattr(SP, "model_fingerprint", lambda m: "weights")
    monkeypatch.setattr(SP, "prompts_digest", lambda p: "digest")
    monkeypatch.setattr(SP, "disjoint_sets", lambda prompts, n: [1.0, 2.0])
    monkeypatch.setattr(SP, "Engine", SimpleNamespace(for_prompts=lambda adapter, part, **kw: part))
    monkeypatch.setattr(br, "full_model_drops", lambda e: {Component(0, 0): -10.0 * e, Component(0): -e})
    monkeypatch.setattr(br, "circuit_removal_drops", lambda e, c: {Component(0): -5.0 * e})
    adapter = SimpleNamespace(model=None)
    old = [{"full": {Component(0, 0): -10.0 * e, Component(0): -e}, "circuit": {Component(0): -5.0 * e}}
           for e in (1.0, 2.0)]
    fresh = SP.drops_by_set(adapter, "prompts", [Component(0)], n_sets=2)
    again = SP.drops_by_set(adapter, "prompts", [Component(0)], n_sets=2)      # read back from the cache
    assert len(list(tmp_path.glob("drops-by-set-*.json"))) == 1
    for rows in (fresh, again):
        assert all(isinstance(r, SP.SetDrops) for r in rows)
        for r, o in zip(rows, old, strict=True):
            _same(r, o)


def test_set_shares_read_as_the_old_dicts(monkeypatch):
    monkeypatch.setattr(SP, "disjoint_sets", lambda prompts, n: [3.0, 0.1])    # a set's clean Δl
    monkeypatch.setattr(SP, "Engine", SimpleNamespace(
        for_prompts=lambda adapter, part, **kw: SimpleNamespace(clean_value=part, components=list(range(10)),
                                                                n_layers=2)))
    found = SimpleNamespace(circuit=SimpleNamespace(components=[1, 2, 3, 4], mlps=[Component(1)]))
    monkeypatch.setattr(SP, "discover", lambda engine, name, role, edges, rule: found)
    rows = SP._circuits_by_set(None, "prompts", "fake", "student", "corrected", 2, min_dl=1.0)
    assert all(isinstance(r, SP.SetShares) for r in rows)
    _same(rows[0], {"share": 4 / 10, "mlp_share": 1 / 2})
    _same(rows[1], {"share": math.nan, "mlp_share": math.nan})                # the model does not solve the set
