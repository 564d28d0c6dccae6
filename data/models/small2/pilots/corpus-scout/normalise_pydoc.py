"""Map Sphinx's typographic punctuation to ASCII: pydoc_{nocode,all}.txt -> pydoc_{nocode,all}_norm.txt."""
import re
tr = {'\u2019': "'", '\u2018': "'", '\u2014': ' - ', '\u2013': '-', '\u2026': '...'}
for src, dst in [('pydoc_nocode.txt', 'pydoc_nocode_norm.txt'), ('pydoc_all.txt', 'pydoc_all_norm.txt')]:
    out = [re.sub(r'\s+', ' ', ''.join(tr.get(c, c) for c in l.rstrip('\n'))).strip() for l in open(src)]
    open(dst, 'w').write('\n'.join(out) + '\n')
