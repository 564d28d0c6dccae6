"""report/plots/scatters.py: the exact effect against its first-order estimate; A against robustness with its fit."""
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


def test_scatter_panels_fit_is_the_least_squares_line_with_a_band_from_a_bootstrap_over_units():
    import numpy as np
    rng = np.random.default_rng(1)
    points = [{"pair": f"p{i // 3}", "layers": 3 + 3 * (i // 6), "A": 0.8 + 0.01 * i + float(rng.normal(0, 0.01)),
               "r": 0.5 + 0.02 * i + float(rng.normal(0, 0.05)), "v": float(rng.normal(5, 1))} for i in range(12)]
    points.append({"pair": "p4", "layers": 9, "A": 0.9, "r": float("nan"), "v": None})      # left out of the fit
    fig = plots.scatter_panels(points, "A", {"r": "robustness", "v": "value"}, group="layers", fit=True,
                               units="pair")
    assert len(fig.axes) == 2                                          # the same axes as without a fit
    for ax, key in zip(fig.axes, ("r", "v")):
        use = [p for p in points if p[key] is not None and np.isfinite(p[key])]
        x, y = np.array([p["A"] for p in use]), np.array([p[key] for p in use])
        slope, intercept = np.polyfit(x, y, 1)
        [line] = ax.lines
        np.testing.assert_allclose(line.get_ydata(), slope * line.get_xdata() + intercept, atol=1e-9)
        assert line.get_xdata().min() == pytest.approx(x.min()) and line.get_xdata().max() == pytest.approx(x.max())
        verts = _band(ax)
        low, high = verts[:, 1].min(), verts[:, 1].max()
        assert low < line.get_ydata().min() and high > line.get_ydata().max()   # the band holds the line
    legend = fig.axes[-1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["least-squares fit, 95% band"]
    again = plots.scatter_panels(points, "A", {"r": "robustness"}, group="layers", fit=True, units="pair")
    np.testing.assert_array_equal(_band(again.axes[0]), _band(fig.axes[0]))             # the bootstrap is seeded
    some = plots.scatter_panels(points, "A", {"r": "robustness", "v": "value"}, group="layers", fit=["r"])
    assert [len(ax.lines) for ax in some.axes] == [1, 0]                # a fit only where asked
    assert some.axes[-1].get_legend() is not None and some.axes[0].get_legend() is None   # said once, at the end
    with pytest.raises(ValueError, match="not among the panels"):
        plots.scatter_panels(points, "A", {"r": "robustness"}, group="layers", fit=["v"])
    plain = plots.scatter_panels(points, "A", {"r": "robustness"}, group="layers")
    assert len(plain.axes[0].lines) == 0 and plain.axes[0].get_legend() is None          # no fit unless asked
    with pytest.raises(ValueError, match="no 'model'"):
        plots.scatter_panels(points, "A", {"r": "robustness"}, group="layers", fit=True, units="model")


def _band(ax):
    """The vertices of the fit's confidence band: the one collection drawn under the points."""
    [band] = [c for c in ax.collections if c.get_zorder() < 1]
    return band.get_paths()[0].vertices
