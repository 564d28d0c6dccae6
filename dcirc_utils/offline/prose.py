"""General English text for the capacity-limited offline pair: sentences from WordNet 3.0's glosses.

The ``small2`` corpus (``offline.corpus``, spec ``SMALL2``) puts the study's tasks in a minority and fills the bulk
with ordinary English, so that language modelling is hard and the tasks must share a model's capacity. The English
comes from **WordNet 3.0** (Princeton University), as Debian ships it in the package ``wordnet-base``: every synset's
definition, written as a sentence (``"A rally is the feat of mustering strength for a renewed effort."``), and every
usage example (``"He feared the rallying of their troops for a counterattack."``).

Licence: the WordNet 3.0 licence (a permissive, BSD-like licence: "Permission to use, copy, modify and distribute this
software and database and its documentation for any purpose and without fee or royalty is hereby granted ...";
``/usr/share/doc/wordnet-base/copyright``). Only the trained weights are shipped, never the text.

How the text is obtained (only by the retrain commands; nothing reads WordNet at run time):
:func:`wordnet_dir` uses a folder given to it, else ``/usr/share/wordnet`` (``apt install wordnet-base``), else a copy
unpacked under ``~/.cache/dcirc/wordnet`` by ``apt-get download wordnet-base`` and ``dpkg-deb -x`` (the ordinary
Debian package client, no root needed). The four data files are checked against the SHA-256 digests of version
1:3.0-37 (:data:`WORDNET_SHA256`), so a model card's corpus is exactly this text.

What is kept (:func:`candidate_sentences`): ASCII sentences of 4–40 words with no digit (no numeral, year or template
value can leak in), no name of any task (numerals, IOI, QA) as a whole word, no quotation mark and no template-shaped
sentence. ``corpus.prose_pool`` then builds a closed word-level vocabulary (the ``small`` vocabulary plus the
:data:`PROSE_WORDS` most frequent pre-tokens of the training sentences), keeps a sentence when at most
:data:`MAX_UNK_SHARE` of its pre-tokens fall outside it (they become ``[UNK]``) and holds out one sentence in
:data:`HELDOUT_EVERY` (:func:`is_heldout`, by a hash of its text) for the general-text cross-entropy of the cards.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WORDNET_SHA256", "WORDNET_DEB", "PROSE_WORDS", "heldout_sample", "task_names_pattern", "MAX_UNK_SHARE", "HELDOUT_EVERY", "ProsePool", "wordnet_dir",
           "wordnet_sentences", "candidate_sentences", "is_heldout"]

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

_CACHE = Path(os.path.expanduser("~")) / ".cache" / "dcirc" / "wordnet"
_SYSTEM = Path("/usr/share/wordnet")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check(folder: Path) -> Path:
    missing = [name for name in WORDNET_SHA256 if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} has no WordNet data files {missing}; pass the folder that holds "
                                "data.noun, data.verb, data.adj and data.adv (Debian: /usr/share/wordnet)")
    bad = [name for name, want in WORDNET_SHA256.items() if want and _digest(folder / name) != want]
    if bad:
        raise RuntimeError(f"WordNet files {bad} in {folder} differ from Debian's wordnet-base {WORDNET_DEB}, the "
                           "text the model cards describe; fix: use that version (apt-get download "
                           f"wordnet-base={WORDNET_DEB}), or delete {_CACHE} to fetch it again")
    return folder


def _fetch(dest: Path) -> Path:
    """Unpack Debian's ``wordnet-base`` into ``dest`` with ``apt-get download`` and ``dpkg-deb -x``."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"WordNet is not installed and {tool} is missing to fetch it; fix: install WordNet "
                               "3.0 (Debian/Ubuntu: apt install wordnet-base; Homebrew: brew install wordnet) and "
                               "pass its dict folder with --wordnet DIR")
    with tempfile.TemporaryDirectory() as tmp:
        for cmd in (["apt-get", "download", f"wordnet-base={WORDNET_DEB}"], ["apt-get", "download", "wordnet-base"]):
            got = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            if got.returncode == 0:
                break
        debs = sorted(Path(tmp).glob("wordnet-base_*.deb"))
        if not debs:
            raise RuntimeError(f"`apt-get download wordnet-base` failed ({got.stderr.strip()[-300:]}); fix: run "
                               "`apt-get update` first, or install WordNet 3.0 yourself and pass --wordnet DIR")
        unpacked = Path(tmp) / "x"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True, capture_output=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(unpacked / "usr" / "share" / "wordnet", dest)
    return dest


def wordnet_dir(folder: str | Path | None = None, fetch: bool = True) -> Path:
    """The folder of WordNet 3.0's data files, checked against :data:`WORDNET_SHA256`.

    Args:
        folder: use this folder; ``None`` tries ``/usr/share/wordnet``, then ``~/.cache/dcirc/wordnet``, then (with
            ``fetch``) downloads Debian's package there.
        fetch: whether to download the package when no copy is found.

    Raises:
        FileNotFoundError / RuntimeError: naming what is missing or different and how to fix it.
    """
    if folder is not None:
        return _check(Path(folder))
    for candidate in (_SYSTEM, _CACHE):
        if (candidate / "data.noun").is_file():
            return _check(candidate)
    if not fetch:
        raise FileNotFoundError("WordNet 3.0 is not installed; fix: apt install wordnet-base, or pass --wordnet DIR")
    return _check(_fetch(_CACHE))


def _article(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


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


@dataclass(frozen=True)
class ProsePool:
    """The prose of the ``small2`` corpus.

    Attributes:
        train: sentences that training documents draw from.
        heldout: sentences never trained on (general-text cross-entropy).
        words: the pre-tokens the vocabulary adds (sorted).
        unk_share: the share of the kept sentences' pre-tokens outside the vocabulary (in their form after a space,
            as most sentences stand in a document).
        source: ``"WordNet 3.0"`` and the folder read.
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


def candidate_sentences(folder: str | Path | None = None, template=None) -> list[str]:
    """WordNet's sentences after the filters (module docstring), sorted and without repeats; ``template(text)`` is
    true for a template-shaped sentence (``corpus.template_items`` with every template verb)."""
    names = task_names_pattern()
    return sorted(set(s for s in wordnet_sentences(wordnet_dir(folder))
                      if not _excluded(s, names, template or (lambda t: False))))


def heldout_sample(pool: ProsePool, n: int) -> list[str]:
    """``n`` held-out sentences spread evenly over the (sorted) held-out list: nouns, verbs, adjectives, examples."""
    step = max(1, len(pool.heldout) // max(1, n))
    return list(pool.heldout[::step][:n])
