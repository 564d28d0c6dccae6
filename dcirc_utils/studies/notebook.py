"""The one setup-cell convention of every notebook: ``cfg = setup_notebook()``.

It fixes the seeds (so that printed numbers are reproducible and nbval can compare them), turns gradients off,
picks the device (cuda, then mps, then cpu; ``$DCIRC_DEVICE`` overrides), names the pair (``$DCIRC_PAIR``, default
the GPT-2-shaped offline pair ``"small"``) and the number of prompts per set (``$DCIRC_PROMPTS``, default 100; the
study used 512 per verb for its circuits, so ``DCIRC_PROMPTS=1536`` runs at its scale on a GPU; a smaller number
makes a quick dry run, e.g. on ``gpt2-random``). Torch uses every core this process may run on, with OpenMP's passive
wait policy (:mod:`dcirc_utils.core.runtime` gives the measurements; ``$DCIRC_THREADS`` overrides).
Figures are drawn at 100 dpi with fonts readable on a projector, and stored as 256-colour PNGs (a quarter of the bytes
of a full-colour PNG at the same size, so that the committed notebooks stay small).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.runtime import default_threads
from ..core.settings import DEFAULT_PROMPTS, Settings, positive_int
from ..models.pairs import DEFAULT_PAIR, HF_PREFIX, PAIRS, pick_device

__all__ = ["NotebookConfig", "setup_notebook", "check_environment", "ENCODER_FOR", "encoder_pair_for", "compact_png",
           "NOTEBOOK_RC"]

#: The rcParams every notebook's setup cell applies: 100 dpi, fonts sized for a projector (the figure-readability
#: checks of ``report.readability`` apply the same).
NOTEBOOK_RC = {"figure.dpi": 100, "savefig.dpi": 100, "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11,
               "legend.fontsize": 10, "xtick.labelsize": 10, "ytick.labelsize": 10}

#: The encoder pair notebook 07 sets beside each decoder pair: the real pair beside the real one, random weights beside
#: random weights, the offline encoder pair beside every offline decoder pair.
ENCODER_FOR = {"gpt2": "bert", "gpt2-random": "bert-random"}


def encoder_pair_for(decoder_pair: str, encoder_pair: str | None = None) -> str:
    """The encoder pair notebook 07 uses beside ``decoder_pair``: ``encoder_pair`` if given (the setup cell passes
    ``$DCIRC_ENCODER_PAIR``), else :data:`ENCODER_FOR`, else the offline encoder pair ``"bert-small"``."""
    return encoder_pair or ENCODER_FOR.get(decoder_pair, "bert-small")


@dataclass(frozen=True)
class NotebookConfig:
    """What the setup cell decided: pair name, device, seed, threads, prompts per set, notebook 07's encoder pair and
    the settings it read (:class:`~dcirc_utils.core.settings.Settings`: cache and results folders among them)."""

    pair: str
    device: torch.device
    seed: int
    threads: int
    n_prompts: int = DEFAULT_PROMPTS
    encoder_pair: str = "bert-small"
    settings: Settings = field(default_factory=Settings, repr=False, compare=False)

    def __str__(self) -> str:
        return f"pair={self.pair!r} seed={self.seed} prompts={self.n_prompts}"


def check_environment(pair: str | None = None, settings: Settings | None = None) -> Settings:
    """Check the course's settings before anything runs (the main command calls it, so that a bad value fails once,
    not in the first cell of every notebook): ``pair`` (else ``settings.pair``) is a known pair or a bring-your-own
    ``hf:`` name, and the threads, prompts and device are valid. ``settings``: default
    :meth:`Settings.from_env() <dcirc_utils.core.settings.Settings.from_env>` (which checks the whole numbers).

    Returns:
        the settings checked.

    Raises:
        ValueError: naming the bad value and a fix.
    """
    settings = Settings.from_env() if settings is None else settings
    pair = pair or settings.pair or DEFAULT_PAIR
    if pair not in PAIRS and not pair.startswith(HF_PREFIX):
        raise ValueError(f"unknown pair {pair!r}; known pairs: {sorted(PAIRS)} (or bring your own: "
                         f"'{HF_PREFIX}<teacher>,<student>')")
    pick_device(settings.device, env="DCIRC_DEVICE")
    return settings


def setup_notebook(seed: int = 0, threads: int | None = None, pair: str | None = None,
                   n_prompts: int | None = None, settings: Settings | None = None) -> NotebookConfig:
    """Seed everything, set CPU threads, disable grad, choose device, pair and prompt count (every notebook's first
    cell). An argument wins over ``settings``; ``settings`` (default: :meth:`Settings.from_env()
    <dcirc_utils.core.settings.Settings.from_env>`, the one place the environment is read) over the defaults.

    Args:
        seed: seed for ``random``, NumPy and torch.
        threads: CPU threads for torch; ``None``: ``settings.threads`` (``$DCIRC_THREADS``), else every core this
            process may run on (:func:`~dcirc_utils.core.runtime.default_threads`).
        pair: pair name; ``None``: ``settings.pair`` (``$DCIRC_PAIR``), else :data:`~dcirc_utils.models.pairs.
            DEFAULT_PAIR`.
        n_prompts: prompts per set; ``None``: ``settings.prompts`` (``$DCIRC_PROMPTS``), else 100.
        settings: the course's settings.

    Raises:
        ValueError: for ``threads``, ``n_prompts``, ``$DCIRC_THREADS`` or ``$DCIRC_PROMPTS`` that is not a positive
            whole number (the message names the value and one that works).
    """
    settings = Settings.from_env() if settings is None else settings
    threads = positive_int("threads", threads, 1) if threads is not None else settings.threads
    n_prompts = positive_int("n_prompts", n_prompts, 100) if n_prompts is not None else settings.prompts
    pair = pair or settings.pair or DEFAULT_PAIR
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    threads = threads or default_threads()
    torch.set_num_threads(threads)
    n_prompts = n_prompts or DEFAULT_PROMPTS
    torch.set_grad_enabled(False)
    # No warning filter here: every warning a notebook raises is shown. Run with no filter of ours (issue 24), the
    # nine notebooks raised one warning in all, tqdm's "IProgress not found" at import, which the package's
    # __init__ silences by its message and module; a new warning is heard (and fails nbval until it is understood).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import matplotlib
    matplotlib.rcParams.update(NOTEBOOK_RC)
    _register_compact_png()
    import pandas as pd
    pd.set_option("display.precision", 3)          # tables print rounded, so nbval compares stable text
    pd.set_option("display.max_rows", 200)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 140)
    pd.set_option("display.max_colwidth", 160)
    pd.set_option("display.float_format", _float_format)
    device = pick_device(settings.device, env="DCIRC_DEVICE")
    return NotebookConfig(pair, device, seed, threads, n_prompts, encoder_pair_for(pair, settings.encoder_pair),
                          settings)


def _float_format(x: float) -> str:
    """Tables show floats as rounded by ``report.tables`` (no scientific notation for small values)."""
    if x != x:
        return "NaN"
    if x == 0 or 1e-4 <= abs(x) < 1e7:
        return f"{x:.4f}".rstrip("0").rstrip(".")
    return f"{x:.3g}"


def compact_png(fig, colours: int = 256) -> bytes:
    """A matplotlib figure as a palette PNG of at most ``colours`` colours, cropped as Jupyter's inline backend crops
    (``bbox_inches="tight"``), at the figure's dpi. Every notebook shows its figures this way (see
    :func:`setup_notebook`): line plots and heatmaps look the same, the file is 3–5× smaller.

    Raises:
        ValueError: unless ``2 <= colours <= 256``.
    """
    import io

    from PIL import Image
    if not 2 <= colours <= 256:
        raise ValueError(f"colours={colours}: a palette PNG holds 2 to 256 colours")
    raw = io.BytesIO()
    fig.savefig(raw, format="png", bbox_inches="tight", facecolor="white")
    img = Image.open(io.BytesIO(raw.getvalue())).convert("RGB")
    out = io.BytesIO()
    img.quantize(colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(out, format="PNG",
                                                                                          optimize=True)
    return out.getvalue()


def _register_compact_png() -> None:
    """In IPython, show matplotlib figures through :func:`compact_png` (nothing happens outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    plt.close(plt.figure())     # loads the inline backend now, which sets its own PNG formatter once; ours replaces it
    ip.display_formatter.formatters["image/png"].for_type(Figure, compact_png)
