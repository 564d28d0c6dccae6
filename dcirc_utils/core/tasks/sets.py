"""The shipped prompt sets of the tasks other than numerals (``data/tasks``), written by
``python -m dcirc_utils.core.tasks``."""
from __future__ import annotations

from pathlib import Path

from .base import DATA_DIR, make_task, save_prompt_set
from .ioi import IOI_TEMPLATES

__all__ = ["write_task_sets"]


def write_task_sets(n: int = 100, seed: int = 0, folder: str | Path | None = None) -> list[Path]:
    """Write held-out sets of IOI (every template family: ``ioi_t<k>.json``), offline-world QA (``qa.json``) and
    greater-than (``greater_than.json``) under ``data/tasks/`` (notebook 01 shows them). Made without a tokenizer:
    their words are single tokens for GPT-2 and the ``small`` pair alike; ``qa_real.json`` there is source data,
    not written here.

    Args:
        n: prompts per set.
        seed: the generators' seed.
        folder: where to write (default ``data/tasks``).
    """
    folder = Path(folder) if folder else DATA_DIR / "tasks"
    paths = [save_prompt_set(make_task("ioi", n, seed, template=k), folder / f"ioi_t{k}.json")
             for k in range(len(IOI_TEMPLATES))]
    paths.append(save_prompt_set(make_task("qa", n, seed), folder / "qa.json"))
    paths.append(save_prompt_set(make_task("greater_than", n, seed), folder / "greater_than.json"))
    return paths
