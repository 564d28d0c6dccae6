"""Issue 22's card: is a model's held-out prose loss limited by overfitting a small text? For every model in each
folder given (each teacher, its copy before distillation, each student), the prose cross-entropy (``train.prose_ce``)
on ``family_eval``'s 1,000 held-out sentences and on 1,000 sentences of the **training list** (the list that training
documents draw from, with replacement: after 6,800 steps, the prose seen about 3.7 times, a few per cent of them were
never drawn; after 2,400 steps about a quarter), spread evenly over it. A teacher of at most six blocks (pilot 12's
controls) has no copy apart from itself. If a student beat its teacher on held-out text because it memorised less,
its lead would be smaller on training sentences than on held-out ones; if the lead is the same on both, the student
is simply the better language model of this text.

    python data/models/small2/pilots/prose_gap.py data/models/small2/pilots/pilot11-12-prose-gap.json \
        build/pilots/pilot11 build/pilots/pilot11b build/pilots/pilot12a build/pilots/pilot12b build/pilots/pilot12c

(The result goes to the file named.)
"""
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from dcirc_utils.models.init import init_student_from_teacher
from dcirc_utils.offline import corpus as corpus_mod
from dcirc_utils.offline.family_eval import SMALL2, family_sources
from dcirc_utils.offline.train import load_model, prose_ce

N = 1000

if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: python data/models/small2/pilots/prose_gap.py OUT.json FOLDER [FOLDER ...]")
    torch.set_num_threads(2)
    out: dict = {"sentences": N, "folders": {}}
    texts: dict = {}             # one prose pool and tokenizer per set of sources, not one per folder
    for folder in map(Path, sys.argv[2:]):
        sources = family_sources(folder)
        if sources not in texts:
            pool = corpus_mod.prose_pool(None, sources)
            tok = corpus_mod.build_tokenizer(model_max_length=SMALL2.n_positions,
                                             spec=corpus_mod.small2_spec(None, sources))
            # prose_ce reads pool.heldout through heldout_sample; the same spread-out pick is made of the training list
            texts[sources] = pool, tok, replace(pool, heldout=tuple(pool.train[::max(1, len(pool.train) // N)][:N]))
        pool, tok, train_pool = texts[sources]
        models = {}
        for d in sorted(p for p in folder.iterdir() if (p / "config.json").exists()):
            models[d.name] = load_model(d)
            if d.name.startswith("teacher") and models[d.name].config.n_layer > SMALL2.student_layers:
                models[d.name.replace("teacher", "copy")] = init_student_from_teacher(models[d.name],
                                                                                      SMALL2.student_layers).eval()
        res = {}
        with torch.no_grad():
            for name, m in models.items():
                res[name] = {"heldout": round(prose_ce(m, tok, pool, n=N), 4),
                             "train": round(prose_ce(m, tok, train_pool, n=N), 4)}
        out["folders"][str(folder)] = res
    Path(sys.argv[1]).write_text(json.dumps(out, indent=1) + "\n")
