"""What the figure modules share: the width figures fit, colour limits and the values written beyond them, text
colours on cells, and the placement of legends and labels where they cover no data."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..readability import DISPLAY_WIDTH_IN

__all__ = ["FIT_WIDTH_IN", "clipped_limit", "text_colour_on"]


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


def text_colour_on(rgba) -> str:
    """Black or white, whichever contrasts more with a cell of colour ``rgba`` (relative luminance, WCAG)."""
    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(float(x)) for x in rgba[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "white"


def _ordinal(p: float) -> str:
    """95 → '95th', 99.5 → '99.5th', 1 → '1st'."""
    n = f"{p:g}"
    if "." in n:
        return n + "th"
    k = int(n)
    return n + ("th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th"))


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
