"""The spread of a pilot teacher's copy before distillation over prompt sets (issue 22's card, pilots 7 and 8): top-1
and mean Δl of the teacher and of its copy (DistilGPT2's six blocks) on ``make_prompts(200, seed=s)`` for seeds 1-5,
through ``family_eval.block_scores`` (the card's own reading uses seed 0 and 100 prompts), so that one reading of the
copy is not taken for the copy.

    python data/models/small2/pilots/copy_spread.py build/pilots/pilot8 > data/models/small2/pilots/pilot8-copy-spread.json
"""
import json
import sys
from pathlib import Path

from dcirc_utils.offline import corpus as corpus_mod
from dcirc_utils.core.components import student_layer_map
from dcirc_utils.offline.family_eval import SMALL2, block_scores, family_sources
from dcirc_utils.offline.train import load_model

if __name__ == "__main__":
    folder = Path(sys.argv[1])
    tok = corpus_mod.build_tokenizer(model_max_length=SMALL2.n_positions,
                                     spec=corpus_mod.small2_spec(None, family_sources(folder)))
    teacher = load_model(folder / "teacher")
    n = teacher.config.n_layer
    subsets = {"teacher": list(range(n)), "copy": student_layer_map(n, (n + 1) // 2)}
    out = {"folder": folder.name, "n_prompts": 200,
           "seeds": {str(seed): block_scores(teacher, tok, subsets, n_prompts=200, seed=seed) for seed in range(1, 6)}}
    print(json.dumps(out, indent=1))
