"""Is a figure readable from the back of a room, as a notebook shows it? (issue 25)

A notebook stores a figure as a 100-dpi PNG cropped to its drawn content (``bbox_inches="tight"``, see
:func:`dcirc_utils.studies.notebook.compact_png`), and Jupyter shows that PNG at its natural size up to about
:data:`DISPLAY_WIDTH_IN` inches wide; a wider one is shrunk to fit, and every text with it. A text's *effective* size
is therefore its size in points × min(1, 9.5 / the PNG's width in inches). :func:`figure_readability_problems` lists,
in words, what falls short of the course's rules:

* every drawn text (titles, axis and tick labels, legend texts, annotations, colour-bar labels) is at least
  :data:`MIN_FONT_PT` points at the display width;
* every heatmap (an ``AxesImage`` or ``QuadMesh``) has a colour bar in the figure that shows its colour scale;
* bars start at zero (the value axis includes 0), unless the axis is marked as cut with :func:`mark_cut_axis`.

It has no dependency beyond matplotlib, so tests (and the notebook tests, on real figures) can call it freely.
"""
from __future__ import annotations

import matplotlib
from matplotlib.collections import QuadMesh
from matplotlib.container import BarContainer
from matplotlib.image import AxesImage

# the rcParams every notebook's setup cell applies, defined once in studies.notebook; tests apply them with
# matplotlib.rc_context(NOTEBOOK_RC)
from ..studies.notebook import NOTEBOOK_RC

__all__ = ["NOTEBOOK_RC", "DISPLAY_WIDTH_IN", "MIN_FONT_PT", "CUT_AXIS_GID", "display_width", "drawn_texts",
           "figure_readability_problems", "mark_cut_axis", "effective_font_size"]

#: Jupyter shows a 100-dpi PNG at its natural size up to about this width (inches); a wider one is shrunk.
DISPLAY_WIDTH_IN = 9.5

#: The smallest effective font size (points) a text may have at the display width.
MIN_FONT_PT = 10.0

#: The ``gid`` of the marks :func:`mark_cut_axis` draws: an axes holding an artist with it has a declared cut axis.
CUT_AXIS_GID = "axis-cut"


def _renderer(fig):
    if fig.canvas is None or not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def display_width(fig, drawn: bool = False) -> float:
    """The width in inches of the PNG a notebook stores for ``fig``: its drawn content (``bbox_inches="tight"``)
    plus the save padding on both sides (``drawn``: the figure was just drawn, so its layout is current)."""
    renderer = _renderer(fig)
    if not drawn:
        fig.draw(renderer)
    box = fig.get_tightbbox(renderer)
    return float(box.width) + 2.0 * float(matplotlib.rcParams["savefig.pad_inches"])


def effective_font_size(size_pt: float, width_in: float, display_width_in: float = DISPLAY_WIDTH_IN) -> float:
    """A font of ``size_pt`` points in a PNG ``width_in`` inches wide, as Jupyter shows it (shrunk past
    ``display_width_in``)."""
    return size_pt * min(1.0, display_width_in / width_in) if width_in > 0 else size_pt


def drawn_texts(fig) -> list[tuple[str, float, object]]:
    """Every text the renderer draws for ``fig``, as ``(text, size in points, Text artist)``.

    It records the renderer's ``draw_text`` calls during one draw, so it sees exactly what is drawn: hidden axes, tick
    labels outside the view limits, empty strings and ``axis("off")`` are left out without guessing.
    """
    renderer = _renderer(fig)
    seen: list[tuple[str, float, object]] = []
    original = renderer.draw_text

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if str(s).strip():
            seen.append((str(s), float(prop.get_size_in_points()), mtext))
        return original(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    try:
        fig.draw(renderer)
    finally:
        del renderer.draw_text                  # back to the class's method
    return seen


def _all_axes(fig) -> list:
    out, todo = [], list(fig.axes)
    while todo:
        ax = todo.pop(0)
        out.append(ax)
        todo.extend(getattr(ax, "child_axes", []))
    return out


def _owners(fig) -> dict[int, object]:
    """id(text) → the axes it belongs to (tick labels carry no ``axes`` of their own)."""
    from matplotlib.text import Text
    owner: dict[int, object] = {}
    for ax in _all_axes(fig):
        for t in ax.findobj(Text):
            owner.setdefault(id(t), ax)
    return owner


def _where(artist, owners: dict | None = None) -> str:
    if artist is None:                          # matplotlib passes no artist for the lines of a multi-line text
        return "a multi-line text"
    ax = getattr(artist, "axes", None) or (owners or {}).get(id(artist))
    if ax is None:
        return "the figure"
    if getattr(ax, "_colorbar", None) is not None:
        return f"the colour bar {ax._colorbar.ax.get_ylabel() or ax._colorbar.ax.get_xlabel()!r}"
    title = ax.get_title() or ax.get_title(loc="left") or ax.get_ylabel() or ax.get_xlabel()
    return f"axes {title!r}" if title else "an untitled axes"


def _heatmaps(ax) -> list:
    return [a for a in list(ax.images) + list(ax.collections) if isinstance(a, (AxesImage, QuadMesh))
            and a.get_visible() and a.get_array() is not None]


def _same_scale(a, b) -> bool:
    """Whether two mappables show one colour scale: the same norm object, or the same colour map and limits."""
    if a is b or a.norm is b.norm:
        return True
    return (a.get_cmap().name == b.get_cmap().name and type(a.norm) is type(b.norm)
            and a.norm.vmin == b.norm.vmin and a.norm.vmax == b.norm.vmax)


def _bar_problems(ax) -> list[str]:
    if not ax.get_visible() or any(a.get_gid() == CUT_AXIS_GID for a in ax.get_children()):
        return []
    problems = []
    for container in ax.containers:
        if not isinstance(container, BarContainer) or not len(container.patches):
            continue
        horizontal = getattr(container, "orientation", "vertical") == "horizontal"
        lo, hi = sorted(ax.get_xlim() if horizontal else ax.get_ylim())
        if not lo <= 0.0 <= hi:
            axis = "x" if horizontal else "y"
            problems.append(f"bars in {_where(container.patches[0])} do not start at zero: the {axis} axis runs "
                            f"{lo:g}–{hi:g} and is not marked as cut (mark_cut_axis)")
            break
    return problems


def figure_readability_problems(fig, min_pt: float = MIN_FONT_PT,
                                display_width_in: float = DISPLAY_WIDTH_IN) -> list[str]:
    """What makes ``fig`` hard to read as a notebook shows it, one sentence per problem (empty: none found).

    Checks: (a) every drawn text is at least ``min_pt`` points at the display width (the PNG shrunk to
    ``display_width_in`` inches when wider); (b) every heatmap (``AxesImage``/``QuadMesh`` outside a colour bar) has
    a colour bar in the figure showing its colour scale; (c) bars start at zero, or their axis is marked as cut
    (:func:`mark_cut_axis`).
    """
    problems: list[str] = []
    texts = drawn_texts(fig)                    # draws the figure once; its layout is then current
    width = display_width(fig, drawn=True)
    scale = min(1.0, display_width_in / width) if width > 0 else 1.0
    owners = _owners(fig)
    small: set[tuple] = set()
    for text, size, artist in texts:
        eff = size * scale
        if eff < min_pt - 1e-6:
            key = (round(size, 2), _where(artist, owners))
            if key not in small:                # one sentence per size and place, not per tick label
                small.add(key)
                problems.append(f"text {text[:40]!r} in {key[1]} is {size:.1f} pt, {eff:.1f} pt as shown "
                                f"(PNG {width:.1f} in wide; needs ≥ {min_pt:g} pt)")
    axes = _all_axes(fig)
    colorbars = [ax._colorbar for ax in axes if getattr(ax, "_colorbar", None) is not None]
    bar_axes = {id(cb.ax) for cb in colorbars}
    for ax in axes:
        if id(ax) in bar_axes or not ax.get_visible():
            continue
        for mappable in _heatmaps(ax):
            if not any(_same_scale(mappable, cb.mappable) for cb in colorbars):
                problems.append(f"the heatmap in {_where(mappable)} has no colour bar showing its scale")
                break
        problems += _bar_problems(ax)
    return problems


def mark_cut_axis(ax, which: str = "y") -> None:
    """Mark the value axis of ``ax`` as cut (it does not start at zero): two short slanted strokes across the axis
    line at its low end, the usual broken-axis sign. The marks carry ``gid`` :data:`CUT_AXIS_GID`, which
    :func:`figure_readability_problems` reads as a declared cut."""
    d = 0.018
    kw = dict(transform=ax.transAxes, color="k", lw=1.2, clip_on=False, gid=CUT_AXIS_GID, zorder=5)
    if which == "y":
        for dy in (0.0, 0.025):
            ax.plot([-d, d], [0.03 + dy - d / 2, 0.03 + dy + d / 2], **kw)
    else:
        for dx in (0.0, 0.025):
            ax.plot([0.03 + dx - d / 2, 0.03 + dx + d / 2], [-d, d], **kw)
