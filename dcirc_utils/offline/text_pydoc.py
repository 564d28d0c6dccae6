"""The Python 3.11 documentation for the ``small2`` corpus (``offline.prose``, source ``"pydoc"``).

**The Python 3.11 documentation**, Debian's ``python3.11-doc`` (:func:`pydoc_sentences`): the sentences of its ``<p>``
elements that hold no inline code, with typographic punctuation made ASCII
(``"The socket timeout is no more reset each time data is sent successfully."``). Licence: the PSF License Agreement
Version 2 (``/usr/share/doc/python3.11-doc/copyright``), which covers Python "in source or binary form and its
associated documentation": "PSF hereby grants Licensee a nonexclusive, royalty-free, world-wide license to reproduce,
analyze, test, perform and/or display publicly, prepare derivative works, distribute, and otherwise use Python alone
or in any derivative version, provided, however, that PSF's License Agreement and PSF's notice of copyright ... are
retained in Python alone or in any derivative version prepared by Licensee." The package's ``html/license.html``:
"Python software and documentation are licensed under the PSF License Agreement." Clause 3 asks a derivative work to
include "a brief summary of the changes made": a model card using this source says that sentences were extracted and
filtered as here.

The package is pinned by :data:`PYDOC_DEB` and :data:`PYDOC_TREE`; finding, fetching and checking it, and the filters
every source's sentences pass, are ``offline.prose``'s (its ``SOURCES["pydoc"]``). Sentences are split by the rules
shared with the GCIDE reader (``offline.text_sentences``).
"""
from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

from . import debian_text
from .debian_text import TreePin
from .text_sentences import _is_sentence, _split_sentences

__all__ = ["PYDOC_DEB", "PYDOC_TREE", "pydoc_html_sentences", "pydoc_sentences"]

#: ``python3.11-doc`` as Debian 12 (bookworm) main ships it (bookworm-security's newer builds are not kept there
#: for long, so the point release is pinned).
PYDOC_DEB = "3.11.2-6+deb12u8"
#: The HTML pages read from ``usr/share/doc/python3.11/html``: every ``*.html`` except the indexes, the search page,
#: the changelogs (``whatsnew/``, full of issue numbers) and Sphinx's ``_static``-style folders; 477 files, pinned by
#: the digest of their ``sha256sum`` listing (reproduce: ``find . -name '*.html' | sed 's|^\\./||' | grep -vE
#: '^(_|genindex|py-modindex|search|whatsnew/)' | LC_ALL=C sort | xargs sha256sum | sha256sum``).
PYDOC_TREE = TreePin(".html", ("_", "genindex", "py-modindex", "search", "whatsnew/"), 477,
                     "a68b303c4ff69009036df391954462a65c50e62a06426723f254bdec60264528")


# --------------------------------------------------------------------------------------------- Python documentation
_CODE_TAGS = frozenset({"code", "tt", "kbd", "pre", "samp"})
_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                        "wbr"})
#: ``<p>`` classes that are navigation or labels, not prose ("Previous topic", "Note", "Availability: Unix.").
_SKIP_P = frozenset({"topless", "admonition-title", "rubric", "availability", "audit-hook", "biglink", "topic-title"})
_CODE = "\x00"
_TYPOGRAPHY = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2013": "-", "\u2014": " - ", "\u2026": "..."})


class _Paragraphs(HTMLParser):
    """The text of each ``<p>`` of a page, with every inline-code element (``code``, ``tt``, ``kbd``, ``pre``,
    ``samp``, ``span.pre``) replaced by one :data:`_CODE` mark, without "Changed in version ..." labels and the
    headings' pilcrow links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._parts: list[str] | None = None
        self._keep = True
        self._open: list[tuple[str, str | None]] = []          # elements open inside the paragraph, and their role

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        if tag == "p" and self._parts is None:
            self._parts, self._open, self._keep = [], [], not classes & _SKIP_P
        elif self._parts is not None and tag not in _VOID_TAGS:
            if tag in _CODE_TAGS or (tag == "span" and "pre" in classes):
                role = "code"
            elif (tag == "span" and "versionmodified" in classes) or (tag == "a" and "headerlink" in classes):
                role = "skip"
            else:
                role = None
            self._open.append((tag, role))

    def handle_endtag(self, tag):
        if self._parts is None:
            return
        if tag == "p":
            if self._keep:
                self.paragraphs.append("".join(self._parts))
            self._parts = None
            return
        for i in range(len(self._open) - 1, -1, -1):            # close the innermost open element of that name
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        if self._parts is None:
            return
        roles = {role for _, role in self._open}
        if "skip" not in roles:
            self._parts.append(_CODE if "code" in roles else data)


def pydoc_html_sentences(html: str, stats: Counter | None = None) -> list[str]:
    """The prose sentences of one page of the Python documentation, in page order.

    Each ``<p>``'s text is split into sentences; a sentence is dropped when any of its text came from an inline-code
    element (the rest of it would read as broken English), when it ends with ``:`` (it introduces a code example),
    when it holds a web address, or when it is not a whole sentence (no capital first or no ``.``/``!``/``?`` last:
    table cells, captions).
    Typographic punctuation becomes ASCII: ``’‘`` -> ``'``, ``–`` -> ``-``, ``—`` -> ``" - "``, ``…`` -> ``...``.
    ``stats`` (optional) counts the sentences dropped by each rule.
    """
    stats = Counter() if stats is None else stats
    parser = _Paragraphs()
    parser.feed(html)
    parser.close()
    out = []
    for paragraph in parser.paragraphs:
        text = re.sub(_CODE + r"+", _CODE, re.sub(r"\s+", " ", paragraph.translate(_TYPOGRAPHY)).strip())
        for s in _split_sentences(text):
            if _CODE in s:
                stats["pydoc: inline code"] += 1
            elif s.endswith(":"):
                stats["pydoc: ends with ':'"] += 1
            elif "://" in s or "www." in s:
                stats["pydoc: a web address"] += 1
            elif not _is_sentence(s):
                stats["pydoc: not a whole sentence"] += 1
            else:
                out.append(s)
    return out


def pydoc_sentences(folder: str | Path, stats: Counter | None = None) -> list[str]:
    """The prose sentences (:func:`pydoc_html_sentences`) of every page :data:`PYDOC_TREE` selects under ``folder``
    (``usr/share/doc/python3.11/html``), pages in path order."""
    folder = Path(folder)
    return [s for rel in debian_text.tree_files(folder, PYDOC_TREE)
            for s in pydoc_html_sentences((folder / rel).read_text(encoding="utf-8"), stats)]
