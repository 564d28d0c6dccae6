"""The Webster-1913 text of GCIDE for the ``small2`` corpus (``offline.prose``, source ``"gcide"``).

**Webster's Revised Unabridged Dictionary (1913)** as it survives in GCIDE, Debian's ``dict-gcide``
(:func:`gcide_sentences`): only the blocks tagged exactly ``[1913 Webster]`` or ``[Webster 1913 Suppl.]``, as
definitions written the way WordNet's are (``"A clepsydra is a water clock."``) and the illustrative quotations
without their citations (``"Time is like a fashionable host that slightly shakes his parting guest by the hand."``).
Licence: the package as a whole is GPL ("GCIDE is free software; you can redistribute it and/or modify it under the
terms of the GNU General Public License as published by the Free Software Foundation; either version 2, or (at your
option) any later version.", ``/usr/share/doc/dict-gcide/copyright``), but it "was derived from the Webster's Revised
Unabridged Dictionary Version published 1913", whose Project Gutenberg edition "is in the **public domain**"
(``README.dictionary.gz``). Blocks tagged ``[PJC]``, ``[WordNet 1.5]``, with a mixed tag
(``[1913 Webster +PJC]``) or with an editor's mark are later additions and are never read, so the text used is the
public-domain 1913 text alone.

The package is pinned by :data:`GCIDE_DEB` and :data:`GCIDE_SHA256`; finding, fetching and checking it, and the
filters every source's sentences pass, are ``offline.prose``'s (its ``SOURCES["gcide"]``). Sentences are split and
checked, and definitions given their article, by the rules shared with the other readers (``offline.text_sentences``).
"""
from __future__ import annotations

import gzip
import re
from collections import Counter
from pathlib import Path

from .text_sentences import _ABBREV_END, _article, _balanced, _is_sentence, _split_sentences

__all__ = ["GCIDE_DEB", "GCIDE_SHA256", "GCIDE_TAGS", "gcide_sentences"]

#: ``dict-gcide`` as Debian 12 (bookworm) ships it (GCIDE 0.48).
GCIDE_DEB = "0.48.5+nmu2"
#: SHA-256 of the dictd database and its index in ``usr/share/dictd``.
GCIDE_SHA256: dict[str, str] = {
    "gcide.dict.dz": "3e6b2cdcbc1b3664c2f1466e3c8e44012e815c4c67fa83fa61f39777cd6e8517",
    "gcide.index": "e78de035e075f16dd686dd87a4dbf5b4525130d0550968a02d929f5ddf63a6a1",
}
#: The only GCIDE source tags read: the public-domain 1913 dictionary and its supplement.
GCIDE_TAGS = ("1913 Webster", "Webster 1913 Suppl.")


# --------------------------------------------------------------------------------------------- GCIDE (Webster 1913)
_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
#: A line that is one bracket (and maybe a stray word after it): a source tag such as ``[1913 Webster]`` ...
_TAG_LINE = re.compile(r"^\s*\[([^\]\n]*)\]\s*\S*\s*$")
#: ... unless it is a usage label on a line of its own (``[Obs.]``, ``[Prov. Eng.]``, ``[Archaic]``).
_LABEL_LINE = re.compile(r"(?:(?:[A-Z][a-z]*\.|or)\s*)+|[Aa]rchaic|[Ss]lang|[Pp]oetic|[Ii]nformal")
#: Accented letters written as markup: ``['e]`` -> ``e``, ``[a^]`` -> ``a``, ``[ae]`` -> ``ae``.
_ACCENT = re.compile(r"\[(?:['`^\"~=.,-]([A-Za-z]{1,2})|([A-Za-z])\^|(ae|oe|AE|OE))\]")
_HEAD = re.compile(r"^([^\\\n]+?)\s*\\[^\\\n]*\\")                 # headword \pro*nun"ci*a`tion\
_MORE_HEAD = re.compile(r"^,?\s*(?:or\s+)?[^\\\n,]+?\s*\\[^\\\n]*\\")
_PRONUNCIATION = re.compile(r"^\s*\([^)]*\)")
_POS = re.compile(r"^,?\s*((?:[a-z]{1,6}\.\s*)(?:&?\s*[a-z]{1,6}\.\s*)*)")
_DOMAIN = re.compile(r"^\s*\((?:[A-Z][A-Za-z]*\.?(?:\s+|&\s*)?)+\)")       # (Zool.), (R. C. Ch.), (Bot. & Zool.)
_NUMBER_FORM = re.compile(r"^(?:[A-Z]\.\s*)?(?:pl|sing)\.\s*(?:[A-Z]\.\s*)?\{[^}]*\}\.?")
_SENSE = re.compile(r"^\s*(?:\d+\.|\([a-z]\))\s*")
_SENSE_ADVERB = re.compile(r"^(?:Hence|Also|Esp\.|Specif\.|Formerly|Fig\.|Often|Sometimes|[A-Z][a-z]+ly)\s*,\s*")
#: Labels and etymologies inside a definition (a bracket holding a dot or a space, or a label word).
_LABEL = re.compile(r"\[(?:[^\]]*[. ][^\]]*|Archaic|archaic|Slang|slang|Poetic|poetic|Colloq|informal|Rare|Obs)\]")
#: An editor's initials after a block's text: the block was changed after 1913.
_EDITOR_MARK = re.compile(r"\s(?:AS|PJC|RDH|MW|JS|KBD|NS|JC)\s*$")
#: ``--Author.`` after a quotation (after two spaces or at the start of a line).
_CITATION = re.compile(r"(?:\s{2,}|^\s*)--(?=[A-Z])|\s--(?=[A-Z][a-z]*\.\s*$)", re.M)
#: Quotations in Middle English (Chaucer, Gower, Wyclif's Bible ...), not the English a model should learn.
_MIDDLE_ENGLISH = re.compile(r"^(?:Chaucer|Gower|Wyclif|Piers|Rom\. of R|Lydgate|R\. of Gloucester|R\. of Brunne|"
                             r"Robert of|Mandeville)")
#: A quotation sentence opening like this is usually a clause or phrase cut out of a longer sentence ("When every
#: goose is cackling.", "Or from the forest falls the clustered snow.").
_CLAUSE_START = re.compile(r"(?:When|While|Whilst|Where|Whereas|Wherein|Whereby|Which|Who|Whom|Whose|That|Than|As|And|"
                           r"Or|Nor|But|If|Though|Although|Till|Until|Since|Because|Whence|Whither|Lest|Unless|With|"
                           r"Without|Of|To|In|By|From|On|Upon|At|Into|Not|Like|Before|After|Whether|Whatever|"
                           r"Whoever|Wherever|Whenever)\b")
#: ... and one opening with a verb but not a question has lost its subject ("Is crested with lines of fiery light.").
_AUXILIARY_START = re.compile(r"(?:Is|Are|Was|Were|Has|Have|Had|Do|Does|Did|Shall|Will|Can|May|Must|Should|Would|"
                              r"Could|Hath|Doth|Art|Wast)\b")
#: A quotation sentence is kept only with one of these words, a cheap sign of a clause. About half of Webster's
#: quotations without one are phrases ("The painter's magic skill.", "A life irregular and dissipated."); the other
#: half, whole sentences ("Spiritual pride spoils many graces."), are lost with them (30 of each read, issue 22).
_CLAUSE_CUES = frozenset("i he she we they thou you ye it who there is are was were am be been art wert wast has have "
                         "had hath hast do does did doth dost didst shall will would should can could may might must "
                         "shalt wilt canst couldst wouldst shouldst mayst let".split())
_CROSS_REFERENCE = re.compile(r"^(?:See|Same as|Alt\. of|Pl\. of|Imp\. of|p\. p\.|Obs\.|Syn\b|Note\b|An obsolete|"
                              r"A variant|Variant|Abbreviation|Contraction|Plural|Fem\.|Also)")
_NOT_DEFINITION = ("Syn", "Note", "{", "--", "Usage")      # synonyms, notes, phrases, derived forms
_LEMMA = re.compile(r"[A-Za-z](?:(?:[A-Za-z -]|'s\b)*[A-Za-z])?")
_BAD_CHARS = frozenset("[]{}\\|*?\"<>_=+#@~^`")
_NOUN, _VERB, _MEANS = {"n."}, {"v. t.", "v. i.", "v. t. & i.", "v. i. & t."}, {"a.", "adv.", "p. a."}


def _b64(text: str) -> int:
    n = 0
    for ch in text:
        n = n * 64 + _B64[ch]
    return n


def _gcide_entries(folder: Path) -> list[str]:
    """Every entry of the dictd database once (the index names an entry under each of its headwords), in file
    order."""
    raw = gzip.decompress((folder / "gcide.dict.dz").read_bytes())      # dictzip is gzip with an extra header field
    spans = set()
    for line in (folder / "gcide.index").read_text(encoding="utf-8").splitlines():
        word, offset, size = line.split("\t")
        if not word.startswith("00-database"):
            spans.add((_b64(offset), _b64(size)))
    return [raw[o:o + n].decode("utf-8", "replace") for o, n in sorted(spans)]


class _Caser:
    """Whether a capitalised word is a proper noun: its capitalised form is more frequent than its lower-case form
    in the middle of a sentence (after a lower-case letter or a comma), counted over the whole dictionary."""

    def __init__(self, text: str):
        self.lower, self.upper = Counter(), Counter()
        for m in re.finditer(r"(?<=[a-z,;] )([A-Za-z]+)\b", text):
            word = m.group(1)
            (self.lower if word[0].islower() else self.upper)[word.lower()] += 1

    def word(self, word: str) -> str:
        if word[1:2].isupper() or word in ("I", "O"):             # "DNA", "McAdam"-like spellings; "I", "O" stay
            return word
        key = word.split("-")[0].lower()                         # "Indo-Briton" is decided by "Indo"
        return word if self.upper[key] > self.lower[key] else word[:1].lower() + word[1:]

    def first(self, text: str) -> str:
        head, space, rest = text.partition(" ")
        return self.word(head) + space + rest


def _blocks(entry: str) -> list[tuple[list[str], str | None]]:
    """An entry's blocks: the lines up to each source-tag line, with that tag; lines ended by a blank line have
    none (``None``: untagged text is never read)."""
    out, lines = [], []
    for line in entry.split("\n"):
        m = _TAG_LINE.match(line)
        if m and not _LABEL_LINE.fullmatch(m.group(1).strip()):
            out.append((lines, m.group(1).strip()))
            lines = []
        elif not line.strip():
            if lines:
                out.append((lines, None))
            lines = []
        else:
            lines.append(line)
    if lines:
        out.append((lines, None))
    return out


def _skip_front(text: str) -> str:
    """``text`` without the inflections, etymologies (``[...]``), domain labels (``(Zool.)``) and plural forms that
    come before a definition; ``""`` when a bracket never closes."""
    while True:
        text = text.lstrip(" \n,;")
        if text.startswith("["):
            depth = 0
            for i, ch in enumerate(text):
                depth += (ch == "[") - (ch == "]")
                if depth == 0:
                    break
            if depth:
                return ""
            text = text[i + 1:]
            continue
        m = _DOMAIN.match(text) or _NUMBER_FORM.match(text)
        if not m:
            return text
        text = text[m.end():]


def _header(text: str) -> tuple[str, str | None, str] | None:
    """(headword, part of speech or ``None``, the rest) of an entry's first block; ``None`` without a headword."""
    m = _HEAD.match(text)
    if not m:
        return None
    lemma, rest = m.group(1).strip(), text[m.end():]
    while True:                                       # more spellings: "Loadstone \...\, Lodestone \...\, n."
        m = _PRONUNCIATION.match(rest) or _MORE_HEAD.match(rest)
        if not m:
            break
        rest = rest[m.end():]
    m = _POS.match(rest)
    if not m:
        return lemma, None, rest
    return lemma, re.sub(r"\s+", " ", m.group(1)).strip(), rest[m.end():]


def _definition(text: str) -> str | None:
    """The first definition of a sense block, cleaned, without its final full stop; ``None`` when it is not a clean
    definition (a cross-reference, a plural or genus sense, an edited block, or any markup left)."""
    if "capitalized" in text or _EDITOR_MARK.search(text):
        return None
    text = re.sub(r"\s+", " ", text).strip()
    while True:                                       # "2. (Zool.) [Obs.] ..." -> "..."
        stripped = _skip_front(_SENSE.sub("", text, count=1))
        if stripped == text:
            break
        text = stripped
    text = re.sub(r"\{([^{}]*)\}", r"\1", _LABEL.sub(" ", text))
    text = re.split(r";\s*as,?\s|\s--|;|:|\s\([a-z]\)\s", text)[0]          # examples, notes, more senses
    text = _split_sentences(re.sub(r"\s+", " ", text).strip())[0]
    text = _SENSE_ADVERB.sub("", text)
    text = re.sub(r"\s+([,.;)])", r"\1", text).strip().rstrip(".,; ")
    if (not text or set(text) & _BAD_CHARS or "--" in text or len(text.split()) < 2 or not _balanced(text)
            or not re.match(r"[A-Za-z]{2}|[Aa]\b", text) or _CROSS_REFERENCE.match(text)
            or re.search(r"\b(?:pl|sing)\.", text + ".") or _ABBREV_END.search(text + ".")):
        return None
    for m in re.finditer(r"(\S+)\.\s+(?![A-Z])", text):                   # "... destroyed. (Gr.) ...": glued
        if not _ABBREV_END.search(m.group(1) + ".") and m.group(1) not in ("e", "g", "i", "etc", "n", "v", "a"):
            return None
    return text


def _quotation(lines: list[str], caser: _Caser) -> list[str]:
    """The sentences of a quotation block, without the citation; none without a citation (then it is not a
    quotation), for Middle English or for an edited block. Verse lines are joined, their capitals lowered unless
    they start a proper noun."""
    body = "\n".join(line.strip() for line in lines)
    m = _CITATION.search(body)
    if not m or _EDITOR_MARK.search(body[:m.start()]) or _MIDDLE_ENGLISH.match(body[m.end():]):
        return []
    verses = body[:m.start()].strip().split("\n")            # verse: a capital on every line, not only on sentences
    verses = verses[:1] + [v if prev.endswith((".", "!", "?")) else caser.first(v)
                           for prev, v in zip(verses, verses[1:])]
    text = re.sub(r"\{([^{}]*)\}", r"\1", " ".join(verses))
    text = re.sub(r"\s*\.\s\.\s\.", " ...", re.sub(r"\s*--\s*", " - ", text))
    text = re.sub(r"\s+", " ", text).strip()
    return [s for s in _split_sentences(text)
            if _is_sentence(s) and not set(s[:-1]) & _BAD_CHARS and not set(s) & (_BAD_CHARS - {"?"})
            and not _CLAUSE_START.match(s) and not (_AUXILIARY_START.match(s) and s[-1] != "?")
            and set(re.findall(r"[a-z]+", s.lower())) & _CLAUSE_CUES]


def _definition_sentence(lemma: str, kind: str | None, d: str) -> str | None:
    """A definition ``d`` (first letter cased) of ``lemma`` written as WordNet's are, or ``None`` for a part of
    speech that has no such form (or a noun defined by "to ...", a misfiled verb sense)."""
    if len(lemma) >= 5 and lemma[:1].islower() and re.search(r"\b" + re.escape(lemma[:1].upper() + lemma[1:5]), d):
        lemma = lemma[:1].upper() + lemma[1:]            # "Seljuckian": "a member of the family of Seljuk"
    context = ""
    m = re.match(r"((?:in|among) [^,]{1,40}|by extension), (.*)", d)
    if m and kind in _NOUN | _VERB:                      # "An archdeacon is, in England, an ecclesiastical ..."
        context, d = f", {m.group(1)},", m.group(2)
    if kind in _NOUN and not d.startswith("to "):
        if re.match(r"(?:a|the) genus\b", d):             # a genus is named: "Acanthus is a genus of ..."
            return f"{lemma[:1].upper()}{lemma[1:]} is{context} {d}."
        if lemma[:1].isupper() and d.startswith("the "):  # a proper noun: "Bacchus is the god of wine."
            return f"{lemma} is{context} {d}."
        return f"{_article(lemma)} {lemma} is{context} {d}."
    if kind in _VERB and d.startswith("to "):
        return f"To {lemma} is{context} {d}."
    if kind in _MEANS:
        return f"{lemma[:1].upper()}{lemma[1:]} means {d}."
    return None


def gcide_sentences(folder: str | Path, stats: Counter | None = None) -> list[str]:
    """The sentences of GCIDE's public-domain blocks (tagged exactly as in :data:`GCIDE_TAGS`), in file order.

    ``folder`` holds ``gcide.dict.dz`` and ``gcide.index`` (``usr/share/dictd``). Each entry is split into blocks
    at its source tags; untagged and non-public-domain blocks are skipped. A block is

    * a **quotation** (indented 8 or more, with a ``--Author`` citation): its whole sentences, citation removed,
      except those opening with a conjunction, relative or preposition (mostly clauses cut from a longer sentence)
      and quotations of Middle English (Chaucer, Gower, Wyclif ...);
    * a **sense**: its first definition, after the sense number, labels and etymology, up to the first ``;``,
      ``:`` or sentence end, written as WordNet's are (``prose.wordnet_sentences``): nouns ``"A {lemma} is ..."``
      (a genus or a proper noun defined by "the ...": ``"{Lemma} is ..."``), verbs ``"To {lemma} is to ..."``
      (only a definition starting "To"), adjectives, adverbs and participial adjectives ``"{Lemma} means ..."``;
      other parts of speech, plural nouns, cross-references and any sense with markup left are skipped;
    * synonyms, notes, phrases (``{To hurry up}, ...``) and derived forms are skipped.

    Accent markup becomes plain letters (``caf['e]`` -> ``cafe``); a headword or a definition's first word keeps its
    capital only when the dictionary writes it so mid-sentence (a proper noun). ``stats`` (optional) counts blocks.
    """
    stats = Counter() if stats is None else stats
    entries = [_ACCENT.sub(lambda m: m.group(1) or m.group(2) or m.group(3), e) for e in _gcide_entries(Path(folder))]
    caser = _Caser("\n".join(entries))
    out: list[str] = []
    for entry in entries:
        blocks = _blocks(entry)
        head = _header("\n".join(blocks[0][0])) if blocks else None
        if head is None:
            stats["gcide: entries without a headword"] += 1
            continue
        lemma, pos, rest = head
        rest = _skip_front(rest)
        blocks[0] = (rest.split("\n") if rest.strip() else [], blocks[0][1])
        lemma = " ".join(caser.word(w) for w in lemma.split()) if _LEMMA.fullmatch(lemma) else None
        for i, (lines, tag) in enumerate(blocks):
            if not lines:
                continue
            if tag not in GCIDE_TAGS:
                stats["gcide: blocks not public domain or untagged"] += 1
                continue
            if i > 0 and len(lines[0]) - len(lines[0].lstrip()) >= 8:
                quotes = _quotation(lines, caser)
                stats["gcide: quotation sentences"] += len(quotes)
                out.extend(quotes)
                continue
            if lemma is None or lines[0].strip().startswith(_NOT_DEFINITION):
                stats["gcide: other blocks"] += 1
                continue
            d = _definition(" ".join(line.strip() for line in lines))
            if d is None:
                stats["gcide: senses not clean"] += 1
                continue
            kind = pos
            if kind is None and re.match(r"(?:A|An|The|One|Any)\s", d):  # the supplement often gives no part of speech
                kind = "n."
            sentence = _definition_sentence(lemma, kind, caser.first(d))
            if sentence is None:
                stats["gcide: senses of another part of speech"] += 1
                continue
            out.append(sentence)
            stats["gcide: definition sentences"] += 1
    return out
