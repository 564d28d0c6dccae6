"""The shipped models of the capacity-limited family ``small2`` measured again from their files: the properties issue
22 asks of them (a copy before distillation that fails, a student that succeeds, a capacity gap), on fresh held-out
prompts (seed 7, not the card's seed 0)."""
from __future__ import annotations

import pytest

from dcirc_utils.core import tasks
from dcirc_utils.methods.evaluation import evaluate_task
from dcirc_utils.core.paths import MODELS_DIR
from dcirc_utils.models.pairs import load_pair
from dcirc_utils.models.registry import PairUnavailableError

FAMILY = MODELS_DIR / "small2"


def _have(*models: str) -> None:
    missing = [m for m in models if not (FAMILY / m / "config.json").exists()]
    if missing:
        pytest.skip(f"small2 models not trained yet: {missing}")


def _top1(adapter, ps) -> tuple[float, float]:
    """Top-1 and mean Δl of an adapter on a prompt set (final position)."""
    out = evaluate_task(adapter, ps, corrupted=False)
    return out["accuracy"], out["value"]


@pytest.fixture(scope="module")
def init_pair():
    _have("teacher")
    return load_pair("small2-init", device="cpu")


def test_teacher_solves_the_numerals_and_its_copy_does_not(init_pair):
    ps = tasks.make_prompts(100, seed=7, tokenizer=init_pair.tokenizer)
    t_acc, t_ld = _top1(init_pair.teacher, ps)
    c_acc, _ = _top1(init_pair.student, ps)
    assert t_acc >= 0.95 and t_ld >= 3.0, (t_acc, t_ld)
    assert c_acc <= 0.5, c_acc                      # the copy before distillation fails (issue 22)


def test_pilot11_teacher_kept_in_the_card_and_its_failing_copy():
    """The card keeps pilot 11's teacher (data/models/small2/pilots/pilot11), the first whose copy before distillation
    fails the numerals (41-48% over the card's six prompt sets): measured again from its files on another set."""
    folder = FAMILY / "pilots" / "pilot11"
    pair = load_pair("small2-init", device="cpu", folder=folder)
    assert pair.teacher.n_layers == 12 and pair.student.n_layers == 6
    ps = tasks.make_prompts(100, seed=7, tokenizer=pair.tokenizer)
    t_acc, t_ld = _top1(pair.teacher, ps)
    c_acc, c_ld = _top1(pair.student, ps)
    assert t_acc >= 0.95 and t_ld >= 3.0, (t_acc, t_ld)
    assert c_acc <= 0.5 and c_ld < t_ld / 3, (c_acc, c_ld)


def test_student_solves_the_numerals():
    _have("teacher", "student")
    pair = load_pair("small2", device="cpu")
    ps = tasks.make_prompts(100, seed=7, tokenizer=pair.tokenizer)
    s_acc, s_ld = _top1(pair.student, ps)
    assert s_acc >= 0.9 and s_ld >= 2.0, (s_acc, s_ld)


def test_a_missing_model_names_the_command_that_trains_it(tmp_path):
    # the command trains into the folder that was asked for
    with pytest.raises(PairUnavailableError, match=rf"offline\.train teacher --family {tmp_path}`"):
        load_pair("small2@s2", device="cpu", folder=tmp_path)
    (tmp_path / "teacher").mkdir()
    (tmp_path / "teacher" / "config.json").write_text("{}")
    with pytest.raises(PairUnavailableError, match=r"student@s2: .*offline\.train student --seed 2 --family "):
        load_pair("small2@s2", device="cpu", folder=tmp_path)
    with pytest.raises(PairUnavailableError, match=r"teacher@t1: .*offline\.train teacher --seed 1 --family "):
        load_pair("small2@t1-init", device="cpu", folder=tmp_path)
