"""Which later blocks a pilot teacher's numeral task needs (issue 22's card, pilot 9 on): ``family_eval.block_removal``
says that block 0 alone fails and that any single later block can be dropped; this asks the two questions between.

- ``block0_plus``: block 0 followed by one later block k, for k = 1..11. If many single k restore the task, the later
  blocks each hold a complete route to the answer (redundant paths), and a copy that keeps any of them keeps the task.
- ``copy_minus``: DistilGPT2's six blocks (0, 2, 4, 7, 9, 11) with one of them removed: which of the copy's own blocks
  it needs (``copy``: all six, on the same prompts).

Top-1 and mean Δl (``family_eval.block_scores``) on ``make_prompts(200, seed=0)`` (the same prompts as ``family_eval``'s held-out numerals).

    python data/models/small2/pilots/block_paths.py build/pilots/pilot9 > data/models/small2/pilots/pilot9-block-paths.json
"""
import json
import sys
from pathlib import Path

from dcirc_utils.core.components import student_layer_map
from dcirc_utils.offline import corpus as corpus_mod
from dcirc_utils.offline.family_eval import SMALL2, block_scores, family_sources
from dcirc_utils.offline.train import load_model


def main(folder: Path, n_prompts: int = 200, seed: int = 0) -> dict:
    tok = corpus_mod.build_tokenizer(model_max_length=SMALL2.n_positions,
                                     spec=corpus_mod.small2_spec(None, family_sources(folder)))
    teacher = load_model(folder / "teacher")
    n = teacher.config.n_layer
    copy_map = student_layer_map(n, (n + 1) // 2)
    subsets = {"copy": copy_map, **{f"block0_plus{k}": [0, k] for k in range(1, n)},
               **{f"copy_minus{b}": [k for k in copy_map if k != b] for b in copy_map}}
    r = block_scores(teacher, tok, subsets, n_prompts, seed)
    return {"folder": folder.name, "n_prompts": n_prompts, "seed": seed, "copy_map": copy_map, "copy": r["copy"],
            "block0_plus": {str(k): r[f"block0_plus{k}"] for k in range(1, n)},
            "copy_minus": {str(b): r[f"copy_minus{b}"] for b in copy_map}}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1])), indent=1))
