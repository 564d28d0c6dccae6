"""Pilot 11 of issue 22 (data/models/small2/README.md): pilot 9's recipe (pilot 7's narrow MLP, ``n_inner = n_embd``,
weight decay 0.3, 6,800 steps) with one change: a cosine schedule that ends at a higher learning rate,
``min_lr_frac`` 0.35 instead of the recipe's 0.1 (a floor of 7e-4 instead of 2e-4), so the last part of training
stays in the range of rates (about 1.2e-3 down to 0.5e-3) over which pilot 9's copy before distillation scored 41-66%
on the numerals, instead of the floor (2e-4) over which it recovered to 95-99%. A pilot, not the recipe: it patches
``train.SMALL2`` and ``distill.model_config`` in this process only (the checkpoint key records ``min_lr_frac``, not
the width: give it its own ``--ckpt-dir``), then runs the ordinary training command (a teacher by default; ``student``
as the first argument distils a student with the same schedule floor, DistilGPT2's loss and the recipe's other
student settings, from the teacher in ``--family``).

    python data/models/small2/pilots/pilot11_lr_floor.py --family build/pilots/pilot11 \
        --ckpt-dir build/pilots/pilot11-ckpt --threads 2 --weight-decay 0.3 --steps 6800
    python data/models/small2/pilots/pilot11_lr_floor.py student --family build/pilots/pilot11b \
        --ckpt-dir build/pilots/pilot11b-ckpt --threads 2          # pilot11b/teacher: a copy of pilot11/teacher
"""
import sys
from dataclasses import replace

from dcirc_utils.offline import train
from pilot7_narrow_mlp import use_narrow_mlp    # the sibling script (its folder is on sys.path when run as a script)

MIN_LR_FRAC = 0.35

if __name__ == "__main__":
    use_narrow_mlp()
    train.SMALL2 = replace(train.SMALL2, min_lr_frac=MIN_LR_FRAC)
    args = sys.argv[1:]
    role = args.pop(0) if args and args[0] in ("teacher", "student") else "teacher"
    train.main([role, "--sources", "wordnet,pydoc,gcide", *args])
