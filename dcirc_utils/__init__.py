"""dcirc_utils: the helper package of the Distilled Circuits course.

Notebooks import from here and define no machinery of their own. The package is layered; each layer imports only
the ones below it (``tests/unit/test_layers.py`` checks this):

1. ``core`` — components and sites (one vocabulary), task prompt sets, metrics: pure data and tensor functions;
2. ``models`` — the pair registry and one adapter per model family (the only code that knows hook names);
3. ``engine`` — batched ablation and patching over an adapter, with a metric object as its readout;
4. ``methods`` — discovery, evaluation, heads, MLPs, matching, concentration, brittleness, alignment, noise;
5. ``studies`` and ``report`` — what a notebook section runs (cached), and tables and figures from plain data;
6. ``offline`` — training the offline pairs (corpus, distillation).

The names below are the researcher's API: what a notebook or a script needs to load a pair, build prompts, run the
engine, find circuits and record findings, importable from the top (``from dcirc_utils import load_pair, Engine``).
"""
import warnings as _warnings

from .core.runtime import use_passive_openmp as _use_passive_openmp

# before torch is imported (below): idle OpenMP threads sleep instead of spinning on cores other programs need
_use_passive_openmp()

# tqdm.auto (imported by TransformerLens) warns once per Jupyter kernel when ipywidgets is absent: the one warning
# the nine notebooks raise (run with no filter, issue 24). The course uses plain text bars on purpose (widget bars
# store no text output for nbval to compare), so this warning, which prints a site-packages path, is noise in every
# notebook. Only it is ignored: its message, tqdm's category, raised from tqdm.auto.
from tqdm import TqdmWarning as _TqdmWarning  # noqa: E402

_warnings.filterwarnings("ignore", message="IProgress not found", category=_TqdmWarning, module=r"tqdm\.auto")

from .core.components import Component, Site, parse_component  # noqa: E402
from .core.settings import Settings  # noqa: E402
from .core.tasks import PromptSet, make_prompts, make_task  # noqa: E402
from .engine import Engine, Patch  # noqa: E402
from .methods.discovery import Circuit, EdgeScores, path_patch, prune_nodes  # noqa: E402
from .methods.evaluation import TaskEvaluation, evaluate_task  # noqa: E402
from .models.pairs import DEFAULT_PAIR, ModelPair, load_pair, pick_device  # noqa: E402
from .report.results import Results  # noqa: E402
from .studies.alignment import TaskAlignment, task_alignment  # noqa: E402
from .studies.discover import Discovery, discover  # noqa: E402
from .studies.notebook import setup_notebook  # noqa: E402

__all__ = [
    # the vocabulary
    "Component", "Site", "parse_component",
    # tasks and pairs
    "PromptSet", "make_prompts", "make_task", "DEFAULT_PAIR", "ModelPair", "load_pair", "pick_device",
    # the engine and the study's two discovery methods
    "Engine", "Patch", "Circuit", "EdgeScores", "prune_nodes", "path_patch", "evaluate_task", "TaskEvaluation", "Discovery", "discover",
    # the study's alignment metric A of a pair on a task (cached, with its random-matching control)
    "task_alignment", "TaskAlignment",
    # notebooks: settings, setup and findings
    "Settings", "setup_notebook", "Results",
]
__version__ = "0.2.0"
