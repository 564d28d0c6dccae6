"""Sentences of GCIDE (Debian dict-gcide), only from blocks whose source tag is [1913 Webster] or
[Webster 1913 Suppl.] (the public-domain part; WordNet- and PJC-tagged blocks are dropped).

Writes gcide_defs.txt (definitions written as sentences the way prose.wordnet_sentences writes WordNet's) and
gcide_quotes.txt (the illustrative quotations, citation removed, split into sentences).
"""
import gzip
import re
import sys
from collections import Counter
from pathlib import Path

PD_TAGS = {"1913 Webster", "Webster 1913 Suppl."}
TAG_LINE = re.compile(r"^\s*\[([^\]]*(?:Webster|WordNet|PJC|AS|RDH|MW|CIDE)[^\]]*)\]\s*$")
HEAD = re.compile(r"^(\S[^\\]*?)\s*\\[^\\]*\\,?\s*(.*)$", re.S)
POS = re.compile(r"^(n\.|v\. t\.|v\. i\.|v\.|a\.|adv\.|adj\.)")
SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def article(w):
    return "An" if w[:1].lower() in "aeiou" else "A"


def clean_def(t):
    t = re.sub(r"\[[^\]]*\]", " ", t)                  # etymologies, [R.], [Obs.], inflections
    t = re.sub(r"\s--\s.*$", " ", t, flags=re.S)        # derived forms, usage notes, citations after " -- "
    t = re.sub(r"--\s*[A-Z][\w. ]*\.", " ", t)          # citations --Bacon.
    t = re.sub(r"^\s*(\d+\.|\([a-z]\))\s*", " ", t)      # sense numbers
    t = re.sub(r"\s+", " ", t).strip()
    while True:                                           # leading domain labels (Zool.) (Bot.)
        m = re.match(r"^\((?:[A-Z][A-Za-z]*\.?\s?(?:&\s)?)+\)\s*", t)
        if not m:
            break
        t = t[m.end():]
    t = re.sub(r"\{([^}]*)\}", r"\1", t)
    t = re.sub(r"\s+", " ", t).strip()
    t = re.split(r";\s*as,\s", t)[0]                      # usage fragments after "; as,"
    return t.strip().rstrip(".;,: ")


def main():
    text = gzip.open(sys.argv[1]).read().decode("utf-8", "replace")
    text = re.sub(r"""\[(['`^"~=.,-]?[A-Za-z]{1,2}['`^"~=.,-]?)\]""", lambda m: re.sub(r"[^A-Za-z]", "", m.group(1)), text)
    lines = text.split("\n")
    defs, quotes, tags = [], [], Counter()
    block, lemma, pos = [], None, None
    for line in lines:
        m = TAG_LINE.match(line)
        if not m:
            if line.strip():
                block.append(line)
            continue
        tag = m.group(1).strip()
        tags[tag] += 1
        if block and not block[0].startswith(" "):        # a new entry: headword line
            joined = " ".join(l.strip() for l in block)
            h = HEAD.match(joined)
            if h:
                lemma = h.group(1).replace("*", "").replace('"', "").replace("`", "").strip()
                rest = h.group(2)
                pm = POS.match(rest)
                pos = pm.group(1) if pm else None
                body = rest[pm.end():] if pm else rest
                block = [body]
                quote_lines = []
            else:
                lemma, pos = None, None
                block = []
        if tag in PD_TAGS and block:
            indent = min(len(l) - len(l.lstrip()) for l in block if l.strip()) if all(l.startswith(" ") for l in block) else 0
            joined = " ".join(l.strip() for l in block)
            if indent >= 8:                               # a quotation block
                q = re.sub(r"\s--\s*\S.*$", "", joined)  # drop the citation and what follows
                q = re.sub(r"\s+", " ", q).strip()
                quotes.extend(s.strip() for s in SPLIT.split(q) if s.strip())
            elif lemma and pos and not joined.lstrip().startswith("{") and "(a)" not in joined:
                d = clean_def(joined)
                if d and not re.match(r"^(Same as|See|Alt\. of|Obs\.|Pl\. of|Imp\. of|p\. p\.|&|of$)", d) and len(d) > 3:
                    lw = lemma if lemma[:1].isupper() and lemma[1:2].isupper() else lemma[:1].lower() + lemma[1:]
                    if pos == "n.":
                        defs.append(f"{article(lw)} {lw} is {d[:1].lower() + d[1:]}.")
                    elif pos.startswith("v."):
                        if d.lower().startswith("to "):
                            defs.append(f"To {lw} is {d[:1].lower() + d[1:]}.")
                    else:
                        defs.append(f"{lw[:1].upper() + lw[1:]} means {d[:1].lower() + d[1:]}.")
        block = []
    defs = [p.strip() for d in defs for p in SPLIT.split(d) if p.strip()]
    Path("gcide_defs.txt").write_text("\n".join(defs) + "\n")
    Path("gcide_quotes.txt").write_text("\n".join(quotes) + "\n")
    print("definition sentences:", len(defs), "quotation sentences:", len(quotes))
    print("top tags:", tags.most_common(12))


if __name__ == "__main__":
    main()
