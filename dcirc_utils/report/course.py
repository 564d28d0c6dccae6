"""Run the whole course and write the report: execute every notebook in order on the chosen pair, collect every
finding into ``build/results.json`` and render the static site ``build/site/`` (the README's main command).

``python -m dcirc_utils.report.course`` (or ``dcirc-course``) runs on the default pair unless ``--pair`` or
``DCIRC_PAIR`` says otherwise, shows progress per notebook and per cell, and prints each notebook's wall time and the
total. ``--inplace`` writes the outputs into ``notebooks/`` (what maintainers do before committing them); otherwise the
executed copies go to ``build/notebooks/``. ``--prompts N`` sets ``DCIRC_PROMPTS`` (fewer prompts for a dry run of
the real architectures on ``gpt2-random``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

from ..core.paths import NOTEBOOKS_DIR, REPO_ROOT

__all__ = ["run_course", "main"]


def run_course(only: Sequence[str] | None = None, out: str | Path | None = None, inplace: bool = False,
               timeout: int = 3600, progress: bool = True) -> dict[str, float]:
    """Execute the notebooks (all, or those whose names start with one of ``only``) in order.

    Returns:
        ``{notebook name: seconds}``.

    Raises:
        FileNotFoundError: if no notebook matches.
        nbclient.exceptions.CellExecutionError: when a cell fails (the message names it).
    """
    import nbformat
    from nbclient import NotebookClient
    from tqdm.auto import tqdm

    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in only)]
    if not paths:
        raise FileNotFoundError(f"no notebooks matching {list(only or [])} in {NOTEBOOKS_DIR}")
    out_dir = NOTEBOOKS_DIR if inplace else Path(out or REPO_ROOT / "build" / "notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        n_code = sum(c.cell_type == "code" for c in nb.cells)
        bar = tqdm(total=n_code, desc=path.stem, disable=not progress, leave=True, unit="cell")
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
                                on_cell_executed=lambda cell, **kw: bar.update(1) if cell.cell_type == "code" else None)
        t0 = time.perf_counter()
        try:
            client.execute()
        finally:
            bar.close()
        times[path.name] = time.perf_counter() - t0
        nbformat.write(nb, out_dir / path.name)
        print(f"{path.name}: {times[path.name]:.0f} s", flush=True)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (the README's main command)."""
    ap = argparse.ArgumentParser(prog="python -m dcirc_utils.report.course", description=__doc__.split("\n")[0])
    ap.add_argument("--pair", default=None, help="pair to run on (default: $DCIRC_PAIR, else small)")
    ap.add_argument("--prompts", type=int, default=None, help="prompts per set (sets $DCIRC_PROMPTS)")
    ap.add_argument("--only", nargs="*", default=None, help="notebook name prefixes to run, e.g. 01 02")
    ap.add_argument("--inplace", action="store_true", help="write outputs into notebooks/ (for committing)")
    ap.add_argument("--out", default=None, help="where executed copies go (default build/notebooks)")
    ap.add_argument("--no-site", action="store_true", help="do not build the report site")
    ap.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    args = ap.parse_args(argv)
    if args.pair:
        os.environ["DCIRC_PAIR"] = args.pair
    if args.prompts:
        os.environ["DCIRC_PROMPTS"] = str(args.prompts)
    build = REPO_ROOT / "build"
    results = Path(os.environ.setdefault("DCIRC_RESULTS_DIR", str(build / "results")))
    if not args.only and results.exists():
        shutil.rmtree(results)                     # a full run starts the report afresh
    pair = os.environ.get("DCIRC_PAIR", "small (default)")
    print(f"pair: {pair}; prompts per set: {os.environ.get('DCIRC_PROMPTS', '100 (default)')}")
    t0 = time.perf_counter()
    times = run_course(args.only, args.out, args.inplace, args.timeout)
    print(f"course done in {time.perf_counter() - t0:.0f} s ({len(times)} notebooks)")
    if not args.no_site and not args.inplace:
        from .site import build_site
        index = build_site(args.out or build / "notebooks", results, build / "site")
        print(f"report: {build / 'results.json'} and {index}")
        shutil.copy(index.parent / "results.json", build / "results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
