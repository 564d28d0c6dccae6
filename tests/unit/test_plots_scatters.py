"""report/plots/scatters.py: the exact effect against its first-order estimate."""
import pytest

from dcirc_utils.core.components import Component  # noqa: E402
from dcirc_utils.report import plots

pytestmark = pytest.mark.usefixtures("close_figures")


def test_exact_vs_estimate_marks_circuit_and_misses():
    from dcirc_utils.methods.attribution import compare
    comps = [Component(0, 0), Component(0, 1), Component(1, -1), Component(1, 0)]
    exact = dict(zip(comps, [-3.0, -0.1, -2.0, 0.05]))
    approx = dict(zip(comps, [-1.0, -1.5, -0.2, 0.0]))
    cmp = compare(exact, approx, [Component(0, 0), Component(1, -1)])
    assert cmp.missed == [Component(1, -1)]                     # the estimate ranks 0.1 above MLP1
    fig = plots.exact_vs_estimate({"teacher": cmp})
    ax = fig.axes[0]
    sizes = [c.get_offsets().shape[0] for c in ax.collections]
    assert sizes == [2, 2, 1]                                   # outside, inside, ringed
    assert "ρ = " in ax.get_title()
    with pytest.raises(ValueError, match="no comparisons"):
        plots.exact_vs_estimate({})
