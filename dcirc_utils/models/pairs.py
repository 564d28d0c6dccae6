"""Model-pair registry: a teacher, its distilled student and their tokenizer, each behind a model adapter.

Pairs (used by every notebook through :func:`load_pair`):

* ``"small"`` (default): the GPT-2-shaped offline pair (12 × 12 teacher, 6-layer student) distilled in this project
  with the DistilGPT2 recipe, shipped in ``data/models/small/`` (its card: ``data/models/small/README.md``);
  ``"small-init"``: the same teacher with its student *before* distillation (the copied blocks), rebuilt exactly
  from the teacher; ``"small-s3"``, ``"small-s9"``: students of 3 and 9 layers (the capacity sweep).
* ``"mini"``: the first, smaller offline pair (6 × 4 teacher, 3-layer student; ``data/models/mini/``), kept for the
  fast tests.
* ``"gpt2"``: GPT-2 small → DistilGPT2 from the Hugging Face hub or its local cache.
* ``"gpt2-random"``: randomly initialised models of exactly the GPT-2 small (12 layers) and DistilGPT2 (6 layers)
  architectures with the real GPT-2 tokenizer: the offline dry run of the real path.
* ``"llama-minitron"``: the study's larger pair (its version 2): Llama-3.1-8B → Llama-3.1-Minitron-4B-Depth (32 × 32
  heads with 8 key/value heads → 16 × 32; the student kept teacher blocks 0–14 and 31,
  :data:`~dcirc_utils.models.builtin.MINITRON_DEPTH_LAYER_MAP`) from the Hugging Face hub or its cache, in bfloat16
  on CUDA and float32 elsewhere. Its tokenizer splits " 5" into " " + "5", so the numeral prompts cannot be written
  for it yet (``docs/pairs.md``).
* ``"llama-random"``: random weights in that pair's layer, head and key/value-head grid at width 256, the student's
  blocks copied from the teacher blocks Minitron-4B-Depth kept, with GPT-2's tokenizer: the offline dry run of the
  Llama path.
* ``"bert"``, ``"bert-random"``, ``"bert-small"``: the encoder pairs (BERT → DistilBERT from the hub; random weights
  in their exact architectures with the real uncased tokenizer; the offline encoder pair), behind
  :class:`~dcirc_utils.models.encoder.EncoderAdapter`.
* bring your own: ``"hf:<teacher>,<student>"`` (two hub ids or two local ``save_pretrained`` folders; usable as
  ``DCIRC_PAIR``) or a name registered with :func:`register_hf_pair`: any decoder family TransformerLens 4.3's
  ``TransformerBridge`` boots and :class:`~dcirc_utils.models.decoder.DecoderAdapter` can run block by block
  (GPT-2, Llama, Qwen2 and their kin: RMSNorm, rotary position embeddings, grouped-query attention), checked when
  it loads.

The decoder pairs go through ``TransformerBridge.boot_transformers`` and TransformerLens's compatibility mode (folded
LayerNorm, centred writing weights and unembedding), the processing the study used, and are wrapped in
:class:`~dcirc_utils.models.decoder.DecoderAdapter`.

This module is the entry point (:func:`load_pair`, the registry's public names); the pieces live by concept:
:mod:`~dcirc_utils.models.registry` (:class:`ModelPair`, :data:`PAIRS`, the errors), :mod:`~dcirc_utils.models.builtin`
(the built-in pairs' loaders), :mod:`~dcirc_utils.models.byo` (bring-your-own pairs),
:mod:`~dcirc_utils.models.hf_loader` (loading a decoder pair from the hub or two folders, checked),
:mod:`~dcirc_utils.models.hub` (the Hugging Face hub and cache), :mod:`~dcirc_utils.models.tokenizers`,
:mod:`~dcirc_utils.models.decoder` and :mod:`~dcirc_utils.models.encoder` (the model families),
:mod:`~dcirc_utils.models.init` and :mod:`~dcirc_utils.models.surgery` (weights built from other weights).
"""
from __future__ import annotations

import inspect
from pathlib import Path

import torch

from ..core.components import student_layer_map
from ..core.paths import MODELS_DIR
from . import builtin  # noqa: F401 - importing it registers the built-in pairs in PAIRS
from .byo import HF_PREFIX, load_hf_pair, parse_hf_name, register_hf_pair
from .decoder import DecoderAdapter, boot_bridge
from .registry import PAIRS, ModelPair, PairUnavailableError, TokenizerMismatchError, register_pair
from .tokenizers import bert_tokenizer, gpt2_tokenizer

# The public names of the pair layer, importable from here as they always were (notebooks, studies, offline, README);
# each is defined once, in the module named on its import line above.
__all__ = ["ModelPair", "load_pair", "PAIRS", "DEFAULT_PAIR", "PairUnavailableError", "pick_device",
           "gpt2_tokenizer", "bert_tokenizer", "register_pair", "MODELS_DIR", "boot_local", "register_hf_pair",
           "TokenizerMismatchError", "HF_PREFIX", "STUDY_PAIRS", "is_stand_in", "copy_control_name",
           "pair_layer_map"]

DEFAULT_PAIR = "small"
#: The pairs the study itself measured (pretrained weights from the hub; llama-minitron in its version 2); every other
#: pair is a stand-in.
STUDY_PAIRS = ("gpt2", "bert", "llama-minitron")


def is_stand_in(name: str) -> bool:
    """Whether the pair ``name`` is a stand-in for the study's pairs (offline, random-initialised or brought by a
    user) rather than one the study measured (:data:`STUDY_PAIRS`)."""
    return name not in STUDY_PAIRS


def pair_layer_map(pair: ModelPair) -> list[int]:
    """The teacher block each student block of ``pair`` was copied from (notebooks 03–05's "copied from" labels):
    ``pair.layer_map`` where the pair records one (``llama-minitron``, ``llama-random``, a bring-your-own pair given
    one), else the DistilGPT2 rule :func:`~dcirc_utils.core.components.student_layer_map` for the two depths
    (``[0, 2, 4, 7, 9, 11]`` for 12 → 6)."""
    if pair.layer_map is not None:
        return list(pair.layer_map)
    return student_layer_map(pair.teacher.n_layers, pair.student.n_layers)


def copy_control_name(name: str) -> str | None:
    """The pair whose student is ``name``'s student *before distillation* (the copied blocks): the control for any
    claim about what distillation does. ``"<name>-init"`` where the course registers one; a pair that is itself a
    copy (``"…-init"``) is its own control (its student is the copy, so it can never beat it); ``None`` otherwise."""
    if name.endswith("-init") and name in PAIRS:
        return name
    return f"{name}-init" if f"{name}-init" in PAIRS else None


def pick_device(device: str | torch.device | None = None, env: str | None = None) -> torch.device:
    """``device`` if given (checked to be usable here), else cuda, then mps, then cpu.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, a ``torch.device``, or ``None`` to pick one.
        env: the environment variable ``device`` was read from (e.g. ``"DCIRC_DEVICE"``), named in the error.

    Raises:
        ValueError: for a device that is not cpu, cuda or mps, or a cuda or mps device this torch build or machine
            does not have; the message names the value, where it came from and the fix.
    """
    if device is not None:
        return _checked_device(device, env)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _checked_device(device: str | torch.device, env: str | None) -> torch.device:
    """``torch.device(device)`` if this machine can run on it, else ValueError (:func:`pick_device`)."""
    what = f"${env}={device}" if env else f"device={str(device)!r}"
    fix = (f"unset {env} or set it to cpu" if env else "pass device='cpu', or device=None to pick cuda, then mps, "
           "then cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{what} is not a device this package runs on (cpu, cuda, cuda:<index> or mps). Fix: {fix}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ValueError(f"{what} asks for CUDA, but {why}. Fix: {fix}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{what} asks for GPU {dev.index}, but only {torch.cuda.device_count()} are visible. "
                             f"Fix: {fix}, or name a visible GPU (cuda:0 ..)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                  and torch.backends.mps.is_available()):
        raise ValueError(f"{what} asks for Apple's MPS, which this machine or torch build does not have. Fix: {fix}")
    return dev


def load_pair(name: str = DEFAULT_PAIR, device: str | torch.device | None = None, *, device_map=None,
              dtype: torch.dtype | None = None, folder: str | Path | None = None) -> ModelPair:
    """Load a teacher/student pair by name (every notebook's setup cell).

    Args:
        name: a key of :data:`PAIRS`, or ``"hf:<teacher>,<student>"`` (two hub ids or two local folders: a
            bring-your-own pair, see :func:`register_hf_pair`); default :data:`DEFAULT_PAIR`. The
            library reads no environment variable: a notebook passes ``cfg.pair`` (``$DCIRC_PAIR`` through
            :class:`~dcirc_utils.core.settings.Settings`).
        device: torch device; ``None`` picks cuda, then mps, then cpu.
        device_map: for ``"hf:"`` pairs only: a Hugging Face / accelerate device map (``"auto"``, or a dict of
            module → device) that places each model instead of ``device``, for models larger than one device.
        dtype: for ``"hf:"`` pairs only: the models' dtype (default float32; ``torch.bfloat16`` halves memory, the
            engine reads its metric out in float32).
        folder: for the offline pairs only (``small`` and its variants, ``mini``, ``bert-small``): the pair's folder,
            e.g. a retrained copy (``python -m dcirc_utils.offline.distill --pair small --out DIR``); default
            ``data/models/<pair>``.

    Offline pairs are checked as they load: each weights file against the SHA-256 recorded in the folder's
    ``digests.json`` (:mod:`~dcirc_utils.models.integrity`; a file without an entry loads with a warning), and each
    model's logits on a probe prompt must be finite.

    Raises:
        KeyError: for an unknown name (the message lists the known ones).
        ValueError: for a malformed ``"hf:"`` name.
        PairUnavailableError: when weights or tokenizer cannot be found (the message says how to get them).
        FamilyError: for a bring-your-own model that is not a decoder this package can run.
        TokenizerMismatchError: for a bring-your-own teacher and student with different vocabularies.
        RuntimeError: for an offline pair whose weights do not match their recorded digest or give non-finite
            logits (the message names the file or model and the fix).
    """
    name = name or DEFAULT_PAIR
    if folder is not None and (name.startswith(HF_PREFIX)
                               or (name in PAIRS and "folder" not in inspect.signature(PAIRS[name]).parameters)):
        raise ValueError(f"folder= applies to the offline pairs (small and its variants, mini, bert-small), not to "
                         f"{name!r}")
    if name.startswith(HF_PREFIX):
        teacher, student = parse_hf_name(name)
        return load_hf_pair(name, teacher, student, pick_device(device), device_map=device_map, dtype=dtype)
    if device_map is not None or dtype is not None:
        raise ValueError(f"device_map and dtype apply to bring-your-own pairs ('{HF_PREFIX}<teacher>,<student>' or "
                         f"register_hf_pair(..., device_map=..., dtype=...)), not to {name!r}: pass device= only")
    if name not in PAIRS:
        raise KeyError(f"unknown pair {name!r}; known pairs: {sorted(PAIRS)} (or bring your own: "
                       f"'{HF_PREFIX}<teacher>,<student>' with hub ids or local folders)")
    return PAIRS[name](pick_device(device), **({} if folder is None else {"folder": Path(folder)}))


def boot_local(folder: str | Path, device: str | torch.device | None = None, label: str = "model") -> DecoderAdapter:
    """Boot one decoder saved with ``save_pretrained`` in ``folder`` (a TransformerBridge in compatibility mode)."""
    bridge = boot_bridge(folder, pick_device(device))
    return DecoderAdapter(bridge, bridge.tokenizer, label)
