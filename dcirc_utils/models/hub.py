"""The Hugging Face hub and its local cache: model folders from the cache (downloaded only when the hub can be
reached), failing fast offline with a message that names the fixes, and the loaders' quiet mode.

Used by the built-in hub pairs (:mod:`~dcirc_utils.models.builtin`), the tokenizers
(:mod:`~dcirc_utils.models.tokenizers`) and the bring-your-own pairs (:mod:`~dcirc_utils.models.byo`).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .registry import PairUnavailableError

__all__ = ["quiet_loading", "hub_fixes", "GPT2_FIXES", "BERT_FIXES", "LLAMA_FIXES", "hub_snapshot"]


@contextlib.contextmanager
def quiet_loading():
    """Silence the Hugging Face libraries' own chatter while a model or tokenizer loads: their progress bars and
    their log messages below ERROR (they print kernel paths that break strict nbval).

    Scoped to those libraries and restored on exit: it uses their own switches (``transformers.utils.logging``'s
    verbosity and progress bar, ``huggingface_hub``'s progress bars), so that nothing else in the process (its
    stderr, other loggers, warnings) is silenced. ``HF_HUB_DISABLE_PROGRESS_BARS``, when set, keeps priority.
    """
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as hf_logging
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hub_bars = not hub_utils.are_progress_bars_disabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()                 # transformers' progress bars, and the hub's with them
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()          # re-enables the hub's too
        if hub_bars == hub_utils.are_progress_bars_disabled():
            (hub_utils.enable_progress_bars if hub_bars else hub_utils.disable_progress_bars)()


def hub_fixes(repos: str, offline: str) -> str:
    """The fixes named when the hub models ``repos`` are missing: fill the cache, point HF_HOME at one, or use the
    offline pair ``offline``."""
    return ("Fixes: (1) connect to the internet once so that the Hugging Face cache fills (then it works offline); "
            f"(2) point HF_HOME at a folder that already holds the cache of {repos}; "
            f"(3) use the offline pair: load_pair('{offline}') or DCIRC_PAIR={offline}.")


GPT2_FIXES = hub_fixes("'gpt2' and 'distilgpt2'", "small")
BERT_FIXES = hub_fixes("'bert-base-uncased' and 'distilbert-base-uncased'", "bert-small")
LLAMA_FIXES = (hub_fixes("'meta-llama/Llama-3.1-8B' and 'nvidia/Llama-3.1-Minitron-4B-Depth-Base'", "llama-random")
               + " Llama-3.1-8B is gated on the hub: accept Meta's licence on its page and log in "
                 "(`huggingface-cli login`) before (1). llama-random has RANDOM weights in the same layer and head "
                 "grid (a dry run of the code path, not of the results); 'small' is the offline pair with trained "
                 "weights.")


def hub_snapshot(repo_id: str, fixes: str = GPT2_FIXES, patterns: list[str] | None = None) -> Path:
    """The local folder of a hub model: from the cache, else downloaded; fails fast offline.

    Raises:
        PairUnavailableError: when the model is not cached and ``HF_HUB_OFFLINE`` is set or the hub cannot be
            reached (the message ends with ``fixes``).
    """
    from huggingface_hub import snapshot_download
    patterns = patterns or ["*.json", "*.safetensors", "*.txt"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except Exception as cache_miss:  # noqa: BLE001 - any cache miss leads to the same download attempt
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
        if offline:
            raise PairUnavailableError(f"{repo_id!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set. "
                                       + fixes) from cache_miss
    old = os.environ.get("HF_HUB_ETAG_TIMEOUT")
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, etag_timeout=5))
    except Exception as err:  # noqa: BLE001 - network errors come in many types
        raise PairUnavailableError(f"could not load {repo_id!r}: not in the Hugging Face cache and the hub is "
                                   f"unreachable ({type(err).__name__}). " + fixes) from err
    finally:
        if old is None:
            os.environ.pop("HF_HUB_ETAG_TIMEOUT", None)
