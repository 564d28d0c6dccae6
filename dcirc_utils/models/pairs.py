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
* ``"bert"``, ``"bert-random"``, ``"bert-small"``: the encoder pairs (BERT → DistilBERT from the hub; random weights
  in their exact architectures with the real uncased tokenizer; the offline encoder pair), behind
  :class:`~dcirc_utils.models.encoder.EncoderAdapter`.

The decoder pairs go through ``TransformerBridge.boot_transformers`` and TransformerLens's compatibility mode (folded
LayerNorm, centred writing weights and unembedding), the processing the study used, and are wrapped in
:class:`~dcirc_utils.models.adapters.DecoderAdapter`.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .adapters import DecoderAdapter, ModelAdapter

__all__ = ["ModelPair", "load_pair", "PAIRS", "DEFAULT_PAIR", "PairUnavailableError", "pick_device",
           "gpt2_tokenizer", "bert_tokenizer", "register_pair", "MODELS_DIR", "boot_local"]

from ..core.paths import MODELS_DIR  # noqa: E402
DEFAULT_PAIR = "small"


class PairUnavailableError(RuntimeError):
    """A pair's weights or tokenizer cannot be found offline; the message names the fixes."""


@dataclass
class ModelPair:
    """A teacher, its distilled student, their shared tokenizer and the pair's name.

    Attributes:
        name: registry name (``"mini"``, ``"gpt2"``, ``"gpt2-random"``).
        teacher, student: :class:`~dcirc_utils.models.adapters.ModelAdapter` s (``.model`` is the module, in eval
            mode with gradients off).
        tokenizer: the Hugging Face tokenizer both use.
        description: one line saying what the weights are (notebooks print it).
    """

    name: str
    teacher: ModelAdapter
    student: ModelAdapter
    tokenizer: object
    description: str

    @property
    def models(self) -> dict[str, ModelAdapter]:
        """``{"teacher": ..., "student": ...}``."""
        return {"teacher": self.teacher, "student": self.student}


PAIRS: dict[str, Callable[[torch.device], ModelPair]] = {}


def register_pair(name: str):
    """Decorator adding a loader ``f(device) -> ModelPair`` to :data:`PAIRS`."""
    def wrap(fn):
        PAIRS[name] = fn
        return fn
    return wrap


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else cuda, then mps, then cpu."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_pair(name: str | None = None, device: str | torch.device | None = None) -> ModelPair:
    """Load a teacher/student pair by name (every notebook's setup cell).

    Args:
        name: a key of :data:`PAIRS`; ``None`` reads ``$DCIRC_PAIR``, else :data:`DEFAULT_PAIR`.
        device: torch device; ``None`` picks cuda, then mps, then cpu.

    Raises:
        KeyError: for an unknown name (the message lists the known ones).
        PairUnavailableError: when weights or tokenizer cannot be found (the message says how to get them).
    """
    name = name or os.environ.get("DCIRC_PAIR") or DEFAULT_PAIR
    if name not in PAIRS:
        raise KeyError(f"unknown pair {name!r}; known pairs: {sorted(PAIRS)}")
    return PAIRS[name](pick_device(device))


@contextlib.contextmanager
def _quiet():
    """Silence the loaders' progress bars and warnings (they print kernel paths that break strict nbval)."""
    from transformers.utils import logging as hf_logging
    old = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    prev = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        hf_logging.disable_progress_bar()
    except AttributeError:  # pragma: no cover
        pass
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)
            yield
    finally:
        logging.disable(logging.NOTSET)
        hf_logging.set_verbosity(old)
        try:
            hf_logging.enable_progress_bar()
        except AttributeError:  # pragma: no cover
            pass
        if prev is None:
            os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
        else:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = prev


def _bridge(folder: str | Path, device: torch.device, hf_model=None, tokenizer=None):
    from transformer_lens.model_bridge import TransformerBridge
    with _quiet():
        kwargs = {"device": device}
        if hf_model is not None:
            kwargs["hf_model"] = hf_model.eval()
        if tokenizer is not None:
            kwargs["tokenizer"] = tokenizer
        bridge = TransformerBridge.boot_transformers(str(Path(folder).resolve()), **kwargs)
        bridge.enable_compatibility_mode()
    bridge.eval()
    for p in bridge.parameters():
        p.requires_grad_(False)
    return bridge


def boot_local(folder: str | Path, device: str | torch.device | None = None, label: str = "model") -> DecoderAdapter:
    """Boot one decoder saved with ``save_pretrained`` in ``folder`` (a TransformerBridge in compatibility mode)."""
    bridge = _bridge(folder, pick_device(device))
    return DecoderAdapter(bridge, bridge.tokenizer, label)


# --------------------------------------------------------------------------------------------- gpt2 (hub)
def _fixes(repos: str, offline: str) -> str:
    return ("Fixes: (1) connect to the internet once so that the Hugging Face cache fills (then it works offline); "
            f"(2) point HF_HOME at a folder that already holds the cache of {repos}; "
            f"(3) use the offline pair: load_pair('{offline}') or DCIRC_PAIR={offline}.")


_GPT2_FIXES = _fixes("'gpt2' and 'distilgpt2'", "small")
_BERT_FIXES = _fixes("'bert-base-uncased' and 'distilbert-base-uncased'", "bert-small")


def _hub_snapshot(repo_id: str, fixes: str = _GPT2_FIXES) -> Path:
    """The local folder of a hub model: from the cache, else downloaded; fails fast offline."""
    from huggingface_hub import snapshot_download
    patterns = ["*.json", "*.safetensors", "*.txt"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except Exception as cache_miss:  # noqa: BLE001 - any cache miss leads to the same download attempt
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
        if offline:
            raise PairUnavailableError(f"{repo_id!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set. "
                                       + fixes) from cache_miss
    old = os.environ.get("HF_HUB_ETAG_TIMEOUT")
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, etag_timeout=5))
    except Exception as err:  # noqa: BLE001 - network errors come in many types
        raise PairUnavailableError(f"could not load {repo_id!r}: not in the Hugging Face cache and the hub is "
                                   f"unreachable ({type(err).__name__}). " + fixes) from err
    finally:
        if old is None:
            os.environ.pop("HF_HUB_ETAG_TIMEOUT", None)


@register_pair("gpt2")
def _load_gpt2(device: torch.device) -> ModelPair:
    teacher_dir, student_dir = _hub_snapshot("gpt2"), _hub_snapshot("distilgpt2")
    teacher, student = _bridge(teacher_dir, device), _bridge(student_dir, device)
    return ModelPair("gpt2", DecoderAdapter(teacher, teacher.tokenizer, "GPT-2"),
                     DecoderAdapter(student, teacher.tokenizer, "DistilGPT2"), teacher.tokenizer,
                     "GPT-2 small (124M) -> DistilGPT2 (82M), pretrained weights from the Hugging Face hub")


# --------------------------------------------------------------------------------------------- gpt2-random
def gpt2_tokenizer():
    """GPT-2's tokenizer: from ``$DCIRC_GPT2_TOKENIZER``, else the Hugging Face cache, else the hub.

    Raises:
        PairUnavailableError: when none of the three has it.
    """
    from transformers import AutoTokenizer
    folder = os.environ.get("DCIRC_GPT2_TOKENIZER")
    if folder:
        if not Path(folder, "vocab.json").exists() and not Path(folder, "tokenizer.json").exists():
            raise PairUnavailableError(f"DCIRC_GPT2_TOKENIZER={folder!r} holds no vocab.json or tokenizer.json; "
                                       "point it at a folder with GPT-2's tokenizer files or unset it.")
        with _quiet():
            return AutoTokenizer.from_pretrained(folder)
    try:
        with _quiet():
            return AutoTokenizer.from_pretrained(str(_hub_snapshot("gpt2")))
    except PairUnavailableError as err:
        raise PairUnavailableError("GPT-2's tokenizer was not found: set DCIRC_GPT2_TOKENIZER to a folder with its "
                                   "vocab.json and merges.txt, or fill the Hugging Face cache. " + str(err)) from err


@register_pair("gpt2-random")
def _load_gpt2_random(device: torch.device, seed: int = 0) -> ModelPair:
    from transformers import GPT2Config, GPT2LMHeadModel
    tok = gpt2_tokenizer()
    models = []
    with tempfile.TemporaryDirectory(prefix="dcirc-gpt2-random-") as tmp:
        tok.save_pretrained(tmp)  # the bridge reads the tokenizer from a folder
        for i, (n_layer, label) in enumerate(((12, "GPT-2 arch (random)"), (6, "DistilGPT2 arch (random)"))):
            cfg = GPT2Config(n_layer=n_layer, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257)
            cfg.save_pretrained(tmp)
            torch.manual_seed(seed + i)
            with _quiet():
                hf = GPT2LMHeadModel(cfg)
            models.append(DecoderAdapter(_bridge(tmp, device, hf_model=hf, tokenizer=tok), tok, label))
    return ModelPair("gpt2-random", models[0], models[1], tok,
                     f"RANDOM weights (seed {seed}) in the GPT-2 small (12 layers) and DistilGPT2 (6 layers) "
                     "architectures, real GPT-2 tokenizer: numbers from this pair say nothing about the real models")


# --------------------------------------------------------------------------------------------- offline decoders
def _offline_folders(name: str, folder: Path) -> tuple[Path, Path]:
    t_dir, s_dir = folder / "teacher", folder / "student"
    for d in (t_dir, s_dir):
        if not (d / "config.json").exists():
            raise PairUnavailableError(f"the offline pair {name!r} is missing its folder {d}: restore data/models from "
                                       f"git or retrain it (data/models/README.md gives the command).")
    return t_dir, s_dir


def _local_tokenizer(folder: Path):
    from transformers import AutoTokenizer
    with _quiet():
        return AutoTokenizer.from_pretrained(str(folder))


@register_pair("small")
def _load_small(device: torch.device) -> ModelPair:
    t_dir, s_dir = _offline_folders("small", MODELS_DIR / "small")
    tok = _local_tokenizer(t_dir)
    return ModelPair("small", DecoderAdapter(_bridge(t_dir, device), tok, "small-teacher"),
                     DecoderAdapter(_bridge(s_dir, device), tok, "small-student"), tok,
                     "the GPT-2-shaped offline pair: a 12-layer x 12-head teacher and its 6-layer student distilled with "
                     "the DistilGPT2 recipe in this project (data/models/small/README.md)")


def _init_student_pair(name: str, depth: int | None, device: torch.device) -> ModelPair:
    """The small teacher with a student of ``depth`` layers as it was BEFORE distillation (the copied blocks),
    rebuilt exactly from the teacher; ``depth=None`` takes the shipped student's depth."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from .init import init_student_from_teacher
    t_dir, s_dir = _offline_folders("small", MODELS_DIR / "small")
    tok = _local_tokenizer(t_dir)
    with _quiet():
        hf_teacher = GPT2LMHeadModel.from_pretrained(str(t_dir))
    depth = depth or GPT2Config.from_pretrained(str(s_dir)).n_layer
    student = init_student_from_teacher(hf_teacher, depth)
    with tempfile.TemporaryDirectory(prefix="dcirc-init-") as tmp:
        student.config.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        s_bridge = _bridge(tmp, device, hf_model=student, tokenizer=tok)
    blocks = ", ".join(str(b) for b in student.config.dcirc_layer_map)
    return ModelPair(name, DecoderAdapter(_bridge(t_dir, device), tok, "small-teacher"),
                     DecoderAdapter(s_bridge, tok, f"{name}-student"), tok,
                     f"a control pair: the small teacher and a {depth}-layer student BEFORE distillation (teacher "
                     f"blocks {blocks} copied, no training), rebuilt exactly from the teacher")


@register_pair("small-init")
def _load_small_init(device: torch.device) -> ModelPair:
    return _init_student_pair("small-init", None, device)


def _small_depth_loader(depth: int):
    def load(device: torch.device) -> ModelPair:
        folder = MODELS_DIR / "small"
        t_dir, _ = _offline_folders("small", folder)
        s_dir = folder / f"student-{depth}"
        if not (s_dir / "config.json").exists():
            raise PairUnavailableError(f"the {depth}-layer student of the small teacher is missing ({s_dir}): "
                                       "train it with `python -m dcirc_utils.offline.sweep`")
        tok = _local_tokenizer(t_dir)
        return ModelPair(f"small-s{depth}", DecoderAdapter(_bridge(t_dir, device), tok, "small-teacher"),
                         DecoderAdapter(_bridge(s_dir, device), tok, f"small-student-{depth}"), tok,
                         f"the small teacher and its {depth}-layer student (the capacity sweep, same recipe and "
                         "budget as the 6-layer student; data/models/small/sweep.json)")
    return load


for _depth in (3, 9):
    register_pair(f"small-s{_depth}")(_small_depth_loader(_depth))
    register_pair(f"small-s{_depth}-init")(lambda device, d=_depth: _init_student_pair(f"small-s{d}-init", d, device))


# --------------------------------------------------------------------------------------------- mini (offline)
@register_pair("mini")
def _load_mini(device: torch.device) -> ModelPair:
    from transformers import AutoTokenizer
    t_dir, s_dir = MODELS_DIR / "mini" / "teacher", MODELS_DIR / "mini" / "student"
    for d in (t_dir, s_dir):
        if not (d / "config.json").exists():
            raise PairUnavailableError(f"the offline pair is missing its folder {d}: restore data/models from git "
                                       "or retrain it with `python -m dcirc_utils.offline.distill --pair mini`.")
    with _quiet():
        tok = AutoTokenizer.from_pretrained(str(t_dir))
    teacher, student = _bridge(t_dir, device), _bridge(s_dir, device)
    return ModelPair("mini", DecoderAdapter(teacher, tok, "mini-teacher"), DecoderAdapter(student, tok, "mini-student"),
                     tok, "the offline pair: a small GPT-2 teacher and its student distilled with the DistilGPT2 "
                     "recipe in this project (data/models/mini/README.md)")


# --------------------------------------------------------------------------------------------- encoders
def bert_tokenizer():
    """BERT's uncased WordPiece tokenizer: from ``$DCIRC_BERT_TOKENIZER``, else the Hugging Face cache, else the hub.

    Raises:
        PairUnavailableError: when none of the three has it, or the folder lacks ``vocab.txt``/``tokenizer.json``.
    """
    from transformers import AutoTokenizer
    folder = os.environ.get("DCIRC_BERT_TOKENIZER")
    if folder:
        if not Path(folder, "vocab.txt").exists() and not Path(folder, "tokenizer.json").exists():
            raise PairUnavailableError(f"DCIRC_BERT_TOKENIZER={folder!r} holds no vocab.txt or tokenizer.json; "
                                       "point it at a folder with bert-base-uncased's tokenizer files or unset it.")
        with _quiet():
            return AutoTokenizer.from_pretrained(folder)
    try:
        with _quiet():
            return AutoTokenizer.from_pretrained(str(_hub_snapshot("bert-base-uncased", _BERT_FIXES)))
    except PairUnavailableError as err:
        raise PairUnavailableError("BERT's tokenizer was not found: set DCIRC_BERT_TOKENIZER to a folder with its "
                                   "vocab.txt, or fill the Hugging Face cache. " + str(err)) from err


def _encoder(model, tok, label: str, device: torch.device):
    from .encoder import EncoderAdapter
    for p in model.parameters():
        p.requires_grad_(False)
    return EncoderAdapter(model.to(device), tok, label)


@register_pair("bert")
def _load_bert(device: torch.device) -> ModelPair:
    from transformers import AutoTokenizer, BertForMaskedLM, DistilBertForMaskedLM
    t_dir = _hub_snapshot("bert-base-uncased", _BERT_FIXES)
    s_dir = _hub_snapshot("distilbert-base-uncased", _BERT_FIXES)
    with _quiet():
        tok = AutoTokenizer.from_pretrained(str(t_dir))
        teacher = BertForMaskedLM.from_pretrained(str(t_dir))
        student = DistilBertForMaskedLM.from_pretrained(str(s_dir))
    return ModelPair("bert", _encoder(teacher, tok, "BERT", device), _encoder(student, tok, "DistilBERT", device), tok,
                     "BERT-base-uncased (110M) -> DistilBERT-base-uncased (66M), pretrained weights from the hub")


@register_pair("bert-random")
def _load_bert_random(device: torch.device, seed: int = 0) -> ModelPair:
    from transformers import BertConfig, BertForMaskedLM, DistilBertConfig, DistilBertForMaskedLM
    tok = bert_tokenizer()
    with _quiet():
        torch.manual_seed(seed)
        teacher = BertForMaskedLM(BertConfig())                      # bert-base-uncased's architecture
        torch.manual_seed(seed + 1)
        student = DistilBertForMaskedLM(DistilBertConfig())          # distilbert-base-uncased's architecture
    return ModelPair("bert-random", _encoder(teacher, tok, "BERT arch (random)", device),
                     _encoder(student, tok, "DistilBERT arch (random)", device), tok,
                     f"RANDOM weights (seed {seed}) in the BERT-base (12 layers) and DistilBERT-base (6 layers) "
                     "architectures, real uncased tokenizer: numbers from this pair say nothing about the real models")


@register_pair("bert-small")
def _load_bert_small(device: torch.device) -> ModelPair:
    from transformers import BertForMaskedLM, DistilBertForMaskedLM
    t_dir, s_dir = _offline_folders("bert-small", MODELS_DIR / "bert-small")
    tok = _local_tokenizer(t_dir)
    with _quiet():
        teacher = BertForMaskedLM.from_pretrained(str(t_dir))
        student = DistilBertForMaskedLM.from_pretrained(str(s_dir))
    return ModelPair("bert-small", _encoder(teacher, tok, "bert-small-teacher", device),
                     _encoder(student, tok, "bert-small-student", device), tok,
                     "the offline encoder pair: a BERT-shaped teacher trained by masked-language modelling and its "
                     "DistilBERT student distilled with DistilBERT's recipe in this project "
                     "(data/models/bert-small/README.md)")
