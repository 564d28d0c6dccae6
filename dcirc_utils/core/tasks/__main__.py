"""``python -m dcirc_utils.core.tasks``: rewrite the shipped prompt sets (``data/prompts``, ``data/tasks``)."""
from .numerals import write_default_sets
from .sets import write_task_sets

if __name__ == "__main__":
    for p in write_default_sets() + write_task_sets():
        print(p)
