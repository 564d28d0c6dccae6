"""Figures from plain arrays and dicts; no model access, so a figure can be redrawn from cached results.

Every function returns the matplotlib ``Figure`` (notebooks display it; tests may save it).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() == "agg" else None
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["logit_diff_hist", "bar_compare", "layer_head_heatmap", "circuit_graph"]


def logit_diff_hist(per_prompt: Mapping[str, Sequence[float]], title: str = "Δl per prompt"):
    """Overlaid histograms of per-prompt Δl, one per model (notebook 01)."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    values = [np.asarray(v) for v in per_prompt.values()]
    lo, hi = min(v.min() for v in values), max(v.max() for v in values)
    bins = np.linspace(min(lo, 0.0), hi, 30)
    for (name, v) in zip(per_prompt, values):
        ax.hist(v, bins=bins, alpha=0.55, label=f"{name} (mean {v.mean():.2f})")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("logit(correct) − logit(last element)")
    ax.set_ylabel("prompts")
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def bar_compare(labels: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str, title: str = "",
                hline: float | None = None):
    """Grouped bars: one group per label, one bar per series (notebooks 01, 05)."""
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(labels) + 2), 3.2))
    x = np.arange(len(labels))
    w = 0.8 / max(1, len(series))
    for k, (name, vals) in enumerate(series.items()):
        ax.bar(x + (k - (len(series) - 1) / 2) * w, vals, w, label=name)
    if hline is not None:
        ax.axhline(hline, color="k", lw=0.8, ls="--")
    ax.set_xticks(x, labels, rotation=0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def layer_head_heatmap(head_values, mlp_values=None, title: str = "", label: str = "", vmin=None, vmax=None,
                       cmap: str = "RdBu", ax_pair=None):
    """A layer × head heatmap (rows = layers, bottom = layer 0) with an optional MLP column (notebooks 02, 05).

    Args:
        head_values: ``[n_layers, n_heads]`` array.
        mlp_values: ``[n_layers]`` array shown as a separate column, or ``None``.
        vmin, vmax: colour limits (pass the same to several figures to put them on one scale).
    """
    head_values = np.asarray(head_values, dtype=float)
    n_layers, n_heads = head_values.shape
    if vmin is None or vmax is None:
        allv = np.concatenate([head_values.ravel()] + ([np.asarray(mlp_values, float)] if mlp_values is not None else []))
        m = float(np.nanmax(np.abs(allv))) or 1.0
        vmin, vmax = (-m if vmin is None else vmin), (m if vmax is None else vmax)
    if ax_pair is None:
        widths = [n_heads, 1.2] if mlp_values is not None else [n_heads]
        fig, axes = plt.subplots(1, len(widths), figsize=(0.45 * n_heads + 2.5, 0.35 * n_layers + 1.4),
                                 gridspec_kw={"width_ratios": widths}, squeeze=False)
        axes = axes[0]
    else:
        axes = ax_pair
        fig = axes[0].figure
    im = axes[0].imshow(head_values, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    axes[0].set_xlabel("head")
    axes[0].set_ylabel("layer")
    axes[0].set_xticks(range(n_heads))
    axes[0].set_yticks(range(n_layers))
    axes[0].set_title(title)
    if mlp_values is not None:
        axes[1].imshow(np.asarray(mlp_values, float)[:, None], origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
                       aspect="auto")
        axes[1].set_xticks([0], ["MLP"])
        axes[1].set_yticks(range(n_layers))
    fig.colorbar(im, ax=list(axes), label=label, shrink=0.9)
    return fig


def circuit_graph(components: Sequence, edges: Sequence = (), n_layers: int | None = None, n_heads: int | None = None,
                  title: str = "", ax=None):
    """Draw a circuit: layers bottom to top, heads as circles and MLPs as squares, edges as arrows (notebook 02).

    Args:
        components: objects with ``layer``, ``head`` (−1 for an MLP) and ``str()`` (e.g. ``Component``).
        edges: objects with ``sender``, ``receiver`` (``None`` = final residual stream) and ``kind``.
        n_layers, n_heads: the model's size (for the layout; inferred from the components if omitted).
    """
    import networkx as nx
    comps = list(components)
    n_layers = n_layers or (max(c.layer for c in comps) + 1 if comps else 1)
    n_heads = n_heads or (max((c.head for c in comps), default=0) + 1)
    g = nx.DiGraph()
    pos = {}
    for c in comps:
        g.add_node(str(c))
        x = (n_heads + 0.5) if c.head < 0 else c.head
        pos[str(c)] = (x, c.layer)
    g.add_node("logits")
    pos["logits"] = ((n_heads + 0.5) / 2, n_layers)
    for e in edges:
        target = "logits" if e.receiver is None else str(e.receiver)
        if str(e.sender) in pos and target in pos:
            g.add_edge(str(e.sender), target, kind=e.kind)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.55 * n_heads + 3.5, 0.55 * n_layers + 2))
    else:
        fig = ax.figure
    kinds = {"q": "tab:blue", "k": "tab:green", "v": "tab:red", "mlp_in": "tab:purple", "resid": "0.4"}
    for kind, colour in kinds.items():
        el = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] == kind]
        if el:
            nx.draw_networkx_edges(g, pos, edgelist=el, ax=ax, edge_color=colour, alpha=0.55, arrows=True,
                                   arrowsize=8, width=1.0, connectionstyle="arc3,rad=0.08", label=kind)
    heads = [str(c) for c in comps if c.head >= 0]
    mlps = [str(c) for c in comps if c.head < 0]
    nx.draw_networkx_nodes(g, pos, nodelist=heads, node_color="#f2c14e", node_size=420, ax=ax, node_shape="o")
    nx.draw_networkx_nodes(g, pos, nodelist=mlps + ["logits"], node_color="#8ecae6", node_size=520, ax=ax,
                           node_shape="s")
    nx.draw_networkx_labels(g, pos, font_size=7, ax=ax)
    ax.set_yticks(range(n_layers + 1), [str(l) for l in range(n_layers)] + ["out"])
    ax.tick_params(left=True, labelleft=True)
    ax.set_ylabel("layer")
    ax.set_xlim(-1, n_heads + 1.5)
    ax.set_ylim(-0.7, n_layers + 0.7)
    ax.set_title(title)
    if g.number_of_edges():
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig
