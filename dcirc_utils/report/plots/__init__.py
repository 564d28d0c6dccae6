"""Figures from plain arrays and dicts; no model access, so a figure can be redrawn from cached results.

Every function returns the matplotlib ``Figure`` (notebooks display it; tests may save it). The modules are split by
what they draw: :mod:`.grids` (heatmaps and other grids of cells), :mod:`.graphs` (circuit graphs), :mod:`.bars`
(bars and histograms), :mod:`.curves` (lines over an axis), :mod:`.scatters` (one quantity against another) and
:mod:`.diagrams` (pictures of the methods); :mod:`._style` holds what they share. Notebooks import this package
(``from dcirc_utils.report import plots; plots.heatmap(...)``), which re-exports every public name.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() == "agg" else None

from ..readability import NOTEBOOK_RC, figure_readability_problems, mark_cut_axis  # noqa: E402
from ._style import FIT_WIDTH_IN, clipped_limit, text_colour_on  # noqa: E402
from .bars import (alignment_bars, bar_compare, grouped_bars, grouped_errorbars, logit_diff_hist,  # noqa: E402
                   merge_test_bars)
from .curves import (MODEL_STYLES, by_position, capacity_lines, concentration_curve, faithfulness_curves,  # noqa: E402
                     noise_curves, training_curves)
from .diagrams import DIAGRAM_COLOURS, mean_ablation_diagram, path_patching_diagram  # noqa: E402
from .graphs import EDGE_PANELS, circuit_graph  # noqa: E402
from .grids import attention_grid, attention_view, head_scores_grid, heatmap, layer_head_heatmaps  # noqa: E402
from .scatters import exact_vs_estimate, scatter_panels, sensitivity_scatter  # noqa: E402

__all__ = [
    # grids
    "heatmap", "layer_head_heatmaps", "head_scores_grid", "attention_grid", "attention_view",
    # graphs
    "circuit_graph", "EDGE_PANELS",
    # bars
    "logit_diff_hist", "bar_compare", "grouped_bars", "merge_test_bars", "grouped_errorbars", "alignment_bars",
    # curves
    "by_position", "training_curves", "concentration_curve", "noise_curves", "capacity_lines", "faithfulness_curves",
    "MODEL_STYLES",
    # scatters
    "sensitivity_scatter", "exact_vs_estimate", "scatter_panels",
    # diagrams
    "mean_ablation_diagram", "path_patching_diagram", "DIAGRAM_COLOURS",
    # shared style, and the readability helpers notebooks reach through this package
    "FIT_WIDTH_IN", "clipped_limit", "text_colour_on", "figure_readability_problems", "mark_cut_axis", "NOTEBOOK_RC",
]
