"""Filter candidate sentences with prose.py's own filters and measure tokens and out-of-vocabulary shares.

Uses (read-only) dcirc_utils.offline.prose (_excluded, task_names_pattern, is_heldout, PROSE_WORDS, MAX_UNK_SHARE)
and dcirc_utils.offline.corpus (template_items, VERBS, SHIFT_VERB, _pre_tokenizer, SMALL, _default_vocabulary,
prose_pool), mirroring corpus.prose_pool's vocabulary and 20%-unknown rule for any list of sentences.
Usage: python measure.py WORDNET_DIR name=file [name=file ...]   -> prints JSON lines, writes measure.json
"""
import json
import random
import sys
import time
from collections import Counter

from dcirc_utils.offline import corpus, prose

t0 = time.time()
WORDNET = sys.argv[1]
verbs = tuple(corpus.VERBS) + (corpus.SHIFT_VERB,)
template = lambda t: bool(corpus.template_items(t, verbs))  # noqa: E731
names = prose.task_names_pattern()
pre = corpus._pre_tokenizer(corpus.SMALL)
small = set(corpus._default_vocabulary("small"))
pool = corpus.prose_pool(WORDNET)
small2 = small | set(pool.words)
print(f"small vocab {len(small)}, small2 vocab {len(small2)}, WordNet pool train {len(pool.train)} heldout "
      f"{len(pool.heldout)} unk_share {pool.unk_share:.4f} ({time.time() - t0:.0f}s)", flush=True)


def forms(s):
    return [p for p, _ in pre.pre_tokenize_str(s)], [p for p, _ in pre.pre_tokenize_str(" " + s)]


def top_words(sents, fs, n):
    counts = Counter(p for s, (a, b) in zip(sents, fs) if not prose.is_heldout(s) for p in a + b)
    return sorted(counts, key=lambda w: (-counts[w], w))[:n]


def pool_like(sents, fs, known):
    """corpus.prose_pool's keep rule and counts for a given vocabulary."""
    train = held = n_tok = n_unk = train_tok = 0
    for s, (a, b) in zip(sents, fs):
        unk = max(sum(p not in known for p in a), sum(p not in known for p in b))
        if unk > prose.MAX_UNK_SHARE * len(a):
            continue
        n_tok += len(b)
        n_unk += sum(p not in known for p in b)
        if prose.is_heldout(s):
            held += 1
        else:
            train += 1
            train_tok += len(b)
    return {"train_sents": train, "heldout_sents": held, "train_tokens": train_tok,
            "unk_share_kept": round(n_unk / max(1, n_tok), 4)}


def raw_oov(fs, known):
    tot = sum(len(b) for _, b in fs)
    return round(sum(p not in known for _, b in fs for p in b) / max(1, tot), 4)


results = {}
wn_sents = sorted(set(pool.train) | set(pool.heldout))
wn_fs = [forms(s) for s in wn_sents]
results["wordnet_pool"] = {"kept": len(wn_sents), "tokens": sum(len(b) for _, b in wn_fs),
                           "train_tokens": sum(len(b) for s, (_, b) in zip(wn_sents, wn_fs) if not prose.is_heldout(s))}
wn_all = prose.candidate_sentences(WORDNET, template)
wn_all_fs = [forms(s) for s in wn_all]
results["wordnet_candidates"] = {"kept": len(wn_all), "tokens": sum(len(b) for _, b in wn_all_fs),
                                 "oov_vs_small2": raw_oov(wn_all_fs, small2)}
print(json.dumps(results), flush=True)

merged_sents, merged_fs = list(wn_all), list(wn_all_fs)
for arg in sys.argv[2:]:
    name, path = arg.split("=", 1)
    lines = [l.strip() for l in open(path, encoding="utf-8") if l.strip()]
    uniq = sorted(set(lines))
    reasons = Counter()
    kept = []
    for s in uniq:
        if prose._excluded(s, names, template):
            n = len(s.split())
            reasons["non-ascii" if not s.isascii() else "length" if not 4 <= n <= 40 else
                    "digit" if any(c.isdigit() for c in s) else "quote" if '"' in s else
                    "task-name" if names.search(s) else "template"] += 1
        else:
            kept.append(s)
    fs = [forms(s) for s in kept]
    r = {"raw_lines": len(lines), "unique": len(uniq), "dropped": dict(reasons), "kept": len(kept),
         "tokens": sum(len(b) for _, b in fs), "words": sum(len(s.split()) for s in kept),
         "oov_vs_small2": raw_oov(fs, small2)}
    r["pool_with_small2_vocab"] = pool_like(kept, fs, small2)
    own = set(top_words(kept, fs, prose.PROSE_WORDS))
    r["oov_vs_small_plus_own_top2200"] = raw_oov(fs, small | own)
    r["pool_with_own_top2200"] = pool_like(kept, fs, small | own)
    own5 = set(top_words(kept, fs, 5000))
    r["oov_vs_small_plus_own_top5000"] = raw_oov(fs, small | own5)
    r["pool_with_own_top5000"] = pool_like(kept, fs, small | own5)
    r["examples"] = random.Random(22).sample(kept, 5)
    results[name] = r
    merged_sents += kept
    merged_fs += fs
    print(name, json.dumps(r), f"({time.time() - t0:.0f}s)", flush=True)

# WordNet plus every candidate, one vocabulary of the top 2,200 (and 5,000) pre-tokens of all of them
for n in (prose.PROSE_WORDS, 5000):
    top = set(top_words(merged_sents, merged_fs, n))
    results[f"merged_top{n}"] = {"sents": len(merged_sents), "oov": raw_oov(merged_fs, small | top),
                                 "pool": pool_like(merged_sents, merged_fs, small | top)}
    print(f"merged_top{n}", json.dumps(results[f"merged_top{n}"]), flush=True)
json.dump(results, open("measure.json", "w"), indent=1)
print(f"done {time.time() - t0:.0f}s")
