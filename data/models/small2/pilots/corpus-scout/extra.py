"""WordNet alone and WordNet + candidates with larger prose vocabularies; code-likeness stats of Python-doc sentences."""
import re, sys, json
sys.argv = [sys.argv[0], sys.argv[1]]
exec(open("measure.py").read().split("results = {}")[0])
wn = prose.candidate_sentences(WORDNET, template)
wfs = [forms(s) for s in wn]
out = {}
for n in (2200, 5000, 8000):
    top = set(top_words(wn, wfs, n))
    out[f"wordnet_top{n}"] = {"oov": raw_oov(wfs, small | top), "pool": pool_like(wn, wfs, small | top)}
    print(f"wordnet_top{n}", out[f"wordnet_top{n}"], flush=True)
def kept(path):
    L = sorted(set(l.strip() for l in open(path) if l.strip()))
    return [s for s in L if not prose._excluded(s, names, template)]
for name in ("pydoc_nocode_norm.txt", "pydoc_all_norm.txt", "kjv.txt", "gcide_quotes.txt"):
    k = kept(name); fs = [forms(s) for s in k]
    top = set(top_words(k, fs, 2200))
    code = sum(bool(re.search(r"\(\)|\w\.\w|_\w|\w_|=|--|\bself\b|[<>{}\[\]]", s)) for s in k)
    colon = sum(s.endswith(":") for s in k)
    out[name] = {"kept": len(k), "tokens": sum(len(b) for _, b in fs), "oov_small2": raw_oov(fs, small2),
                 "oov_own2200": raw_oov(fs, small | top), "pool_own2200": pool_like(k, fs, small | top),
                 "code_like_share": round(code / len(k), 4), "ends_with_colon_share": round(colon / len(k), 4)}
    print(name, out[name], flush=True)
# WordNet + pydoc_nocode_norm + kjv, + gcide_quotes, top 5000
for combo in (("pydoc_nocode_norm.txt",), ("pydoc_nocode_norm.txt", "kjv.txt"), ("pydoc_nocode_norm.txt", "gcide_quotes.txt"), ("pydoc_nocode_norm.txt", "gcide_defs.txt", "gcide_quotes.txt")):
    S = list(wn); F = list(wfs)
    for c in combo:
        k = kept(c); S += k; F += [forms(s) for s in k]
    for n in (2200, 5000):
        top = set(top_words(S, F, n))
        key = "wordnet+" + "+".join(combo) + f"_top{n}"
        out[key] = {"sents": len(S), "oov": raw_oov(F, small | top), "pool": pool_like(S, F, small | top)}
        print(key, out[key], flush=True)
json.dump(out, open("extra.json", "w"), indent=1)
