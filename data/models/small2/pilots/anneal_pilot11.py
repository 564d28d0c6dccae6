"""A probe of pilot 11's kept teacher (issue 22's card): anneal it, as the decay phase of a warmup-stable-decay
schedule would, and watch its copy before distillation. Pilot 11's schedule ended at 7e-4 and its copy read 41-48%;
pilot 9's decayed to 2e-4 and its copy recovered to 91-96%. Here the teacher goes on for 600 more steps from 7e-4
(warmup over 5%) down to 2e-4 on a fresh sample of the same corpus (seed 7; a fresh AdamW, since the run's optimiser
state is not kept): does its copy recover, and does the teacher's held-out prose loss fall below its students'
(3.25-3.28 on family_eval's 1,000 sentences)? Writes the teacher's and the copy's readings every 100 steps
(``train.quick_eval`` / ``train.copy_eval``: 100 prompts and 400 sentences) and, at the end, ``block_scores`` of the
teacher and its copy on family_eval's numeral set (200 prompts, seed 0) and the prose loss on its 1,000 sentences.

    python data/models/small2/pilots/anneal_pilot11.py data/models/small2/pilots/pilot11-anneal.json

(The result goes to the file named, not to standard output, which the training loop's progress lines share.)
"""
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from dcirc_utils.core.components import student_layer_map
from dcirc_utils.models.init import init_student_from_teacher
from dcirc_utils.offline import corpus as corpus_mod
from dcirc_utils.offline.distill import make_training_blocks
from dcirc_utils.offline.family_eval import SMALL2, block_scores, family_sources
from dcirc_utils.offline.train import copy_eval, load_model, prose_ce, quick_eval, train_model
from dcirc_utils.offline.training import causal_ce

FOLDER = Path(__file__).resolve().parent / "pilot11"
STEPS, PEAK, FLOOR, SEED = 600, 7e-4, 2e-4, 7

if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python data/models/small2/pilots/anneal_pilot11.py OUT.json")
    out_path = Path(sys.argv[1])
    torch.set_num_threads(2)
    sources = family_sources(FOLDER)
    spec = corpus_mod.small2_spec(None, sources)
    pool = corpus_mod.prose_pool(None, sources)
    tok = corpus_mod.build_tokenizer(model_max_length=SMALL2.n_positions, spec=spec)
    teacher = load_model(FOLDER / "teacher")
    train_cfg = json.loads((FOLDER / "teacher" / "training.json").read_text())["settings"]["config"]
    cfg = replace(SMALL2, seed=SEED, teacher_steps=STEPS, weight_decay=train_cfg["weight_decay"],
                  min_lr_frac=FLOOR / PEAK)
    ids, labels = make_training_blocks(tok, STEPS * cfg.batch_size, cfg, seed=SEED, spec=spec)

    def step_loss(m, idx):
        loss = causal_ce(m(input_ids=ids[idx]).logits, labels[idx])
        return loss, {"loss": loss.detach()}

    def evaluate(m):
        return {**quick_eval(m, tok, pool), "copy": copy_eval(m, tok, pool)}

    def final(m):
        n = m.config.n_layer
        subsets = {"teacher": list(range(n)), "copy": student_layer_map(n, (n + 1) // 2)}
        copy = init_student_from_teacher(m, SMALL2.student_layers).eval()
        return {"numerals": block_scores(m, tok, subsets, n_prompts=200, seed=0),
                "prose_ce_1000": {"teacher": prose_ce(m, tok, pool, n=1000), "copy": prose_ce(copy, tok, pool, n=1000)}}

    t0 = time.perf_counter()
    before = final(teacher)
    teacher.train()
    ckpt = Path("build/pilots/pilot11-anneal.pt")
    log = train_model(teacher, STEPS, PEAK, step_loss, cfg, SEED + 1, ckpt, len(ids), evaluate, progress=False,
                      tag="anneal", eval_every=100)
    teacher.eval()
    out = {"steps": STEPS, "peak_lr": PEAK, "floor_lr": FLOOR, "seed": SEED, "weight_decay": cfg.weight_decay,
           "before": before, "after": final(teacher), "evals": log["evals"],
           "seconds": round(time.perf_counter() - t0, 1)}
    out_path.write_text(json.dumps(out, indent=1) + "\n")
