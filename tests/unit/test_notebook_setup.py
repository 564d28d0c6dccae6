"""The notebooks' setup cell (dcirc_utils.studies.notebook): environment parsing, the encoder pair beside a decoder
pair, and the compact PNGs every notebook stores."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from dcirc_utils.studies import notebook as N  # noqa: E402


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


def test_setup_reads_the_environment(monkeypatch):
    import torch
    threads, grad = torch.get_num_threads(), torch.is_grad_enabled()
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
    torch.set_grad_enabled(grad)               # setup turns gradients off; leave the suite's setting as it was
    torch.set_num_threads(threads)


def test_encoder_pair_beside_each_decoder_pair(monkeypatch):
    monkeypatch.delenv("DCIRC_ENCODER_PAIR", raising=False)
    assert N.encoder_pair_for("gpt2") == "bert" and N.encoder_pair_for("small") == "bert-small"
    monkeypatch.setenv("DCIRC_ENCODER_PAIR", "bert-random")
    assert N.encoder_pair_for("small") == "bert-random"
