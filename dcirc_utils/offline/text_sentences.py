"""Sentence rules shared by the ``small2`` prose readers (``offline.text_pydoc``, ``offline.text_gcide``,
``offline.prose``).

The Python-documentation and GCIDE readers cut running text into sentences and keep only whole ones by the same
rules, and WordNet's and GCIDE's definitions are written with the same indefinite article; so that every source is
cut and kept alike, those rules live here once:

* :func:`_split_sentences`: a paragraph's sentences, split after ``.``/``!``/``?`` before a capital but never after
  an abbreviation or an initial (:data:`_ABBREV_END`: ``"e.g. Unix"``, ``"St. Louis"``);
* :func:`_balanced`: whether a sentence's parentheses pair up (an unbalanced one was cut in the wrong place);
* :func:`_is_sentence`: a whole sentence (capital first, ``.``/``!``/``?`` last, balanced, no abbreviation at the end);
* :func:`_article`: ``"A"`` or ``"An"`` before a word (``"An archdeacon is ..."``).

This module imports no reader and no ``offline.prose``, so a reader can use it without importing another reader
(the Python-documentation reader does not depend on the dictionary's) and ``offline.prose`` can import the readers
without a cycle.
"""
from __future__ import annotations

import re

__all__: list[str] = []          # private helpers of the prose readers; nothing here is public API


def _article(word: str) -> str:
    """The indefinite article before ``word`` (by its first letter: ``"An"`` before a vowel letter, else ``"A"``)."""
    return "An" if word[:1].lower() in "aeiou" else "A"


_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
#: A piece ending like this is an abbreviation or an initial, not a sentence end (``"e.g. Unix"``, ``"St. Louis"``).
_ABBREV_END = re.compile(r"(?:\b[A-Z]|\b(?:St|Mt|Ft|Mr|Mrs|Dr|Gen|Capt|Col|Rev|Prof|esp|Esp|viz|cf|Cf|vs|No|Fig|Gr|"
                         r"Lat|ca|fr|e\.\s?g|i\.\s?e))\.$")


def _split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph: split after ``.``/``!``/``?`` before a capital, but never after an abbreviation."""
    pieces: list[str] = []
    for piece in _SPLIT.split(text):
        if pieces and _ABBREV_END.search(pieces[-1]):
            pieces[-1] += " " + piece
        else:
            pieces.append(piece)
    return pieces


def _balanced(text: str) -> bool:
    """Whether the parentheses of a sentence pair up (an unbalanced one was cut in the wrong place)."""
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def _is_sentence(text: str) -> bool:
    """A capital first, ``.``/``!``/``?`` last, balanced parentheses and no abbreviation at the end."""
    return text[:1].isupper() and text[-1:] in ".!?" and _balanced(text) and not _ABBREV_END.search(text)
