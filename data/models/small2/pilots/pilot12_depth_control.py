"""Pilot 12 of issue 22 (data/models/small2/README.md): a control for the capacity target. How much lower a held-out
prose cross-entropy does the teacher's depth buy at the CPU budget? A **6-layer** model of the teacher's width (pilots
7-11's narrow MLP, ``n_inner = n_embd = 192``) trained **from scratch** as a teacher is, with pilot 10's (``--steps
2400``) or pilot 9's (``--steps 6800``) settings, weight decay 0.3, cosine to 10% of the peak: the same seed, so the
same training blocks in the same order (the corpus code is unchanged since pilot 3, the token counts match, and the
6,800-step run's checkpoint records the same ``data_sha256`` as pilot 11's, whose data are pilot 9's). Only the depth
differs (and so the initial weights: a 6-layer model draws fewer of them). If a 6-layer model that never saw a teacher
comes within a few per cent of the 12-layer teacher's prose loss, a 6-layer student distilled from that teacher cannot
be held 5% above it by its capacity at this budget. A pilot, not the recipe: it patches ``train.SMALL2`` (``n_layer``,
and ``student_layers`` capped at it, which the command's ``--layers`` default and checks read) and, unless ``--wide``,
``distill.model_config`` (the narrow MLP), in this process only; give it its own ``--family`` and ``--ckpt-dir``. Its
log's ``copy`` entries are of the whole model (the recipe's six blocks of a 6-layer model), so they repeat the model's
own reading. ``--wide`` (first, before the training command's options) keeps GPT-2's MLP (``n_inner = 4 * n_embd``),
for a control of pilot 4 (pilot 12d: ``--wide --steps 2400``, weight decay 0.01, the recipe's). ``--n-layer K`` (also
first) trains a K-layer model instead of 6 (pilot 12c: 3 layers; its log's ``copy`` is then of all its blocks as well:
the recipe's six student blocks are capped at K, since a copy cannot take more blocks than there are; ``family_eval``
cannot read such a folder, ``prose_gap.py`` can).

    python data/models/small2/pilots/pilot12_depth_control.py --family build/pilots/pilot12a \
        --ckpt-dir build/pilots/pilot12a-ckpt --threads 2 --weight-decay 0.3 --steps 2400
    python data/models/small2/pilots/pilot12_depth_control.py --n-layer 3 --family build/pilots/pilot12c \
        --ckpt-dir build/pilots/pilot12c-ckpt --threads 2 --weight-decay 0.3 --steps 2400
    python data/models/small2/pilots/pilot12_depth_control.py --wide --family build/pilots/pilot12d \
        --ckpt-dir build/pilots/pilot12d-ckpt --threads 2 --steps 2400
"""
import sys
from dataclasses import replace

from dcirc_utils.offline import train
from pilot7_narrow_mlp import use_narrow_mlp    # the sibling script (its folder is on sys.path when run as a script)

USAGE = ("usage: pilot12_depth_control.py [--n-layer K] [--wide] TRAINING-OPTIONS (this script's options first; "
         "the rest go to python -m dcirc_utils.offline.train teacher)")


def pilot_options(args: list[str]) -> tuple[int, bool, list[str]]:
    """This script's own leading options (``--n-layer K`` or ``--n-layer=K``, ``--wide``) and the training command's
    arguments. Raises SystemExit with the usage line for a missing or non-positive K."""
    n_layer, wide = 6, False
    while args and (args[0] == "--wide" or args[0].split("=")[0] == "--n-layer"):
        if args[0] == "--wide":
            wide, args = True, args[1:]
            continue
        if "=" in args[0]:
            value, args = args[0].split("=", 1)[1], args[1:]
        else:
            value, args = (args[1] if len(args) > 1 else ""), args[2:]
        if not value.isdigit() or int(value) < 1:
            raise SystemExit(f"--n-layer needs a whole number of blocks of at least 1, got {value!r}; {USAGE}")
        n_layer = int(value)
    return n_layer, wide, args


if __name__ == "__main__":
    n_layer, wide, args = pilot_options(sys.argv[1:])
    if not wide:
        use_narrow_mlp()
    train.SMALL2 = replace(train.SMALL2, n_layer=n_layer, student_layers=min(n_layer, train.SMALL2.student_layers))
    train.main(["teacher", "--sources", "wordnet,pydoc,gcide", *args])
