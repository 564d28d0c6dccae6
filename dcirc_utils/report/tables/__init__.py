"""Tables as pandas DataFrames, from plain results (every notebook).

Notebooks show DataFrames, not hand-formatted print tables: a DataFrame renders as a readable HTML table in Jupyter
and on the report site, keeps its numbers machine-readable, and prints deterministically once rounded. Each builder
turns the plain data a method returns into one table; :func:`frame` (:mod:`.base`) is the generic one. The builders
are grouped by what they tabulate: :mod:`.evaluation` (how well models do the task), :mod:`.circuits` (circuits,
their components and head roles), :mod:`.brittleness` (removal drops) and :mod:`.alignment` (matches, A and its
recipes). Notebooks import the builders from this package (``from dcirc_utils.report.tables import frame, ...``).
"""
from __future__ import annotations

from .alignment import RECIPE_FIELDS, alignment_table, init_map_table, matches_table, recipe_table
from .base import frame
from .brittleness import drop_summary, drops_table, ratio_table
from .circuits import circuit_diff_table, circuit_table, role_ranking_table, top_components
from .evaluation import evaluation_table, offline_eval_table, sweep_table, token_share_table

__all__ = [
    "frame",
    # evaluation
    "evaluation_table", "offline_eval_table", "token_share_table", "sweep_table",
    # circuits
    "circuit_table", "circuit_diff_table", "top_components", "role_ranking_table",
    # brittleness
    "drops_table", "ratio_table", "drop_summary",
    # alignment
    "matches_table", "alignment_table", "init_map_table", "RECIPE_FIELDS", "recipe_table",
]
