"""Pictures of the methods, drawn from boxes and arrows: mean ablation and path patching (notebook 02)."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ._style import FIT_WIDTH_IN

__all__ = ["mean_ablation_diagram", "path_patching_diagram", "DIAGRAM_COLOURS"]


#: The colours of the method diagrams (one meaning each, shared by both figures).
DIAGRAM_COLOURS = {"clean": "#dbeafe", "corrupted": "#fca5a5", "frozen": "#d1d5db", "mean": "#fde68a",
                   "receiver": "#bbf7d0", "outside": "white"}


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
