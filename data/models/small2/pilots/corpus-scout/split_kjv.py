"""kjv_raw.txt (one verse a line, 'Ge1:1 text') -> kjv.txt (one sentence a line)."""
import re
SPLIT = re.compile(r'(?<=[.!?])\s+(?=[A-Z])')
verses = [re.sub(r'^\d?[A-Za-z]+\d+:\d+ ', '', l.strip()) for l in open('kjv_raw.txt')]
out = [p.strip() for v in verses for p in SPLIT.split(v) if p.strip()]
open('kjv.txt', 'w').write('\n'.join(out) + '\n')
print(len(out))
