"""report/plots/graphs.py: a circuit drawn as one panel per receiving input."""
import pytest

from dcirc_utils.core.components import Component  # noqa: E402
from dcirc_utils.report import plots

pytestmark = pytest.mark.usefixtures("close_figures")


def _edge(sender, receiver, kind):
    from dcirc_utils.methods.discovery import Edge
    return Edge(sender, receiver, kind)


def test_circuit_graph_one_panel_per_input_kind_with_a_legend():
    comps = [Component(0, 1), Component(1, 0), Component(1, -1), Component(2, 2)]
    s, r = Component(0, 1), Component(2, 2)
    edges = [_edge(s, r, "q"), _edge(s, r, "k"), _edge(s, r, "v"), _edge(Component(1, -1), None, "resid")]
    scores = {edges[0]: 0.1, edges[1]: 0.7, edges[2]: 0.5, edges[3]: 0.3}
    fig = plots.circuit_graph(comps, edges, 3, 3, title="t", scores=scores)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    titles = [ax.get_title() for ax in panels]
    assert titles == ["→ query input (q): 1 edges", "→ key input (k): 1 edges", "→ value input (v): 1 edges",
                      "→ MLP input and logits: 1 edges"]
    # the q, k and v edges of the same sender → receiver pair sit in different panels, each drawn (one arrow each)
    arrows = [len(ax.patches) for ax in panels]
    assert arrows == [1, 1, 1, 1]
    widths = [ax.patches[0].get_linewidth() for ax in panels[:3]]
    assert widths[0] > widths[2] > widths[1]                        # width grows with 1 − score
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"→ q", "→ k", "→ v", "→ logits", "width: 1 − edge score"} <= set(labels)
    assert "→ MLP input" not in labels                               # only kinds that occur get a legend entry
    no_q = plots.circuit_graph(comps, edges[1:], 3, 3)
    assert [ax.get_title() for ax in no_q.axes if ax.get_visible()][0] == "→ query input (q): none drawn"
    bare = plots.circuit_graph(comps)
    assert len([ax for ax in bare.axes if ax.get_visible()]) == 1
    with pytest.raises(ValueError, match="not drawn"):
        plots.circuit_graph(comps, [_edge(s, r, "o")], 3, 3)
