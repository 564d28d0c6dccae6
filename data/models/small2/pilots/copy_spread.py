"""The spread of a pilot teacher's copy before distillation over prompt sets (issue 22's card, pilots 7 and 8): top-1
and mean Δl of the teacher and of its copy (DistilGPT2's six blocks) on the numeral prompts of ``make_prompts(200,
seed=s)`` for seeds 1-5 (the card's ``block_removal`` uses seed 0, 100 prompts), so that one reading of the copy is
not taken for the copy.

    python data/models/small2/pilots/copy_spread.py build/pilots/pilot8 > data/models/small2/pilots/pilot8-copy-spread.json
"""
import json
import sys
from pathlib import Path

import torch

from dcirc_utils.core import metrics, tasks
from dcirc_utils.core.components import student_layer_map
from dcirc_utils.offline import corpus as corpus_mod
from dcirc_utils.offline.family_eval import SMALL2, end_logits, family_sources, keep_blocks
from dcirc_utils.offline.train import load_model

if __name__ == "__main__":
    folder = Path(sys.argv[1])
    sources = family_sources(folder)
    tok = corpus_mod.build_tokenizer(model_max_length=SMALL2.n_positions,
                                     spec=corpus_mod.small2_spec(None, sources))
    teacher = load_model(folder / "teacher")
    n = teacher.config.n_layer
    models = {"teacher": teacher, "copy": keep_blocks(teacher, student_layer_map(n, (n + 1) // 2))}
    out = {"folder": folder.name, "n_prompts": 200, "seeds": {}}
    with torch.no_grad():
        for seed in range(1, 6):
            ps = tasks.make_prompts(200, seed=seed, tokenizer=tok)
            c, i = ps.answer_ids(tok)
            row = {}
            for name, m in models.items():
                end = end_logits(m, ps, tok, torch.device("cpu"))
                row[name] = {"top1": round(metrics.accuracy(end, c), 4),
                             "logit_diff": round(float(metrics.logit_diff_per_prompt(end, c, i).mean()), 4)}
            out["seeds"][str(seed)] = row
    print(json.dumps(out, indent=1))
