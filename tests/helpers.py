"""Helpers shared by the test files (one copy, imported: ``from ..helpers import ...``; pytest's fixtures stay in
conftest.py)."""
from __future__ import annotations

from dcirc_utils.core.paths import REPO_ROOT
from dcirc_utils.core.tasks import make_prompts

#: The result cache of the tests that run the whole course with few prompts (the participant notebooks on ``small``
#: and the main command on ``small-init``, 10 prompts each): one folder, so that what one run computed (the ``small``
#: teacher, which ``small-init`` shares; the encoder pair; the offline sweep) the other loads. The cache is keyed on
#: the weights, the engine's inputs and the code (``studies.cache``), so sharing it changes no result, only the time;
#: in CI's clean clone the first of them starts from an empty folder.
COURSE_TEST_CACHE = REPO_ROOT / "build" / "test-course-cache"


def offline_pair(name: str, device: str = "cpu"):
    """An offline pair loaded on ``device``; the calling test is skipped, with the reason, when it is not shipped."""
    import pytest

    from dcirc_utils import load_pair
    from dcirc_utils.models.registry import PairUnavailableError
    try:
        return load_pair(name, device=device)
    except PairUnavailableError as err:
        pytest.skip(f"offline pair {name!r} not shipped yet: {err}")

#: The engine's agreement with its references: 1e-4 of the largest |value| compared (float32 forwards of the same
#: weights along different code paths round differently, by about 1e-6 of the values on these small models).
REL = 1e-4


def worst_deviation(a: dict, b: dict) -> float:
    """The largest ``|a[k] - b[k]|`` over the keys of ``b`` (a key missing from ``a`` raises)."""
    return max(abs(a[k] - b[k]) for k in b)


def assert_scores_close(a: dict, b: dict, rel: float = REL) -> None:
    """``a`` (the code under test) equals the reference ``b`` on every key of ``b`` to ``rel`` of ``b``'s largest
    |value| (at least 1e-6, so that an all-zero reference is not compared to zero tolerance)."""
    assert set(b) <= set(a), f"missing keys: {sorted(set(b) - set(a))[:5]}"
    scale = max(max(abs(v) for v in b.values()), 1e-6)
    worst = worst_deviation(a, b)
    assert worst <= rel * scale, f"max deviation {worst:.3g} > {rel} x {scale:.3g}"


def prompt_data(tok, n: int = 8, seed: int = 0):
    """``(clean, corrupted, correct, incorrect)`` for ``n`` prompts of the default task (``make_prompts``) tokenized
    by ``tok`` (a pair's ``.tokenizer``)."""
    ps = make_prompts(n, seed=seed, tokenizer=tok)
    c, i = ps.answer_ids(tok)
    return ps.tokens(tok), ps.tokens(tok, "corrupted"), c, i


def fig_size(fig) -> tuple[float, float]:
    """A matplotlib figure's size in inches, as a tuple (the figure tests)."""
    return tuple(fig.get_size_inches())
