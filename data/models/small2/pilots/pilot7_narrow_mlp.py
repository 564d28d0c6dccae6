"""Pilot 7 of issue 22 (data/models/small2/README.md): pilot 4's recipe (WordNet + Python docs + Webster 1913,
``template_step``) with an MLP as wide as the residual stream (``n_inner = n_embd = 192``) instead of GPT-2's
``4 * n_embd``. The question: with a quarter of the MLP capacity in each block, must the teacher spread its prose
modelling and the numeral task over more of its depth, so that the copy of six blocks loses more? A pilot, not the
recipe (GPT-2's ratio is 4): it patches ``distill.model_config`` in this process only, then runs the ordinary
training command; give it its own ``--ckpt-dir`` (the checkpoint key does not record the width).

    python data/models/small2/pilots/pilot7_narrow_mlp.py --family build/pilots/pilot7 \
        --ckpt-dir build/pilots/pilot7-ckpt --threads 2
"""
import sys

from dcirc_utils.offline import distill, train

N_INNER_PER_EMBD = 1


def use_narrow_mlp() -> None:
    """Make every model this process builds with ``distill.model_config`` have ``n_inner = N_INNER_PER_EMBD * n_embd``
    (pilots 7-11; a student copies its teacher's config, so it needs no patch)."""
    wide = distill.model_config

    def narrow(vocab_size, n_layer, cfg, tokenizer=None):
        conf = wide(vocab_size, n_layer, cfg, tokenizer)
        conf.n_inner = N_INNER_PER_EMBD * cfg.n_embd
        return conf

    distill.model_config = narrow


if __name__ == "__main__":
    use_narrow_mlp()
    train.main(["teacher", "--sources", "wordnet,pydoc,gcide", *sys.argv[1:]])
