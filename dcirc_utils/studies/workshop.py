"""One source, two renderings: the solutions notebooks in ``notebooks/`` and the participant versions generated from
them in ``notebooks/participant/`` (the workshop).

An exercise is a code cell tagged ``exercise`` whose solution lines sit between ``# BEGIN SOLUTION`` and
``# END SOLUTION``, with its level (:data:`LEVELS`) and minutes in the cell's metadata (``{"exercise": {"level":
"core", "minutes": 10}}``), repeated in the heading of the markdown cell before it. The participant rendering
replaces each solution block by one line that raises ``NotImplementedError`` with the exercise's name ("your code
here"), keeps everything else of the cell (the function signature, the checker call), clears every output, and keeps
markdown (objectives, hints) as it is, but for the note on which rendering the reader holds. A solution may name its
exercise with ``# BEGIN SOLUTION: <short task>``. A checker handed a blank function prints "not attempted" and the
notebook runs on (:mod:`dcirc_utils.studies.exercises`), so Run All reaches the end of a participant notebook.

Every notebook's second cell (tagged ``colab``) installs the course when the notebook runs on Google Colab and does
nothing elsewhere: it clones the course's repository and installs it in editable mode *without* the CPU pins of
``constraints.txt``, so Colab keeps its own CUDA torch (``pyproject.toml`` declares compatible ranges only). The
repository's address is written into that cell by ``python -m dcirc_utils.studies.workshop --repo URL`` (a teacher
does this once in their copy of the course); until then the cell stops on Colab with an error that says so.

Run ``python -m dcirc_utils.studies.workshop`` to regenerate the participant notebooks and the exercise table of
``docs/workshop.md`` (``--check`` only reports whether they are in sync, and whether every notebook has the Colab
cell; the test suite runs that check; ``--table`` prints the table). :func:`exercise_isolation_problems` checks that
no later cell uses a name that only an exercise cell defines, so that no cell after an exercise depends on the
participant's code.
"""
from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..core.paths import NOTEBOOKS_DIR, REPO_ROOT

__all__ = ["EXERCISE_TAG", "COLAB_TAG", "PLACEHOLDER_REPO", "LEVELS", "Exercise", "colab_cell_source", "colab_repo",
           "set_colab_cells", "render_participant", "exercise_cells", "exercises", "exercise_problems",
           "exercise_table", "exercise_table_markdown", "sync_guide_table", "WORKSHOP_GUIDE",
           "exercise_isolation_problems", "participant_path", "regenerate", "main"]

EXERCISE_TAG = "exercise"
#: An exercise's level, easiest first: within a notebook the levels never go down (a ramp).
LEVELS = ("warm-up", "core", "stretch")
#: The note that says which rendering a reader holds: the solutions notebooks' wording and the participant one's.
SOLUTIONS_NOTE = re.compile(r"\(This notebook holds (?:a|the) solutions?;.*?blank\.\)", re.S)
PARTICIPANT_NOTE = ("(This is the workshop's participant version: each exercise is blank until you write it; a "
                    "blank one reports \"not attempted\" and the notebook runs on with the package's reference. The "
                    "solutions are in `notebooks/`.)")
_HEADING = re.compile(r"^###\s+Exercise\s+(\d+)\.(\d+)\s+·\s+([\w-]+)\s+·\s+(\d+)\s+min\s*:\s*(.+)$", re.M)
_BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION(?::\s*(.*))?\s*$")
_END = re.compile(r"^\s*# END SOLUTION\s*$")
_ANY_BEGIN = re.compile(r"^\s*# BEGIN SOLUTION", re.M)


COLAB_TAG = "colab"
#: The repository address a fresh copy of the course carries until ``--repo URL`` names the real one.
PLACEHOLDER_REPO = "https://github.com/<owner>/distilled-circuits"
_REPO_LINE = re.compile(r'^    COURSE_REPO = "([^"]*)"', re.M)


def colab_cell_source(repo: str = PLACEHOLDER_REPO) -> str:
    """The source of the optional Colab install cell, for the course repository ``repo`` (a git URL).

    Raises:
        ValueError: for a ``repo`` with a quote or a newline (it is written into a Python string).
    """
    if any(ch in repo for ch in "\"'\n\\") or not repo.strip():
        raise ValueError(f"repo {repo!r} is not a plain git URL; pass e.g. https://github.com/you/distilled-circuits")
    return f'''# Optional, for Google Colab only (does nothing elsewhere): install the course from its repository.
# Colab keeps its own torch: the install uses the package's compatible ranges, not the CPU pins of constraints.txt.
import sys
if "google.colab" in sys.modules:
    import os, site, subprocess
    COURSE_REPO = "{repo}"
    if "<owner>" in COURSE_REPO:
        raise RuntimeError("This copy of the course names no repository for Colab yet: put its git URL in COURSE_REPO "
                           "above, or run `python -m dcirc_utils.studies.workshop --repo URL` in the course and push.")
    if not os.path.isdir("/content/distilled-circuits"):
        subprocess.run(["git", "clone", "--depth", "1", COURSE_REPO, "/content/distilled-circuits"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/distilled-circuits"], check=True)
    site.addsitedir(site.getsitepackages()[0])      # reads the editable install's path file without a restart'''


def colab_repo(nb) -> str | None:
    """The repository the notebook's Colab cell installs from, or ``None`` when it has no (well-formed) Colab cell."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and COLAB_TAG in cell.get("metadata", {}).get("tags", []):
            m = _REPO_LINE.search(_source(cell))
            return m.group(1) if m and _source(cell) == colab_cell_source(m.group(1)) else None
    return None


def set_colab_cells(paths: Sequence[Path] | None = None, repo: str | None = None) -> list[str]:
    """Put the Colab cell (second cell, tagged ``colab``) into each notebook, for ``repo`` (default: the repository
    the notebook already names, else :data:`PLACEHOLDER_REPO`).

    Returns:
        the notebooks that changed.
    """
    import nbformat
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")) if paths is None else list(paths)
    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        source = colab_cell_source(repo or colab_repo(nb) or PLACEHOLDER_REPO)
        tagged = [i for i, c in enumerate(nb.cells) if COLAB_TAG in c.get("metadata", {}).get("tags", [])]
        if tagged and _source(nb.cells[tagged[0]]) == source:
            continue
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [COLAB_TAG]})
        if tagged:
            nb.cells[tagged[0]]["source"] = source
        else:
            nb.cells.insert(1, cell)
        path.write_text(nbformat.writes(nb) + "\n")
        changed.append(path.name)
    return changed


def _source(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def exercise_cells(nb) -> list[int]:
    """Indices of the cells tagged :data:`EXERCISE_TAG`."""
    return [i for i, c in enumerate(nb["cells"])
            if c["cell_type"] == "code" and EXERCISE_TAG in c.get("metadata", {}).get("tags", [])]


def _blank(source: str, where: str) -> str:
    out, inside, found = [], False, False
    for line in source.splitlines():
        m = _BEGIN.match(line)
        if m and not inside:
            inside, found = True, True
            task = (m.group(2) or "this exercise").strip()
            out.append(f'{m.group(1)}raise NotImplementedError("Exercise: {task} — your code here (the solutions '
                       f'notebook has one)")')
            continue
        if _END.match(line) and inside:
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: '# BEGIN SOLUTION' without '# END SOLUTION'")
    if not found:
        raise ValueError(f"{where}: an exercise cell needs a '# BEGIN SOLUTION' ... '# END SOLUTION' block")
    return "\n".join(out)


@dataclass(frozen=True)
class Exercise:
    """One exercise of a notebook, as its cell metadata and heading state it."""

    notebook: str          #: the notebook's file name
    number: str            #: "<notebook number>.<k>", e.g. "2.1"
    title: str             #: the heading's words after the level and minutes
    level: str             #: one of :data:`LEVELS`
    minutes: int           #: the time a participant needs for it, reading the hint included
    cell: int              #: the code cell's index


def exercises(nb, name: str = "notebook") -> list[Exercise]:
    """The exercises of ``nb``, in order.

    Raises:
        ValueError: when an exercise cell has no level/minutes metadata or no heading before it.
    """
    out = []
    for i in exercise_cells(nb):
        meta = nb["cells"][i].get("metadata", {}).get("exercise")
        if not isinstance(meta, dict) or meta.get("level") not in LEVELS or not isinstance(meta.get("minutes"), int):
            raise ValueError(f"{name} cell {i}: an exercise cell needs metadata "
                             f'{{"exercise": {{"level": one of {LEVELS}, "minutes": int}}}}')
        heading = next((m for j in range(i - 1, -1, -1) if nb["cells"][j]["cell_type"] == "markdown"
                        for m in [_HEADING.search(_source(nb["cells"][j]))] if m), None)
        if heading is None:
            raise ValueError(f"{name} cell {i}: no markdown heading '### Exercise N.k · level · M min: title' "
                             "before it")
        out.append(Exercise(name, f"{heading.group(1)}.{heading.group(2)}", heading.group(5).strip(), meta["level"],
                            meta["minutes"], i))
    return out


def exercise_problems(nb, name: str = "notebook") -> list[str]:
    """What is wrong with the notebook's exercises as a workshop sees them: missing metadata or heading, a heading
    that disagrees with the cell's metadata, numbers out of order, a level lower than the one before (no ramp)."""
    try:
        found = exercises(nb, name)
    except ValueError as e:
        return [str(e)]
    problems, number = [], int(name[:2]) if name[:2].isdigit() else name[:2]
    for k, ex in enumerate(found, 1):
        head = next(_HEADING.search(_source(nb["cells"][j])) for j in range(ex.cell - 1, -1, -1)
                    if nb["cells"][j]["cell_type"] == "markdown" and _HEADING.search(_source(nb["cells"][j])))
        if head.group(3) != ex.level or int(head.group(4)) != ex.minutes:
            problems.append(f"{name} exercise {ex.number}: heading says {head.group(3)}, {head.group(4)} min; the "
                            f"cell's metadata {ex.level}, {ex.minutes} min")
        if ex.number != f"{number}.{k}":
            problems.append(f"{name}: exercise {k} is numbered {ex.number}, expected {number}.{k}")
        if k > 1 and LEVELS.index(ex.level) < LEVELS.index(found[k - 2].level):
            problems.append(f"{name}: exercise {ex.number} ({ex.level}) comes after a {found[k - 2].level} one")
    return problems


def exercise_table(paths: Sequence[Path] | None = None) -> list[Exercise]:
    """Every exercise of the course's notebooks, in course order (the workshop guide's table)."""
    import nbformat
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")) if paths is None else list(paths)
    return [ex for p in paths for ex in exercises(nbformat.read(p, as_version=4), p.name)]


def exercise_table_markdown(rows: Sequence[Exercise] | None = None) -> str:
    """The exercise table as Markdown (notebook, exercise, level, minutes), with the course's total minutes by level;
    ``docs/workshop.md`` carries it between ``<!-- exercise-table -->`` markers."""
    rows = exercise_table() if rows is None else list(rows)
    lines = ["| notebook | exercise | level | minutes |", "|---|---|---|---:|"]
    for ex in rows:
        lines.append(f"| `{ex.notebook.removesuffix('.ipynb')}` | {ex.number} {ex.title} | {ex.level} | {ex.minutes} |")
    total = sum(ex.minutes for ex in rows)
    by_level = ", ".join(f"{sum(ex.minutes for ex in rows if ex.level == lv)} {lv}" for lv in LEVELS)
    lines.append(f"| **all** | {len(rows)} exercises | {by_level} | **{total}** |")
    return "\n".join(lines)


#: The workshop guide, whose exercise table sits between these two markers.
WORKSHOP_GUIDE = REPO_ROOT / "docs" / "workshop.md"
_TABLE_MARKERS = ("<!-- exercise-table -->", "<!-- /exercise-table -->")


def sync_guide_table(path: Path = WORKSHOP_GUIDE, check: bool = False) -> bool:
    """Write :func:`exercise_table_markdown` between the markers of the workshop guide (``check``: only compare).

    Returns:
        whether the guide's table was (or, with ``check``, would be) changed.

    Raises:
        ValueError: when the guide lacks the markers.
    """
    text = path.read_text()
    start, end = _TABLE_MARKERS
    if start not in text or end not in text:
        raise ValueError(f"{path} has no exercise table markers {start} ... {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{exercise_table_markdown()}\n{end}{tail}"
    if new != text and not check:
        path.write_text(new)
    return new != text


def render_participant(nb, name: str = "notebook"):
    """The participant version of a solutions notebook (a new ``nbformat`` notebook; ``nb`` is not changed).

    Raises:
        ValueError: if an exercise cell has no solution block, or a block is not closed.
    """
    out = copy.deepcopy(nb)
    for i in exercise_cells(out):
        out["cells"][i]["source"] = _blank(_source(out["cells"][i]), f"{name} cell {i}")
    for cell in out["cells"]:
        cell.get("metadata", {}).pop("execution", None)        # the solutions run's timestamps mean nothing here
        if cell["cell_type"] == "markdown":
            cell["source"] = SOLUTIONS_NOTE.sub(PARTICIPANT_NOTE, _source(cell))
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        if _ANY_BEGIN.search(_source(cell)) and cell["cell_type"] == "code" and \
                EXERCISE_TAG not in cell.get("metadata", {}).get("tags", []):
            raise ValueError(f"{name}: a cell has a solution block but no '{EXERCISE_TAG}' tag")
    out.setdefault("metadata", {})["dcirc_rendering"] = "participant"
    return out


def _defined(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _used(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _parse(source: str) -> ast.AST:
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


def exercise_isolation_problems(nb) -> list[str]:
    """Names that an exercise cell defines, no other cell defines, and a later cell uses: each would make the
    participant notebook fail outside its exercise cells. An empty list means the exercises are isolated."""
    ex = set(exercise_cells(nb))
    code = [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    defined_elsewhere: set[str] = set()
    for i, c in code:
        if i not in ex:
            defined_elsewhere |= _defined(_parse(_source(c)))
    problems = []
    for i in sorted(ex):
        only_here = _defined(_parse(_source(nb["cells"][i]))) - defined_elsewhere
        for j, c in code:
            if j > i and j not in ex:
                bad = sorted(only_here & _used(_parse(_source(c))))
                if bad:
                    problems.append(f"cell {j} uses {bad}, defined only in exercise cell {i}")
    return problems


def participant_path(path: Path) -> Path:
    """Where the participant version of ``notebooks/<name>.ipynb`` lives."""
    return path.parent / "participant" / path.name


def regenerate(paths: Sequence[Path] | None = None, check: bool = False) -> list[str]:
    """Write (or, with ``check``, compare) the participant version of every notebook that has exercises.

    Returns:
        the notebooks whose participant file was (or, with ``check``, would be) changed.
    """
    import nbformat
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")) if paths is None else list(paths)
    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if not exercise_cells(nb):
            continue
        text = nbformat.writes(render_participant(nb, path.name)) + "\n"
        target = participant_path(path)
        if not target.exists() or target.read_text() != text:
            changed.append(path.name)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m dcirc_utils.studies.workshop [--check] [--repo URL]``."""
    ap = argparse.ArgumentParser(prog="python -m dcirc_utils.studies.workshop", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only report notebooks whose participant file is stale")
    ap.add_argument("--repo", help="the course's git URL, written into every notebook's Colab cell")
    ap.add_argument("--table", action="store_true", help="print the exercise table (Markdown) and stop")
    args = ap.parse_args(argv)
    if args.table:
        print(exercise_table_markdown())
        return 0
    if args.check:
        missing = [p.name for p in sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
                   if colab_repo(__import__("nbformat").read(p, as_version=4)) is None]
        if missing:
            print("notebooks without a well-formed Colab cell: " + ", ".join(missing) +
                  "; run python -m dcirc_utils.studies.workshop", file=sys.stderr)
            return 1
    else:
        colab = set_colab_cells(repo=args.repo)
        if colab:
            print("Colab cell written: " + ", ".join(colab))
    changed = regenerate(check=args.check)
    if WORKSHOP_GUIDE.exists() and sync_guide_table(check=args.check):      # the guide ships with a clone only
        changed.append(WORKSHOP_GUIDE.name)
    if args.check and changed:
        print("participant notebooks out of sync: " + ", ".join(changed) +
              "; run python -m dcirc_utils.studies.workshop", file=sys.stderr)
        return 1
    print(("would change: " if args.check else "written: ") + (", ".join(changed) or "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
