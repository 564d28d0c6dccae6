"""The engine on a CUDA GPU gives the CPU's results: the single-component ablation scan, the scan of a circuit's
components, and node pruning under both rules, on the ``mini`` pair (a stand-in trained in this project, not a real
model), teacher and student.

Marked ``gpu``: skipped without CUDA (``tests/conftest.py`` adds the skip, with its reason). Run with
``pytest tests -m gpu`` on a machine with a GPU.

Tolerance: both sides are float32 forwards of the same weights, run with different kernels and batch sizes (the
engine picks larger chunks on a GPU), so they differ by rounding only: about 1e-6 of the values on this model. Scores
must agree to :data:`tests.helpers.REL` (1e-4) of the largest |value| compared, the tolerance the engine is held to
against its naive reference everywhere else, and the circuits must be the same components: a pruning decision can
only flip where a removal's score lies within rounding of the threshold, and the failure message says how close the
closest one came.
"""
from __future__ import annotations

import pytest

from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine
from dcirc_utils.methods.discovery import prune_nodes

from ..helpers import REL, assert_scores_close, offline_pair

pytestmark = pytest.mark.gpu

THRESHOLD = 0.8
N_PROMPTS = 40


@pytest.fixture(scope="module")
def mini_on_cuda():
    return offline_pair("mini", device="cuda")


def compare_devices(cpu_pair, other_pair, threshold: float = THRESHOLD, n: int = N_PROMPTS) -> None:
    """Assert that engines on ``other_pair``'s device and on the CPU agree (scans to REL, circuits exactly) for
    both models of the pair (the body of the GPU test, usable with any two devices)."""
    prompts = make_prompts(n, seed=0, tokenizer=cpu_pair.tokenizer)
    for role in ("teacher", "student"):
        cpu = Engine.for_prompts(getattr(cpu_pair, role), prompts, progress=False)
        dev = Engine.for_prompts(getattr(other_pair, role), prompts, progress=False)
        scale = max(1.0, abs(cpu.clean_value))
        assert abs(dev.clean_value - cpu.clean_value) <= REL * scale, (role, dev.clean_value, cpu.clean_value)
        assert_scores_close(dev.ablation_scan(), cpu.ablation_scan())
        for rule in ("corrected", "study"):
            ref = prune_nodes(cpu, threshold, progress=False, rule=rule)
            got = prune_nodes(dev, threshold, progress=False, rule=rule)
            assert 0 < len(ref.components) < len(cpu.components), "pruning removed nothing or everything"
            closest = min((abs(s - 100.0 * threshold) for s in ref.removal_scores.values()), default=float("inf"))
            assert got.components == ref.components, (
                f"{role}, {rule} rule: the circuits differ ({len(got.components)} vs {len(ref.components)} "
                f"components); the closest removal score on the CPU was {closest:.3g} points from the threshold")
            assert set(got.removal_scores) == set(ref.removal_scores)
            assert_scores_close(got.removal_scores, ref.removal_scores)
            assert abs(got.score - ref.score) <= REL * max(1.0, abs(ref.score))
            # the scan of the circuit's components with everything else ablated, which pruning relies on
            outside = cpu.outside(ref.components)
            assert_scores_close(dev.ablation_scan(ref.components, base_ablated=outside),
                                cpu.ablation_scan(ref.components, base_ablated=outside))


def test_engine_on_cuda_equals_the_cpu_on_mini(mini_pair, mini_on_cuda):
    assert next(mini_on_cuda.teacher.model.parameters()).is_cuda
    compare_devices(mini_pair, mini_on_cuda)
