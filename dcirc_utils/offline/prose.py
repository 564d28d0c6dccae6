"""General English text for the capacity-limited offline pair: sentences from Debian text packages.

The ``small2`` corpus (``offline.corpus``, spec ``SMALL2``) puts the study's tasks in a minority and fills the bulk
with ordinary English, so that language modelling is hard and the tasks must share a model's capacity. Three sources
can give that English (:data:`SOURCES`; ``sources=("wordnet",)``, the default, is the text the model cards
describe), one reader each: WordNet's here, the others in their own modules (each module's docstring quotes its
licence). Only the trained weights are ever shipped, never the text.

``"wordnet"``: **WordNet 3.0** (Princeton University), as Debian ships it in the package ``wordnet-base``: every
synset's definition, written as a sentence (``"A rally is the feat of mustering strength for a renewed effort."``),
and every usage example (``"He feared the rallying of their troops for a counterattack."``). Licence: the WordNet 3.0
licence, a permissive, BSD-like licence: "Permission to use, copy, modify and distribute this software and database
and its documentation for any purpose and without fee or royalty is hereby granted ..."
(``/usr/share/doc/wordnet-base/copyright``).

``"pydoc"``: **the Python 3.11 documentation**, Debian's ``python3.11-doc`` (``offline.text_pydoc``,
:func:`pydoc_sentences`): the sentences of its ``<p>`` elements that hold no inline code. Licence: the PSF License
Agreement Version 2, whose clause 3 a model card using this source meets by saying how sentences were extracted and
filtered.

``"gcide"``: **Webster's Revised Unabridged Dictionary (1913)** as it survives in GCIDE, Debian's ``dict-gcide``
(``offline.text_gcide``, :func:`gcide_sentences`): definitions written the way WordNet's are and illustrative
quotations, read only from the blocks tagged exactly ``[1913 Webster]`` or ``[Webster 1913 Suppl.]``, so that the text
used is the public-domain 1913 text alone (the package as a whole is GPL-2+).

How the text is obtained (only by the retrain commands; nothing reads it at run time): :func:`source_dir` (for
WordNet :func:`wordnet_dir`) uses a folder given to it, else the system copy (``apt install PACKAGE``), else a copy
unpacked under ``~/.cache/dcirc/`` by ``apt-get download`` and ``dpkg-deb -x`` (the ordinary Debian package client, no
root needed; ``offline.debian_text``). Every file read is checked against the SHA-256 of the pinned version
(:data:`WORDNET_SHA256`, :data:`GCIDE_SHA256`, :data:`PYDOC_TREE`), so a model card's corpus is exactly this text.

What is kept (:func:`candidate_sentences`, the same for every source): ASCII sentences of 4–40 words with no digit
(no numeral, year or template value can leak in), no name of any task (numerals, IOI, QA) as a whole word, no
quotation mark and no template-shaped sentence. ``corpus.prose_pool`` then builds a closed word-level vocabulary (the
``small`` vocabulary plus the :data:`PROSE_WORDS` most frequent pre-tokens of the training sentences), keeps a
sentence when at most :data:`MAX_UNK_SHARE` of its pre-tokens fall outside it (they become ``[UNK]``) and holds out
one sentence in :data:`HELDOUT_EVERY` (:func:`is_heldout`, by a hash of its text) for the general-text cross-entropy
of the cards.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import debian_text
from .debian_text import DebianText
from .text_gcide import GCIDE_DEB, GCIDE_SHA256, GCIDE_TAGS, gcide_sentences
from .text_pydoc import PYDOC_DEB, PYDOC_TREE, pydoc_html_sentences, pydoc_sentences
from .text_sentences import _article

# (the readers' public names are re-exported here, where callers have always imported them)
__all__ = ["WORDNET_SHA256", "WORDNET_DEB", "PYDOC_DEB", "PYDOC_TREE", "GCIDE_DEB", "GCIDE_SHA256", "GCIDE_TAGS",
           "SOURCES", "PROSE_WORDS", "heldout_sample", "task_names_pattern", "MAX_UNK_SHARE", "HELDOUT_EVERY",
           "ProsePool", "wordnet_dir", "source_dir", "describe_sources", "wordnet_sentences", "pydoc_html_sentences",
           "pydoc_sentences", "gcide_sentences", "candidate_sentences", "is_heldout"]

#: SHA-256 of WordNet 3.0's data files as Debian's ``wordnet-base`` 1:3.0-37 ships them.
WORDNET_SHA256: dict[str, str] = {
    "data.noun": "fea17d2f9656611334eac790e5d69e47645fa180c4aa481fb4cd9b3520754ca2",
    "data.verb": "adcf43e35b581e8036d8b5a52d63d9cd3d3b4870b2720d3c03c799df44777bc2",
    "data.adj": "c89120dfc1f046ddff4a631bf9b7e9fa1a36b5e86565a23bf82dbe14f30b88a7",
    "data.adv": "444a63bf3955080ab7524f5079cfc07ff9bc682cb98bdb1db73b0fb9829f1139",
}
#: The Debian package version whose data files :data:`WORDNET_SHA256` describes.
WORDNET_DEB = "1:3.0-37"
#: Pre-tokens of the prose that join the vocabulary (the most frequent ones).
PROSE_WORDS = 2200
#: A sentence is kept when at most this share of its pre-tokens is unknown (they become ``[UNK]``).
MAX_UNK_SHARE = 0.2
#: One sentence in this many (by the SHA-1 of its text) is held out of training.
HELDOUT_EVERY = 20

_CACHE_ROOT = Path(os.path.expanduser("~")) / ".cache" / "dcirc"
_CACHE = _CACHE_ROOT / "wordnet"
_SYSTEM = Path("/usr/share/wordnet")


# --------------------------------------------------------------------------------------------- WordNet
def _check(folder: Path) -> Path:
    return debian_text.check(SOURCES["wordnet"], folder)


def _fetch(dest: Path) -> Path:
    """Unpack Debian's ``wordnet-base`` into ``dest`` with ``apt-get download`` and ``dpkg-deb -x``."""
    return debian_text.fetch(SOURCES["wordnet"], dest)


def wordnet_dir(folder: str | Path | None = None, fetch: bool = True) -> Path:
    """The folder of WordNet 3.0's data files, checked against :data:`WORDNET_SHA256`.

    Args:
        folder: use this folder; ``None`` tries ``/usr/share/wordnet``, then ``~/.cache/dcirc/wordnet``, then (with
            ``fetch``) downloads Debian's package there.
        fetch: whether to download the package when no copy is found.

    Raises:
        FileNotFoundError / RuntimeError: naming what is missing or different and how to fix it.
    """
    return source_dir("wordnet", folder, fetch)


def wordnet_sentences(folder: str | Path) -> list[str]:
    """Every definition (as a sentence) and usage example of WordNet's data files, in file order.

    Nouns: ``"A {lemma} is {definition}."``; verbs: ``"To {lemma} is to {definition}."``; adjectives and adverbs:
    ``"{Lemma} means {definition}."``; examples: as written, capitalised, with a final full stop.
    """
    folder = Path(folder)
    out: list[str] = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(folder / f"data.{pos}", encoding="latin-1") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                head, gloss = line.split("|", 1)
                lemma = re.sub(r"\(.*\)$", "", head.split()[4]).replace("_", " ")
                chunks = [c.strip() for c in gloss.strip().split(";")]
                defs = [c for c in chunks if c and not c.startswith('"')]
                if defs:
                    d = defs[0].rstrip(".")
                    if pos == "noun":
                        out.append(f"{_article(lemma)} {lemma} is {d}.")
                    elif pos == "verb":
                        out.append(f"To {lemma} is to {d}.")
                    else:
                        out.append(f"{lemma[:1].upper()}{lemma[1:]} means {d}.")
                for c in chunks:
                    if c.startswith('"'):
                        e = c.strip('"').strip()
                        if e:
                            out.append(e[:1].upper() + e[1:] + ("" if e[-1] in ".!?" else "."))
    return out


# --------------------------------------------------------------------------------------------- the sources
_WORDNET_HOLDS = "data.noun, data.verb, data.adj and data.adv (Debian: /usr/share/wordnet)"
#: Every text source, by the name used in ``sources=(...)``.
SOURCES: dict[str, DebianText] = {
    "wordnet": DebianText(
        "wordnet", "WordNet", "wordnet-base", WORDNET_DEB, "usr/share/wordnet", _CACHE,
        "WordNet 3.0 licence: Permission to use, copy, modify and distribute this software and database and its "
        "documentation for any purpose and without fee or royalty is hereby granted ...", wordnet_sentences,
        files=WORDNET_SHA256, label="WordNet 3.0", holds=_WORDNET_HOLDS,
        install="install WordNet 3.0 (Debian/Ubuntu: apt install wordnet-base; Homebrew: brew install wordnet) and "
                "pass its dict folder with --wordnet DIR",
        manual="install WordNet 3.0 yourself and pass --wordnet DIR",
        absent="WordNet 3.0 is not installed; fix: apt install wordnet-base, or pass --wordnet DIR"),
    "pydoc": DebianText(
        "pydoc", "Python 3.11 documentation", "python3.11-doc", PYDOC_DEB, "usr/share/doc/python3.11/html",
        _CACHE_ROOT / "python3.11-doc",
        "PSF License Agreement Version 2: PSF hereby grants Licensee a nonexclusive, royalty-free, world-wide "
        "license to reproduce, analyze, test, perform and/or display publicly, prepare derivative works, "
        "distribute, and otherwise use Python alone or in any derivative version ...", pydoc_sentences,
        tree=PYDOC_TREE, label=f"Python 3.11 documentation, python3.11-doc {PYDOC_DEB}",
        holds="the HTML pages of python3.11-doc (Debian: /usr/share/doc/python3.11/html)",
        install=f"unpack Debian's python3.11-doc {PYDOC_DEB} elsewhere (dpkg-deb -x) and pass its "
                "usr/share/doc/python3.11/html folder as folder={'pydoc': DIR}",
        manual=f"unpack python3.11-doc {PYDOC_DEB} yourself and pass folder={{'pydoc': DIR}}",
        absent="The Python 3.11 documentation is not installed; fix: apt install "
               f"python3.11-doc={PYDOC_DEB}, or pass folder={{'pydoc': DIR}}"),
    "gcide": DebianText(
        "gcide", "GCIDE", "dict-gcide", GCIDE_DEB, "usr/share/dictd", _CACHE_ROOT / "dict-gcide",
        "public domain: only GCIDE's blocks tagged [1913 Webster] or [Webster 1913 Suppl.], from Webster's Revised "
        "Unabridged Dictionary (1913), whose Project Gutenberg edition 'is in the public domain' (the package as a "
        "whole is GPL-2+)", gcide_sentences,
        files=GCIDE_SHA256, label=f"Webster 1913 from GCIDE, dict-gcide {GCIDE_DEB}",
        holds="gcide.dict.dz and gcide.index (Debian: /usr/share/dictd)",
        install=f"unpack Debian's dict-gcide {GCIDE_DEB} elsewhere (dpkg-deb -x) and pass its usr/share/dictd "
                "folder as folder={'gcide': DIR}",
        manual=f"unpack dict-gcide {GCIDE_DEB} yourself and pass folder={{'gcide': DIR}}",
        absent=f"GCIDE is not installed; fix: apt install dict-gcide={GCIDE_DEB}, or pass folder={{'gcide': DIR}}"),
}


def _names(sources) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(sources))
    unknown = [n for n in names if n not in SOURCES]
    if not names or unknown:
        raise ValueError(f"unknown prose sources {unknown or list(sources)}; choose from {sorted(SOURCES)}")
    return names


def _folders(folder, names: tuple[str, ...]) -> dict[str, str | Path | None]:
    """``folder`` as one folder per source: a mapping already, or one path that is WordNet's (as it always was)."""
    if folder is None or isinstance(folder, Mapping):
        folders = dict(folder or {})
        unknown = set(folders) - set(SOURCES)
        if unknown:
            raise ValueError(f"folders given for unknown prose sources {sorted(unknown)}; choose from "
                             f"{sorted(SOURCES)}")
        return {n: folders.get(n) for n in names}
    if "wordnet" not in names:
        raise ValueError(f"one folder ({folder}) is WordNet's, but the sources {list(names)} do not include "
                         "'wordnet'; pass a mapping such as folder={'pydoc': DIR}")
    return {n: (folder if n == "wordnet" else None) for n in names}


def source_dir(name: str, folder: str | Path | None = None, fetch: bool = True) -> Path:
    """The checked folder of the source ``name`` (:data:`SOURCES`): ``folder`` if given, else the system copy, else
    the cache ``~/.cache/dcirc/...``, else (with ``fetch``) Debian's pinned package unpacked there.

    Raises:
        ValueError: an unknown source.
        FileNotFoundError / RuntimeError: naming what is missing or different and how to fix it.
    """
    (name,) = _names((name,))
    return debian_text.locate(SOURCES[name], folder, fetch)


def describe_sources(sources=("wordnet",), folder=None) -> str:
    """What ``ProsePool.source`` says: each source's name and version and the folder read, joined by ``" + "``
    (``"WordNet 3.0 (/usr/share/wordnet)"`` for the default)."""
    names = _names(sources)
    folders = _folders(folder, names)
    return " + ".join(f"{SOURCES[n].label} ({source_dir(n, folders[n])})" for n in names)


# --------------------------------------------------------------------------------------------- the pool
@dataclass(frozen=True)
class ProsePool:
    """The prose of the ``small2`` corpus.

    Attributes:
        train: sentences that training documents draw from.
        heldout: sentences never trained on (general-text cross-entropy).
        words: the pre-tokens the vocabulary adds (sorted).
        unk_share: the share of the kept sentences' pre-tokens outside the vocabulary (in their form after a space,
            as most sentences stand in a document).
        source: every source read and its folder (:func:`describe_sources`), e.g. ``"WordNet 3.0 (/usr/...)"``.
    """

    train: tuple[str, ...]
    heldout: tuple[str, ...]
    words: tuple[str, ...]
    unk_share: float
    source: str


def _excluded(sentence: str, names: re.Pattern, template) -> bool:
    """Whether a sentence is left out: not ASCII, shorter than 4 or longer than 40 words, any digit, any task name
    as a whole word (also ``"John's"``), a stray quotation mark, or a template-shaped sentence."""
    n = len(sentence.split())
    if not sentence.isascii() or not 4 <= n <= 40 or any(ch.isdigit() for ch in sentence) or '"' in sentence:
        return True
    return bool(names.search(sentence)) or bool(template(sentence))


def task_names_pattern() -> re.Pattern:
    """Every name of every task (numerals, IOI, QA) as a whole word."""
    from ..core import tasks
    names = sorted(set(tasks.NAMES) | set(tasks.IOI_NAMES) | set(tasks.QA_WORLD))
    return re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b")


def _forms(pre, sentence: str) -> tuple[list[str], list[str]]:
    """The pre-tokens of a sentence first in its document, and after a space (its first word then carries ``Ġ``)."""
    return [p for p, _ in pre.pre_tokenize_str(sentence)], [p for p, _ in pre.pre_tokenize_str(" " + sentence)]


def is_heldout(sentence: str) -> bool:
    """Whether a prose sentence is held out of training (one in :data:`HELDOUT_EVERY`, by the SHA-1 of its text)."""
    return int(hashlib.sha1(sentence.encode()).hexdigest(), 16) % HELDOUT_EVERY == 0


def candidate_sentences(folder=None, template=None, sources=("wordnet",)) -> list[str]:
    """The sentences of ``sources`` (names in :data:`SOURCES`) after the filters (module docstring), the same for
    every source, sorted and without repeats (so the order of ``sources`` does not matter).

    Args:
        folder: ``None`` finds or fetches every source (:func:`source_dir`); one folder is WordNet's (as before
            other sources existed); a mapping gives a folder per source name (``{"gcide": DIR}``), the rest found.
        template: ``template(text)`` is true for a template-shaped sentence (``corpus.template_items`` with every
            template verb).
        sources: which texts to read; the default ``("wordnet",)`` is the model cards' corpus.
    """
    names = _names(sources)
    folders = _folders(folder, names)
    pattern = task_names_pattern()
    template = template or (lambda t: False)
    return sorted(set(s for n in names for s in SOURCES[n].reader(source_dir(n, folders[n]))
                      if not _excluded(s, pattern, template)))


def heldout_sample(pool: ProsePool, n: int) -> list[str]:
    """``n`` held-out sentences spread evenly over the (sorted) held-out list: nouns, verbs, adjectives, examples."""
    step = max(1, len(pool.heldout) // max(1, n))
    return list(pool.heldout[::step][:n])
