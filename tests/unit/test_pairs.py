import os
import subprocess
import sys
import time

import pytest

from dcirc_utils import load_pair
from dcirc_utils.models.pairs import pick_device
from dcirc_utils.models.registry import PAIRS


def test_registry_and_unknown_name():
    assert {"gpt2", "gpt2-random", "mini"} <= set(PAIRS)
    with pytest.raises(KeyError, match="known pairs"):
        load_pair("gpt3")


def test_pick_device_prefers_explicit():
    assert pick_device("cpu").type == "cpu"


def test_gpt2_offline_fails_fast_with_fixes(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path), TRANSFORMERS_OFFLINE="1")
    code = ("from dcirc_utils import load_pair\n"
            "try:\n    load_pair('gpt2')\nexcept Exception as e:\n    print(type(e).__name__); print(e)\n")
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - t0
    assert "PairUnavailableError" in out.stdout, out.stdout + out.stderr
    for fix in ("connect", "HF_HOME", "load_pair('small')"):
        assert fix in out.stdout
    assert elapsed < 10, f"offline failure took {elapsed:.1f} s"
