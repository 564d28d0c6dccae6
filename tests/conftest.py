"""Shared fixtures. Tests that need GPT-2's tokenizer skip with a reason when it cannot be found offline; tests
that need the offline pair skip when data/models is absent."""
from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(int(os.environ.get("DCIRC_TEST_THREADS", "2")))
torch.set_grad_enabled(False)


def _skip_reason_gpt2_tokenizer():
    from dcirc_utils.models.pairs import PairUnavailableError, gpt2_tokenizer
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
    from dcirc_utils.models.pairs import PairUnavailableError, bert_tokenizer
    try:
        return bert_tokenizer()
    except PairUnavailableError as err:
        pytest.skip(f"BERT's tokenizer is not available offline (set DCIRC_BERT_TOKENIZER to a folder with its "
                    f"vocab.txt, or fill the HF cache): {err}")


@pytest.fixture(scope="session")
def bert_random_pair(bert_tok):
    from dcirc_utils import load_pair
    return load_pair("bert-random", device="cpu")


def _offline_pair(name):
    from dcirc_utils import load_pair
    from dcirc_utils.models.pairs import PairUnavailableError
    try:
        return load_pair(name, device="cpu")
    except PairUnavailableError as err:
        pytest.skip(f"offline pair {name!r} not shipped yet: {err}")


@pytest.fixture(scope="session")
def small_pair():
    return _offline_pair("small")


@pytest.fixture(scope="session")
def bert_small_pair():
    return _offline_pair("bert-small")


@pytest.fixture(scope="session")
def mini_pair():
    from dcirc_utils import load_pair
    from dcirc_utils.models.pairs import PairUnavailableError
    try:
        return load_pair("mini", device="cpu")
    except PairUnavailableError as err:
        pytest.skip(f"offline pair not shipped yet: {err}")
