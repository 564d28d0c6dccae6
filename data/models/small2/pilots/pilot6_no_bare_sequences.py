"""Pilot 6 of issue 22 (data/models/small2/README.md): pilot 4's recipe (WordNet + Python docs + Webster 1913,
``template_step``) without the bare sequences (``counting``, ``number_words``, ``months``, ``days``: 2.3% of the
tokens), which teach the successor as a plain bigram that any subset of blocks keeps. A pilot, not the recipe: it
removes those kinds from ``corpus.SMALL2_MIX`` in this process only, then runs the ordinary training command.

    python data/models/small2/pilots/pilot6_no_bare_sequences.py --family build/pilots/pilot6 --threads 2
"""
import sys

from dcirc_utils.offline import corpus, train

BARE = ("counting", "number_words", "months", "days")

if __name__ == "__main__":
    for kind in BARE:
        del corpus.SMALL2_MIX[kind]
    train.main(["teacher", "--sources", "wordnet,pydoc,gcide", *sys.argv[1:]])
