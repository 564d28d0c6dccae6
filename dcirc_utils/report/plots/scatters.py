"""Scatter plots of one quantity against another: removal drops, the exact effect against its estimate, A against
robustness (notebooks 02, 05, 08)."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ._style import FIT_WIDTH_IN, _legend_clear_of, _place_labels

__all__ = ["sensitivity_scatter", "exact_vs_estimate", "scatter_panels"]


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
    from ...methods.brittleness import SUBSTANTIVE_DROP_PP, is_substantive
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


def scatter_panels(points: Sequence[Mapping], x: str, ys: Mapping[str, str], group: str,
                   annotations: Mapping[str, str] | None = None, xlabel: str = "", title: str = "",
                   figsize: tuple[float, float] | None = None, marker: str | None = None, group_label: str = "",
                   marker_label: str = "", fit: bool | Sequence[str] = False, units: str | None = None,
                   seed: int = 0):
    """Scatter plots of ``x`` against each ``y``, coloured by ``group``, one panel per y, with an optional text in
    each panel's corner and, with ``fit``, the least-squares line and its 95% bootstrap band (notebook 08: A against
    robustness, with the correlation and its interval).

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
        fit: draw the least-squares line over all of a panel's points with its 95% confidence band (seaborn's
            ``regplot``: a bootstrap of the fit, 1,000 resamples): ``True`` in every panel, or the y keys of the
            panels that get one (e.g. those whose correlation ``annotations`` give). The legend saying so sits once,
            above the last panel.
        units: the key of the independent units (e.g. ``"pair"``: a model's points on several tasks are not
            independent); the band's bootstrap then resamples whole units, and the points within each (seaborn's
            multilevel bootstrap), as the correlation intervals of ``open_questions.clustered_correlation_ci``
            resample whole models. ``None``: every point is a unit.
        seed: the bootstrap's seed (the band is the same on every run).

    Raises:
        ValueError: for no points or no y, a ``fit`` key that is no panel's, or a point without ``units``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
    if not points or not ys:
        raise ValueError("scatter_panels needs points and at least one y")
    fitted = set(ys) if fit is True else set(fit or ())
    if fitted - set(ys):
        raise ValueError(f"fit names {sorted(fitted - set(ys))}, which are not among the panels {list(ys)}")
    if units is not None and any(units not in p for p in points):
        raise ValueError(f"a point has no {units!r}, the units of the fit's bootstrap")
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
        if key in fitted:
            _fit_band(ax, points, x, key, units, seed)
        ax.set_xlabel(xlabel or x)
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        if annotations and key in annotations:
            ax.text(0.02, 1.01, annotations[key], transform=ax.transAxes, va="bottom", fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if any(ax.lines for ax in axes[0]):
        # said once, above the last panel (notebook 08's first panels carry their annotations there), off every point
        band = (Patch(color="0.35", alpha=0.15, lw=0), Line2D([], [], color="0.35", lw=1.2))
        axes[0][-1].legend(handles=[band], labels=["least-squares fit, 95% band"], loc="lower right",
                           bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=10, borderaxespad=0.1, borderpad=0.1,
                           handlelength=1.6)
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


def _fit_band(ax, points: Sequence[Mapping], x: str, y: str, units: str | None, seed: int) -> None:
    """The least-squares line of ``y`` on ``x`` over the points where both are finite, with its 95% bootstrap band
    (resampling ``units`` when given), drawn by seaborn under the points; nothing for fewer than 3 points."""
    import seaborn as sns
    use = [p for p in points if p[x] is not None and p[y] is not None and np.isfinite(p[x]) and np.isfinite(p[y])]
    if len(use) < 3:
        return
    sns.regplot(x=np.array([p[x] for p in use], float), y=np.array([p[y] for p in use], float),
                units=None if units is None else np.array([str(p[units]) for p in use]), scatter=False, ci=95,
                n_boot=1000, seed=seed, truncate=True, color="0.35", line_kws={"lw": 1.2, "zorder": 0.9}, ax=ax)
    ax.collections[-1].set_zorder(0.8)                  # line and band under the points
