"""The alignment metric A and what it rests on: matched pairs, A's per-pair terms, whether matching recovers the
initialisation map, and the recipes for A side by side (notebooks 03, 05, 06)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd

from ...core.components import Component, pair_label
from .base import _mean, frame

__all__ = ["matches_table", "alignment_table", "init_map_table", "RECIPE_FIELDS", "recipe_table"]


def matches_table(matches: Sequence[Any], digits: int = 3) -> pd.DataFrame:
    """:class:`~dcirc_utils.methods.matching.Match` es as a table with the pair label (notebooks 03, 05, 06)."""
    return frame([{"pair": pair_label(m.teacher, m.student), "student": m.student, "teacher": m.teacher,
                   "similarity": m.similarity} for m in matches], index="pair", digits=digits)


def alignment_table(result: Any, digits: int = 3) -> pd.DataFrame:
    """The per-pair terms of an :class:`~dcirc_utils.methods.alignment.AlignmentResult` (notebook 06)."""
    return frame([{"pair": pair_label(r["teacher"], r["student"]), "kind": r["kind"], "S": r["similarity"],
                   "I^S": r["student_influence"], "I^T": r["teacher_influence"], "term": r["term"]}
                  for r in result.rows], index="pair", digits=digits)


def init_map_table(head_matches: Sequence[Any], mlp_matches: Sequence[Any], layer_map: Sequence[int],
                   digits: int = 3) -> pd.DataFrame:
    """Does matching recover the initialisation map? One row per student layer: the teacher block it was copied
    from, how many of its heads were matched to the head they were copied from (same index in that block), their
    mean similarity, and the teacher MLP its MLP was matched to (notebook 05; input: ``matching.study_matches`` and
    ``core.components.student_layer_map``).

    Raises:
        ValueError: if ``layer_map`` does not have one teacher block per student layer that has a match.
    """
    layers = sorted({m.student.layer for m in list(head_matches) + list(mlp_matches)})
    if layers and layers[-1] >= len(layer_map):
        raise ValueError(f"layer_map has {len(layer_map)} entries but the matches reach student layer {layers[-1]}")
    rows = []
    for layer in layers:
        hs = [m for m in head_matches if m.student.layer == layer]
        mlp = [m for m in mlp_matches if m.student.layer == layer]
        src = int(layer_map[layer])
        rows.append({"student layer": layer, "copied from block": src,
                     "heads matched to their source": sum(m.teacher == Component(src, m.student.head) for m in hs),
                     "of": len(hs), "mean S of its heads": _mean([m.similarity for m in hs]),
                     "its MLP matched to": str(mlp[0].teacher) if mlp else "—",
                     "MLP S": mlp[0].similarity if mlp else math.nan})
    return frame(rows, index="student layer", digits=digits)


#: what each field of a :class:`~dcirc_utils.methods.recipes.Recipe` decides (the rows of :func:`recipe_table`)
RECIPE_FIELDS = {
    "ablation": "how one component is removed for its influence",
    "clamp_mlp": "MLP scores clamped at ≥ 0 for",
    "round_to": "influence |score − 100| rounded to (decimals)",
    "normalise_over": "influences normalised over",
    "mlp_similarity": "MLP similarity S",
    "tie": "which maximum wins a tie in head matching",
    "duplicate_below": "head matches counted twice when S is below",
    "bos": "BOS prepended for patterns and MLP outputs",
    "source": "where the recipe comes from",
}


def recipe_table(recipes: Sequence[Any]) -> pd.DataFrame:
    """Several recipes for the alignment metric A side by side: one row per ingredient (:data:`RECIPE_FIELDS`), one
    column per recipe (its ``name``), and whether every recipe makes the same choice (notebook 06; input:
    :class:`~dcirc_utils.methods.recipes.Recipe` s such as ``COURSE`` and ``STUDY_SEQUENCE``).

    Raises:
        ValueError: for no recipe, or two recipes with the same name.
    """
    recipes = list(recipes)
    if not recipes:
        raise ValueError("give at least one Recipe")
    names = [r.name for r in recipes]
    if len(set(names)) != len(names):
        raise ValueError(f"recipes need distinct names to be columns, got {names}")
    rows = []
    for field_name, meaning in RECIPE_FIELDS.items():
        values = ["—" if getattr(r, field_name) is None else str(getattr(r, field_name)) for r in recipes]
        rows.append({"ingredient": field_name, "what it decides": meaning, **dict(zip(names, values)),
                     "same in all": "" if field_name == "source" else ("yes" if len(set(values)) == 1 else "no")})
    return frame(rows, index="ingredient")
