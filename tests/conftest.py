"""Shared fixtures. Tests that need GPT-2's tokenizer skip with a reason when it cannot be found offline; tests
that need the offline pair skip when data/models is absent.

Markers (registered in pyproject.toml, ``--strict-markers``): every test gets its tier from its folder
(``unit``, ``integration``, ``site``; applied below, never written by hand); ``slow`` marks a test that takes more than
about 20 s on the project's 2-core CPU; ``gpu`` one that needs CUDA (skipped without it); ``dryrun`` a whole-notebook
run that the README's test command leaves out for CI's time limit (docs/testing.md). For example:

    pytest                                          # testpaths: the unit tier
    pytest tests -m unit                            # the unit tier, selected by marker
    pytest tests/unit tests/integration -m "not slow"   # both tiers, without the slow tests
    pytest tests -m "integration and not slow"
    pytest tests -m gpu                             # the GPU-only tests (on a machine with CUDA)
    pytest tests/integration tests/site -m dryrun   # llama-random 02, gpt2-random 06-07, participant 02, 05-07
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from .helpers import offline_pair

torch.set_num_threads(int(os.environ.get("DCIRC_TEST_THREADS", "2")))
torch.set_grad_enabled(False)

_TESTS = Path(__file__).resolve().parent
_TIERS = ("unit", "integration", "site")
#: Slow tests (> 20 s, ``--durations``) in files whose tests are not decorated here (the others carry
#: ``@pytest.mark.slow`` themselves): node ids relative to tests/.
_SLOW = {"integration/test_distributed.py::test_two_gloo_ranks_match_the_single_process_scan",
         *("integration/test_participant.py::test_participant_notebook_runs_to_the_end_with_every_exercise_not_attempted"
           f"[{name}]" for name in ("02_circuit_discovery", "05_ablation_brittleness", "06_alignment_noise",
                                    "07_encoder_pair", "08_open_questions", "01_task_setup", "03_head_analysis",
                                    "04_mlp_merging"))}


@pytest.hookimpl(tryfirst=True)   # before the marker plugin's own hook deselects by ``-m``
def pytest_collection_modifyitems(config, items):
    """Mark each test with its tier (the folder under tests/ it lives in), and skip ``gpu`` tests without CUDA."""
    cuda = torch.cuda.is_available()
    for item in items:
        try:
            parts = Path(item.path).resolve().relative_to(_TESTS).parts
        except ValueError:
            continue
        if len(parts) > 1 and parts[0] in _TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))
        if "/".join(parts) + "::" + item.name in _SLOW:
            item.add_marker(pytest.mark.slow)
        if not cuda and item.get_closest_marker("gpu") is not None:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)"))


def _skip_reason_gpt2_tokenizer():
    from dcirc_utils.models.registry import PairUnavailableError
    from dcirc_utils.models.tokenizers import gpt2_tokenizer
    try:
        return gpt2_tokenizer(), None
    except PairUnavailableError as err:
        return None, ("GPT-2's tokenizer is not available offline (set DCIRC_GPT2_TOKENIZER to a folder with its "
                      f"vocab.json/merges.txt, or fill the HF cache): {err}")


@pytest.fixture(scope="session")
def gpt2_tok():
    tok, reason = _skip_reason_gpt2_tokenizer()
    if tok is None:
        pytest.skip(reason)
    return tok


@pytest.fixture(scope="session")
def gpt2_random_pair(gpt2_tok):
    from dcirc_utils import load_pair
    return load_pair("gpt2-random", device="cpu")


@pytest.fixture(scope="session")
def bert_tok():
    from dcirc_utils.models.registry import PairUnavailableError
    from dcirc_utils.models.tokenizers import bert_tokenizer
    try:
        return bert_tokenizer()
    except PairUnavailableError as err:
        pytest.skip(f"BERT's tokenizer is not available offline (set DCIRC_BERT_TOKENIZER to a folder with its "
                    f"vocab.txt, or fill the HF cache): {err}")


@pytest.fixture(scope="session")
def bert_random_pair(bert_tok):
    from dcirc_utils import load_pair
    return load_pair("bert-random", device="cpu")


@pytest.fixture(scope="session")
def small_pair():
    return offline_pair("small")


@pytest.fixture(scope="session")
def bert_small_pair():
    return offline_pair("bert-small")


@pytest.fixture(scope="session")
def mini_pair():
    return offline_pair("mini")


@pytest.fixture
def close_figures():
    """Close every matplotlib figure after the test (the figure tests draw several each; more than 20 open figures
    make matplotlib warn)."""
    yield
    import matplotlib.pyplot as plt
    plt.close("all")
