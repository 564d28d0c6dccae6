"""Run the whole course and write the report: execute every notebook in order on the chosen pair, collect every
finding into ``build/results.json`` and render the static site ``build/site/`` (the README's main command).

``python -m dcirc_utils.report.course`` (or ``dcirc-course``) runs on the default pair unless ``--pair`` or
``DCIRC_PAIR`` says otherwise, shows progress per notebook and per cell, and prints each notebook's wall time and the
total. ``--prompts N`` sets ``DCIRC_PROMPTS`` (fewer prompts for a dry run of the real architectures on
``gpt2-random``); ``--only 03 05`` reruns some notebooks on top of the published run's other notebooks; ``--inplace``
also copies the notebooks that ran without error back into ``notebooks/`` (what maintainers do before committing).

Every run writes into a fresh run folder ``build/runs/<YYYYmmdd-HHMMSS>-<pid>/`` (``notebooks/`` the executed copies,
``results/`` the findings the notebooks write through ``$DCIRC_RESULTS_DIR``, ``site/``, ``results.json`` and
``status.json``: per notebook ok / failed (cell, error) / interrupted and its wall time). A failing notebook does not
stop the run: the later notebooks still run, the site shows the failure, and the command exits 1. Only a run in which
every notebook succeeded replaces the published ``build/notebooks``, ``build/results``, ``build/site``,
``build/results.json`` and ``build/status.json`` (each renamed into place); a failed or interrupted run (Ctrl-C: exit
130, SIGTERM: exit 143) keeps its own site, marked incomplete, in its run folder, and ``build/`` stays the last
complete run. The last :data:`KEEP_RUNS` unpublished run folders are kept.

One run at a time per build folder: a second run refuses at once (exit 75), naming the first run's PID, start time
and run folder, unless ``--wait`` is given (an OS lock on ``build/.course.lock``, released when its process ends).
Kernels run with ``OMP_WAIT_POLICY=PASSIVE`` unless it is set.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from ..core.paths import NOTEBOOKS_DIR, REPO_ROOT
from ..core.settings import DEFAULT_PROMPTS, Settings
from ..models.pairs import DEFAULT_PAIR
from ..studies.notebook import check_environment
from .site import build_site, notebook_problem

__all__ = ["run_course", "run_notebook", "select_notebooks", "course_lock", "publish", "prune_runs", "main",
           "CourseInterrupted", "CourseLocked", "Terminated", "KEEP_RUNS", "PUBLISHED", "EXIT_LOCKED"]

#: what a complete run publishes into the build folder
PUBLISHED = ("notebooks", "results", "site", "results.json", "status.json")
#: unpublished (failed or interrupted) run folders kept in ``build/runs``
KEEP_RUNS = 5
#: exit status of a run refused because another holds the lock (EX_TEMPFAIL)
EXIT_LOCKED = 75


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C raises KeyboardInterrupt (the main command installs it)."""


class CourseInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during :func:`run_course`, raised once the kernel is shut down and the interrupted notebook's
    partial copy is written. ``runs``: the records of the notebooks that ran (the interrupted one last, when the
    interrupt came during a notebook); ``signal``: ``"SIGINT"`` or ``"SIGTERM"``."""

    def __init__(self, runs: dict[str, dict], signal_name: str):
        super().__init__(f"interrupted ({signal_name}) after {len(runs)} notebooks")
        self.runs, self.signal = runs, signal_name


class CourseLocked(RuntimeError):
    """Another run of the main command holds the build folder's lock."""


def _signal_name(err: BaseException) -> str:
    return "SIGTERM" if isinstance(err, Terminated) else "SIGINT"


def _raise_terminated(signum, frame):
    raise Terminated()


def select_notebooks(folder: str | Path = NOTEBOOKS_DIR, only: Sequence[str] | None = None) -> list[Path]:
    """The course's notebooks ``NN_*.ipynb`` in ``folder``, in order (those whose names start with one of ``only``).

    Raises:
        FileNotFoundError: if none matches.
    """
    paths = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in only)]
    if not paths:
        raise FileNotFoundError(f"no notebooks matching {list(only or [])} in {folder}")
    return paths


def kernel_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The kernels' environment: this process's, updated with ``extra``, with ``OMP_WAIT_POLICY=PASSIVE`` unless set
    (busy-waiting OpenMP threads slow a machine with other busy programs several times)."""
    env = {**os.environ, **(extra or {})}
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def _kill_kernel(client) -> None:
    """Kill the kernel's process group (its process and anything it started), if it has started."""
    pgid = getattr(getattr(client.km, "provisioner", None), "pgid", None)
    if pgid and pgid != os.getpgrp():                # jupyter_client starts each kernel in a session of its own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _execute(client, env: dict[str, str], stop: threading.Event) -> None:
    """``client.execute`` in a worker thread, so that Ctrl-C and SIGTERM reach this (main) thread as exceptions
    (in the main thread nbclient takes both signals over). On one, the kernel is killed, the worker joined (``stop``
    makes it give up before a next cell) and the exception re-raised; an exception of the worker is re-raised here."""
    errors: list[BaseException] = []

    def work():
        try:
            client.execute(env=env)
        except BaseException as err:                 # noqa: BLE001 — handed to the main thread
            errors.append(err)

    worker = threading.Thread(target=work, name="nbclient", daemon=True)
    worker.start()
    try:
        worker.join()
    except KeyboardInterrupt:
        stop.set()
        _kill_kernel(client)
        worker.join(timeout=20)                      # nbclient notices the dead kernel within seconds; never hang
        raise
    if errors:
        raise errors[0]


def run_notebook(path: str | Path, out: str | Path, *, cwd: str | Path | None = None, timeout: int = 3600,
                 env: Mapping[str, str] | None = None, progress: bool = True,
                 on_cell_executed: Callable | None = None) -> dict:
    """Execute one notebook in a fresh kernel (working directory ``cwd``, default the notebook's folder; environment
    :func:`kernel_env` of ``env``) and write the executed copy to ``out/<name>`` whatever happens (a failed or
    interrupted one holds the outputs up to the cell that stopped it).

    Returns:
        the notebook's record: ``{"status": "ok", "seconds": s}``; ``"failed"`` with ``cell`` (its index in the
        notebook, ``None`` when the kernel did not start), ``source`` (the cell's first line), ``error`` (the error's
        name) and ``message``; ``"interrupted"`` with ``cell``, ``source`` and ``signal``.
    """
    import nbformat
    from nbclient import NotebookClient
    from tqdm.auto import tqdm

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    bar = tqdm(total=sum(c.cell_type == "code" for c in nb.cells), desc=path.stem, disable=not progress, leave=True,
               unit="cell")
    current: dict = {"cell": None}
    stop = threading.Event()

    def started(cell, cell_index, **kw):
        if stop.is_set():
            raise KeyboardInterrupt
        current["cell"] = cell_index

    def executed(cell, cell_index, **kw):
        if cell.cell_type == "code":
            bar.update(1)
        if on_cell_executed is not None:
            on_cell_executed(cell=cell, cell_index=cell_index, **kw)

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd or path.parent)}},
                            on_cell_start=started, on_cell_executed=executed)
    t0 = time.perf_counter()
    record: dict = {"status": "ok"}
    try:
        _execute(client, kernel_env(env), stop)
    except KeyboardInterrupt as err:
        record = {"status": "interrupted", **_where(nb, current["cell"]), "signal": _signal_name(err)}
    except Exception as err:                         # noqa: BLE001 — any failure is the notebook's record
        record = {"status": "failed", **_where(nb, current["cell"]), "error": getattr(err, "ename", type(err).__name__),
                  "message": str(getattr(err, "evalue", err))[:2000]}
    finally:
        bar.close()
    record["seconds"] = round(time.perf_counter() - t0, 1)
    Path(out).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, Path(out) / path.name)
    return record


def _where(nb, index: int | None) -> dict:
    source = nb.cells[index].source.strip() if index is not None else ""
    return {"cell": index, "source": source.splitlines()[0][:200] if source else ""}


def run_course(out: str | Path, only: Sequence[str] | None = None, *, notebooks: str | Path = NOTEBOOKS_DIR,
               timeout: int = 3600, progress: bool = True, env: Mapping[str, str] | None = None,
               on_cell_executed: Callable | None = None) -> dict[str, dict]:
    """Execute the notebooks of ``notebooks`` (all, or those whose names start with one of ``only``) in order with
    :func:`run_notebook`, each in the folder ``notebooks``, writing the executed copies to ``out``. A notebook that
    fails does not stop the others. Takes no lock and publishes nothing (the main command does both).

    Returns:
        ``{notebook name: record}`` (see :func:`run_notebook`), in order.

    Raises:
        FileNotFoundError: if no notebook matches.
        CourseInterrupted: on Ctrl-C (or SIGTERM where :class:`Terminated` is installed), with the records so far.
    """
    runs: dict[str, dict] = {}
    try:
        for path in select_notebooks(notebooks, only):
            runs[path.name] = record = run_notebook(path, out, cwd=notebooks, timeout=timeout, env=env,
                                                    progress=progress, on_cell_executed=on_cell_executed)
            problem = notebook_problem(path.name, record)
            print(f"{problem} (after {record['seconds']:.0f} s)" if problem else
                  f"{path.name}: {record['seconds']:.0f} s", flush=True)
            if record["status"] == "interrupted":
                raise CourseInterrupted(runs, record["signal"])
    except CourseInterrupted:
        raise
    except KeyboardInterrupt as err:                 # between two notebooks
        raise CourseInterrupted(runs, _signal_name(err)) from err
    return runs


def run_message(runs: dict[str, dict], interrupted: bool) -> str:
    """``"complete"``, ``"incomplete: notebook 03 failed"`` (``"notebooks 03, 05 failed"``), ``"incomplete:
    interrupted during notebook 03"`` or ``"incomplete: interrupted after notebook 02"``."""
    if interrupted:
        last = next(reversed(runs), None)
        if last is None:
            return "incomplete: interrupted before the first notebook"
        during = runs[last]["status"] == "interrupted"
        return f"incomplete: interrupted {'during' if during else 'after'} notebook {last[:2]}"
    failed = [name[:2] for name, r in runs.items() if r["status"] == "failed"]
    if failed:
        return f"incomplete: notebook{'s' * (len(failed) > 1)} {', '.join(failed)} failed"
    return "complete"


@contextlib.contextmanager
def course_lock(build: str | Path, run: str | Path, wait: bool = False) -> Iterator[None]:
    """Hold ``<build>/.course.lock`` (``fcntl.flock``: released when this process ends, however it ends; the file
    left behind blocks nothing) for one run, recording its PID, start time and run folder in it.

    Raises:
        CourseLocked: when another process holds it and ``wait`` is false (the message names that run).
    """
    import fcntl                                   # POSIX only: run_course and the rest import on any OS

    Path(build).mkdir(parents=True, exist_ok=True)
    with open(Path(build) / ".course.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            try:
                holder = json.loads(f.read())
                who = f"PID {holder['pid']}, started {holder['started']}, run folder {holder['run']}"
            except (ValueError, KeyError, TypeError):
                who = "a run that is starting"
            if not wait:
                raise CourseLocked(f"another run of the course is in progress in {build} ({who}); wait for it with "
                                   "--wait") from None
            print(f"waiting for the run in progress ({who}) ...", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.truncate(0)
        f.write(json.dumps({"pid": os.getpid(), "started": _now(), "run": str(run)}) + "\n")
        f.flush()
        yield


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def publish(run: str | Path, build: str | Path) -> None:
    """Make the run folder's :data:`PUBLISHED` files the build folder's: for each, the published one is renamed into
    the run folder and the new one renamed into its place (a reader sees the old or the new, never a half-written
    folder); then the run folder, holding only the old ones, is deleted. A name the run did not make is removed.
    Ctrl-C and SIGTERM wait until the renames are done (an interrupt between two renames would leave ``build``
    missing pieces)."""
    run, build = Path(run), Path(build)
    old = run / "replaced"
    old.mkdir()
    signals = {signal.SIGINT, signal.SIGTERM}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        for name in PUBLISHED:
            if (build / name).exists():
                (build / name).rename(old / name)
            if (run / name).exists():
                (run / name).rename(build / name)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    shutil.rmtree(run)


def prune_runs(runs: str | Path, keep: int = KEEP_RUNS, current: str | Path | None = None) -> None:
    """Delete the oldest run folders of ``runs`` so that ``keep`` remain, ``current`` among them."""
    others = sorted(p for p in Path(runs).glob("*") if p.is_dir() and p != Path(current or ""))
    for p in others[:max(len(others) - keep + (current is not None), 0)]:
        shutil.rmtree(p, ignore_errors=True)


def _published_settings(build: Path) -> tuple[str, str] | None:
    """``(pair, prompts)`` of the published run, ``None`` when there is none (or its status cannot be read)."""
    try:
        status = json.loads((build / "status.json").read_text())
        return status["pair"], str(status["prompts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _seed(run: Path, build: Path, paths: list[Path]) -> None:
    """A partial run (``--only``) starts from the published executed notebooks and results, less those it reruns."""
    rerun = {p.name[:2] for p in paths}
    for name in ("notebooks", "results"):
        if (build / name).is_dir():
            shutil.copytree(build / name, run / name,
                            ignore=lambda folder, names: [n for n in names if n[:2] in rerun])


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of prompts")
    return n


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m dcirc_utils.report.course", description=__doc__.split("\n")[0])
    ap.add_argument("--pair", default=None, help="pair to run on (default: $DCIRC_PAIR, else small)")
    ap.add_argument("--prompts", type=_positive, default=None, help="prompts per set (sets $DCIRC_PROMPTS)")
    ap.add_argument("--only", nargs="*", default=None, help="notebook name prefixes to run, e.g. 01 02")
    ap.add_argument("--inplace", action="store_true",
                    help="also copy the notebooks that ran without error into the notebooks folder (for committing)")
    ap.add_argument("--no-site", action="store_true", help="do not build the report site (nor results.json)")
    ap.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    ap.add_argument("--wait", action="store_true", help="wait for a run in progress instead of refusing")
    ap.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, help="the notebooks folder (default notebooks/)")
    ap.add_argument("--build", type=Path, default=REPO_ROOT / "build", help="the build folder (default build/)")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (the README's main command). Exit status: 0 every notebook ran, 1 one failed, 130 Ctrl-C,
    143 SIGTERM, 75 another run holds the lock, 2 bad arguments."""
    args = _parse(argv)
    try:
        paths = select_notebooks(args.notebooks, args.only)
        settings = check_environment(args.pair)
    except (FileNotFoundError, ValueError) as err:
        print(err, file=sys.stderr)
        return 2
    run = args.build / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        with course_lock(args.build, run, args.wait):
            return _main(args, paths, run, settings)
    except CourseLocked as err:
        print(err, file=sys.stderr)
        return EXIT_LOCKED
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(args: argparse.Namespace, paths: list[Path], run: Path, settings: Settings) -> int:
    """One locked run: execute into the run folder, write its status and site, publish it when complete.

    ``settings`` (read once from the environment by :func:`main`) with the command line's ``--pair`` and
    ``--prompts`` and this run's results folder is what every notebook's setup cell gets: the kernels see exactly
    :meth:`Settings.to_env` of it (the stored notebooks read their settings through the environment because
    ``pytest --nbval`` runs them as stored, with no parameters injected)."""
    settings = replace(settings, pair=args.pair or settings.pair or DEFAULT_PAIR,
                       prompts=args.prompts or settings.prompts or DEFAULT_PROMPTS, results_dir=run / "results")
    env = settings.to_env()
    status = {"state": "running", "message": "running", "pid": os.getpid(), "started": _now(), "run": str(run),
              "pair": settings.pair, "prompts": str(settings.prompts),
              "only": args.only, "notebooks": {}}
    if args.only:
        published = _published_settings(args.build)
        if published and published != (status["pair"], status["prompts"]):
            print(f"--only {' '.join(args.only)} would mix notebooks run on pair {status['pair']!r} with "
                  f"{status['prompts']} prompts into a published run on pair {published[0]!r} with {published[1]} "
                  f"prompts: run the whole course (no --only), or pass --pair {published[0]} --prompts "
                  f"{published[1]}", file=sys.stderr)
            return 2
    run.mkdir(parents=True)
    prune_runs(run.parent, KEEP_RUNS, run)
    if args.only:
        _seed(run, args.build, paths)
    (run / "status.json").write_text(json.dumps(status, indent=1) + "\n")
    print(f"pair: {status['pair']}; prompts per set: {status['prompts']}; run folder: {run}", flush=True)
    t0 = time.perf_counter()
    code = 0
    try:
        runs = run_course(run / "notebooks", args.only, notebooks=args.notebooks, timeout=args.timeout, env=env)
    except CourseInterrupted as err:
        runs, code = err.runs, 143 if err.signal == "SIGTERM" else 130
    code = code or int(any(r["status"] != "ok" for r in runs.values()))
    state = {0: "complete", 1: "failed"}.get(code, "interrupted")
    status.update(state=state, message=run_message(runs, state == "interrupted"), finished=_now(),
                  seconds=round(time.perf_counter() - t0, 1), notebooks=runs)
    (run / "status.json").write_text(json.dumps(status, indent=1) + "\n")
    print(f"course {status['message']} in {status['seconds']:.0f} s ({len(runs)} notebooks)", flush=True)
    if args.inplace:
        for name, record in runs.items():
            if record["status"] == "ok":
                shutil.copy(run / "notebooks" / name, args.notebooks / name)
    index = None
    if not args.no_site and any((run / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        index = build_site(run / "notebooks", run / "results", run / "site", status)
        shutil.copy(index.parent / "results.json", run / "results.json")
    if code == 0:
        publish(run, args.build)
        print(f"report: {args.build / 'results.json'} and {args.build / 'site' / 'index.html'}" if index else
              f"published to {args.build}")
    else:
        print(f"{status['message']}: this run's report is {index or run}; {args.build} still holds the last "
              "complete run", file=sys.stderr)
    return code


def cli() -> None:
    """The ``dcirc-course`` / ``python -m dcirc_utils.report.course`` entry point: :func:`main`'s status as the
    process's. An interrupted run (status and site written) skips the interpreter's teardown, in which a worker
    thread still waiting on the dead kernel's sockets can abort the process (ZeroMQ's "pfd.revents & POLLIN")."""
    code = main()
    if code in (130, 143):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    cli()
