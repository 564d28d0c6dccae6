"""Figures from plain arrays and dicts; no model access, so a figure can be redrawn from cached results.

Every function returns the matplotlib ``Figure`` (notebooks display it; tests may save it).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() == "agg" else None
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..methods.concentration import gini, lorenz_curve  # noqa: E402
from .readability import (DISPLAY_WIDTH_IN, NOTEBOOK_RC, figure_readability_problems,  # noqa: E402
                          mark_cut_axis)

__all__ = ["logit_diff_hist", "bar_compare", "layer_head_heatmap", "circuit_graph", "EDGE_PANELS",
           "figure_readability_problems", "mark_cut_axis", "NOTEBOOK_RC", "clipped_limit"]

#: Figures are sized to fit this width (inches) with their legends and colour bars, so that Jupyter shows them at
#: their natural size and no text shrinks below the course's 10 pt (see :mod:`dcirc_utils.report.readability`).
FIT_WIDTH_IN = DISPLAY_WIDTH_IN - 0.3


def clipped_limit(values, percentile: float = 95.0) -> float:
    """The symmetric colour limit that clips ``values`` at the ``percentile``-th percentile of their magnitudes
    (finite values only; 1.0 when there are none or all are 0). When that percentile is 0 but some value is not (most
    values are 0), it returns the largest magnitude: nothing is clipped then, and a caller that says "clipped"
    should check ``limit < max |value|`` first. Pass ``±`` it as ``vmin``/``vmax`` to put several figures on one
    clipped scale; :func:`layer_head_heatmaps` writes the value of every clipped cell in it."""
    v = np.abs(np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float).ravel())
    v = v[np.isfinite(v)]
    lim = float(np.percentile(v, percentile)) if v.size else 0.0
    return lim if lim > 0 else (float(v.max()) if v.size and v.max() > 0 else 1.0)


def _extend(values, vmin: float, vmax: float) -> str:
    """The colour bar's ``extend`` for values beyond ``[vmin, vmax]``: 'neither', 'min', 'max' or 'both'."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    low, high = bool((v < vmin).any()), bool((v > vmax).any())
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get((low, high), "both")


def _annotate_beyond(ax, values, vmin: float, vmax: float, im, fmt: str | None = None, fontsize: float = 10,
                     column: int | None = None) -> int:
    """Write its value in every cell of ``values`` (rows = y, columns = x, as drawn by ``imshow``) that lies beyond the
    colour limits, in black or white by the cell's colour; ``column`` draws a 1-D ``values`` as one column. ``fmt``
    defaults to two significant digits (no decimal from 10 up, one from 1, two from 0.1, ...), with more decimals
    where the rounded value would read as 0 or as one inside the limits. Returns how many cells were written."""
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    n = 0
    for (r, c), x in np.ndenumerate(v):
        if np.isfinite(x) and (x < vmin or x > vmax):
            if fmt is None:
                decimals = max(0, 1 - int(math.floor(math.log10(max(abs(x), 1e-12)))))
                edge = vmax if x > vmax else vmin
                while decimals < 8 and (round(x, decimals) == 0 or (x > vmax and round(x, decimals) <= edge)
                                        or (x < vmin and round(x, decimals) >= edge)):
                    decimals += 1
                text = f"{x:.{decimals}f}"
            else:
                text = fmt.format(x)
            ax.text(c if column is None else column, r, text.replace("-", "−"), ha="center", va="center",
                    fontsize=fontsize, fontweight="bold", color=text_colour_on(im.cmap(im.norm(x))))
            n += 1
    return n


def logit_diff_hist(per_prompt: Mapping[str, Sequence[float]], title: str = "Δl per prompt",
                    figsize: tuple[float, float] = (6, 3.2)):
    """Overlaid histograms of per-prompt Δl, one per model (notebook 01; ``figsize`` in inches)."""
    fig, ax = plt.subplots(figsize=figsize)
    values = [np.asarray(v) for v in per_prompt.values()]
    lo, hi = min(v.min() for v in values), max(v.max() for v in values)
    bins = np.linspace(min(lo, 0.0), hi, 30)
    for (name, v) in zip(per_prompt, values):
        ax.hist(v, bins=bins, alpha=0.55, label=f"{name} (mean {v.mean():.2f})")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("logit(correct) − logit(last element)")
    ax.set_ylabel("prompts")
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))        # beside the bars, not on them
    fig.tight_layout()
    return fig


def bar_compare(labels: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str, title: str = "",
                hline: float | None = None, figsize: tuple[float, float] | None = None):
    """Grouped bars: one group per label, one bar per series (notebooks 01, 05; ``figsize`` in inches, default at
    most the notebook's display width)."""
    fig, ax = plt.subplots(figsize=figsize or (min(FIT_WIDTH_IN, max(5, 0.9 * len(labels) + 2)), 3.2))
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


# --------------------------------------------------------------------------------------------- notebooks 03 and 04
def text_colour_on(rgba) -> str:
    """Black or white, whichever contrasts more with a cell of colour ``rgba`` (relative luminance, WCAG)."""
    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(float(x)) for x in rgba[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "white"


def heatmap(matrix, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
            title: str = "", cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None,
            center: float | None = None, annotate: bool = False, fmt: str = ".2f", xlabel: str = "",
            ylabel: str = "", colorbar_label: str = "", figsize: tuple[float, float] | None = None):
    """One annotated heatmap of a 2-D array (notebooks 03, 04: head scores, similarity matrices, OV maps).

    ``center`` makes the colour scale symmetric around it (use with a diverging ``cmap`` such as ``"RdBu_r"``).
    ``figsize`` (inches) overrides the size chosen from the matrix shape (a smaller figure keeps the notebook small).

    Raises:
        ValueError: unless ``matrix`` is 2-D and the label counts match its shape.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D array, got shape {m.shape}")
    if row_labels is not None and len(row_labels) != m.shape[0]:
        raise ValueError(f"{len(row_labels)} row labels for {m.shape[0]} rows")
    if col_labels is not None and len(col_labels) != m.shape[1]:
        raise ValueError(f"{len(col_labels)} column labels for {m.shape[1]} columns")
    if center is not None:
        span = np.nanmax(np.abs(m - center)) if np.isfinite(m).any() else 1.0
        vmin, vmax = center - span, center + span
    # capped at the display width x 10 inches, so that a GPT-2-sized matrix (72 student x 144 teacher heads) stays a
    # sane PNG that Jupyter does not shrink (its tick labels are thinned instead)
    fig, ax = plt.subplots(figsize=figsize or (min(FIT_WIDTH_IN - 0.4, max(3.5, 0.45 * m.shape[1] + 2)),
                                               min(10.0, max(2.5, 0.35 * m.shape[0] + 1.2))))
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    # a label every ``step`` rows/columns, so that ticks stay ≥ 10 pt and apart (a 72 × 144 matrix labels every 6th)
    w_in, h_in = fig.get_size_inches()
    longest = max(map(len, map(str, col_labels if col_labels is not None else [m.shape[1] - 1])), default=1)
    rotated = col_labels is not None and longest > 3
    xstep = max(1, math.ceil(m.shape[1] * (0.17 if rotated else 0.085 * longest + 0.06) / max(0.5, 0.8 * w_in - 1.5)))
    ystep = max(1, math.ceil(m.shape[0] * 0.17 / max(0.5, 0.8 * h_in - 0.6)))
    xt, yt = np.arange(0, m.shape[1], xstep), np.arange(0, m.shape[0], ystep)
    xl = [col_labels[i] for i in xt] if col_labels is not None else xt
    yl = [row_labels[i] for i in yt] if row_labels is not None else yt
    ax.set_xticks(xt, xl, rotation=90 if rotated else 0)
    ax.set_yticks(yt, yl)
    if annotate:
        for (r, c), v in np.ndenumerate(m):
            if np.isfinite(v):
                ax.text(c, r, format(v, fmt).replace("-", "−"), ha="center", va="center", fontsize=10,
                        color=text_colour_on(im.cmap(im.norm(v))))
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if colorbar_label:
        cb.set_label(colorbar_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def head_scores_grid(scores: Mapping[str, object], title: str = "", cmap: str = "viridis",
                     vmin: float | None = None, vmax: float | None = None, ncols: int | None = None):
    """One layer × head heatmap per role score, on one colour scale (notebooks 03 and 07; input:
    ``heads.head_role_scores``).

    All panels share one colour scale and one colour bar, so that a 0.2 looks like a 0.2 in every panel. By default
    it runs from min(0, smallest score) to the largest score over all panels; pass ``vmin``/``vmax`` to put several
    figures (a teacher's and a student's) on the same scale. Panels wrap after ``ncols`` (default: all in one row up
    to three, else three per row), so that the figure fits the notebook's width at its natural size.

    Raises:
        ValueError: for empty ``scores`` or panels of different shapes.
    """
    items = [(k, np.asarray(v, dtype=float)) for k, v in scores.items()]
    if not items:
        raise ValueError("scores is empty: pass {role: [n_layers, n_heads] array}")
    if len({m.shape for _, m in items}) > 1:
        raise ValueError(f"role scores of different shapes {[m.shape for _, m in items]}: pass one model's scores")
    finite = np.concatenate([m[np.isfinite(m)] for _, m in items])
    lo = vmin if vmin is not None else min(0.0, float(finite.min()) if finite.size else 0.0)
    hi = vmax if vmax is not None else max(lo + 1e-9, float(finite.max()) if finite.size else 1.0)
    ncols = ncols or (len(items) if len(items) <= 3 else 3)
    nrows = -(-len(items) // ncols)
    n_layers, n_heads = items[0][1].shape
    panel_w = min((FIT_WIDTH_IN - 1.5) / ncols, max(1.8, 0.24 * n_heads + 0.3))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols + 1.3, nrows * (0.24 * n_layers + 1.1) + 0.5),
                             squeeze=False, sharey=True)
    im = None
    for ax, (role, m) in zip(axes.flat, items):
        im = ax.imshow(m, cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
        ax.set_title(role, fontsize=11)
        crowded = panel_w / n_heads < 0.25                      # then every other head is labelled
        ax.set_xticks(np.arange(n_heads), [str(h) if not crowded or h % 2 == 0 else "" for h in range(n_heads)])
        ax.set_yticks(np.arange(m.shape[0]))
    for ax in axes.flat[len(items):]:
        ax.set_visible(False)
    for r in range(nrows):
        axes[r][0].set_ylabel("layer")
    for c in range(ncols):                      # the lowest drawn panel of each column names its axis
        drawn = [r for r in range(nrows) if r * ncols + c < len(items)]
        if drawn:
            axes[drawn[-1]][c].set_xlabel("head")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.colorbar(im, ax=[ax for ax in axes.flat if ax.get_visible()], fraction=0.025 * max(1, 3 / ncols), pad=0.02,
                 label="score")
    return fig


def attention_grid(patterns: Mapping[str, object], token_labels: Sequence[str] | None = None, ncols: int = 4,
                   title: str = "", panel_size: float | None = None, gamma: float = 0.5,
                   clip_percentile: float | None = None):
    """Attention patterns (query rows × key columns), one panel per head, on one colour scale with one colour bar
    (notebook 03).

    Mean patterns are pale on a linear scale (most weight sits on a few keys, the rest spreads thin), so the colour
    follows weight ** ``gamma`` (default 0.5, a square root: 0.04 shows as 0.2 of the scale), and the colour bar's
    label says so; ``gamma=1`` is linear. ``clip_percentile`` ends the scale at that percentile of the weights
    instead of at 1 (larger weights show the darkest colour; the label says so).

    Args:
        patterns: panel title (e.g. ``"T 4.3"``) → ``[q, k]`` array (a batch-mean pattern).
        token_labels: tokens of one prompt, used as tick labels on both axes.
        ncols: panels per row.
        panel_size: inches per panel (default 2.8, or 4.5 with token labels); the colour bar takes its room from the
            panels, so the figure is ``panel_size`` × the grid.
        gamma: the colour scale's exponent (weights are shown as weight ** gamma).
        clip_percentile: end the colour scale at this percentile of all weights (default: at 1).
    """
    from matplotlib.colors import PowerNorm
    items = [(k, np.asarray(v, dtype=float)) for k, v in patterns.items()]
    if not items:
        raise ValueError("patterns is empty: pass {label: [q, k] array}")
    nrows = -(-len(items) // ncols)
    ncols = min(ncols, len(items))
    size = panel_size or (2.8 if token_labels is None else 4.5)
    allw = np.concatenate([m[np.isfinite(m)].ravel() for _, m in items])
    vmax = 1.0
    if clip_percentile is not None and allw.size:
        vmax = max(1e-6, float(np.percentile(allw, clip_percentile)))
    norm = PowerNorm(gamma=gamma, vmin=0.0, vmax=vmax)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat[len(items):]:
        ax.axis("off")
    im = None
    for k, (ax, (name, m)) in enumerate(zip(axes.flat, items)):
        im = ax.imshow(m, cmap="Blues", norm=norm)
        ax.set_title(name, fontsize=11)
        row, col = divmod(k, ncols)
        if token_labels is not None:
            ticks = np.arange(len(token_labels))
            ax.set_xticks(ticks, token_labels, rotation=90)
            ax.set_yticks(ticks, token_labels if col == 0 else [""] * len(ticks))
        else:
            ax.tick_params(labelleft=col == 0)
        if row == nrows - 1 or k + ncols >= len(items):
            ax.set_xlabel("key")
        if col == 0:
            ax.set_ylabel("query")
    if title:
        fig.suptitle(title)
    bar_in = 1.05                               # the colour bar, its ticks and its two-line label
    fig.tight_layout(rect=(0, 0, 1 - bar_in / (size * ncols), 1))
    # one colour bar for every panel, right of the grid; an inset of the top-right panel, so that fig.axes stays
    # the panels
    top, bottom = axes[0, -1].get_position(), axes[-1, -1].get_position()
    left = top.x1 + 0.15 / (size * ncols)
    cax = axes[0, -1].inset_axes([(left - top.x0) / top.width, (bottom.y0 - top.y0) / top.height,
                                  0.14 / (size * ncols) / top.width, (top.y1 - bottom.y0) / top.height])
    how = "√weight" if gamma == 0.5 else ("weight" if gamma == 1 else f"weight^{gamma:g}")
    label = f"attention weight\n(colour ∝ {how}"
    label += f"; clipped at {vmax:.2g}, the {_ordinal(clip_percentile)} percentile)" if clip_percentile is not None \
        else ")"
    fig.colorbar(im, cax=cax, label=label, extend="max" if vmax < float(allw.max(initial=0.0)) else "neither")
    return fig


def by_position(series: Mapping[str, Sequence[float]], token_labels: Sequence[str] | None = None,
                ylabel: str = "", title: str = "", hline: float | None = 0.0,
                figsize: tuple[float, float] | None = None, dashed: Sequence[str] = (),
                legend_outside: bool = False, small_multiples: bool = False, ncols: int = 2):
    """One line per series over token positions (notebook 04: cosine per position, logit-difference contributions).

    ``figsize`` (inches) overrides the width chosen from the number of positions (a smaller figure keeps the
    notebook small). Series named in ``dashed`` are drawn dashed (e.g. notebook 04's dropped-layer pairs); more than
    ten series take their colours from ``tab20`` so that no two share one. ``legend_outside`` puts the legend right
    of the axes, off the data.

    ``small_multiples`` draws one panel per series instead (``ncols`` per row, shared axes, the series' name as the
    panel's title), so that a dozen series do not hide each other; solid series are dark blue, dashed ones dark
    orange and dashed."""
    if small_multiples:
        return _by_position_panels(series, token_labels, ylabel, title, hline, figsize, dashed, ncols)
    fig, ax = plt.subplots(figsize=figsize or (max(5, 0.32 * max(len(v) for v in series.values()) + 2), 3.2))
    colours = plt.cm.tab20.colors if len(series) > 10 else plt.cm.tab10.colors
    for k, (name, vals) in enumerate(series.items()):
        ax.plot(np.arange(len(vals)), np.asarray(vals, dtype=float), marker="o", ms=3, label=name,
                color=colours[k % len(colours)], ls="--" if name in dashed else "-")
    if hline is not None:
        ax.axhline(hline, color="k", lw=0.8)
    if token_labels is not None:
        ax.set_xticks(np.arange(len(token_labels)), token_labels, rotation=90)
    else:
        ax.set_xlabel("position")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend_outside:
        ax.legend(frameon=False, fontsize=10, loc="center left", bbox_to_anchor=(1.0, 0.5))
    else:
        ax.legend(frameon=False, fontsize=10)
    fig.tight_layout()
    return fig


def _by_position_panels(series, token_labels, ylabel, title, hline, figsize, dashed, ncols):
    """:func:`by_position` as small multiples: one panel per series, shared x and y axes."""
    from matplotlib.ticker import MaxNLocator
    names = list(series)
    ncols = max(1, min(ncols, len(names)))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False,
                             figsize=figsize or (FIT_WIDTH_IN,
                                                 1.2 * nrows + (1.5 if token_labels is not None else 1.0)))
    for k, name in enumerate(names):
        ax = axes.flat[k]
        vals = np.asarray(series[name], dtype=float)
        dash = name in dashed
        ax.plot(np.arange(len(vals)), vals, marker="o", ms=3, lw=1.6, color="#c05600" if dash else "#1f4e9c",
                ls="--" if dash else "-")
        if hline is not None:
            ax.axhline(hline, color="0.4", lw=0.8)
        ax.set_title(name, loc="left", fontsize=11, pad=3)
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.grid(axis="y", color="0.9", lw=0.8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for c in range(ncols):                       # the lowest drawn panel of each column carries the positions
        drawn = [r for r in range(nrows) if r * ncols + c < len(names)]
        if not drawn:
            continue
        ax = axes[drawn[-1]][c]
        ax.tick_params(labelbottom=True)
        if token_labels is not None:
            ax.set_xticks(np.arange(len(token_labels)), token_labels, rotation=90)
        else:
            ax.set_xlabel("position")
    if ylabel:
        fig.supylabel(ylabel)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def merge_test_bars(rows: Sequence[Mapping], title: str = "", margin: float | None = None):
    """Held-out R² from each teacher MLP alone and from the pair, one group per pair (notebook 04; input:
    ``mlps.merge_test`` rows). Pairs flagged as a merge are starred; with ``margin`` the claim rule is written under
    the axes (not on the bars)."""
    labels = [("★ " if r.get("claim") else "") + str(r["label"]) for r in rows]
    series = {"first alone": [r["r2_first"] for r in rows], "second alone": [r["r2_second"] for r in rows],
              "pair": [r["r2_pair"] for r in rows]}
    fig = bar_compare(labels, series, "held-out R²", title,
                      figsize=(min(FIT_WIDTH_IN, max(5.0, 0.75 * len(labels) + 1.5)), 3.6 if margin is None else 3.9))
    ax = fig.axes[0]
    ax.legend(frameon=False, loc="upper left", ncol=3)
    ax.set_ylim(top=max(1.0, ax.get_ylim()[1]) * 1.12)             # room for the legend above the bars
    if any(len(x) > 5 for x in labels):
        ax.tick_params(axis="x", labelrotation=30)
        for t in ax.get_xticklabels():
            t.set_ha("right")
            t.set_rotation_mode("anchor")
    if margin is not None:
        note = (f"★ merge claimed when the pair's R² exceeds its better member's by ≥ {margin:g} "
                "(and is positive)")
        ax.annotate(note, (0.0, 0.0), xycoords="figure fraction", xytext=(6, 4), textcoords="offset points",
                    fontsize=10, ha="left", va="bottom", color="0.25")
        fig.tight_layout(rect=(0, 0.07, 1, 1))
    else:
        fig.tight_layout()
    return fig


def attention_view(token_labels: Sequence[str], patterns, head_names: Sequence[str] | None = None,
                   decimals: int = 3):
    """An interactive circuitsvis view of attention patterns (notebook 03's one interactive cell).

    ``circuitsvis.attention.attention_heads`` renders either with its JavaScript bundle inlined (about 1.3 MB, what
    it chooses when the kernel is offline) or loading the bundle from the unpkg CDN (a few kB). This returns the
    CDN form, so the saved notebook stays small; the view appears when the notebook is opened with internet
    access (a static heatmap of the same heads sits next to it for offline readers). Values are rounded to
    ``decimals`` to keep the embedded data short.

    Args:
        token_labels: the prompt's tokens (``tasks.token_strings``).
        patterns: ``[head, q, k]`` (or ``[q, k]`` for one head) attention pattern of that prompt.
        head_names: one name per head (e.g. ``["T 0.1", "S 0.1"]``).

    Returns:
        an ``IPython.display.HTML`` object.

    Raises:
        ValueError: if the pattern's size does not match the tokens, or the names the heads.
    """
    import circuitsvis
    from IPython.display import HTML
    p = np.asarray(patterns, dtype=float)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3 or p.shape[1] != len(token_labels) or p.shape[2] != len(token_labels):
        raise ValueError(f"patterns of shape {p.shape} do not fit {len(token_labels)} tokens: pass [head, q, k] of "
                         "one prompt")
    if head_names is not None and len(head_names) != p.shape[0]:
        raise ValueError(f"{len(head_names)} head names for {p.shape[0]} heads")
    view = circuitsvis.attention.attention_heads(attention=np.round(p, decimals).tolist(),
                                                 tokens=[str(t) for t in token_labels],
                                                 attention_head_names=list(head_names) if head_names else None)
    return HTML(view.cdn_src)


__all__ += ["heatmap", "text_colour_on", "head_scores_grid", "attention_grid", "by_position", "merge_test_bars", "attention_view"]


# --------------------------------------------------------------------------------------------- brittleness, alignment
def sensitivity_scatter(rows: Sequence, threshold: float = 2.0, title: str = "Removal drops: student vs teacher",
                        figsize: tuple[float, float] = (4.6, 4.2), min_drop: float | None = None):
    """|Drop| of each student component against its teacher counterpart's, with the line ``student = threshold ×
    teacher`` and the floor ``|student drop| = min_drop`` (notebook 05; input: ``brittleness.sensitivity_ratios``
    rows; ``figsize`` in inches).

    A point is flagged, and labelled ``student/teacher``, exactly when the rule flags it: its row is flagged (ratio
    above the threshold) *and* substantive (``brittleness.is_substantive``: a finite ratio and a student drop of at
    least ``min_drop``, default ``brittleness.SUBSTANTIVE_DROP_PP``). The area under the floor is shaded; the axes
    end just past the data, and the labels are placed where they cover no other label.
    """
    from ..methods.brittleness import SUBSTANTIVE_DROP_PP, is_substantive
    min_drop = SUBSTANTIVE_DROP_PP if min_drop is None else float(min_drop)
    pts = [r for r in rows if np.isfinite(r.teacher_drop) and np.isfinite(r.student_drop)]
    fig, ax = plt.subplots(figsize=figsize)
    if not pts:
        ax.text(0.5, 0.5, "no matched pair has both drops", ha="center", transform=ax.transAxes)
        return fig
    t = np.array([abs(r.teacher_drop) for r in pts])
    s = np.array([abs(r.student_drop) for r in pts])
    # the rule drawn is the rule flagged: above this figure's threshold line and substantive
    flagged = np.array([bool(math.isfinite(r.ratio) and r.ratio > threshold) and is_substantive(r, min_drop)
                        for r in pts])
    xmax = float(max(t.max(), 1e-9)) * 1.08
    ymax = float(max(s.max(), min_drop, 1e-9)) * 1.08
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, ymax)
    ax.axhspan(0, min_drop, color="0.93", lw=0, zorder=0,
               label=f"student drop < {min_drop:g} pp: not flagged")
    ax.axhline(min_drop, color="0.55", lw=0.8, ls=":", zorder=1)
    ax.plot([0, min(xmax, ymax)], [0, min(xmax, ymax)], color="0.5", lw=1, label="equal")
    ax.plot([0, min(xmax, ymax / threshold)], [0, threshold * min(xmax, ymax / threshold)], color="C3", lw=1,
            ls="--", label=f"student = {threshold:g} × teacher")
    ax.scatter(t[~flagged], s[~flagged], s=24, color="C0", label="matched pair", zorder=3)
    ax.scatter(t[flagged], s[flagged], s=40, color="C3", label=f"flagged: > {threshold:g} ×, ≥ {min_drop:g} pp",
               zorder=3)
    ax.set_xlabel("|teacher drop| (pp of clean Δl)")
    ax.set_ylabel("|student drop| (pp of clean Δl)")
    ax.set_title(title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    line_x = np.linspace(0, 1, 60)
    avoid = list(zip(t, s)) + [(x * min(xmax, ymax), x * min(xmax, ymax)) for x in line_x] + \
        [(x * min(xmax, ymax / threshold), threshold * x * min(xmax, ymax / threshold)) for x in line_x]
    legend = _legend_clear_of(ax, avoid, fontsize=10)
    flagged_labels = [(x, y, f"{r.student}/{r.teacher}") for r, x, y, f in zip(pts, t, s, flagged) if f]
    _place_labels(ax, flagged_labels, list(zip(t, s)), avoid_boxes=[legend.get_window_extent()])
    return fig


def _legend_clear_of(ax, points: Sequence[tuple[float, float]], **kw):
    """The axes' legend at the first of a few corners where it covers the fewest of ``points`` (data coordinates;
    deterministic, unlike ``loc="best"``, which also ignores where a straight line passes between its ends)."""
    renderer = ax.figure.canvas.get_renderer()
    pix = ax.transData.transform(np.asarray(points, float).reshape(-1, 2)) if len(points) else np.empty((0, 2))
    best, best_n = None, None
    for loc in ("lower right", "upper left", "center right", "upper right", "lower center", "center left"):
        legend = ax.legend(loc=loc, framealpha=0.9, edgecolor="none", **kw)
        box = legend.get_window_extent(renderer)
        n = int(sum(box.contains(px, py) for px, py in pix))
        if best_n is None or n < best_n:
            best, best_n = loc, n
        if n == 0:
            break
    return ax.legend(loc=best, framealpha=0.9, edgecolor="none", **kw)


def _place_labels(ax, labels: Sequence[tuple[float, float, str]], points: Sequence[tuple[float, float]] = (),
                  fontsize: float = 10, avoid_boxes: Sequence = ()) -> None:
    """Annotate each ``(x, y, text)`` at the first free place around its point: eight directions at growing
    distances (a thin leader line joins a label set further off), free meaning inside the axes, over no label placed
    before it, no box of ``avoid_boxes`` (display coordinates, e.g. the legend) and no point of ``points``.
    Deterministic; when no place is free, the nearest one is used."""
    directions = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    rings = (6, 16, 28, 42, 58)
    renderer = ax.figure.canvas.get_renderer()
    placed = list(avoid_boxes)
    pix = [ax.transData.transform(p) for p in points]
    frame = ax.get_window_extent(renderer)
    for x, y, text in labels:
        here = ax.transData.transform((x, y))
        others = [(px, py) for px, py in pix if abs(px - here[0]) > 0.5 or abs(py - here[1]) > 0.5]
        chosen = None
        for r in rings:
            for ux, uy in directions:
                dx, dy = ux * r, uy * r
                ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                                  ha="left" if ux > 0 else ("right" if ux < 0 else "center"),
                                  va="bottom" if uy > 0 else ("top" if uy < 0 else "center"),
                                  arrowprops=dict(arrowstyle="-", color="0.5", lw=0.6, shrinkA=0, shrinkB=3)
                                  if r > 16 else None)
                box = _text_extent(ann, renderer).expanded(1.04, 1.1)
                inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                if inside and not any(box.overlaps(b) for b in placed) and \
                        not any(box.contains(px, py) for px, py in others):
                    chosen = ann
                    break
                ann.remove()
            if chosen is not None:
                break
        if chosen is None:
            chosen = ax.annotate(text, (x, y), xytext=(6, 6), textcoords="offset points", fontsize=fontsize)
        placed.append(_text_extent(chosen, renderer))


def _text_extent(annotation, renderer=None):
    """The box of an annotation's text alone (``Annotation.get_window_extent`` includes its leader line)."""
    from matplotlib.text import Text
    renderer = renderer or annotation.figure.canvas.get_renderer()
    annotation.update_positions(renderer)
    return Text.get_window_extent(annotation, renderer)


def concentration_curve(influences: Mapping[str, Sequence[float]], title: str = "How concentrated is influence?",
                        figsize: tuple[float, float] = (4.8, 3.4)):
    """Cumulative share of influence held by the top-k components, one curve per model, x as the fraction of the
    model's components; the legend gives each Gini coefficient (notebook 05; input: influence values; ``figsize``
    in inches)."""
    fig, ax = plt.subplots(figsize=figsize)
    for name, vals in influences.items():
        v = np.abs(np.asarray(list(vals.values()) if isinstance(vals, Mapping) else vals, float))
        if v.sum() <= 0:
            continue
        frac, cum = lorenz_curve(v)
        ax.plot(frac, cum, marker="o", ms=2.5, label=f"{name} (Gini {gini(v):.2f}, top-1 {cum[1]:.0%})")
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="uniform")
    ax.set_xlabel("fraction of components (most influential first)")
    ax.set_ylabel("share of total influence")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=10)
    fig.tight_layout()
    return fig


def noise_curve(stats: Sequence[Mapping], fit=None, ylabel: str = "alignment A", title: str = "A under weight noise",
                reference: float | None = None):
    """Mean ± std of a metric per noise level (symlog x axis, so that level 0 shows), with an optional fitted curve
    and its plateau (notebook 06; input: ``noise.mean_std`` rows and ``alignment.fit_inverse_log_decay``)."""
    levels = np.array([r["level"] for r in stats], float)
    mean = np.array([r["mean"] for r in stats], float)
    std = np.array([r["std"] for r in stats], float)
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.errorbar(levels, mean, yerr=std, marker="o", ms=4, capsize=3, lw=1, label="mean ± std over seeds")
    positive = levels[levels > 0]
    if fit is not None:
        hi = levels.max() if levels.size else 1.0
        lo = positive.min() if positive.size else hi / 100
        xs = np.concatenate([[0.0], np.geomspace(lo / 3, hi * 3, 200)])
        ax.plot(xs, fit(xs), color="C1", lw=1, label=f"fit: plateau {fit.plateau:.2f}")
        ax.axhline(fit.plateau, color="C1", lw=0.8, ls=":")
    if reference is not None:
        ax.axhline(reference, color="0.5", lw=0.8, ls="--", label=f"reference {reference:g}")
    if positive.size:
        ax.set_xscale("symlog", linthresh=float(positive.min()))
        ax.set_xlim(left=-0.25 * float(positive.min()))
    ax.set_xlabel("noise level σ (× each weight's std)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=10)
    fig.tight_layout()
    return fig


__all__ += ["sensitivity_scatter", "concentration_curve", "noise_curve"]


# --------------------------------------------------------------------------------------------- notebooks 01, 02, 09
def grouped_bars(labels: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str, title: str = "",
                 hline: float | None = None, ylim: tuple[float, float] | None = None, rotation: float = 30,
                 figsize: tuple[float, float] | None = None, value_format: str | None = None):
    """Grouped bars sized for a projector: one group per label, one bar per series, the legend outside the axes
    (notebooks 01, 02, 09).

    Args:
        labels: the groups (x axis).
        series: name → one value per label (``nan`` draws no bar).
        ylabel, title: axis label and title.
        hline: a dashed reference line (e.g. a target accuracy).
        ylim: y limits (default: matplotlib's).
        rotation: tick-label rotation in degrees (long labels need some).
        figsize: inches; default at least (6, 3.5), wider with more groups.
        value_format: a format such as ``"{:.0f}"`` to write each bar's value above it (``None``: no labels).

    Raises:
        ValueError: if a series does not have one value per label.
    """
    labels = [str(x) for x in labels]
    for name, vals in series.items():
        if len(vals) != len(labels):
            raise ValueError(f"series {name!r} has {len(vals)} values for {len(labels)} labels")
    n = max(1, len(series))
    fig, ax = plt.subplots(figsize=figsize or (max(6.0, 0.55 * len(labels) * max(1.5, n * 0.6) + 2.5), 3.8))
    x = np.arange(len(labels))
    w = 0.8 / n
    for k, (name, vals) in enumerate(series.items()):
        v = np.asarray(vals, float)
        bars = ax.bar(x + (k - (n - 1) / 2) * w, v, w, label=name)
        if value_format:
            for b, val in zip(bars, v):
                if np.isfinite(val):
                    ax.annotate(value_format.format(val), (b.get_x() + b.get_width() / 2, b.get_height()),
                                ha="center", va="bottom", fontsize=10, xytext=(0, 1), textcoords="offset points")
    if hline is not None:
        ax.axhline(hline, color="k", lw=0.8, ls="--")
    ax.set_xticks(x, labels, rotation=rotation, ha="right" if rotation else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if len(series) > 1:
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def training_curves(panels: Mapping[str, Mapping[str, Sequence[float]]], window: int = 25, logy: bool = True,
                    xlabel: str = "step", ylabel: str = "nats per token", figsize: tuple[float, float] | None = None):
    """Loss curves, one panel per phase (e.g. teacher, student), one line per logged quantity: the raw values faint
    and their moving average (``window`` steps) solid (notebook 09; input: ``training_log.json``).

    Args:
        panels: panel title → {curve name → one value per step}.
        window: moving-average width in steps (1: no smoothing).
        logy: logarithmic y axis (losses span orders of magnitude).
        xlabel, ylabel: the axis labels.
        figsize: inches; default (6 per panel, 3.8), at most the notebook's display width.

    Raises:
        ValueError: for no panel or a window below 1.
    """
    if not panels:
        raise ValueError("give at least one panel of curves")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    fig, axes = plt.subplots(1, len(panels), figsize=figsize or (min(FIT_WIDTH_IN, 6.0 * len(panels)), 3.8),
                             squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels.items()):
        for k, (name, vals) in enumerate(curves.items()):
            v = np.asarray(vals, float)
            steps = np.arange(1, len(v) + 1)
            colour = f"C{k}"
            ax.plot(steps, v, color=colour, alpha=0.25, lw=0.7)
            if window > 1 and len(v) >= window:
                smooth = np.convolve(v, np.ones(window) / window, mode="valid")
                ax.plot(steps[window - 1:], smooth, color=colour, lw=1.6, label=name)
            else:
                ax.plot(steps, v, color=colour, lw=1.6, label=name)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(frameon=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def layer_head_heatmaps(grids: Mapping[str, tuple], title: str = "", label: str = "", vmin: float | None = None,
                        vmax: float | None = None, cmap: str = "RdBu", clip_percentile: float | None = None,
                        xlabel: str = "head", value_format: str | None = None):
    """Several models' layer × head heatmaps (with their MLP column) stacked in one figure, on **one** colour scale
    with one colour bar; panel heights follow the models' layer counts, so cells have the same size (notebooks 02,
    05, 07; input: ``brittleness.drops_grid`` per model).

    A few large values (an MLP0 at −100 among heads at ±3) would take the whole scale and leave every other cell
    white; ``clip_percentile`` clips the symmetric scale at that percentile of |value| instead (the colour bar's label
    says so). Whatever the limits, every cell beyond them has its value written in it, and the colour bar gets a
    pointed end on each side that has such cells.

    Args:
        grids: model name → ``(head_values [n_layers, n_heads], mlp_values [n_layers] or None)``.
        title: the figure's title.
        label: the colour bar's label.
        vmin, vmax: colour limits; default symmetric around 0 over every finite value of every panel (clipped at
            ``clip_percentile`` of |value| when given). Pass the same limits to several figures to put them on one
            scale (e.g. ``±clipped_limit(values, 95)``).
        cmap: the colour map.
        clip_percentile: clip the default symmetric limits at this percentile of |value| (e.g. 95).
        xlabel: the column axis's label (``"position"`` when the columns are positions, not heads).
        value_format: how a clipped cell's value is written (default: whole numbers from 10 up, one decimal below,
            so that a written value never reads as one inside the limits and still fits its cell).

    Raises:
        ValueError: for no grid, or grids with different numbers of heads.
    """
    if not grids:
        raise ValueError("give at least one (heads, mlps) grid")
    items = [(name, np.asarray(h, float), None if m is None else np.asarray(m, float)) for name, (h, m) in
             grids.items()]
    widths = {h.shape[1] for _, h, _ in items}
    if len(widths) != 1:
        raise ValueError(f"the grids have different numbers of heads {sorted(widths)}: draw them separately")
    n_heads = widths.pop()
    vals = np.concatenate([np.concatenate([h.ravel()] + ([m] if m is not None else [])) for _, h, m in items])
    finite = vals[np.isfinite(vals)]
    if vmin is None or vmax is None:
        if clip_percentile is not None:
            lim = clipped_limit(finite, clip_percentile)
            # the label says "±lim" only when both ends come from the clip (a given vmin or vmax is not symmetric)
            if finite.size and lim < float(np.abs(finite).max()) and vmin is None and vmax is None:
                label = (f"{label}\n" if label else "") + (f"colour clipped at ±{lim:.3g}, the "
                                                            f"{_ordinal(clip_percentile)} percentile of |value|")
        else:
            lim = float(np.abs(finite).max()) if finite.size else 1.0
            lim = lim or 1.0
        vmin, vmax = (-lim if vmin is None else vmin), (lim if vmax is None else vmax)
    rows = [h.shape[0] for _, h, _ in items]
    has_mlp = any(m is not None for _, _, m in items)             # no MLP column at all: no empty gap for one
    fig = plt.figure(figsize=(max(6.0, min(FIT_WIDTH_IN - 0.6, 0.42 * n_heads + (3.2 if has_mlp else 2.6))),
                              max(3.5, 0.3 * sum(rows) + 0.8 * len(items) + 0.6)))
    gs = fig.add_gridspec(len(items), 3 if has_mlp else 2, height_ratios=rows,
                          width_ratios=[n_heads, 1.1, 0.35] if has_mlp else [n_heads, 0.35], wspace=0.08, hspace=0.3)
    im = None
    for i, (name, h, m) in enumerate(items):
        ax = fig.add_subplot(gs[i, 0])
        im = ax.imshow(h, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        _annotate_beyond(ax, h, vmin, vmax, im, value_format)
        ax.set_xticks(range(n_heads))
        ax.set_yticks(range(h.shape[0]))
        ax.set_ylabel("layer")
        ax.set_title(name, fontsize=11, loc="left")
        if i == len(items) - 1:
            ax.set_xlabel(xlabel)
        if m is not None:
            axm = fig.add_subplot(gs[i, 1])
            im_m = axm.imshow(m[:, None], origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
            _annotate_beyond(axm, m, vmin, vmax, im_m, value_format)
            axm.set_xticks([0], ["MLP"])
            axm.set_yticks(range(h.shape[0]), [""] * h.shape[0])
    cax = fig.add_subplot(gs[:, -1])
    fig.colorbar(im, cax=cax, label=label, extend=_extend(finite, vmin, vmax))
    if title:
        fig.suptitle(title)
    return fig


def _ordinal(p: float) -> str:
    """95 → '95th', 99.5 → '99.5th', 1 → '1st'."""
    n = f"{p:g}"
    if "." in n:
        return n + "th"
    k = int(n)
    return n + ("th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th"))


__all__ += ["grouped_bars", "training_curves", "layer_head_heatmaps"]


# --------------------------------------------------------------------------------------------- notebooks 05, 06
def grouped_errorbars(labels: Sequence[str], panels: Mapping[str, Mapping[str, tuple]], title: str = "",
                      hlines: Mapping[str, float] | None = None, missing_label: str = "n/a",
                      figsize: tuple[float, float] | None = None):
    """Grouped bars with error bars, one panel per measure stacked on a shared x axis; a missing value (NaN mean)
    draws no bar but writes ``missing_label`` where the bar would stand, so an undefined result stays visible
    (notebook 05: accuracy and circuit score under distribution shift, mean ± std over prompt sets).

    Args:
        labels: the groups (x axis), e.g. variants.
        panels: panel y label → {series name → (means, stds)}, one value per label each.
        title: the figure's title.
        hlines: panel y label → y of a dashed reference line.
        missing_label: text written for a NaN mean.
        figsize: inches; default at least (6.5, 3.2 per panel).

    Raises:
        ValueError: for no panel, or a series without one mean and one std per label.
    """
    if not panels:
        raise ValueError("give at least one panel: {ylabel: {series: (means, stds)}}")
    labels = [str(x) for x in labels]
    n_series = max(len(s) for s in panels.values())
    fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False, figsize=figsize or (
        max(6.5, 0.35 * len(labels) * max(2, n_series) + 3.0), 3.2 * len(panels) + 0.6))
    x = np.arange(len(labels))
    w = 0.8 / max(1, n_series)
    for ax, (ylabel, series) in zip(axes[:, 0], panels.items()):
        finite_top = 0.0
        for k, (name, (means, stds)) in enumerate(series.items()):
            m, s = np.asarray(means, float), np.asarray(stds, float)
            if m.shape != (len(labels),) or s.shape != (len(labels),):
                raise ValueError(f"series {name!r} of panel {ylabel!r} needs one mean and one std per label "
                                 f"({len(labels)})")
            pos = x + (k - (n_series - 1) / 2) * w
            ok = np.isfinite(m)
            ax.bar(pos[ok], m[ok], w, yerr=np.nan_to_num(s[ok]), capsize=3, color=f"C{k}", label=name,
                   error_kw={"lw": 1})
            if ok.any():
                finite_top = max(finite_top, float(np.nanmax(np.abs(m[ok]) + np.nan_to_num(s[ok]))))
            for p in pos[~ok]:
                ax.annotate(missing_label, (p, 0), ha="center", va="bottom", rotation=90, fontsize=10, color=f"C{k}",
                            xytext=(0, 2), textcoords="offset points")
        if hlines and ylabel in hlines:
            ax.axhline(hlines[ylabel], color="k", lw=0.8, ls="--")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel(ylabel)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0, 0].legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[-1, 0].set_xticks(x, labels, rotation=30, ha="right")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    return fig


def alignment_bars(rows: Sequence[Mapping], value: str = "A", study: str = "study A", title: str = "",
                   missing_label: str = "n/a", zoom: bool = True, figsize: tuple[float, float] | None = None,
                   value_labels: bool | None = None):
    """The alignment table as one figure: tasks on x, one bar per (pair, recipe), the study's value as a black
    diamond and a dashed line across its task's group (notebook 06; input: ``studies.alignment.alignment_rows``).

    Args:
        rows: dicts with ``task``, ``pair``, ``recipe``, ``value`` (``None`` when not computable: ``missing_label``
            is written instead of a bar) and ``study`` (``None`` when the study has no value).
        value, study: the keys of our value and the study's.
        title: the figure's title.
        zoom: start the y axis just below the smallest value shown (in steps of 0.1), so that differences of a few
            hundredths show as different heights; the axis is then marked as cut (a break sign at its foot, and
            the label says where it starts). ``False`` starts the bars at 0, as bars should, and writes each bar's
            value above it instead.
        figsize: inches; default at least (6.5, 4.2), at most the notebook's display width.
        value_labels: write each bar's value (2 decimals) above it; default: when not zoomed.

    Raises:
        ValueError: if ``rows`` is empty.
    """
    if not rows:
        raise ValueError("no alignment rows to draw")
    value_labels = (not zoom) if value_labels is None else value_labels
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    series = list(dict.fromkeys(f"{r['pair']} · {r['recipe']}" for r in rows))
    cell = {(r["task"], f"{r['pair']} · {r['recipe']}"): r.get(value) for r in rows}
    ref = {r["task"]: r.get(study) for r in rows}
    fig, ax = plt.subplots(figsize=figsize or (min(FIT_WIDTH_IN, max(6.5, 0.3 * len(tasks) * len(series) + 4.5)),
                                               4.2))
    x = np.arange(len(tasks))
    w = 0.8 / len(series)
    for k, name in enumerate(series):
        vals = np.array([np.nan if cell.get((t, name)) is None else float(cell[(t, name)]) for t in tasks])
        pos = x + (k - (len(series) - 1) / 2) * w
        ok = np.isfinite(vals)
        bars = ax.bar(pos[ok], vals[ok], w, color=f"C{k}", label=name)
        if value_labels:
            for b, v in zip(bars, vals[ok]):
                ax.annotate(f"{v:.2f}", (b.get_x() + b.get_width() / 2, max(v, 0.0)), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", rotation=90, fontsize=10)
        for p in pos[~ok & np.array([(t, name) in cell for t in tasks])]:   # a row without a value, not a missing row
            ax.annotate(missing_label, (p, 0), ha="center", va="bottom", rotation=90, fontsize=10, color=f"C{k}",
                        xytext=(0, 2), textcoords="offset points")
    labelled = False
    for i, t in enumerate(tasks):
        if ref.get(t) is not None:
            ax.hlines(float(ref[t]), i - 0.45, i + 0.45, colors="k", linestyles="--", lw=1.2, zorder=3)
            ax.scatter([i], [float(ref[t])], marker="D", s=40, color="k", edgecolor="white", linewidth=0.8, zorder=4,
                       label=None if labelled else "study's value")
            labelled = True
    ax.set_xticks(x, tasks, rotation=20, ha="right")
    shown = [float(v) for v in list(cell.values()) + list(ref.values()) if v is not None and np.isfinite(float(v))]
    bottom = max(0.0, math.floor(10 * (min(shown, default=0.0) - 0.05)) / 10) if zoom else min(0.0, *shown, 0.0)
    ax.set_ylim(bottom, 1.16 if value_labels else 1.02)
    if value_labels:                            # no tick above 1, the most A can be
        ax.set_yticks([v for v in np.arange(math.floor(10 * bottom) / 10, 1.0001, 0.2 if bottom <= 0.5 else 0.05)])
    ax.set_ylabel("alignment A" + (f" (cut axis from {bottom:g})" if bottom > 0 else ""))
    if bottom > 0:
        mark_cut_axis(ax)
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def noise_curves(series: Mapping[str, Sequence[Mapping]], fits: Mapping[str, object] | None = None,
                 normalise: bool = True, references: Mapping[str, float] | None = None,
                 title: str = "The noisy student", figsize: tuple[float, float] = (7.5, 5.2)):
    """Several metrics of a noise sweep on one axis, each divided by its value at σ = 0 (so A and Δl share a
    scale), mean ± std over seeds, symlog x so that σ = 0 shows (notebook 06; input: ``noise.mean_std`` rows per
    metric and ``alignment.fit_inverse_log_decay``).

    Args:
        series: metric name → ``[{"level", "mean", "std"}]`` rows.
        fits: metric name → a fitted curve (callable on levels, e.g. a ``DecayFit``) drawn dashed in its colour.
        normalise: divide each metric (and its fit) by its mean at the smallest level (σ = 0).
        references: label → y of a dotted reference line (in the plotted units).
        title: the figure's title.
        figsize: inches.

    Raises:
        ValueError: for no series, or a series whose σ = 0 value is 0 or NaN while ``normalise`` is on.
    """
    if not series:
        raise ValueError("give at least one metric's noise.mean_std rows")
    fig, ax = plt.subplots(figsize=figsize)
    all_pos: list[float] = []
    top = 0.0
    for k, (name, stats) in enumerate(series.items()):
        stats = sorted(stats, key=lambda r: r["level"])
        levels = np.array([r["level"] for r in stats], float)
        mean = np.array([r["mean"] for r in stats], float)
        std = np.array([r["std"] for r in stats], float)
        scale = 1.0
        if normalise:
            scale = float(mean[0])
            if not (np.isfinite(scale) and scale != 0.0):
                raise ValueError(f"{name}: its value at the smallest level is {scale}, so it cannot be normalised")
        label = f"{name} (σ = {levels[0]:g}: {mean[0]:.3g})" if normalise else name
        ax.errorbar(levels, mean / scale, yerr=np.abs(std / scale), marker="o", ms=4, capsize=3, lw=1.2,
                    color=f"C{k}", label=label)
        top = max(top, float(np.nanmax(mean / scale)))
        all_pos += [float(v) for v in levels if v > 0]
        if fits and name in fits:
            hi = float(levels.max()) if levels.size else 1.0
            lo = min([v for v in levels if v > 0], default=hi / 100)
            xs = np.concatenate([[0.0], np.geomspace(lo / 3, hi * 3, 200)])
            ax.plot(xs, np.asarray(fits[name](xs), float) / scale, color=f"C{k}", lw=1, ls="--",
                    label=f"{name}: inverse-log fit")
    for j, (label, y) in enumerate((references or {}).items()):
        ax.axhline(y, color=f"{0.35 + 0.2 * j:.2f}", lw=0.9, ls=":", label=label)
    if all_pos:
        lt = min(all_pos)
        ax.set_xscale("symlog", linthresh=lt)
        ax.set_xlim(left=-0.25 * lt)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("noise level σ (× each weight's std)")
    ax.set_ylabel("fraction of its value at σ = 0" if normalise else "value")
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


__all__ += ["grouped_errorbars", "alignment_bars", "noise_curves"]


def capacity_lines(rows: Sequence[Mapping], metrics: Mapping[str, str], x: str = "student_layers",
                   group: str = "distilled", group_labels: Mapping[object, str] | None = None,
                   title: str = "", figsize: tuple[float, float] | None = None):
    """One small panel per metric against student size, one line per group (notebook 08: distilled students vs
    their copies before distillation; input: ``studies.open_questions.capacity_rows``).

    Args:
        rows: dicts holding ``x``, ``group`` and every metric key.
        metrics: metric key → panel title (its units).
        x: the x key (e.g. student layers).
        group: the key whose values split the lines.
        group_labels: legend text per group value (default ``str(value)``).
        title: the figure's title.
        figsize: inches; default the notebook's display width (up to three panels a row).

    Raises:
        ValueError: for no rows or no metrics, or a row missing a key.
    """
    if not rows or not metrics:
        raise ValueError("capacity_lines needs rows and at least one metric")
    for key in [x, group, *metrics]:
        if any(key not in r for r in rows):
            raise ValueError(f"a row has no {key!r}: pass capacity_rows(...) rows")
    groups = list(dict.fromkeys(r[group] for r in rows))
    ncols = len(metrics) if len(metrics) <= 3 else 2
    nrows = -(-len(metrics) // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=figsize or (min(FIT_WIDTH_IN, 3.3 * ncols + 0.6), 3.0 * nrows + 0.7))
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    for ax, (key, label) in zip(axes.flat, metrics.items()):
        for i, g in enumerate(groups):
            pts = sorted((r[x], r[key]) for r in rows if r[group] == g and r[key] is not None)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=f"C{i}",
                    linestyle="-" if i == 0 else "--", label=(group_labels or {}).get(g, str(g)))
        ax.set_title(label, fontsize=11)
        ax.set_xlabel(x.replace("_", " "))
        ax.set_xticks(sorted({r[x] for r in rows}))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, fontsize=10)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.45 / fig.get_size_inches()[1], 1, 1))
    return fig


def scatter_panels(points: Sequence[Mapping], x: str, ys: Mapping[str, str], group: str,
                   annotations: Mapping[str, str] | None = None, xlabel: str = "", title: str = "",
                   figsize: tuple[float, float] | None = None, marker: str | None = None, group_label: str = "",
                   marker_label: str = ""):
    """Scatter plots of ``x`` against each ``y``, coloured by ``group``, one panel per y, with an optional text in
    each panel's corner (notebook 08: A against robustness, with the correlation and its interval).

    Colour should show the variable the text discusses (notebook 08: the student's depth, a confound of A and
    robustness). A numeric ``group`` (e.g. ``student_layers``) gets ordered colours (viridis, dark purple for the
    smallest value to light green for the largest); other values get the categorical palette. ``marker`` names a
    second key shown by marker shape (e.g. the task).

    Args:
        points: dicts with ``x``, ``group`` and the y keys (NaN or ``None`` values are left out).
        x: the x key; ys: y key → axis label; group: the colouring key.
        annotations: y key → text written in the panel (e.g. "r = 0.41 [0.02, 0.73]").
        xlabel, title: labels.
        figsize: inches; default the notebook's display width, 3.9 high.
        marker: a key whose values get one marker shape each (``None``: circles).
        group_label, marker_label: the legends' titles (default: the keys).

    Raises:
        ValueError: for no points or no y.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator
    if not points or not ys:
        raise ValueError("scatter_panels needs points and at least one y")
    raw = list(dict.fromkeys(p[group] for p in points))
    numeric = all(isinstance(g, (int, float, np.integer, np.floating)) and not isinstance(g, bool) for g in raw)
    groups = [str(g) for g in (sorted(raw) if numeric else raw)]
    if numeric:
        colours = {g: plt.cm.viridis(v) for g, v in zip(groups, np.linspace(0.85, 0.05, len(groups))[::-1])} \
            if len(groups) > 1 else {groups[0]: plt.cm.viridis(0.3)}
    else:
        colours = {g: f"C{i % 10}" for i, g in enumerate(groups)}
    shapes = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">"]
    kinds = list(dict.fromkeys(str(p[marker]) for p in points)) if marker else [None]
    mk = {k: shapes[i % len(shapes)] for i, k in enumerate(kinds)}
    fig, axes = plt.subplots(1, len(ys), squeeze=False, figsize=figsize or (FIT_WIDTH_IN, 3.9))
    for ax, (key, label) in zip(axes[0], ys.items()):
        for g in groups:
            for k in kinds:
                pts = [(p[x], p[key]) for p in points if str(p[group]) == g and (k is None or str(p[marker]) == k)
                       and p[key] is not None and p[x] is not None and np.isfinite(p[key]) and np.isfinite(p[x])]
                if pts:
                    ax.scatter([a for a, _ in pts], [b for _, b in pts], s=46, color=colours[g], marker=mk[k],
                               edgecolor="black", linewidth=0.5)
        ax.set_xlabel(xlabel or x)
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        if annotations and key in annotations:
            ax.text(0.02, 1.01, annotations[key], transform=ax.transAxes, va="bottom", fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    colour_handles = [Line2D([], [], ls="", marker="o", ms=8, color=colours[g], markeredgecolor="black", label=g)
                      for g in groups]
    legends = [fig.legend(handles=colour_handles, title=group_label or group, loc="lower left", ncol=len(groups),
                          frameon=False, fontsize=10, title_fontsize=10, bbox_to_anchor=(0.0, 0.0))]
    if marker:
        shape_handles = [Line2D([], [], ls="", marker=mk[k], ms=8, color="0.6", markeredgecolor="black", label=k)
                         for k in kinds]
        legends.append(fig.legend(handles=shape_handles, title=marker_label or marker, loc="lower right",
                                  ncol=min(len(kinds), 5), frameon=False, fontsize=10, title_fontsize=10,
                                  bbox_to_anchor=(1.0, 0.0)))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.15, 1, 1))
    return fig


# --------------------------------------------------------------------------------------------- method diagrams (02)
def _box(ax, x, y, text, face, w=1.5, h=0.62, edge="0.25", hatch=None, fontsize=10):
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03,rounding_size=0.1", fc=face,
                                ec=edge, lw=1.2, hatch=hatch))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize,
            bbox=dict(fc="white", ec="none", pad=1.0) if hatch else None)


def _arrow(ax, a, b, colour="0.3", lw=1.4, style="-|>", rad=0.0):
    from matplotlib.patches import FancyArrowPatch
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=12, color=colour, lw=lw,
                                 connectionstyle=f"arc3,rad={rad}"))


#: The colours of the method diagrams (one meaning each, shared by both figures).
DIAGRAM_COLOURS = {"clean": "#dbeafe", "corrupted": "#fca5a5", "frozen": "#d1d5db", "mean": "#fde68a",
                   "receiver": "#bbf7d0", "outside": "white"}


def mean_ablation_diagram():
    """Mean ablation of one component, as a picture (notebook 02, section 1).

    The clean prompt runs through the model; one component's output, at each position, is replaced by its mean at that
    position over the corrupted prompts; the score is the ablated Δl as a percentage of the clean Δl. Every text is
    10 pt or more at the notebook's display width.
    """
    col = DIAGRAM_COLOURS
    fig, ax = plt.subplots(figsize=(FIT_WIDTH_IN, 5.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 5.0)
    ax.axis("off")
    ax.plot([4.0, 4.0], [0.5, 3.9], color="0.5", lw=6, alpha=0.35, solid_capstyle="round")
    ax.text(3.85, 3.85, "residual\nstream", ha="right", va="top", fontsize=10, color="0.35")
    _arrow(ax, (4.0, 3.85), (4.0, 4.3), colour="0.5")
    _box(ax, 4.0, 4.55, "Δl = logit(' 5') − logit(' 4')", "white", w=3.0, h=0.5, fontsize=10)
    ax.text(5.65, 4.55, "score = 100 · Δl(C ablated) / Δl(clean)\nremoval drop = score − 100 (pp)", ha="left",
            va="center", fontsize=10)
    _box(ax, 1.55, 0.6, "clean prompt\n'… Desk done in 4.\nSun done in'", col["clean"], w=2.9, h=0.95, fontsize=10)
    _arrow(ax, (3.0, 0.6), (3.9, 0.6))
    for y, text, face in [(1.3, "layer 0: heads, MLP", col["clean"]), (2.3, "component C (layer ℓ)", col["mean"]),
                          (3.3, "later layers", col["clean"])]:
        _box(ax, 5.65, y, text, face, w=2.3, h=0.55, fontsize=10)
        _arrow(ax, (4.05, y - 0.2), (4.5, y - 0.2), colour="0.5", lw=1.0)
        _arrow(ax, (4.5, y + 0.15), (4.05, y + 0.15), colour="0.5", lw=1.0)
    _box(ax, 1.55, 2.3, "corrupted prompts\n(same words,\nnumbers shuffled)", col["corrupted"], w=2.9, h=0.95,
         fontsize=10)
    _arrow(ax, (3.0, 2.45), (4.5, 2.45), colour="#b91c1c", lw=2.0)
    ax.text(3.9, 2.85, "C's mean output\nat each position", fontsize=10, color="#b91c1c", ha="right", va="bottom")
    ax.text(6.95, 2.3, "C's output z[p] ← mean of z[p]\nover the corrupted prompts;\neverything else runs on\nthe "
            "clean prompt", fontsize=10, ha="left", va="center")
    ax.set_title("Mean ablation: remove what C says about this prompt,\n"
                 "keep what it says about any prompt of this form", fontsize=12)
    fig.tight_layout()
    return fig


def path_patching_diagram():
    """Path patching of one edge sender → receiver, as a picture (notebook 02, section 4).

    Run 1 runs the clean prompts with the sender on its corrupted activation and every other circuit head after it
    frozen at its clean activation, and records the receiver's input (query, key or value, an MLP's input or the
    final residual stream). Run 2 runs the clean prompts again with only that input patched. Components outside the
    circuit stay mean-ablated in both runs. The runs are stacked, so that every text is 10 pt or more at the
    notebook's display width.
    """
    col = DIAGRAM_COLOURS
    fig, axes = plt.subplots(2, 1, figsize=(FIT_WIDTH_IN, 8.6))
    for ax, run in zip(axes, (1, 2)):
        ax.set_xlim(0, 6.6)
        ax.set_ylim(0.3, 4.9)
        ax.axis("off")
        ax.plot([0.6, 0.6], [0.4, 4.5], color="0.5", lw=6, alpha=0.35, solid_capstyle="round")
        for y, label in [(1.0, "layer 0"), (2.3, "layer 1"), (3.6, "layer 2")]:
            ax.text(0.15, y, label, rotation=90, va="center", fontsize=10, color="0.35")
        first = run == 1
        _box(ax, 1.8, 1.0, "sender S\ncorrupted" if first else "sender S\nclean", col["corrupted"] if first
             else col["clean"])
        _box(ax, 3.5, 1.0, "outside the\ncircuit: mean", col["outside"], hatch="//")
        _box(ax, 1.8, 2.3, "circuit head\nfrozen: clean" if first else "circuit head\nclean", col["frozen"] if first
             else col["clean"])
        _box(ax, 3.45, 2.3, "circuit head\nfrozen: clean" if first else "circuit head\nclean", col["frozen"] if first
             else col["clean"], w=1.5)
        _box(ax, 2.7, 3.6, "receiver R\n(its q, k or v input)", col["receiver"], w=2.0)
        if first:
            _arrow(ax, (2.2, 1.35), (2.45, 3.25), colour="#b91c1c", lw=2.2, rad=-0.15)
            ax.text(5.3, 3.6, "record R's input:\nit has seen the corrupted\nS, and only through\nthe direct path",
                    fontsize=10, va="center", ha="center", color="#166534")
            ax.set_title("Run 1 · clean prompt, S corrupted, later heads frozen", fontsize=11)
        else:
            _arrow(ax, (5.2, 4.5), (3.75, 3.85), colour="#166534", lw=2.0, rad=0.2)
            ax.text(5.3, 4.55, "patch in the input recorded in run 1", fontsize=10, va="bottom", ha="center",
                    color="#166534")
            _box(ax, 5.3, 2.3, "read Δl:\nedge score =\nΔl / Δl(clean)", "white", w=1.6, h=0.95)
            _arrow(ax, (3.75, 3.6), (4.9, 2.85), colour="0.3", rad=-0.2)
            ax.set_title("Run 2 · clean prompt, only R's input patched", fontsize=11)
    handles = [plt.Rectangle((0, 0), 1, 1, fc=c, ec="0.25", hatch="//" if k == "outside" else None, label=label)
               for k, c, label in [("corrupted", col["corrupted"], "corrupted activation"),
                                   ("frozen", col["frozen"], "frozen at its clean activation"),
                                   ("clean", col["clean"], "runs normally on the clean prompt"),
                                   ("receiver", col["receiver"], "receiver"),
                                   ("outside", col["outside"], "outside the circuit: mean-ablated")]]
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, fontsize=10)
    fig.suptitle("Path patching one edge S → R:\nonly the direct path from S to R carries the corruption",
                 fontsize=12)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


__all__ += ["mean_ablation_diagram", "path_patching_diagram", "DIAGRAM_COLOURS"]


def exact_vs_estimate(panels: Mapping[str, object], title: str = "Exact effect vs its first-order estimate"):
    """One scatter per comparison: the exact change of Δl (x) against the gradient estimate (y), the diagonal where
    they agree, circuit components filled, those the estimate's ranking misses ringed (notebook 02; input:
    ``{label: methods.attribution.Comparison}``).

    Raises:
        ValueError: for no panels.
    """
    if not panels:
        raise ValueError("no comparisons to draw: pass {label: Comparison}")
    pw = min(4.2, (FIT_WIDTH_IN - 0.6) / len(panels))
    fig, axes = plt.subplots(1, len(panels), figsize=(pw * len(panels) + 0.6, pw + 1.6), squeeze=False)
    for ax, (label, cmp) in zip(axes[0], panels.items()):
        comps = sorted(cmp.exact)
        x = np.array([cmp.exact[c] for c in comps])
        y = np.array([cmp.approx[c] for c in comps])
        inside = np.array([c in set(cmp.circuit) for c in comps])
        missed = np.array([c in set(cmp.missed) for c in comps])
        lo, hi = float(min(x.min(), y.min(), 0.0)), float(max(x.max(), y.max(), 0.0))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=1, ls="--", label="estimate = exact")
        ax.scatter(x[~inside], y[~inside], s=18, color="0.55", label="outside the circuit")
        ax.scatter(x[inside], y[inside], s=26, color="tab:orange", label="in the exact circuit")
        ax.scatter(x[missed], y[missed], s=110, facecolors="none", edgecolors="tab:red", lw=1.5,
                   label="circuit member the estimate misses")
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal")
        ax.set_xlabel("exact change of Δl")
        ax.set_title(f"{label}\nρ = {cmp.spearman:.2f}", fontsize=10)
    axes[0][0].set_ylabel("first-order estimate")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, fontsize=10)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.6 / (pw + 1.6), 1, 1))
    return fig


__all__ += ["exact_vs_estimate"]
