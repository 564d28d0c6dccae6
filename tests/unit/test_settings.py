"""The course's settings: read from the environment in one place, passed on explicitly."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dcirc_utils.core.settings import ENV_VARS, Settings
from dcirc_utils.core.paths import DEFAULT_CACHE_DIR, REPO_ROOT

PKG = Path(__file__).resolve().parents[2] / "dcirc_utils"


def test_from_env_reads_every_variable_and_types_it():
    env = {"DCIRC_PAIR": "mini", "DCIRC_ENCODER_PAIR": "bert-random", "DCIRC_PROMPTS": " 12 ", "DCIRC_THREADS": "3",
           "DCIRC_DEVICE": "cpu", "DCIRC_CACHE": "/tmp/c", "DCIRC_RESULTS_DIR": "/tmp/r",
           "DCIRC_GPT2_TOKENIZER": "/t/g", "DCIRC_BERT_TOKENIZER": "/t/b", "DCIRC_MATHJAX": "/m/tex-svg.js",
           "UNRELATED": "x"}
    s = Settings.from_env(env)
    assert s == Settings(pair="mini", encoder_pair="bert-random", prompts=12, threads=3, device="cpu",
                         cache_dir=Path("/tmp/c"), results_dir=Path("/tmp/r"), gpt2_tokenizer=Path("/t/g"),
                         bert_tokenizer=Path("/t/b"), mathjax=Path("/m/tex-svg.js"))
    assert Settings.from_env(s.to_env()) == s                  # what a kernel is given reads back the same
    assert set(s.to_env()) == set(ENV_VARS.values())


def test_unset_and_empty_values_fall_back_to_the_defaults():
    s = Settings.from_env({"DCIRC_PAIR": "", "DCIRC_PROMPTS": ""})
    assert s == Settings() and s.to_env() == {}
    assert s.resolved_cache_dir == DEFAULT_CACHE_DIR
    assert s.resolved_results_dir == REPO_ROOT / "build" / "results"
    assert Settings(cache_dir=Path("/x")).resolved_cache_dir == Path("/x")


@pytest.mark.parametrize("value, message", [("many", r"\$DCIRC_PROMPTS='many' is not a whole number; give e.g. "
                                                      r"DCIRC_PROMPTS=100 or unset DCIRC_PROMPTS"),
                                            ("0", r"\$DCIRC_PROMPTS=0 must be at least 1")])
def test_bad_whole_numbers_name_the_variable_and_a_fix(value, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"DCIRC_PROMPTS": value})


def test_the_library_reads_its_variables_only_through_settings():
    """No module but core/settings.py reads a DCIRC_* variable from the environment (the tests' own switches are
    read by the tests)."""
    readers = []
    for path in PKG.rglob("*.py"):
        if path.name == "settings.py":
            continue
        for call in (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)):
            func = ast.unparse(call.func)
            names = [a.value for a in ast.walk(call) if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if ("environ" in func or "getenv" in func) and any(n.startswith("DCIRC_") for n in names):
                readers.append(f"{path.relative_to(PKG)}: {ast.unparse(call)}")
    assert not readers, readers


def test_the_cache_and_results_folders_follow_the_settings_given(tmp_path, monkeypatch):
    from dcirc_utils.report.results import results_dir
    from dcirc_utils.studies.cache import cache_dir, cached
    monkeypatch.delenv("DCIRC_CACHE", raising=False)
    assert cache_dir(Settings(cache_dir=tmp_path / "c")) == tmp_path / "c"
    assert results_dir(Settings(results_dir=tmp_path / "r")) == tmp_path / "r"
    assert cached("x", {"k": 1}, lambda: 41, folder=tmp_path / "f") == 41
    assert len(list((tmp_path / "f").glob("x-*.json"))) == 1
    assert cached("x", {"k": 1}, lambda: 0, folder=tmp_path / "f") == 41         # served from that folder
