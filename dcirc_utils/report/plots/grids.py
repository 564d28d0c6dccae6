"""Grids of cells: heatmaps, layer × head heatmaps, role-score grids and attention patterns (notebooks 02–07)."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ._style import FIT_WIDTH_IN, _annotate_beyond, _extend, _ordinal, clipped_limit, text_colour_on

__all__ = ["heatmap", "layer_head_heatmaps", "head_scores_grid", "attention_grid", "attention_view"]


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


def attention_view(token_labels: Sequence[str], patterns, head_names: Sequence[str] | None = None,
                   decimals: int = 3):
    """An interactive circuitsvis view of attention patterns (notebook 03's one interactive cell), or, where
    circuitsvis is not installed, the static figure of the same heads.

    ``circuitsvis.attention.attention_heads`` renders either with its JavaScript bundle inlined (about 1.3 MB, what
    it chooses when the kernel is offline) or loading the bundle from the unpkg CDN (a few kB). This returns the
    CDN form, so the saved notebook stays small; the view appears when the notebook is opened with internet
    access (a static heatmap of the same heads sits next to it for offline readers). Values are rounded to
    ``decimals`` to keep the embedded data short.

    circuitsvis is the optional extra ``interactive`` (``pip install -e ".[interactive]"``; the ``dev`` extra has
    it too). Without it this prints a one-line note saying so and returns :func:`attention_grid` of the same
    patterns, with the prompt's tokens on both axes.

    Args:
        token_labels: the prompt's tokens (``tasks.token_strings``).
        patterns: ``[head, q, k]`` (or ``[q, k]`` for one head) attention pattern of that prompt.
        head_names: one name per head (e.g. ``["T 0.1", "S 0.1"]``).

    Returns:
        an ``IPython.display.HTML`` object, or the static figure when circuitsvis is missing.

    Raises:
        ValueError: if the pattern's size does not match the tokens, or the names the heads.
    """
    p = np.asarray(patterns, dtype=float)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3 or p.shape[1] != len(token_labels) or p.shape[2] != len(token_labels):
        raise ValueError(f"patterns of shape {p.shape} do not fit {len(token_labels)} tokens: pass [head, q, k] of "
                         "one prompt")
    if head_names is not None and len(head_names) != p.shape[0]:
        raise ValueError(f"{len(head_names)} head names for {p.shape[0]} heads")
    names = [str(n) for n in head_names] if head_names is not None else [f"head {i}" for i in range(p.shape[0])]
    try:
        import circuitsvis.attention
    except ImportError:
        print("circuitsvis is not installed (the extra `interactive`: pip install -e \".[interactive]\"), so this is "
              "the static view of the same heads")
        return attention_grid(dict(zip(names, p)), token_labels=[str(t) for t in token_labels],
                              ncols=min(2, len(names)), title="the same heads on this prompt (static view)")
    from IPython.display import HTML
    view = circuitsvis.attention.attention_heads(attention=np.round(p, decimals).tolist(),
                                                 tokens=[str(t) for t in token_labels],
                                                 attention_head_names=list(head_names) if head_names else None)
    return HTML(view.cdn_src)
