"""The participant notebooks run end to end and fail only where a participant has work to do: every exercise cell
raises the "your code here" NotImplementedError, and no other cell fails (notebooks 00 and 08, the two that run in
seconds; the others are checked statically by tests/unit/test_workshop.py)."""
from __future__ import annotations

import nbformat
import pytest

from dcirc_utils.studies import workshop as W


@pytest.mark.parametrize("name", ["00_offline_pairs", "08_open_questions"])
def test_participant_notebook_fails_only_in_its_exercise_cells(name):
    from nbclient import NotebookClient
    nb = nbformat.read(W.participant_path(W.NOTEBOOKS_DIR / f"{name}.ipynb"), as_version=4)
    exercises = set(W.exercise_cells(nb))
    assert len(exercises) >= 2
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(W.NOTEBOOKS_DIR)}}).execute()
    failed = {i: o for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"}
    assert set(failed) == exercises, f"errors in cells {sorted(failed)}, exercises are {sorted(exercises)}"
    for i, err in failed.items():
        assert err.ename == "NotImplementedError" and "your code here" in err.evalue, (i, err.ename, err.evalue)
