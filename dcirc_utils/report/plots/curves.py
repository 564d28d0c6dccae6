"""Lines over an axis: values by token position, training losses, concentration (Lorenz) curves, noise sweeps,
metrics against student size and faithfulness against circuit size (notebooks 02, 04, 05, 06, 08, 09)."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ...methods.concentration import gini, lorenz_curve
from ._style import FIT_WIDTH_IN

__all__ = ["by_position", "training_curves", "concentration_curve", "noise_curves", "capacity_lines",
           "faithfulness_curves", "MODEL_STYLES"]


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


def noise_curves(rows: Sequence[Mapping], metrics: Mapping[str, str], fits: Mapping[str, object] | None = None,
                 level: str = "level", normalise: bool = True, references: Mapping[str, float] | None = None,
                 title: str = "The noisy student", figsize: tuple[float, float] = (7.5, 5.2)):
    """Several metrics of a noise sweep on one axis, each divided by its mean at σ = 0 (so A and Δl share a
    scale): the mean over noise draws (seeds) ± 1 standard deviation (ddof = 1, as ``noise.mean_std``) at each
    level, and each draw as a faint dot; symlog x so that σ = 0 shows (notebook 06; input: ``noise.noise_sweep``
    rows and ``alignment.fit_inverse_log_decay``). Drawn by seaborn (``lineplot`` with ``errorbar="sd"``,
    ``scatterplot`` for the draws) from the rows themselves; NaN or ``None`` values are left out.

    Args:
        rows: one mapping per (level, draw), holding ``level`` and every key of ``metrics``.
        metrics: legend name → the key of its values in the rows.
        fits: legend name → a fitted curve (callable on levels, e.g. a ``DecayFit``) drawn dashed in its colour.
        level: the key of the noise level.
        normalise: divide each metric (and its fit) by its mean at the smallest level (σ = 0).
        references: label → y of a dotted reference line (in the plotted units).
        title: the figure's title.
        figsize: inches.

    Raises:
        ValueError: for no metric, a row without ``level`` or a metric, a metric without a finite value, or one
            whose mean at the smallest level is 0 or NaN while ``normalise`` is on.
    """
    import pandas as pd
    import seaborn as sns
    if not metrics:
        raise ValueError("give at least one metric: {legend name: key of its values in the sweep rows}")
    for key in (level, *metrics.values()):
        if any(key not in r for r in rows):
            raise ValueError(f"a row has no {key!r}: pass noise.noise_sweep rows and keys its measure returns")
    fig, ax = plt.subplots(figsize=figsize)
    all_pos: list[float] = []
    for k, (name, key) in enumerate(metrics.items()):
        d = pd.DataFrame({"level": [float(r[level]) for r in rows],
                          "value": [np.nan if r[key] is None else float(r[key]) for r in rows]}).dropna()
        if d.empty:
            raise ValueError(f"{name}: no finite {key!r} value to draw")
        levels = np.sort(d["level"].unique())
        start = float(d.loc[d["level"] == levels[0], "value"].mean())
        scale = 1.0
        if normalise:
            scale = start
            if not (np.isfinite(scale) and scale != 0.0):
                raise ValueError(f"{name}: its value at the smallest level is {scale}, so it cannot be normalised")
        d["y"] = d["value"] / scale
        label = f"{name} (σ = {levels[0]:g}: {start:.3g})" if normalise else name
        sns.scatterplot(d, x="level", y="y", color=f"C{k}", alpha=0.35, s=14, linewidth=0, legend=False, ax=ax)
        sns.lineplot(d, x="level", y="y", estimator="mean", errorbar="sd", err_style="bars", marker="o",
                     markersize=5, color=f"C{k}", lw=1.2, label=label, err_kws={"capsize": 3}, ax=ax)
        all_pos += [float(v) for v in levels if v > 0]
        if fits and name in fits:
            hi = float(levels.max())
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


#: Colour and line style of each model of a pair in :func:`faithfulness_curves` (the copy before distillation dashed);
#: other model names take the next colours of ``tab10``, solid.
MODEL_STYLES: dict[str, tuple[str, str]] = {"teacher": ("#1f4e9c", "-"), "student": ("#c05600", "-"),
                                             "copy": ("0.35", "--")}


def faithfulness_curves(series: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]],
                        points: Mapping[str, tuple[float, float]] | None = None, level: float | None = 0.8,
                        title: str = "", ylabel: str = "faithfulness f", point_label: str = "node pruning at 80 %",
                        figsize: tuple[float, float] | None = None):
    """Faithfulness against circuit size, MIB's picture (notebook 02; input: ``methods.faithfulness.curve_band`` of
    each model and ranking, or one curve as ``{"sizes", "mean"}``): one panel per ranking, in each a line per model
    (teacher and student solid, the copy before distillation dashed: :data:`MODEL_STYLES`), the spread over prompt
    sets as a band (``low`` to ``high``, where given), x the circuit size in % of the components on a log axis (as
    MIB plots it), and each model's ``points`` (e.g. node pruning's circuit at 80 %) marked with a star in its colour.

    Args:
        series: model → ranking → ``{"sizes": [%], "mean": [f], "low": [f], "high": [f]}`` (``low``/``high``
            optional).
        points: model → ``(size %, f)`` drawn in every panel (the circuit does not depend on the ranking).
        level: a dotted reference line at this faithfulness (``None``: none).
        title: the figure's title; ``ylabel``: the y axis'; ``point_label``: the legend's text for the points.
        figsize: inches; default the notebook's width, 3.6 in tall plus the legend.

    Raises:
        ValueError: for no series, a curve whose lists differ in length or hold a size outside (0, 100], or a
            point of a model without a curve.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, NullFormatter

    if not series or not any(series.values()):
        raise ValueError("give at least one model with one ranking's curve: {model: {ranking: {'sizes', 'mean'}}}")
    points = dict(points or {})
    unknown = [m for m in points if m not in series]
    if unknown:
        raise ValueError(f"points name models without curves: {unknown}; give each marked model its curves")
    rankings = list(dict.fromkeys(r for per in series.values() for r in per))
    models = list(series)
    spare = iter(c for c in plt.cm.tab10.colors[2:])
    style = {m: MODEL_STYLES.get(m) or (next(spare), "-") for m in models}
    fig, axes = plt.subplots(1, len(rankings), sharex=True, sharey=True, squeeze=False,
                             figsize=figsize or (FIT_WIDTH_IN, 4.4))
    all_sizes: list[float] = []
    for ax, ranking in zip(axes[0], rankings):
        for m in models:
            curve = series[m].get(ranking)
            if curve is None:
                continue
            x = np.asarray(curve["sizes"], float)
            y = np.asarray(curve["mean"], float)
            if len(x) != len(y) or not len(x) or ((x <= 0) | (x > 100)).any():
                raise ValueError(f"{m} / {ranking}: 'sizes' (in % of the components, in (0, 100]) and 'mean' must be "
                                 "equally long and non-empty")
            all_sizes += list(x)
            colour, ls = style[m]
            if "low" in curve and "high" in curve:
                lo, hi = np.asarray(curve["low"], float), np.asarray(curve["high"], float)
                if len(lo) != len(x) or len(hi) != len(x):
                    raise ValueError(f"{m} / {ranking}: 'low' and 'high' need one value per size")
                ax.fill_between(x, lo, hi, color=colour, alpha=0.18, lw=0)
            ax.plot(x, y, color=colour, ls=ls, lw=1.8, marker="o", ms=3.5, label=m)
        for m, (size, f) in points.items():
            ax.plot([size], [f], marker="*", ms=15, color=style[m][0], mec="black", mew=0.8, ls="none", zorder=5)
        ax.axhline(1.0, color="0.55", lw=0.8)
        ax.axhline(0.0, color="0.55", lw=0.8)
        if level is not None:
            ax.axhline(level, color="0.4", lw=0.9, ls=":")
        ax.set_xscale("log")
        ax.set_title(ranking, fontsize=12)
        ax.grid(axis="y", color="0.92", lw=0.8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    lo_x = min(all_sizes + [size for size, _ in points.values()])
    decades = [d for d in (0.01, 0.1, 1.0, 10.0, 100.0) if lo_x / 1.5 <= d <= 100.0]
    for ax in axes[0]:
        ax.xaxis.set_major_locator(FixedLocator(decades))
        ax.set_xticks(decades, [f"{d:g}" for d in decades])
        ax.xaxis.set_minor_locator(FixedLocator(sorted(set(all_sizes) - set(decades))))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(lo_x / 1.5, 150.0)
        ax.set_xlabel("circuit size (% of components)")
    axes[0, 0].set_ylabel(ylabel)
    handles = [Line2D([], [], color=style[m][0], ls=style[m][1], lw=1.8, marker="o", ms=3.5, label=m) for m in models]
    if points:
        handles.append(Line2D([], [], marker="*", ms=12, color="0.6", mec="black", mew=0.8, ls="none",
                              label=point_label))
    if level is not None:
        handles.append(Line2D([], [], color="0.4", lw=0.9, ls=":", label=f"f = {level:g}"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.5 / fig.get_size_inches()[1], 1, 1))
    return fig
