"""Bars and histograms: grouped bars, bars of a mean over replicas with its spread (seaborn), the alignment bars
(notebooks 01, 02, 04, 05, 06, 08, 09)."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from ..readability import mark_cut_axis
from ._style import FIT_WIDTH_IN

__all__ = ["logit_diff_hist", "bar_compare", "grouped_bars", "merge_test_bars", "grouped_errorbars", "alignment_bars"]


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


def grouped_errorbars(panels: Mapping[str, tuple[Sequence[Mapping], str]], x: str, hue: str,
                      order: Sequence | None = None, hue_order: Sequence | None = None, title: str = "",
                      hlines: Mapping[str, float] | None = None, missing_label: str = "n/a",
                      figsize: tuple[float, float] | None = None):
    """Bars of the mean over replicas (e.g. prompt sets) with ± 1 standard deviation (ddof = 1, as
    :func:`~dcirc_utils.studies.shift.summarise_shift` computes it) and each replica as a dot on its bar, one panel
    per measure on a shared x axis (notebooks 05 and 08: accuracy and circuit score under distribution shift, over
    prompt sets). Drawn by seaborn from the replicas themselves (``barplot`` with ``errorbar="sd"``, ``stripplot``
    for the dots), so the figure shows how many replicas a bar averages and how far apart they lie. NaN or ``None``
    values (an undefined score) are left out; a group with none left draws no bar but writes ``missing_label``
    where the bar would stand, so an undefined result stays visible.

    Args:
        panels: panel y label → (rows, measure key): one mapping per replica and group, holding ``x``, ``hue`` and
            the measure (e.g. ``studies.shift.shift_study`` rows, one per seed, variant and model).
        x: the key of the groups on the x axis (e.g. ``"variant"``); hue: the key of the bars in a group.
        order, hue_order: the x groups and the bars of a group, in order (default: as first seen in the rows);
            rows of other groups are left out.
        title: the figure's title.
        hlines: panel y label → y of a dashed reference line.
        missing_label: text written for a group whose values are all undefined.
        figsize: inches; default at least (6.5, 3.2 per panel).

    Raises:
        ValueError: for no panel, a panel without rows, or a row without ``x``, ``hue`` or its measure.
    """
    import pandas as pd
    import seaborn as sns
    if not panels:
        raise ValueError("give at least one panel: {ylabel: (rows, measure key)}")
    frames = {}
    for ylabel, (rows, key) in panels.items():
        if not rows:
            raise ValueError(f"panel {ylabel!r} has no rows: pass one mapping per replica and group")
        for k in (x, hue, key):
            if any(k not in r for r in rows):
                raise ValueError(f"a row of panel {ylabel!r} has no {k!r}: each row needs {x!r}, {hue!r} and {key!r}")
        frames[ylabel] = pd.DataFrame({x: [str(r[x]) for r in rows], hue: [str(r[hue]) for r in rows],
                                       "value": [math.nan if r[key] is None else float(r[key]) for r in rows]})
    every = pd.concat(list(frames.values()))
    labels = [str(v) for v in order] if order is not None else list(dict.fromkeys(every[x]))
    series = [str(v) for v in hue_order] if hue_order is not None else list(dict.fromkeys(every[hue]))
    fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False, figsize=figsize or (
        max(6.5, 0.35 * len(labels) * max(2, len(series)) + 3.0), 3.2 * len(panels) + 0.6))
    w = 0.8 / max(1, len(series))
    for ax, (ylabel, data) in zip(axes[:, 0], frames.items()):
        data = data[data[x].isin(labels) & data[hue].isin(series)]
        finite = data.dropna()
        if len(finite):
            common = dict(data=finite, x=x, y="value", hue=hue, order=labels, hue_order=series, legend=False, ax=ax)
            sns.barplot(**common, palette={s: f"C{k}" for k, s in enumerate(series)}, errorbar="sd", width=0.8,
                        capsize=0.25, err_kws={"color": "k", "linewidth": 1})
            sns.stripplot(**common, palette={s: "0.15" for s in series}, dodge=True, jitter=False, size=3.5,
                          edgecolor="white", linewidth=0.5, zorder=3)
        shown = set(zip(finite[x], finite[hue]))
        for label, s in sorted(set(zip(data[x], data[hue])) - shown, key=lambda g: (series.index(g[1]),
                                                                                       labels.index(g[0]))):
            k = series.index(s)
            ax.annotate(missing_label, (labels.index(label) + (k - (len(series) - 1) / 2) * w, 0), ha="center",
                        va="bottom", rotation=90, fontsize=10, color=f"C{k}", xytext=(0, 2),
                        textcoords="offset points")
        if hlines and ylabel in hlines:
            ax.axhline(hlines[ylabel], color="k", lw=0.8, ls="--")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    handles = [Patch(color=f"C{k}", label=s) for k, s in enumerate(series)]
    axes[0, 0].legend(handles=handles, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[-1, 0].set_xticks(np.arange(len(labels)), labels, rotation=30, ha="right")
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
