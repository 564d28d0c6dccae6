"""dcirc_utils: the helper package of the Distilled Circuits course.

Notebooks import from here and define no machinery of their own. Modules, bottom to top:
``tasks`` (prompt sets), ``pairs`` (model pairs), ``metrics`` (Δl), ``corpus``/``distill`` (the offline pair),
``engine`` (batched ablation and patching over hook names), ``discovery`` (node pruning, path patching),
``heads``/``mlps`` (head roles and matching; MLP similarity and merging), ``brittleness``/``alignment``,
``plots`` (figures from plain data) and ``notebook`` (the setup cell).
"""
import warnings as _warnings

# tqdm.auto (imported by TransformerLens) warns once per kernel when ipywidgets is absent; the course uses plain
# text bars, so the warning (which prints a site-packages path) is noise in every notebook.
_warnings.filterwarnings("ignore", message="IProgress not found")

from .metrics import accuracy, logit_diff, logit_diff_per_prompt, score_percent
from .pairs import DEFAULT_PAIR, ModelPair, load_pair, pick_device
from .tasks import PromptSet, make_prompts

__all__ = ["accuracy", "logit_diff", "logit_diff_per_prompt", "score_percent", "DEFAULT_PAIR", "ModelPair",
           "load_pair", "pick_device", "PromptSet", "make_prompts"]
__version__ = "0.1.0"
