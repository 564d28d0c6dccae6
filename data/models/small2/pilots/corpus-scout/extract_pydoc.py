"""Sentences of the Python 3.11 documentation (Debian python3.11-doc), stdlib html.parser only.

Writes pydoc_all.txt (every sentence of every <p>, one a line) and pydoc_nocode.txt (only sentences that had no
inline code element: <code>, <span class="pre">, <tt>, <kbd>, <a class="reference internal"> to an API object).
Skips genindex*, py-modindex, search, and whatsnew/ (changelogs full of issue numbers) -- counted separately.
"""
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(sys.argv[1])
SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
CODE_TAGS = {"code", "tt", "kbd", "pre", "samp"}


class Para(HTMLParser):
    """Collects the text of each <p>, as a list of (text, is_code) pieces."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paras, self.cur, self.depth_p, self.code, self.skip = [], None, 0, 0, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class") or ""
        if tag == "p":
            self.depth_p += 1
            if self.depth_p == 1:
                self.cur = []
        if self.cur is None:
            return
        if tag in CODE_TAGS or (tag == "span" and "pre" in cls.split()):
            self.code += 1
        if tag == "a" and "headerlink" in cls:
            self.skip += 1

    def handle_endtag(self, tag):
        if self.cur is None:
            return
        if tag in CODE_TAGS or tag == "span" and self.code and self._span_is_code():
            pass
        if tag in CODE_TAGS:
            self.code = max(0, self.code - 1)
        if tag == "a" and self.skip:
            self.skip -= 1
        if tag == "p":
            self.depth_p -= 1
            if self.depth_p == 0:
                self.paras.append(self.cur)
                self.cur = None
                self.code = 0

    def _span_is_code(self):
        return False

    def handle_data(self, data):
        if self.cur is not None and not self.skip:
            self.cur.append((data, self.code > 0))


def sentences(pieces):
    """Split a paragraph into sentences; a sentence is 'code' when any of its text came from a code element."""
    text = "".join(("\x01" + t + "\x02") if c else t for t, c in pieces)
    norm = re.sub(r"\s+", " ", text).strip()
    out = []
    for s in SPLIT.split(norm):
        has_code = "\x01" in s or "\x02" in s
        s = s.replace("\x01", "").replace("\x02", "").strip()
        if s:
            out.append((s, has_code))
    return out


def main():
    all_, nocode, stats = [], [], {"files": 0, "paras": 0}
    for f in sorted(ROOT.rglob("*.html")):
        rel = f.relative_to(ROOT).as_posix()
        if rel.startswith(("genindex", "py-modindex", "search", "whatsnew/", "_")):
            continue
        p = Para()
        p.feed(f.read_text(encoding="utf-8", errors="replace"))
        stats["files"] += 1
        stats["paras"] += len(p.paras)
        for para in p.paras:
            for s, c in sentences(para):
                all_.append(s)
                if not c:
                    nocode.append(s)
    Path("pydoc_all.txt").write_text("\n".join(all_) + "\n")
    Path("pydoc_nocode.txt").write_text("\n".join(nocode) + "\n")
    print(stats, "sentences:", len(all_), "without code:", len(nocode))


if __name__ == "__main__":
    main()
