"""The workshop renderings (dcirc_utils.studies.workshop): participant cells raise at the solution, nothing else
changes, isolation is checked, the committed participant notebooks are in sync with the solutions, every exercise
has a level and minutes on a ramp, and the solutions notebooks' stored runs report every exercise correct."""
from __future__ import annotations

import nbformat
import pytest

from dcirc_utils.studies import workshop as W


def _nb(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


def _ex(src):
    c = nbformat.v4.new_code_cell(src)
    c.metadata["tags"] = ["exercise"]
    c.outputs = [nbformat.v4.new_output("stream", text="ok\n")]
    return c


def test_rendering_blanks_only_the_solution():
    src = ("def f(x):\n    # BEGIN SOLUTION: double x\n    y = 2 * x\n    return y\n    # END SOLUTION\n\n"
           "check(f)")
    nb = _nb([nbformat.v4.new_markdown_cell("# hi"), _ex(src), nbformat.v4.new_code_cell("z = 1")])
    nb.cells[2].metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    out = W.render_participant(nb)
    assert out.cells[1].source == ('def f(x):\n    raise NotImplementedError("Exercise: double x — your code here '
                                   '(the solutions notebook has one)")\n\ncheck(f)')
    assert out.cells[1].outputs == [] and out.cells[0].source == "# hi" and out.cells[2].source == "z = 1"
    assert all("execution" not in c.metadata for c in out.cells)     # no timestamps of the solutions' run
    assert nb.cells[1].source == src and nb.cells[1].outputs          # the solutions notebook is untouched
    exec_ns: dict = {"check": lambda f: f(3)}
    with pytest.raises(NotImplementedError, match="double x"):
        exec(out.cells[1].source, exec_ns)


def test_rendering_errors():
    with pytest.raises(ValueError, match="without '# END SOLUTION'"):
        W.render_participant(_nb([_ex("# BEGIN SOLUTION\nx = 1\n")]))
    with pytest.raises(ValueError, match="needs a"):
        W.render_participant(_nb([_ex("x = 1\n")]))
    untagged = nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n")
    with pytest.raises(ValueError, match="no 'exercise' tag"):
        W.render_participant(_nb([untagged]))


def test_isolation_check_finds_leaks():
    ok = _nb([_ex("def mine():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\ncheck(mine)"),
              nbformat.v4.new_code_cell("ref = reference()")])
    assert W.exercise_isolation_problems(ok) == []
    leak = _nb([_ex("# BEGIN SOLUTION\nanswer = 42\n# END SOLUTION"), nbformat.v4.new_code_cell("print(answer)")])
    assert W.exercise_isolation_problems(leak) == ["cell 1 uses ['answer'], defined only in exercise cell 0"]


def _headed(src, level="core", minutes=10, heading="### Exercise 1.1 · core · 10 min: double x"):
    c = _ex(src)
    c.metadata["exercise"] = {"level": level, "minutes": minutes}
    return [nbformat.v4.new_markdown_cell(heading + "\nWrite f."), c]


def test_exercise_levels_and_minutes_are_read_and_checked():
    src = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\ncheck(f)"
    nb = _nb(_headed(src, "warm-up", 5, "### Exercise 1.1 · warm-up · 5 min: double x")
             + _headed(src, "stretch", 20, "### Exercise 1.2 · stretch · 20 min: double it again"))
    assert [(e.number, e.title, e.level, e.minutes) for e in W.exercises(nb, "01_x.ipynb")] == [
        ("1.1", "double x", "warm-up", 5), ("1.2", "double it again", "stretch", 20)]
    assert W.exercise_problems(nb, "01_x.ipynb") == []
    # a ramp that goes down, a heading that disagrees with the metadata, a number out of order
    down = _nb(_headed(src, "stretch", 20, "### Exercise 1.1 · stretch · 20 min: a")
               + _headed(src, "core", 5, "### Exercise 1.2 · core · 5 min: b"))
    assert W.exercise_problems(down, "01_x.ipynb") == ["01_x.ipynb: exercise 1.2 (core) comes after a stretch one"]
    wrong = _nb(_headed(src, "core", 10, "### Exercise 1.1 · core · 15 min: a"))
    assert "heading says core, 15 min" in W.exercise_problems(wrong, "01_x.ipynb")[0]
    order = _nb(_headed(src, "core", 10, "### Exercise 1.2 · core · 10 min: a"))
    assert "expected 1.1" in W.exercise_problems(order, "01_x.ipynb")[0]
    with pytest.raises(ValueError, match="needs metadata"):
        W.exercises(_nb([nbformat.v4.new_markdown_cell("### Exercise 1.1 · core · 10 min: a"), _ex(src)]))
    assert "| **all** | 2 exercises | 5 warm-up, 0 core, 20 stretch | **25** |" in W.exercise_table_markdown(
        W.exercises(nb, "01_x.ipynb"))


def test_participant_rendering_says_which_version_it_is():
    nb = _nb([nbformat.v4.new_markdown_cell("## Exercises\n(This notebook holds the solutions; the workshop's\n"
                                            "`notebooks/participant/` version leaves them blank.)")])
    out = W.render_participant(nb)
    assert "holds the solutions" not in out.cells[0].source and "participant version" in out.cells[0].source


def test_every_course_exercise_is_graded_and_the_solutions_report_correct():
    rows = W.exercise_table()
    assert len(rows) >= 16
    for path in sorted(W.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert W.exercise_problems(nb, path.name) == [], path.name
        for ex in W.exercises(nb, path.name):
            text = "".join(o.get("text", "") for o in nb.cells[ex.cell].outputs if o.output_type == "stream")
            assert ": correct — " in text and "not attempted" not in text, (path.name, ex.number, text[-300:])
        participant = nbformat.read(W.participant_path(path), as_version=4)
        assert not any("holds the solution" in c.source for c in participant.cells), path.name


def test_committed_participant_notebooks_are_in_sync():
    assert W.regenerate(check=True) == [], "run: python -m dcirc_utils.studies.workshop"
    assert not W.sync_guide_table(check=True), "docs/workshop.md's exercise table: run python -m dcirc_utils.studies.workshop"
    for path in sorted(W.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert W.exercise_isolation_problems(nb) == [], path.name


def test_colab_cell_is_inert_off_colab_and_carries_the_repository(tmp_path):
    src = W.colab_cell_source()
    compile(src, "colab", "exec")
    ns: dict = {}
    exec(src, ns)                                                     # not on Colab: installs nothing, raises nothing
    assert "COURSE_REPO" not in ns
    assert "constraints" not in src.split("constraints.txt")[1] and "-c" not in src.split()   # no CPU pin on Colab
    with pytest.raises(ValueError, match="plain git URL"):
        W.colab_cell_source('x"; import os')
    path = tmp_path / "01_x.ipynb"
    path.write_text(nbformat.writes(_nb([nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("a = 1")])))
    assert W.set_colab_cells([path]) == ["01_x.ipynb"]
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].metadata["tags"] == ["colab"] and W.colab_repo(nb) == W.PLACEHOLDER_REPO
    assert W.set_colab_cells([path]) == []                            # idempotent
    assert W.set_colab_cells([path], repo="https://example.org/c.git") == ["01_x.ipynb"]
    nb = nbformat.read(path, as_version=4)
    assert len(nb.cells) == 3 and W.colab_repo(nb) == "https://example.org/c.git"
    nb.cells[1].source += "\nprint(1)"                                 # an edited cell is not well formed
    assert W.colab_repo(nb) is None


def test_every_notebook_has_the_colab_cell():
    for path in sorted(W.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert W.colab_repo(nb) is not None, path.name
        assert "colab" in nb.cells[1].metadata.get("tags", []), path.name
