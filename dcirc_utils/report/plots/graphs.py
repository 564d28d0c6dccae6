"""A circuit as a graph of components and path-patching edges (notebook 02)."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt

from ._style import FIT_WIDTH_IN

__all__ = ["circuit_graph", "EDGE_PANELS"]


#: The receiving input of a path-patching edge, one panel each in :func:`circuit_graph` (kind → title, colour).
EDGE_PANELS = {"q": ("query input (q)", "tab:blue"), "k": ("key input (k)", "tab:green"),
               "v": ("value input (v)", "tab:red"), "mlp_in": ("MLP input and logits", "tab:purple"),
               "resid": ("MLP input and logits", "0.35")}


def circuit_graph(components: Sequence, edges: Sequence = (), n_layers: int | None = None, n_heads: int | None = None,
                  title: str = "", scores: Mapping | None = None, font_size: float = 10.0):
    """Draw a circuit as small multiples, one panel per receiving input (notebook 02).

    Layers run bottom to top (the y axis names them), heads are circles labelled with their head index (x = head
    index, so the circle in row 5 labelled 3 is head 5.3), MLPs squares in the column marked "MLP", the logits a
    square on the top row. With edges there are always four panels (an empty one says so, e.g. "no query edges among
    those drawn"); each holds the edges that enter one kind of input: a head's query, key or value, or an MLP's input
    and the final residual stream (the logits). Splitting by kind keeps the q, k and v arcs of one sender → receiver
    pair from covering each other, and keeps a 12 × 12 teacher readable. With ``scores`` (edge → score, Δl / clean
    Δl with only that path corrupted) an edge's width grows with its importance, 1 − score. The figure fits the
    notebook's display width, so its labels show at ``font_size`` points.

    Args:
        components: objects with ``layer``, ``head`` (−1 for an MLP) and ``str()`` (e.g. ``Component``).
        edges: objects with ``sender``, ``receiver`` (``None`` = final residual stream) and ``kind``
            (one of ``q``, ``k``, ``v``, ``mlp_in``, ``resid``).
        n_layers, n_heads: the model's size (for the layout; inferred from the components if omitted).
        title: the figure's title.
        scores: optional edge → score mapping for the line widths.
        font_size: points of the node labels and the legend.

    Raises:
        ValueError: for an edge whose kind is not one of :data:`EDGE_PANELS`.
    """
    import networkx as nx
    from matplotlib.lines import Line2D
    comps = list(components)
    n_layers = n_layers or (max(c.layer for c in comps) + 1 if comps else 1)
    n_heads = n_heads or (max((c.head for c in comps), default=0) + 1)
    pos = {str(c): ((n_heads + 0.5) if c.head < 0 else c.head, c.layer) for c in comps}
    pos["logits"] = ((n_heads + 0.5) / 2, n_layers)
    bad = sorted({e.kind for e in edges} - set(EDGE_PANELS))
    if bad:
        raise ValueError(f"edge kinds {bad} are not drawn; expected one of {sorted(EDGE_PANELS)}")
    panels: dict[str, list] = {}
    for e in edges:
        target = "logits" if e.receiver is None else str(e.receiver)
        if str(e.sender) in pos and target in pos:
            panels.setdefault(EDGE_PANELS[e.kind][0], []).append((str(e.sender), target, e))
    order = list(dict.fromkeys(t for t, _ in EDGE_PANELS.values()))     # q, k, v, MLP input and logits
    names = order if edges else ["circuit"]
    ncols = 1 if len(names) == 1 else 2
    nrows = -(-len(names) // ncols)
    pw = min(FIT_WIDTH_IN / ncols, 0.3 * n_heads + 1.9)
    ph = 0.36 * n_layers + 1.2
    legend_h = 0.75
    fig, axes = plt.subplots(nrows, ncols, figsize=(pw * ncols, ph * nrows + legend_h), squeeze=False)
    heads = [str(c) for c in comps if c.head >= 0]
    squares = [str(c) for c in comps if c.head < 0] + ["logits"]
    size_o, size_s = 300, 340                   # marker areas (pt²): a 17-pt circle holds a 10-pt "11"
    for ax, name in zip(axes.flat, names):
        g = nx.DiGraph()
        g.add_nodes_from(pos)
        for u, v, e in panels.get(name, []):
            g.add_edge(u, v, kind=e.kind, width=_edge_width(scores, e))
        for kind, (panel, colour) in EDGE_PANELS.items():
            el = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] == kind]
            if panel == name and el:
                nx.draw_networkx_edges(g, pos, edgelist=el, ax=ax, edge_color=colour, arrows=True,
                                       arrowsize=9, width=[g.edges[x]["width"] for x in el],
                                       connectionstyle="arc3,rad=0.12", node_size=size_o)
        nx.draw_networkx_nodes(g, pos, nodelist=heads, node_color="#f2c14e", node_size=size_o, ax=ax, node_shape="o",
                               edgecolors="0.35", linewidths=0.5)
        nx.draw_networkx_nodes(g, pos, nodelist=squares, node_color="#8ecae6", node_size=size_s, ax=ax,
                               node_shape="s", edgecolors="0.35", linewidths=0.5)
        nx.draw_networkx_labels(g, pos, labels={str(c): str(c.head) for c in comps if c.head >= 0},
                                font_size=font_size, ax=ax)
        n_in = len(panels.get(name, []))
        ax.set_title(name if not edges else f"→ {name}: " + (f"{n_in} edges" if n_in else "none drawn"), fontsize=11)
        ax.set_yticks(range(n_layers + 1), [str(l) for l in range(n_layers)] + ["logits"])
        ax.set_xticks([n_heads + 0.5], ["MLP"])
        ax.tick_params(left=True, labelleft=True, bottom=False, labelbottom=True)
        ax.set_ylabel("layer")
        ax.set_xlim(-0.8, n_heads + 1.3)
        ax.set_ylim(-0.7, n_layers + 0.7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    handles = [Line2D([], [], marker="o", ls="", color="#f2c14e", markersize=11, markeredgecolor="0.35",
                      label="head (label: head index)"),
               Line2D([], [], marker="s", ls="", color="#8ecae6", markersize=11, markeredgecolor="0.35",
                      label="MLP / logits")]
    handles += [Line2D([], [], color=colour, lw=2, label={"mlp_in": "→ MLP input", "resid": "→ logits"}.get(k, f"→ {k}"))
                for k, (_, colour) in EDGE_PANELS.items() if any(e.kind == k for e in edges)]
    if scores is not None and edges:
        handles.append(Line2D([], [], color="0.5", lw=3, label="width: 1 − edge score"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), frameon=False, fontsize=font_size)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_h / (ph * nrows + legend_h), 1, 1))
    return fig


def _edge_width(scores: Mapping | None, edge) -> float:
    """Line width of one edge in :func:`circuit_graph`: 1.0 without scores, else 0.6–3.0 by 1 − score."""
    if scores is None or edge not in scores:
        return 1.0
    return 0.6 + 2.4 * min(1.0, max(0.0, 1.0 - float(scores[edge])))
