"""studies/faithfulness.py on the offline ``mini`` pair (no copy before distillation): its command writes the JSON
and the table, every row's CPR and CMD are those of its curves, the table's spread is that of the set rows, and the
pruning point is node pruning's circuit measured on the curves' axes."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from dcirc_utils.core.tasks import make_task
from dcirc_utils.engine import Engine
from dcirc_utils.methods import faithfulness as fm
from dcirc_utils.studies import faithfulness as sf
from dcirc_utils.studies.discover import discover


@pytest.fixture(scope="module")
def written(mini_pair, tmp_path_factory):
    out = tmp_path_factory.mktemp("faithfulness")
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DCIRC_CACHE", str(cache))
        assert sf.main(["--pair", "mini", "--out", str(out), "--prompts", "12", "--sets", "2", "--tasks", "numerals",
                        "no-such-task", "--rankings", "exact", "first-order"]) == 0
        yield out, cache


def test_the_command_writes_the_json_and_the_table(written):
    out, _ = written
    study = sf.FaithfulnessStudy.from_dict(json.loads((out / "faithfulness-mini.json").read_text()))
    assert study.pair == "mini" and study.stand_in and study.copy is None and study.n_sets == 2
    assert study.sizes == fm.MIB_SIZES and study.date and "CPU" in study.machine
    keys = {(r["model"], r["ranking"], r["set"]) for r in study.curves}
    assert keys == {(m, r, s) for m in ("teacher", "student") for r in ("exact", "first-order")
                    for s in ("all", 0, 1)}
    assert {r["n_prompts"] for r in study.curves if r["set"] != "all"} == {6}
    assert any(s["task"] == "no-such-task" and "unknown task" in s["reason"] for s in study.skipped)
    for r in study.curves:
        c = fm.MIBCurves.from_dict(r["curves"])
        assert r["cpr"] == pytest.approx(c.signed.cpr) and r["cmd"] == pytest.approx(c.absolute.cmd)
        assert c.signed.faithfulness[-1] == 1.0 and c.signed.sizes == fm.MIB_SIZES
    table = pd.read_csv(out / "faithfulness-mini.csv", index_col=[0, 1, 2])
    assert len(table) == 4
    row = table.loc[("numerals", "teacher", "exact")]
    sets = [r for r in study.curves if (r["model"], r["ranking"]) == ("teacher", "exact") and r["set"] != "all"]
    assert row["sets"] == 2
    assert row["CPR mean (sets)"] == pytest.approx(sum(r["cpr"] for r in sets) / 2, abs=1e-3)
    assert row["CMD min"] == pytest.approx(min(r["cmd"] for r in sets), abs=1e-3)
    assert row["CPR"] == pytest.approx(study.mib_curves("teacher", "numerals", "exact").cpr, abs=1e-3)


def test_the_pruning_point_is_node_prunings_circuit_on_the_curves_axes(written, mini_pair):
    out, cache = written
    study = sf.FaithfulnessStudy.from_dict(json.loads((out / "faithfulness-mini.json").read_text()))
    prompts = make_task("numerals", 12, 0, tokenizer=mini_pair.tokenizer)
    engine = Engine.for_prompts(mini_pair.teacher, prompts, progress=False, check_baseline=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DCIRC_CACHE", str(cache))
        circuit = discover(engine, "mini", "teacher", edges=False).circuit
    point = next(p for p in study.points if (p["model"], p["set"]) == ("teacher", "all"))
    assert point["n_components"] == len(circuit.components) and point["total"] == 30
    assert 100 * point["value"] / point["full_value"] == pytest.approx(circuit.score, abs=1e-3)   # ≥ 80 % kept
    f = (point["value"] - point["empty_value"]) / (point["full_value"] - point["empty_value"])
    assert point["faithfulness"] == pytest.approx(f) and math.isfinite(f)
    assert {p["set"] for p in study.points if p["model"] == "teacher"} == {"all", 0, 1}
