"""The main command's runner (dcirc_utils.report.course) on tiny fake notebooks: a failing notebook does not stop the
others and is shown on the site, only a complete run is published, an interrupt leaves the published build as it
was, one run at a time per build folder, and bad arguments are refused."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import torch

from dcirc_utils.report import course, site
from dcirc_utils.report.course import CourseInterrupted, course_lock, kernel_env, main, prune_runs, run_course


def _results_cell(nb: str) -> str:
    """A cell that writes a finding where the main command tells the kernels to ($DCIRC_RESULTS_DIR)."""
    record = {"notebook": nb, "pair": "fake", "values": {}, "findings": [
        {"id": f"{nb}.x", "claim": f"claim of {nb}", "study": 1, "ours": 1, "verdict": "reproduced"}]}
    return ("import json, os, pathlib\n"
            "d = pathlib.Path(os.environ['DCIRC_RESULTS_DIR']); d.mkdir(parents=True, exist_ok=True)\n"
            f"r = {record!r}\n"
            "r['values']['omp'] = os.environ.get('OMP_WAIT_POLICY')\n"
            f"(d / '{nb}.json').write_text(json.dumps(r))")


def _notebook(folder: Path, name: str, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}")]
                                  + [nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name


def _published(build: Path) -> dict[str, str]:
    """The published build folder, as a snapshot to compare."""
    return {str(p.relative_to(build)): p.read_text() for p in build.rglob("*")
            if p.is_file() and "runs" not in p.relative_to(build).parts and p.name != ".course.lock"}


@pytest.fixture
def build(tmp_path):
    """A build folder holding a previous complete run."""
    b = tmp_path / "build"
    for name, text in {"site/index.html": "old site", "results.json": "{}", "notebooks/01_a.ipynb": "old",
                       "results/01.json": "old", "status.json": "{}"}.items():
        (b / name).parent.mkdir(parents=True, exist_ok=True)
        (b / name).write_text(text)
    return b


@pytest.fixture(autouse=True)
def no_mathjax(monkeypatch, tmp_path):
    """No npm fetch of MathJax: a stand-in file (copied into the site as is)."""
    fake = tmp_path / "tex-svg.js"
    fake.write_text("// stand-in\n")
    monkeypatch.setenv("DCIRC_MATHJAX", str(fake))
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)


def _args(nbs: Path, build: Path, *more: str) -> list[str]:
    return ["--notebooks", str(nbs), "--build", str(build), *more]


def _only_run(build: Path) -> Path:
    runs = list((build / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def test_a_failing_notebook_does_not_stop_the_run_and_is_shown(tmp_path, build, capsys):
    nbs = tmp_path / "nbs"
    _notebook(nbs, "01_a.ipynb", _results_cell("01"))
    _notebook(nbs, "02_b.ipynb", "x = 1", "raise ValueError('boom')  # the failing cell\ny = 2", "z = 3")
    _notebook(nbs, "03_c.ipynb", _results_cell("03"))
    before = _published(build)
    assert main(_args(nbs, build, "--inplace")) == 1
    assert nbformat.read(nbs / "03_c.ipynb", as_version=4).cells[1].execution_count == 1   # --inplace: the ok ones
    assert nbformat.read(nbs / "02_b.ipynb", as_version=4).cells[1].execution_count is None
    assert _published(build) == before                             # the last complete run stays published
    run = _only_run(build)
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and status["message"] == "incomplete: notebook 02 failed"
    failed = status["notebooks"]["02_b.ipynb"]
    assert (failed["status"], failed["cell"], failed["error"], failed["message"]) == ("failed", 2, "ValueError", "boom")
    assert failed["source"] == "raise ValueError('boom')  # the failing cell" and failed["seconds"] >= 0
    assert [r["status"] for r in status["notebooks"].values()] == ["ok", "failed", "ok"]   # 03 still ran
    executed = nbformat.read(run / "notebooks" / "02_b.ipynb", as_version=4)      # outputs up to the failed cell
    assert executed.cells[2].outputs[0]["ename"] == "ValueError" and executed.cells[3].get("outputs") == []
    index = (run / "site" / "index.html").read_text()
    assert 'class="dcirc-banner"' in index and "incomplete: notebook 02 failed" in index and "ValueError: boom" in index
    page = (run / "site" / "notebooks" / "02_b.html").read_text()
    assert 'class="dcirc-banner"' in page and "at cell 2" in page
    assert 'class="dcirc-banner"' not in (run / "site" / "notebooks" / "01_a.html").read_text()
    data = json.loads((run / "results.json").read_text())
    assert data["run"]["state"] == "failed" and {f["notebook"] for f in data["findings"]} == {"01", "03"}
    err = capsys.readouterr().err
    assert "incomplete: notebook 02 failed" in err and str(run / "site" / "index.html") in err


def test_a_complete_run_is_published_and_its_folder_removed(tmp_path, build):
    nbs = tmp_path / "nbs"
    _notebook(nbs, "01_a.ipynb", _results_cell("01"))
    _notebook(nbs, "02_b.ipynb", _results_cell("02"))
    assert main(_args(nbs, build)) == 0
    assert sorted(p.name for p in (build / "notebooks").iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    assert sorted(p.name for p in (build / "results").iterdir()) == ["01.json", "02.json"]
    assert json.loads((build / "status.json").read_text())["state"] == "complete"
    data = json.loads((build / "results.json").read_text())
    assert data["values"]["01"]["omp"] == "PASSIVE"                # the kernels' OpenMP threads do not spin
    assert 'class="dcirc-banner"' not in (build / "site" / "index.html").read_text()
    assert list((build / "runs").iterdir()) == []


def test_only_reruns_some_notebooks_on_top_of_the_published_run(tmp_path, build):
    nbs = tmp_path / "nbs"
    _notebook(nbs, "01_a.ipynb", _results_cell("01"))
    _notebook(nbs, "02_b.ipynb", _results_cell("02"))
    (build / "results" / "02.json").write_text("stale")             # replaced by the rerun
    assert main(_args(nbs, build, "--only", "02", "--no-site")) == 0
    assert (build / "notebooks" / "01_a.ipynb").read_text() == "old"  # kept from the published run
    assert (build / "results" / "01.json").read_text() == "old"
    assert json.loads((build / "results" / "02.json").read_text())["notebook"] == "02"
    assert not (build / "site").exists()                          # --no-site: nothing stale is left published


def test_only_refuses_to_mix_a_run_on_another_pair_into_the_published_one(tmp_path, build, capsys, monkeypatch):
    monkeypatch.delenv("DCIRC_PAIR", raising=False)
    monkeypatch.delenv("DCIRC_PROMPTS", raising=False)
    nbs = tmp_path / "nbs"
    _notebook(nbs, "01_a.ipynb", _results_cell("01"))
    (build / "status.json").write_text(json.dumps({"pair": "small", "prompts": "100"}))
    before = _published(build)
    assert main(_args(nbs, build, "--only", "01", "--pair", "small-init", "--no-site")) == 2
    assert "--pair small --prompts 100" in capsys.readouterr().err
    assert _published(build) == before and not (build / "runs").exists()
    assert main(_args(nbs, build, "--only", "01", "--no-site")) == 0          # same settings: fine


def test_bad_settings_fail_once_before_any_notebook_runs(tmp_path, build, capsys, monkeypatch):
    nbs = tmp_path / "nbs"
    _notebook(nbs, "01_a.ipynb", "a = 1")
    assert main(_args(nbs, build, "--pair", "smal")) == 2
    assert "unknown pair 'smal'" in capsys.readouterr().err
    monkeypatch.setenv("DCIRC_DEVICE", "cuda")
    if not torch.cuda.is_available():
        assert main(_args(nbs, build)) == 2
        assert "DCIRC_DEVICE" in capsys.readouterr().err
    monkeypatch.setenv("DCIRC_DEVICE", "cpu")
    monkeypatch.setenv("DCIRC_THREADS", "abc")
    assert main(_args(nbs, build)) == 2
    assert "DCIRC_THREADS='abc'" in capsys.readouterr().err
    assert not (build / "runs").exists()                                     # nothing started


def test_an_interrupt_from_a_hook_stops_the_course_and_keeps_the_partial_copy(tmp_path):
    nbs = tmp_path / "nbs"
    _notebook(nbs, "01_a.ipynb", "a = 1")
    _notebook(nbs, "02_b.ipynb", "b = 1", "c = 2", "d = 3")
    _notebook(nbs, "03_c.ipynb", "e = 1")

    def hook(cell, cell_index, **kw):
        if cell.source == "c = 2":
            raise KeyboardInterrupt

    with pytest.raises(CourseInterrupted) as info:
        run_course(tmp_path / "out", notebooks=nbs, progress=False, on_cell_executed=hook)
    runs = info.value.runs
    assert list(runs) == ["01_a.ipynb", "02_b.ipynb"] and info.value.signal == "SIGINT"
    assert runs["02_b.ipynb"]["status"] == "interrupted" and runs["02_b.ipynb"]["cell"] == 2
    executed = nbformat.read(tmp_path / "out" / "02_b.ipynb", as_version=4)
    assert executed.cells[2].execution_count is not None and executed.cells[3].execution_count is None


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_notebook_kills_the_kernel_and_leaves_the_published_build(tmp_path, build, sig, code):
    nbs = tmp_path / "nbs"
    marker = tmp_path / "kernel.pid"
    _notebook(nbs, "01_a.ipynb", f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\n"
                                 "time.sleep(120)")
    _notebook(nbs, "02_b.ipynb", "b = 1")
    before = _published(build)
    # as from a terminal: a shell that starts this test run in the background (CI) hands its children SIGINT
    # ignored, and the command, rightly, keeps an ignored SIGINT ignored
    proc = subprocess.Popen([sys.executable, "-m", "dcirc_utils.report.course", *_args(nbs, build)],
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while not (marker.exists() and marker.read_text()) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        kernel = int(marker.read_text())
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, out
    assert _published(build) == before
    status = json.loads((_only_run(build) / "status.json").read_text())
    assert status["state"] == "interrupted" and status["message"] == "incomplete: interrupted during notebook 01"
    assert status["notebooks"]["01_a.ipynb"]["signal"] == signal.Signals(sig).name
    assert "02_b.ipynb" not in status["notebooks"]
    assert "interrupted during notebook 01" in (_only_run(build) / "site" / "index.html").read_text()
    for _ in range(50):                                           # the kernel was shut down with the run
        try:
            os.kill(kernel, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"kernel {kernel} still runs")


def test_a_second_run_refuses_naming_the_first(tmp_path, build, capsys):
    nbs = tmp_path / "nbs"
    _notebook(nbs, "01_a.ipynb", "a = 1")
    with course_lock(build, build / "runs" / "first"):
        assert main(_args(nbs, build)) == course.EXIT_LOCKED
    err = capsys.readouterr().err
    assert f"PID {os.getpid()}" in err and str(build / "runs" / "first") in err and "--wait" in err
    assert not (build / "runs").exists()


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    holder = ("import fcntl, json, os, sys, time\n"
              f"f = open({str(build / '.course.lock')!r}, 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
              "f.write(json.dumps({'pid': os.getpid(), 'started': 'then', 'run': 'old'})); f.flush()\n"
              "print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    with pytest.raises(course.CourseLocked, match=f"PID {proc.pid}"):
        with course_lock(build, build / "runs" / "new"):
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with course_lock(build, build / "runs" / "new"):
        assert json.loads((build / ".course.lock").read_text())["pid"] == os.getpid()


def test_wait_waits_for_the_run_in_progress(tmp_path):
    build = tmp_path / "build"
    held = threading.Event()

    def first():
        with course_lock(build, "first"):
            held.set()
            time.sleep(1)

    t = threading.Thread(target=first)
    t.start()
    held.wait()
    t0 = time.perf_counter()
    with course_lock(build, "second", wait=True):
        assert time.perf_counter() - t0 > 0.5
    t.join()


@pytest.mark.parametrize("value", ["0", "-3"])
def test_prompts_must_be_positive(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--prompts", value])
    assert info.value.code == 2 and f"'{value}'" in capsys.readouterr().err


def test_kernels_get_a_passive_openmp_wait_policy_unless_set(monkeypatch):
    assert kernel_env({"A": "1"})["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert kernel_env()["OMP_WAIT_POLICY"] == "ACTIVE"


def test_old_run_folders_are_pruned(tmp_path):
    runs = tmp_path / "runs"
    for name in ["20240101-000000-1", "20240102-000000-2", "20240103-000000-3", "20240104-000000-4"]:
        (runs / name).mkdir(parents=True)
    prune_runs(runs, keep=2, current=runs / "20240101-000000-1")          # the current run is kept, whatever its name
    assert sorted(p.name for p in runs.iterdir()) == ["20240101-000000-1", "20240104-000000-4"]


def test_site_without_status_has_no_banner(tmp_path):
    """The site tier's flow (build_site on notebooks without a run status) is unchanged."""
    _notebook(tmp_path / "nbs", "01_a.ipynb", "a = 1")
    index = site.build_site(tmp_path / "nbs", tmp_path / "results", tmp_path / "site")
    assert 'class="dcirc-banner"' not in index.read_text() and "run" not in json.loads(
        (tmp_path / "site" / "results.json").read_text())
