"""(Run from the repository root with the pilot weights in build/pilots/pilot2/teacher.) Continue pilot 2's teacher for 900 more steps (peak lr 5e-4, warmup 5%, cosine to 10%) on a fresh corpus sample
(seed 7) and measure block removal before and after: does more training make the teacher use its depth?"""
import json, time
from dataclasses import replace
from pathlib import Path
import torch
from dcirc_utils.offline import corpus as C
from dcirc_utils.offline.train import SMALL2, _load, train_model, quick_eval
from dcirc_utils.offline.distill import make_training_blocks, _causal_ce
from dcirc_utils.offline.family_eval import block_removal
torch.set_num_threads(2)
out = Path("build/pilots/continue")
t = _load("build/pilots/pilot2/teacher")
spec = C.small2_spec(); pool = C.prose_pool(); tok = C.build_tokenizer(model_max_length=128, spec=spec)
before = block_removal(t, tok)
cfg = replace(SMALL2, seed=7, teacher_steps=900)
ids, labels = make_training_blocks(tok, 900 * 32, cfg, seed=7, spec=spec)
def step_loss(m, idx):
    loss = _causal_ce(m(input_ids=ids[idx]).logits, labels[idx]); return loss, {"loss": loss.detach()}
t.train()
t0 = time.time()
log = train_model(t, 900, 5e-4, step_loss, cfg, 8, out / "ckpt.pt", len(ids), lambda m: quick_eval(m, tok, pool),
                  progress=False, tag="continue", eval_every=300)
t.eval()
after = block_removal(t, tok)
res = {"before": before, "after": after, "evals": log["evals"], "seconds": time.time() - t0}
(out / "result.json").write_text(json.dumps(res, indent=1))
for k, r in (("before", before), ("after", after)):
    print(k, r["all"], "copy", r["copy_map"], "b0", r["block0_only"], "drop min top1",
          min(v["top1"] for b, v in r["drop"].items() if b != "0"))
