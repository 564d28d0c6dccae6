"""Which later blocks a pilot teacher's numeral task needs (issue 22's card, pilot 9 on): ``family_eval.block_removal``
says that block 0 alone fails and that any single later block can be dropped; this asks the two questions between.

- ``block0_plus``: block 0 followed by one later block k, for k = 1..11. If many single k restore the task, the later
  blocks each hold a complete route to the answer (redundant paths), and a copy that keeps any of them keeps the task.
- ``copy_minus``: DistilGPT2's six blocks (0, 2, 4, 7, 9, 11) with one of them removed: which of the copy's own blocks
  it needs (``copy``: all six, on the same prompts).

Top-1 and mean Δl on ``make_prompts(200, seed=0)`` (the same prompts as ``family_eval``'s held-out numerals).

    python data/models/small2/pilots/block_paths.py build/pilots/pilot9 > data/models/small2/pilots/pilot9-block-paths.json
"""
import json
import sys
from pathlib import Path

import torch

from dcirc_utils.core import metrics, tasks
from dcirc_utils.core.components import student_layer_map
from dcirc_utils.offline import corpus as corpus_mod
from dcirc_utils.offline.family_eval import SMALL2, family_sources, keep_blocks
from dcirc_utils.offline.pair_eval import end_logits
from dcirc_utils.offline.train import load_model


@torch.no_grad()
def main(folder: Path, n_prompts: int = 200, seed: int = 0) -> dict:
    tok = corpus_mod.build_tokenizer(model_max_length=SMALL2.n_positions,
                                     spec=corpus_mod.small2_spec(None, family_sources(folder)))
    teacher = load_model(folder / "teacher")
    ps = tasks.make_prompts(n_prompts, seed=seed, tokenizer=tok)
    correct, wrong = ps.answer_ids(tok)
    n = teacher.config.n_layer
    copy_map = student_layer_map(n, (n + 1) // 2)

    def score(keep):
        end = end_logits(keep_blocks(teacher, keep), ps, tok, torch.device("cpu"))
        return {"top1": round(metrics.accuracy(end, correct), 4),
                "logit_diff": round(float(metrics.logit_diff_per_prompt(end, correct, wrong).mean()), 4)}

    return {"folder": folder.name, "n_prompts": n_prompts, "seed": seed, "copy_map": copy_map,
            "copy": score(copy_map), "block0_plus": {str(k): score([0, k]) for k in range(1, n)},
            "copy_minus": {str(b): score([k for k in copy_map if k != b]) for b in copy_map}}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1])), indent=1))
