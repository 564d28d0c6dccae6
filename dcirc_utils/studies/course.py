"""Run the whole course: execute every notebook in ``notebooks/`` in order and save the executed copies.

``python -m dcirc_utils.studies.course`` (the README's main job) runs on the offline pair unless ``DCIRC_PAIR`` says
otherwise; ``--inplace`` overwrites the notebooks (what maintainers do before committing outputs), otherwise the
executed notebooks go to ``build/notebooks/``. Prints each notebook's wall time.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..core.paths import NOTEBOOKS_DIR

NOTEBOOKS = NOTEBOOKS_DIR


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Execute the course's notebooks in order.")
    ap.add_argument("--inplace", action="store_true", help="write outputs into notebooks/ (for committing)")
    ap.add_argument("--out", default="build/notebooks", help="where executed copies go (without --inplace)")
    ap.add_argument("--only", nargs="*", default=None, help="notebook name prefixes to run, e.g. 01 02")
    ap.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    args = ap.parse_args(argv)

    import nbformat
    from nbclient import NotebookClient

    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if not paths:
        print(f"no notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    out_dir = NOTEBOOKS if args.inplace else Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"pair: {os.environ.get('DCIRC_PAIR', 'mini (default)')}; {len(paths)} notebooks -> {out_dir}")
    total = time.perf_counter()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        nbformat.write(nb, out_dir / path.name)
        print(f"{path.name}: {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"course done in {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
