"""The notebooks' setup cell (dcirc_utils.studies.notebook): environment parsing, the encoder pair beside a decoder
pair, and the compact PNGs every notebook stores."""
from __future__ import annotations

import contextlib
import io
import os
import random
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from dcirc_utils.studies import notebook as N  # noqa: E402


@contextlib.contextmanager
def restored_notebook_state():
    """``setup_notebook`` changes process-wide state (global warning filters, torch's grad mode and threads, the RNG
    seeds, matplotlib's rcParams, pandas' options, ``$TOKENIZERS_PARALLELISM``): everything is put back on exit,
    passed or failed, so that nothing leaks into the rest of the run."""
    import pandas as pd
    import torch
    grad, threads = torch.is_grad_enabled(), torch.get_num_threads()
    rng = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    env = os.environ.get("TOKENIZERS_PARALLELISM")
    options = {k: pd.get_option(k) for k in _pandas_options()}
    try:
        with warnings.catch_warnings(), matplotlib.rc_context():
            yield
    finally:
        torch.set_grad_enabled(grad)
        torch.set_num_threads(threads)
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        torch.random.set_rng_state(rng[2])
        if env is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = env
        for k, v in options.items():
            pd.set_option(k, v)


@pytest.fixture
def notebook_state():
    """For every test that calls ``setup_notebook``."""
    with restored_notebook_state():
        yield


def _pandas_options() -> list[str]:
    """Every registered, non-deprecated pandas option (pandas lists them only privately; else the display options
    ``setup_notebook`` sets)."""
    try:
        from pandas._config.config import _deprecated_options, _registered_options
    except ImportError:
        return ["display.precision", "display.max_rows", "display.max_columns", "display.width",
                "display.max_colwidth", "display.float_format"]
    return sorted(k for k in _registered_options if k not in _deprecated_options)


def _global_state():
    import pandas as pd
    import torch
    return (torch.is_grad_enabled(), torch.get_num_threads(), float(torch.rand(1)), random.random(),
            float(np.random.rand()), os.environ.get("TOKENIZERS_PARALLELISM"), list(warnings.filters),
            dict(matplotlib.rcParams), {k: pd.get_option(k) for k in _pandas_options()})


def test_setup_notebook_leaves_no_global_state_behind_under_the_fixture():
    """The fixture's own check: setup_notebook does change the global state, and all of it is back afterwards."""
    import torch
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    expected = _global_state()          # draws one number from each generator: reseed before comparing
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    with restored_notebook_state():
        N.setup_notebook(pair="mini", threads=1, seed=7)
        assert _global_state() != expected
    assert _global_state() == expected


def test_compact_png_is_a_small_palette_image_of_the_same_figure():
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.imshow(np.linspace(0, 1, 400).reshape(20, 20), cmap="viridis")
    ax.plot(np.sin(np.linspace(0, 20, 500)) * 8 + 10, color="red", lw=2)
    full = io.BytesIO()
    fig.savefig(full, format="png", bbox_inches="tight", facecolor="white")
    small = N.compact_png(fig)
    a = Image.open(io.BytesIO(full.getvalue())).convert("RGB")
    b = Image.open(io.BytesIO(small))
    assert b.mode == "P" and b.size == a.size
    assert len(small) < len(full.getvalue())
    diff = np.abs(np.asarray(a, dtype=float) - np.asarray(b.convert("RGB"), dtype=float))
    assert diff.mean() < 2.0                   # the same picture: on average under 2 of 255 levels per channel
    with pytest.raises(ValueError, match="2 to 256"):
        N.compact_png(fig, colours=300)


def test_setup_reads_the_environment(monkeypatch, notebook_state):
    monkeypatch.setenv("DCIRC_PROMPTS", "12")
    monkeypatch.setenv("DCIRC_PAIR", "mini")
    cfg = N.setup_notebook(seed=3, threads=1)
    assert (cfg.pair, cfg.n_prompts, cfg.seed, cfg.threads) == ("mini", 12, 3, 1)
    monkeypatch.setenv("DCIRC_PROMPTS", "many")
    with pytest.raises(ValueError, match="not a whole number"):
        N.setup_notebook(threads=1)
    monkeypatch.setenv("DCIRC_PROMPTS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        N.setup_notebook(threads=1)


def test_encoder_pair_beside_each_decoder_pair(monkeypatch, notebook_state):
    monkeypatch.delenv("DCIRC_ENCODER_PAIR", raising=False)
    assert N.encoder_pair_for("gpt2") == "bert" and N.encoder_pair_for("small") == "bert-small"
    assert N.encoder_pair_for("small", "bert-random") == "bert-random"            # an explicit choice wins
    assert N.setup_notebook(pair="gpt2-random", threads=1).encoder_pair == "bert-random"
    monkeypatch.setenv("DCIRC_ENCODER_PAIR", "bert-small")                       # the setup cell reads the settings
    cfg = N.setup_notebook(pair="gpt2-random", threads=1)
    assert cfg.encoder_pair == "bert-small" and cfg.settings.encoder_pair == "bert-small"


def test_bad_thread_and_prompt_counts_name_a_fix_that_works(monkeypatch, notebook_state):
    monkeypatch.delenv("DCIRC_PROMPTS", raising=False)
    monkeypatch.setenv("DCIRC_THREADS", "abc")
    with pytest.raises(ValueError, match=r"\$DCIRC_THREADS='abc' is not a whole number; give e.g. DCIRC_THREADS=1"):
        N.setup_notebook(pair="mini")
    monkeypatch.setenv("DCIRC_THREADS", "1")                         # the suggested fix works
    assert N.setup_notebook(pair="mini").threads == 1
    monkeypatch.delenv("DCIRC_THREADS")
    with pytest.raises(ValueError, match="n_prompts=0 must be at least 1"):
        N.setup_notebook(pair="mini", n_prompts=0)                  # was: silently 100 prompts
    with pytest.raises(ValueError, match="threads=0 must be at least 1"):
        N.setup_notebook(pair="mini", threads=0)


def test_threads_are_the_physical_cores_this_process_may_use(monkeypatch, tmp_path, notebook_state):
    """Hyperthread siblings count once, the CPU affinity and a container's quota narrow the count."""
    import os

    import torch

    from dcirc_utils.core import runtime as R
    siblings = {0: "0,4", 4: "0,4", 1: "1,5", 5: "1,5", 2: "2,6", 3: "3,7"}
    real_path = R.Path

    class FakeSys(type(real_path())):
        def read_text(self):
            if self.name == "thread_siblings_list":
                return siblings[int(self.parent.parent.name[3:])] + "\n"
            return super().read_text()

    monkeypatch.setattr(R, "Path", FakeSys)
    monkeypatch.setattr(R.os, "sched_getaffinity", lambda pid: {0, 4, 1, 5, 2, 3})
    monkeypatch.setattr(R, "_quota", lambda: None)
    assert R.default_threads() == 4                                   # 6 CPUs, 4 physical cores
    monkeypatch.setattr(R.os, "sched_getaffinity", lambda pid: {0, 4})
    assert R.default_threads() == 1                                   # taskset to one core's two siblings
    monkeypatch.setattr(R.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(R, "_quota", lambda: 2)
    assert R.default_threads() == 2                                   # docker --cpus 2
    monkeypatch.undo()
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")
    assert R._quota(quota) == 2
    quota.write_text("max 100000\n")
    assert R._quota(quota) is None and R._quota(tmp_path / "absent") is None
    monkeypatch.delenv("DCIRC_THREADS", raising=False)
    assert N.setup_notebook(pair="small").threads == R.default_threads() <= len(os.sched_getaffinity(0))
    monkeypatch.setenv("DCIRC_THREADS", "1")                         # the variable still overrides
    assert N.setup_notebook(pair="small").threads == 1 and torch.get_num_threads() == 1


def test_importing_the_package_sets_a_passive_openmp_wait_policy_before_torch_loads():
    """OpenMP reads the policy when torch loads: the package must set it before its first import of torch (and the
    kernels the course starts inherit it); a policy the user chose is kept."""
    import os
    import subprocess
    import sys
    code = ("import builtins, os\n"
            "seen = []\n"
            "real = builtins.__import__\n"
            "def spy(name, *a, **k):\n"
            "    if name == 'torch' and not seen:\n"
            "        seen.append(os.environ.get('OMP_WAIT_POLICY'))\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = spy\n"
            "import dcirc_utils\n"
            "print(seen[0])\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, OMP_WAIT_POLICY="ACTIVE"), capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "ACTIVE"


def test_every_notebook_imports_the_package_before_torch():
    """Else the policy comes too late in a notebook opened in Jupyter (the course's kernels get it either way)."""
    import json
    import re

    from dcirc_utils.core.paths import NOTEBOOKS_DIR
    for path in sorted(NOTEBOOKS_DIR.glob("**/[0-9][0-9]_*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "code")
        torch_at = re.search(r"^(import torch|from torch)", code, re.M)
        ours_at = re.search(r"^(import dcirc_utils|from dcirc_utils)", code, re.M)
        assert ours_at, path
        assert torch_at is None or ours_at.start() < torch_at.start(), f"{path.name} imports torch first"


def _shown(message: str, category: type, module: str) -> int:
    """How many times a warning raised at ``module`` is shown under the filters in force (a fresh registry: the
    default action shows it once)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.warn_explicit(message, category, module.replace(".", "/") + ".py", 1, module=module, registry={})
    return len(seen)


def test_setup_notebook_adds_no_warning_filter_so_notebooks_hear_every_warning(notebook_state):
    """It used to ignore every UserWarning and FutureWarning; run with no filter, the notebooks raised none of ours
    or of a library's besides tqdm's, so no filter is needed (issue 24)."""
    before = list(warnings.filters)
    N.setup_notebook(pair="mini", threads=1)
    assert warnings.filters == before
    assert _shown("a user warning", UserWarning, "dcirc_utils.studies.x") == 1
    assert _shown("a future change", FutureWarning, "transformers.x") == 1


def test_the_package_ignores_only_tqdms_iprogress_warning_from_tqdm_auto():
    """The one warning the notebooks raise (tqdm.auto, when a Jupyter kernel has no ipywidgets) is ignored by its
    message, category and module; the same message from elsewhere, or another tqdm warning, is still shown. In a
    fresh interpreter: pytest drops the filters that imports set while it collects."""
    import inspect
    import subprocess
    import sys
    code = inspect.getsource(_shown) + (
        "import warnings\n"
        "before = list(warnings.filters)\n"
        "import dcirc_utils\n"
        "from tqdm import TqdmWarning\n"
        "msg = 'IProgress not found. Please update jupyter and ipywidgets. See https://ipywidgets.readthedocs.io/'\n"
        "print(_shown(msg, TqdmWarning, 'tqdm.auto'), _shown(msg, TqdmWarning, 'dcirc_utils.report.x'),\n"
        "      _shown(msg, UserWarning, 'tqdm.auto'), _shown('another tqdm warning', TqdmWarning, 'tqdm.auto'))\n"
        "new = [f for f in warnings.filters if f not in before]\n"       # ours, and those torch and numpy set
        "print([f[2].__name__ for f in new if f[0] == 'ignore' and f[1] is None and f[3] is None])\n"
        "print([(f[1].pattern, f[3].pattern) for f in new if f[2] is TqdmWarning])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "0 1 1 1"                  # ignored only from tqdm.auto, only that message, only that category
    assert out[1] == "[]"                       # importing the package ignores no whole category
    assert out[2] == str([("IProgress not found", r"tqdm\.auto")])
