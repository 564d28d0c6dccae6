"""The course's settings: the one place where the package reads its environment variables.

Library functions take what they need as arguments; only :meth:`Settings.from_env` reads ``os.environ``. Its callers
are the entry points: every notebook's setup cell (:func:`dcirc_utils.studies.notebook.setup_notebook`), the main
command (``dcirc-course``) and the other command-line programs, which then pass the values on explicitly.

============================  ===================  ==========================================================
variable                      field                what it sets
============================  ===================  ==========================================================
``DCIRC_PAIR``                ``pair``             the pair the notebooks study (default ``"small"``)
``DCIRC_ENCODER_PAIR``        ``encoder_pair``     notebook 07's encoder pair (default: the decoder pair's)
``DCIRC_PROMPTS``             ``prompts``          prompts per set (default 100)
``DCIRC_THREADS``             ``threads``          torch's CPU threads (default: every core this process has)
``DCIRC_DEVICE``              ``device``           ``cpu``, ``cuda``, ``cuda:1``, ``mps`` (default: the best one)
``DCIRC_CACHE``               ``cache_dir``        the result cache (default ``<repo>/.dcirc_cache``)
``DCIRC_RESULTS_DIR``         ``results_dir``      where notebooks write findings (default ``<repo>/build/results``)
``DCIRC_GPT2_TOKENIZER``      ``gpt2_tokenizer``   a folder holding GPT-2's tokenizer (offline use)
``DCIRC_BERT_TOKENIZER``      ``bert_tokenizer``   a folder holding BERT's tokenizer (offline use)
``DCIRC_MATHJAX``             ``mathjax``          MathJax 3's ``es5/tex-svg.js`` for the report site
============================  ===================  ==========================================================

The test suite's own switches (``DCIRC_REQUIRE_BROWSER``, ``DCIRC_TEST_THREADS`` and the tests' prompt counts) are
read by the tests, not by the package.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

from .paths import DEFAULT_CACHE_DIR, REPO_ROOT

__all__ = ["Settings", "ENV_VARS", "DEFAULT_PROMPTS", "positive_int"]

#: prompts per set when neither an argument nor ``$DCIRC_PROMPTS`` says otherwise
DEFAULT_PROMPTS = 100

#: field → environment variable, for every setting
ENV_VARS = {"pair": "DCIRC_PAIR", "encoder_pair": "DCIRC_ENCODER_PAIR", "prompts": "DCIRC_PROMPTS",
            "threads": "DCIRC_THREADS", "device": "DCIRC_DEVICE", "cache_dir": "DCIRC_CACHE",
            "results_dir": "DCIRC_RESULTS_DIR", "gpt2_tokenizer": "DCIRC_GPT2_TOKENIZER",
            "bert_tokenizer": "DCIRC_BERT_TOKENIZER", "mathjax": "DCIRC_MATHJAX"}

_INTS = {"prompts": DEFAULT_PROMPTS, "threads": 1}          # whole-number settings → an example value for the error
_PATHS = ("cache_dir", "results_dir", "gpt2_tokenizer", "bert_tokenizer", "mathjax")


def positive_int(name: str, value, example: int) -> int:
    """``value`` as a whole number of at least 1, or a ValueError naming ``name``, the value and one that works
    (``name`` is an argument, or ``$VAR`` for an environment variable)."""
    fix = f"give e.g. {name.lstrip('$')}={example}" + (f" or unset {name[1:]}" if name.startswith("$") else "")
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number; {fix}") from None
    if n < 1:
        raise ValueError(f"{name}={n} must be at least 1; {fix}")
    return n


@dataclass(frozen=True)
class Settings:
    """Every setting of the course; ``None`` means "not set" (the consumer's default applies: see
    :meth:`resolved_cache_dir` and friends, or the table in this module's docstring)."""

    pair: str | None = None
    encoder_pair: str | None = None
    prompts: int | None = None
    threads: int | None = None
    device: str | None = None
    cache_dir: Path | None = None
    results_dir: Path | None = None
    gpt2_tokenizer: Path | None = None
    bert_tokenizer: Path | None = None
    mathjax: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings the environment gives (``environ``, default ``os.environ``); empty values count as unset.

        Raises:
            ValueError: for ``$DCIRC_PROMPTS`` or ``$DCIRC_THREADS`` that is not a whole number of at least 1,
                naming the variable, its value and a fix.
        """
        environ = os.environ if environ is None else environ
        values: dict = {}
        for f in fields(cls):
            raw = environ.get(ENV_VARS[f.name]) or None
            if raw is None:
                continue
            if f.name in _INTS:
                values[f.name] = positive_int(f"${ENV_VARS[f.name]}", raw, _INTS[f.name])
            elif f.name in _PATHS:
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw.strip()
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment variables that give these settings (unset ones left out): what a child process (a
        notebook's kernel, a worker) needs to see the same settings."""
        return {ENV_VARS[f.name]: str(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None}

    @property
    def resolved_cache_dir(self) -> Path:
        """``cache_dir``, else ``<repo>/.dcirc_cache``."""
        return Path(self.cache_dir or DEFAULT_CACHE_DIR)

    @property
    def resolved_results_dir(self) -> Path:
        """``results_dir``, else ``<repo>/build/results``."""
        return Path(self.results_dir or REPO_ROOT / "build" / "results")
