"""More English for the ``small2`` corpus (issue 22): the Python documentation and Webster 1913 (GCIDE) as prose
sources beside WordNet. Each parser is checked on hand-written input whose sentences are worked out by hand; the
pinned-file check must refuse a changed file; ``sources=`` must leave the default pool exactly as it was. Tests that
need the real Debian packages skip, naming the package, where they are absent."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
from collections import Counter

import pytest

from dcirc_utils.core import tasks
from dcirc_utils.offline import corpus, debian_text, prose

from .test_corpus import need_wordnet


def need_source(name):
    """Skip when a prose source is not on this machine (the retrain commands fetch it; tests never do)."""
    src = prose.SOURCES[name]
    try:
        prose.source_dir(name, fetch=False)
    except FileNotFoundError as err:       # a copy that differs from the pinned one fails (RuntimeError), never skips
        pytest.skip(f"{src.package} {src.version} unavailable: {err}")


# --------------------------------------------------------------------------------------------- Python documentation
PAGE = """<html><body>
<div class="sphinxsidebar"><h4>Previous topic</h4>
<p class="topless"><a href="intro.html">Introduction</a></p></div>
<p class="admonition-title">Note</p>
<p>The module\u2019s functions are simple. Use <code class="docutils literal notranslate">
<span class="pre">spam()</span></code> to cook. Call it like so:</p>
<p>Results vary \u2013 a lot\u2026 It is fast \u2014 really fast. See e.g. Unix systems for details.</p>
<p><span class="versionmodified changed">Changed in version 3.3: </span>Negative values are rejected now.</p>
<p>Keys are read with <kbd>Ctrl</kbd> held. The value is kept in a <span class="pre">buffer</span> here.</p>
<p>A <em>bold <code>x</code> claim</em> is made. After the code it is prose again.<a class="headerlink"
href="#a">\u00b6</a></p>
<p>find a module, loading it if necessary</p>
<p>See https://www.python.org/ for more. The site is not read.</p>
</body></html>"""


def test_pydoc_parser_keeps_prose_sentences_without_code():
    stats = Counter()
    assert prose.pydoc_html_sentences(PAGE, stats) == [
        "The module's functions are simple.",           # typographic apostrophe made ASCII
        "Results vary - a lot...",                       # en dash and ellipsis
        "It is fast - really fast.",                     # em dash
        "See e.g. Unix systems for details.",            # no split after an abbreviation
        "Negative values are rejected now.",             # the "Changed in version" label is not text
        "After the code it is prose again.",             # a code element ends where it closes; no pilcrow
        "The site is not read.",
    ]
    # "Use spam() to cook.", "Keys are read with Ctrl held.", "The value is kept in a buffer here.", "A bold x claim
    # is made." hold code; "Call it like so:" introduces an example; the table-cell text is not a sentence
    assert stats == {"pydoc: inline code": 4, "pydoc: ends with ':'": 1, "pydoc: not a whole sentence": 1,
                     "pydoc: a web address": 1}


def _pydoc_tree(root):
    pages = {"index.html": "<p>The index page is read.</p>",
             "library/os.html": "<p>The os page is read too.</p>",
             "genindex-A.html": "<p>The general index is skipped.</p>",
             "py-modindex.html": "<p>The module index is skipped.</p>",
             "search.html": "<p>The search page is skipped.</p>",
             "whatsnew/3.11.html": "<p>The changelog is skipped.</p>",
             "_static/x.html": "<p>Static files are skipped.</p>",
             "library/notes.txt": "Not a page at all."}
    for rel, text in pages.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    # the sha256sum listing of the two pages read, by hand (sorted by path)
    listing = "".join(f"{hashlib.sha256(pages[r].encode()).hexdigest()}  {r}\n" for r in ("index.html",
                                                                                             "library/os.html"))
    return hashlib.sha256(listing.encode()).hexdigest()


def test_pydoc_reads_only_the_pinned_pages_and_the_check_refuses_a_changed_one(tmp_path, monkeypatch):
    digest = _pydoc_tree(tmp_path)
    assert prose.pydoc_sentences(tmp_path) == ["The index page is read.", "The os page is read too."]
    src = dataclasses.replace(prose.SOURCES["pydoc"], tree=dataclasses.replace(prose.PYDOC_TREE, count=2,
                                                                               sha256=digest))
    assert debian_text.check(src, tmp_path) == tmp_path
    monkeypatch.setitem(prose.SOURCES, "pydoc", src)
    assert prose.source_dir("pydoc", tmp_path) == tmp_path
    (tmp_path / "library" / "os.html").write_text("<p>The os page was edited.</p>")
    with pytest.raises(RuntimeError, match=r"differ from Debian's python3\.11-doc 3\.11\.2-6\+deb12u8"):
        prose.source_dir("pydoc", tmp_path)
    (tmp_path / "library" / "extra.html").write_text("<p>One page too many.</p>")      # also a count mismatch
    with pytest.raises(RuntimeError, match="3 \\*.html files \\(pinned: 2"):
        prose.source_dir("pydoc", tmp_path)
    with pytest.raises(FileNotFoundError, match="pass the folder that holds the HTML pages of python3.11-doc"):
        prose.source_dir("pydoc", tmp_path / "library" / "nothing-here")


# --------------------------------------------------------------------------------------------- GCIDE
ENTRIES = [
    # public-domain senses and a quotation; a PJC and a WordNet sense; etymology, sense numbers, a domain label
    """Psalmist \\Psalm"ist\\, n. [L. psalmista, Gr. ?: cf. F. psalmiste.
   See {Psalm}.]
   1. A writer or composer of sacred songs; -- a title
      particularly applied to the authors of hymns.
      [1913 Webster]

   2. (R. C. Ch.) A clerk, precentor, singer, or leader of
      music, in the church.
      [PJC]

         The psalmist sang, and all the people were glad.
                                                  --Addison.
      [1913 Webster]

   3. A singer of hymns in a chapel; a chorister.
      [WordNet 1.5]
""",
    # a verb: inflections, "; as," examples, a mixed tag, the supplement's tag, a label, synonyms
    """Hurry \\Hur"ry\\, v. t. [imp. & p. p. {Hurried}; p. pr. & vb. n.
   {Hurrying}.] [OE. horien.]
   1. To hasten; to impel to greater speed; as, to hurry the work.
      [1913 Webster]

            Impetuous lust hurries him on.        --South.
      [1913 Webster +PJC]

   2. To cause to be done quickly. [Obs.]
      [Webster 1913 Suppl.]

   Syn: To hasten; precipitate; expedite.
        [1913 Webster]
""",
    # an adverb with a citation after its definition; an untagged paragraph; an editor's mark
    """Maturely \\Ma*ture"ly\\, adv.
   Early in life; soon. --Bp. Burnet.
   [1913 Webster]

   In a mature manner, with ripeness.

   2. With full deliberation, as a change revised later. AS
      [1913 Webster]
""",
    # accent markup; a two-line prose quotation whose second line starts a sentence; verse; Middle English
    """Caf['e] \\Caf`['e]"\\, n.
   A coffee house; a restaurant.
   [1913 Webster]

         Old men sat in the caf['e] and talked of the war they lost.
         Young men were singing outside the door. --Thackeray.
   [1913 Webster]

         The painter's magic skill.               --Pope.
   [1913 Webster]

         The day is done, and the darkness
         Falls from the wings of night.           --Longfellow.
   [1913 Webster]

         When every goose is cackling in the yard.  --Shak.
   [1913 Webster]

         A cafe of the toun was ful of folk.      --Chaucer.
   [1913 Webster]
""",
    # a proper noun (written with a capital mid-sentence) and a genus
    """Bacchus \\Bac"chus\\, n. (Myth.)
   The god of wine, whose feasts were sacred to Bacchus.
   [1913 Webster]
""",
    """Acanthus \\A*can"thus\\, n. [L., fr. Gr. ?.]
   (Bot.) A genus of herbaceous prickly plants.
   [1913 Webster]
""",
    # a hyphenated proper headword; a sense used in one country; a usage adverb; a quotation without its subject
    """Indo-Briton \\In"do-Brit"on\\, n.
   A person born in India, of Indo-European and British blood.
   [1913 Webster]
""",
    """Archdeacon \\Arch*dea"con\\, n.
   In England, an ecclesiastical dignitary next below a bishop.
   [1913 Webster]
""",
    """Treason \\Trea"son\\, n.
   2. Loosely, the betrayal of any trust or confidence.
      [1913 Webster]

            Is crested with lines of fiery light.  --Shelley.
      [1913 Webster]
""",
]


def _b64(n):
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out = ""
    while True:
        out = digits[n % 64] + out
        n //= 64
        if not n:
            return out


def _gcide_db(folder, entries=ENTRIES):
    """A dictd database as Debian ships GCIDE: the entries, gzip-compressed, and an index of headword, offset and
    length in base 64; one entry is indexed under two headwords, as GCIDE's are."""
    data, index, offset = b"", [], 0
    for entry in entries:
        raw = entry.encode()
        word = entry.split(" ", 1)[0]
        index.append(f"{word}\t{_b64(offset)}\t{_b64(len(raw))}")
        data, offset = data + raw + b"\n", offset + len(raw) + 1
    index.append(f"Psalmists\t{_b64(0)}\t{_b64(len(entries[0].encode()))}")
    index.append(f"00-database-short\t{_b64(0)}\t{_b64(3)}")
    (folder / "gcide.dict.dz").write_bytes(gzip.compress(data))
    (folder / "gcide.index").write_text("\n".join(sorted(index)) + "\n")


def test_gcide_parser_keeps_only_clean_public_domain_text(tmp_path):
    _gcide_db(tmp_path)
    stats = Counter()
    assert prose.gcide_sentences(tmp_path, stats) == [
        "A psalmist is a writer or composer of sacred songs.",       # etymology, sense number, "; --" note gone
        "The psalmist sang, and all the people were glad.",          # [1913 Webster] quotation, no citation
        "To hurry is to hasten.",                                     # up to the first ";"
        "To hurry is to cause to be done quickly.",                   # supplement; the [Obs.] label gone
        "Maturely means early in life.",                              # the citation gone
        "A cafe is a coffee house.",                                  # accent markup made plain
        "Old men sat in the cafe and talked of the war they lost.",
        "Young men were singing outside the door.",                   # a new sentence keeps its capital
        "The day is done, and the darkness falls from the wings of night.",     # verse joined
        "Bacchus is the god of wine, whose feasts were sacred to Bacchus.",    # a proper noun: no article
        "Acanthus is a genus of herbaceous prickly plants.",                   # a genus is named
        "An Indo-Briton is a person born in India, of Indo-European and British blood.",
        "An archdeacon is, in England, an ecclesiastical dignitary next below a bishop.",     # where it is used
        "A treason is the betrayal of any trust or confidence.",               # "Loosely," is a usage label
    ]
    # not read: sense 2 [PJC] and 3 [WordNet 1.5] of Psalmist, the [1913 Webster +PJC] quotation, the untagged
    # paragraph of Maturely; skipped: Syn, the edited sense (AS), the quotations that are a clause, a phrase with
    # no subject or verb ("The painter's magic skill."), a subjectless one and a Middle English one
    assert stats["gcide: blocks not public domain or untagged"] == 4
    assert stats["gcide: definition sentences"] == 10


def test_gcide_check_names_missing_and_changed_files(tmp_path):
    _gcide_db(tmp_path)
    with pytest.raises(RuntimeError, match=r"GCIDE files \['gcide.dict.dz', 'gcide.index'\] .* differ from "
                                           r"Debian's dict-gcide 0\.48\.5\+nmu2"):
        prose.source_dir("gcide", tmp_path)
    (tmp_path / "gcide.index").unlink()
    with pytest.raises(FileNotFoundError, match=r"no GCIDE data files \['gcide.index'\].*gcide.dict.dz and "
                                                r"gcide.index"):
        prose.source_dir("gcide", tmp_path)


def test_check_refuses_one_changed_byte(tmp_path):
    _gcide_db(tmp_path)
    pins = {n: hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in prose.GCIDE_SHA256}
    src = dataclasses.replace(prose.SOURCES["gcide"], files=pins)
    assert debian_text.check(src, tmp_path) == tmp_path
    raw = bytearray((tmp_path / "gcide.index").read_bytes())
    raw[0] ^= 1
    (tmp_path / "gcide.index").write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match=r"\['gcide.index'\]"):
        debian_text.check(src, tmp_path)


# --------------------------------------------------------------------------------------------- sources=
def _wordnet_db(folder):
    (folder / "data.noun").write_text("00045646 04 n 02 rally 1 rallying 1 003 | the feat of mustering strength; "
                                      "\"he singled to start a rally\"  \n")
    (folder / "data.verb").write_text("01 29 v 01 hasten 0 000 | act or move at high speed  \n")
    (folder / "data.adj").write_text("02 00 a 01 able(a) 0 000 | having the necessary means  \n")
    (folder / "data.adv").write_text("03 02 r 01 maturely 0 000 | early  \n")


def _pinned(name, folder, monkeypatch):
    """Pin the source ``name`` to the hand-made files in ``folder`` (the real pins describe Debian's)."""
    pins = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in prose.SOURCES[name].files}
    monkeypatch.setitem(prose.SOURCES, name, dataclasses.replace(prose.SOURCES[name], files=pins))


def test_candidate_sentences_reads_each_source_through_the_same_filters(tmp_path, monkeypatch):
    wn, gc = tmp_path / "wn", tmp_path / "gc"
    wn.mkdir(), gc.mkdir()
    _wordnet_db(wn)
    name = tasks.IOI_NAMES[0]
    extra = ("Able \\A\"ble\\, a.\n   Having the necessary means; capable.\n   [1913 Webster]\n",  # as WordNet's
             f"Market \\Mar\"ket\\, n.\n   A meeting of people for buying and selling.\n   [1913 Webster]\n\n"
             f"         {name} went to the market, as she did every day.  --Swift.\n   [1913 Webster]\n",
             "Ten \\Ten\\, a.\n   Being one more than 9.\n   [1913 Webster]\n")                      # a digit
    _gcide_db(gc, ENTRIES + list(extra))
    _pinned("wordnet", wn, monkeypatch)
    _pinned("gcide", gc, monkeypatch)
    gcide = prose.gcide_sentences(gc)
    assert f"{name} went to the market, as she did every day." in gcide                    # a task name
    assert "Ten means being one more than 9." in gcide
    wordnet = prose.wordnet_sentences(wn)
    assert "Able means having the necessary means." in wordnet and "Able means having the necessary means." in gcide
    both = prose.candidate_sentences({"wordnet": wn, "gcide": gc}, sources=("wordnet", "gcide"))
    names = prose.task_names_pattern()
    want = sorted({s for s in wordnet + gcide if s.isascii() and 4 <= len(s.split()) <= 40 and '"' not in s
                   and not re.search(r"\d", s) and not names.search(s)})
    assert both == want and len(both) == len(set(both))            # one "Able means having the necessary means."
    assert f"{name} went to the market, as she did every day." not in both and not [s for s in both if "9" in s]
    assert "A market is a meeting of people for buying and selling." in both
    assert prose.candidate_sentences({"wordnet": wn, "gcide": gc}, sources=("gcide", "wordnet")) == both
    assert prose.candidate_sentences(wn) == prose.candidate_sentences(wn, sources=("wordnet",)) == \
        sorted(s for s in set(wordnet) if len(s.split()) >= 4)            # one folder is still WordNet's
    only_gcide = prose.candidate_sentences({"gcide": gc}, sources=("gcide",))
    shaped = only_gcide[0]                                                # the template filter applies too
    assert shaped not in prose.candidate_sentences({"gcide": gc}, lambda t: t == shaped, ("gcide",))
    assert prose.describe_sources(("wordnet", "gcide"), {"wordnet": wn, "gcide": gc}) == \
        f"WordNet 3.0 ({wn}) + Webster 1913 from GCIDE, dict-gcide {prose.GCIDE_DEB} ({gc})"


def test_sources_are_named_and_checked(tmp_path):
    with pytest.raises(ValueError, match=r"unknown prose sources \['kjv'\]; choose from \['gcide', 'pydoc', "
                                         r"'wordnet'\]"):
        prose.candidate_sentences(sources=("wordnet", "kjv"))
    with pytest.raises(ValueError, match="do not include 'wordnet'"):
        prose.candidate_sentences(tmp_path, sources=("gcide",))
    with pytest.raises(ValueError, match=r"folders given for unknown prose sources \['kjv'\]"):
        prose.candidate_sentences({"kjv": tmp_path})
    with pytest.raises(ValueError, match="unknown prose sources"):
        prose.source_dir("bible")


def test_default_pool_is_todays_wordnet_pool():
    # the pool before sources existed (computed with the previous prose.py): WordNet alone, bit for bit
    need_wordnet()
    pool = corpus.prose_pool()
    assert pool.source == f"WordNet 3.0 ({prose.wordnet_dir(fetch=False)})"
    assert hashlib.sha256(repr((pool.train, pool.heldout, pool.words, pool.unk_share)).encode()).hexdigest() == \
        "ea93cd2b6d4897fceb090d1b194fdcdc6e59d76f3de492b823969cd8de53d8b4"
    assert corpus.prose_pool(None, ("wordnet",)) == pool


# --------------------------------------------------------------------------------------------- the real packages
def test_real_python_documentation():
    need_source("pydoc")
    sentences = prose.pydoc_sentences(prose.source_dir("pydoc", fetch=False))
    assert len(set(sentences)) > 20_000
    for s in sentences:
        assert s[0].isupper() and s[-1] in ".!?" and "\x00" not in s, s
        assert not set(s) & set("\u2018\u2019\u2013\u2014\u2026"), s


def test_real_gcide_public_domain_text():
    need_source("gcide")
    stats = Counter()
    sentences = prose.gcide_sentences(prose.source_dir("gcide", fetch=False), stats)
    assert stats["gcide: definition sentences"] > 100_000 and stats["gcide: quotation sentences"] > 15_000
    for s in sentences:
        assert not set(s) & set("[]{}\\|*_"), s                              # no markup left
        assert "--" not in s and s[0].isupper() and s[-1] in ".!?", s       # no citation, whole sentences


def test_pool_with_more_sources_names_them_and_extends_the_vocabulary():
    need_wordnet()
    need_source("pydoc")
    pool = corpus.prose_pool(sources=("wordnet", "pydoc"))
    assert pool.source == prose.describe_sources(("wordnet", "pydoc"))
    assert "Python 3.11 documentation" in pool.source and pool.source.startswith("WordNet 3.0 (")
    default = corpus.prose_pool()
    assert len(pool.train) > len(default.train) and not set(pool.train) & set(pool.heldout)
    assert all(prose.is_heldout(s) for s in pool.heldout)
    spec = corpus.small2_spec(sources=("wordnet", "pydoc"))
    assert spec.prose == pool.train and set(pool.words) <= set(spec.closed_vocabulary)
    assert set(pool.words) != set(default.words)
