import os
import subprocess
import sys
import time

import pytest

from dcirc_utils import load_pair
from dcirc_utils.models.pairs import PAIRS, pick_device


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
    for fix in ("connect", "HF_HOME", "load_pair('mini')"):
        assert fix in out.stdout
    assert elapsed < 10, f"offline failure took {elapsed:.1f} s"


def test_gpt2_random_shapes_and_hooks(gpt2_random_pair):
    t, s = gpt2_random_pair.teacher, gpt2_random_pair.student
    assert (t.n_layers, t.n_heads, t.d_model, t.d_vocab) == (12, 12, 768, 50257)
    assert (s.n_layers, s.n_heads, s.d_model, s.d_vocab) == (6, 12, 768, 50257)
    assert t.model.cfg.d_mlp == s.model.cfg.d_mlp == 3072
    for model in (t.model, s.model):
        for l in range(model.cfg.n_layers):
            assert f"blocks.{l}.attn.hook_z" in model.hook_dict
            assert f"blocks.{l}.hook_mlp_out" in model.hook_dict
        assert tuple(model.W_E.shape) == (50257, 768) and tuple(model.W_pos.shape) == (1024, 768)
        assert tuple(model.W_Q.shape[1:]) == (12, 768, 64) and tuple(model.W_in.shape[1:]) == (768, 3072)
    assert "RANDOM" in gpt2_random_pair.description
