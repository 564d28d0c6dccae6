"""Tokenizers of the pairs: GPT-2's and BERT's (from a folder named by an environment variable, else the Hugging Face
cache, else the hub), the ones saved beside a model (the offline pairs' word-level tokenizers, a bring-your-own
model's), and the vocabulary check a teacher and its student must pass.
"""
from __future__ import annotations

from pathlib import Path

from ..core.settings import Settings
from .hub import BERT_FIXES, hub_snapshot, quiet_loading
from .registry import PairUnavailableError

__all__ = ["gpt2_tokenizer", "bert_tokenizer", "local_tokenizer", "folder_tokenizer", "vocab_difference",
           "TOKENIZER_FILES"]

#: the files that show a folder holds a tokenizer
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


def gpt2_tokenizer(folder: str | Path | None = None):
    """GPT-2's tokenizer: from ``folder`` (default: the settings' ``$DCIRC_GPT2_TOKENIZER``), else the Hugging Face
    cache, else the hub.

    Raises:
        PairUnavailableError: when none of the three has it.
    """
    return _shared_tokenizer(folder or Settings.from_env().gpt2_tokenizer, "DCIRC_GPT2_TOKENIZER", "vocab.json",
                             "GPT-2's tokenizer files", "gpt2", None,
                             "GPT-2's tokenizer was not found: set DCIRC_GPT2_TOKENIZER to a folder with its vocab.json "
                             "and merges.txt, or fill the Hugging Face cache. ")


def bert_tokenizer(folder: str | Path | None = None):
    """BERT's uncased WordPiece tokenizer: from ``folder`` (default: the settings'
    ``$DCIRC_BERT_TOKENIZER``), else the Hugging Face cache, else the hub.

    Raises:
        PairUnavailableError: when none of the three has it, or the folder lacks ``vocab.txt``/``tokenizer.json``.
    """
    return _shared_tokenizer(folder or Settings.from_env().bert_tokenizer, "DCIRC_BERT_TOKENIZER", "vocab.txt",
                             "bert-base-uncased's tokenizer files", "bert-base-uncased", BERT_FIXES,
                             "BERT's tokenizer was not found: set DCIRC_BERT_TOKENIZER to a folder with its vocab.txt, "
                             "or fill the Hugging Face cache. ")


def _shared_tokenizer(folder, variable: str, vocab_file: str, files: str, hub_id: str, fixes, not_found: str):
    """A real model's tokenizer from ``folder`` if given (checked to hold ``vocab_file`` or ``tokenizer.json``),
    else from the Hugging Face cache or hub; errors name ``variable`` and the fix."""
    from transformers import AutoTokenizer
    if folder:
        folder = str(folder)
        if not Path(folder, vocab_file).exists() and not Path(folder, "tokenizer.json").exists():
            raise PairUnavailableError(f"{variable}={folder!r} holds no {vocab_file} or tokenizer.json; point it at a "
                                       f"folder with {files} or unset it.")
        with quiet_loading():
            return AutoTokenizer.from_pretrained(folder)
    try:
        with quiet_loading():
            return AutoTokenizer.from_pretrained(str(hub_snapshot(hub_id, *([fixes] if fixes is not None else []))))
    except PairUnavailableError as err:
        raise PairUnavailableError(not_found + str(err)) from err


def local_tokenizer(folder: str | Path):
    """The tokenizer saved in ``folder`` (``tokenizer.save_pretrained``)."""
    from transformers import AutoTokenizer
    with quiet_loading():
        return AutoTokenizer.from_pretrained(str(folder))


def folder_tokenizer(folder: Path):
    """The tokenizer saved in ``folder``, or ``None`` if it holds none."""
    if not any((folder / f).exists() for f in TOKENIZER_FILES):
        return None
    return local_tokenizer(folder)


def vocab_difference(a, b) -> str | None:
    """``None`` if tokenizers ``a`` and ``b`` have the same vocabulary, else a short description of the first
    difference."""
    va, vb = a.get_vocab(), b.get_vocab()
    if va == vb:
        return None
    if len(va) != len(vb):
        return f"{len(va)} vs {len(vb)} tokens"
    for tok, i in sorted(va.items(), key=lambda kv: kv[1]):
        if vb.get(tok) != i:
            return f"token {tok!r} has id {i} in one and {vb.get(tok)} in the other"
    return "the same tokens with different ids"  # pragma: no cover - unreachable for equal-sized, unequal maps
