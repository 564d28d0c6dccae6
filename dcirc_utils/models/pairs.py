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
* bring your own: ``"hf:<teacher>,<student>"`` (two hub ids or two local ``save_pretrained`` folders; usable as
  ``DCIRC_PAIR``) or a name registered with :func:`register_hf_pair`: any decoder family TransformerLens 4.3's
  ``TransformerBridge`` boots and :class:`~dcirc_utils.models.adapters.DecoderAdapter` can run block by block
  (GPT-2, Llama, Qwen2 and their kin: RMSNorm, rotary position embeddings, grouped-query attention), checked when
  it loads.

The decoder pairs go through ``TransformerBridge.boot_transformers`` and TransformerLens's compatibility mode (folded
LayerNorm, centred writing weights and unembedding), the processing the study used, and are wrapped in
:class:`~dcirc_utils.models.adapters.DecoderAdapter`.
"""
from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .adapters import DecoderAdapter, FamilyError, ModelAdapter
from .integrity import fix_hint, verify_digests

__all__ = ["ModelPair", "load_pair", "PAIRS", "DEFAULT_PAIR", "PairUnavailableError", "pick_device",
           "gpt2_tokenizer", "bert_tokenizer", "register_pair", "MODELS_DIR", "boot_local", "register_hf_pair",
           "TokenizerMismatchError", "HF_PREFIX", "STUDY_PAIRS", "is_stand_in", "copy_control_name"]

from ..core.paths import MODELS_DIR  # noqa: E402
DEFAULT_PAIR = "small"


class PairUnavailableError(RuntimeError):
    """A pair's weights or tokenizer cannot be found offline; the message names the fixes."""


class TokenizerMismatchError(ValueError):
    """A teacher and a student that do not share one vocabulary (or a tokenizer larger than a model's embedding);
    the message says which differ and how to fix it."""


@dataclass
class ModelPair:
    """A teacher, its distilled student, their shared tokenizer and the pair's name.

    Attributes:
        name: registry name (``"mini"``, ``"gpt2"``, ``"gpt2-random"``).
        teacher, student: :class:`~dcirc_utils.models.adapters.ModelAdapter` s (``.model`` is the module, in eval
            mode with gradients off).
        tokenizer: the Hugging Face tokenizer both use.
        description: one line saying what the weights are (notebooks print it).
        layer_map: the teacher block each student block was initialised from, when known (a bring-your-own pair's
            ``layer_map``); ``None`` otherwise.
    """

    name: str
    teacher: ModelAdapter
    student: ModelAdapter
    tokenizer: object
    description: str
    layer_map: list[int] | None = None

    @property
    def models(self) -> dict[str, ModelAdapter]:
        """``{"teacher": ..., "student": ...}``."""
        return {"teacher": self.teacher, "student": self.student}


PAIRS: dict[str, Callable[[torch.device], ModelPair]] = {}
#: The pairs the study itself measured (pretrained weights from the hub); every other pair is a stand-in.
STUDY_PAIRS = ("gpt2", "bert")


def is_stand_in(name: str) -> bool:
    """Whether the pair ``name`` is a stand-in for the study's pairs (offline, random-initialised or brought by a
    user) rather than one the study measured (:data:`STUDY_PAIRS`)."""
    return name not in STUDY_PAIRS


def copy_control_name(name: str) -> str | None:
    """The pair whose student is ``name``'s student *before distillation* (the copied blocks): the control for any
    claim about what distillation does. ``"<name>-init"`` where the course registers one; a pair that is itself a
    copy (``"…-init"``) is its own control (its student is the copy, so it can never beat it); ``None`` otherwise."""
    if name.endswith("-init") and name in PAIRS:
        return name
    return f"{name}-init" if f"{name}-init" in PAIRS else None


def register_pair(name: str):
    """Decorator adding a loader ``f(device) -> ModelPair`` to :data:`PAIRS`."""
    def wrap(fn):
        PAIRS[name] = fn
        return fn
    return wrap


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


def load_pair(name: str | None = None, device: str | torch.device | None = None, *, device_map=None,
              dtype: torch.dtype | None = None, folder: str | Path | None = None) -> ModelPair:
    """Load a teacher/student pair by name (every notebook's setup cell).

    Args:
        name: a key of :data:`PAIRS`, or ``"hf:<teacher>,<student>"`` (two hub ids or two local folders: a
            bring-your-own pair, see :func:`register_hf_pair`); ``None`` reads ``$DCIRC_PAIR``, else
            :data:`DEFAULT_PAIR`.
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
    name = name or os.environ.get("DCIRC_PAIR") or DEFAULT_PAIR
    if folder is not None and (name.startswith(HF_PREFIX)
                               or (name in PAIRS and "folder" not in inspect.signature(PAIRS[name]).parameters)):
        raise ValueError(f"folder= applies to the offline pairs (small and its variants, mini, bert-small), not to "
                         f"{name!r}")
    if name.startswith(HF_PREFIX):
        teacher, student = _parse_hf_name(name)
        return _load_hf_pair(name, teacher, student, pick_device(device), device_map=device_map, dtype=dtype)
    if device_map is not None or dtype is not None:
        raise ValueError(f"device_map and dtype apply to bring-your-own pairs ('{HF_PREFIX}<teacher>,<student>' or "
                         f"register_hf_pair(..., device_map=..., dtype=...)), not to {name!r}: pass device= only")
    if name not in PAIRS:
        raise KeyError(f"unknown pair {name!r}; known pairs: {sorted(PAIRS)} (or bring your own: "
                       f"'{HF_PREFIX}<teacher>,<student>' with hub ids or local folders)")
    return PAIRS[name](pick_device(device), **({} if folder is None else {"folder": Path(folder)}))


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


def _bridge(folder: str | Path, device: torch.device, hf_model=None, tokenizer=None, device_map=None,
            dtype: torch.dtype | None = None):
    from transformer_lens.model_bridge import TransformerBridge
    with _quiet():
        # a device map (Hugging Face / accelerate) places the model itself; the bridge takes one or the other
        kwargs = {"device": device} if device_map is None else {"device_map": device_map}
        if dtype is not None:
            kwargs["dtype"] = dtype
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


def _hub_snapshot(repo_id: str, fixes: str = _GPT2_FIXES, patterns: list[str] | None = None) -> Path:
    """The local folder of a hub model: from the cache, else downloaded; fails fast offline."""
    from huggingface_hub import snapshot_download
    patterns = patterns or ["*.json", "*.safetensors", "*.txt"]
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
#: what retrains each offline pair's folder (data/models/README.md): the module of dcirc_utils.offline and its option
#: naming the folder; the small pair's extra students (``student-<k>``) come from the sweep
_RETRAIN = {"small": ("distill --pair small", "--out"), "mini": ("distill --pair mini", "--out"),
            "bert-small": ("encoder", "--out")}


def _retrain_command(pair: str, model_dir: Path) -> str:
    """The command that rewrites ``model_dir`` (a model folder of the offline pair ``pair``)."""
    if pair == "small2":
        cmd, folder = _small2_command(model_dir.name), model_dir.parent
        return cmd if folder.resolve() == (MODELS_DIR / pair).resolve() else f"{cmd} --family {folder}"
    module, option = ("sweep", "--folder") if model_dir.name.startswith("student-") else _RETRAIN[pair]
    cmd, folder = f"python -m dcirc_utils.offline.{module}", model_dir.parent
    return cmd if folder.resolve() == (MODELS_DIR / pair).resolve() else f"{cmd} {option} {folder}"


def _offline_folders(pair: str, folder: Path | None = None, student: str = "student") -> tuple[Path, Path]:
    """The teacher's and the ``student`` folder of the offline pair ``pair`` in ``folder`` (default
    ``data/models/<pair>``), checked to exist and to hold the weights that the folder's ``digests.json`` records."""
    folder = MODELS_DIR / pair if folder is None else Path(folder)
    dirs = {d: _retrain_command(pair, d) for d in (folder / "teacher", folder / student)}
    for d, cmd in dirs.items():
        if not (d / "config.json").exists():
            raise PairUnavailableError(f"the offline pair {pair!r} is missing its folder {d}: restore data/models from "
                                       f"git or retrain it with `{cmd}`.")
    verify_digests(dirs)
    return tuple(dirs)


def _probed(pair: ModelPair, key: str, dirs: dict[str, Path]) -> ModelPair:
    """``pair``, after checking that each model's logits on a probe prompt are finite (``dirs``: the folder each
    role's weights came from, ``key``: the offline pair's folder name, for the fix).

    Raises:
        RuntimeError: naming the model, its folder and the fix.
    """
    for role, adapter in pair.models.items():
        logits = adapter.probe_logits()
        if not bool(torch.isfinite(logits).all()):
            d = dirs[role]
            raise RuntimeError(f"{adapter.label} (the {role} of the pair {pair.name!r}, weights from {d}) gives "
                               f"non-finite logits ({int((~torch.isfinite(logits)).sum())} of {logits.numel()} NaN or "
                               "inf) on a probe prompt: its weights are damaged. Fix: "
                               + fix_hint(d, _retrain_command(key, d)))
    return pair


def _local_tokenizer(folder: Path):
    from transformers import AutoTokenizer
    with _quiet():
        return AutoTokenizer.from_pretrained(str(folder))


@register_pair("small")
def _load_small(device: torch.device, folder: Path | None = None) -> ModelPair:
    t_dir, s_dir = _offline_folders("small", folder)
    tok = _local_tokenizer(t_dir)
    return _probed(ModelPair("small", DecoderAdapter(_bridge(t_dir, device), tok, "small-teacher"),
                             DecoderAdapter(_bridge(s_dir, device), tok, "small-student"), tok,
                             "the GPT-2-shaped offline pair: a 12-layer x 12-head teacher and its 6-layer student "
                             "distilled with the DistilGPT2 recipe in this project (data/models/small/README.md)"),
                   "small", {"teacher": t_dir, "student": s_dir})


def _init_student_pair(name: str, depth: int | None, device: torch.device, folder: Path | None = None) -> ModelPair:
    """The small teacher with a student of ``depth`` layers as it was BEFORE distillation (the copied blocks),
    rebuilt exactly from the teacher; ``depth=None`` takes the shipped student's depth."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from .init import init_student_from_teacher
    t_dir, s_dir = _offline_folders("small", folder)
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
    return _probed(ModelPair(name, DecoderAdapter(_bridge(t_dir, device), tok, "small-teacher"),
                             DecoderAdapter(s_bridge, tok, f"{name}-student"), tok,
                             f"a control pair: the small teacher and a {depth}-layer student BEFORE distillation "
                             f"(teacher blocks {blocks} copied, no training), rebuilt exactly from the teacher"),
                   "small", {"teacher": t_dir, "student": t_dir})   # the student is rebuilt from the teacher


@register_pair("small-init")
def _load_small_init(device: torch.device, folder: Path | None = None) -> ModelPair:
    return _init_student_pair("small-init", None, device, folder)


def _small_depth_loader(depth: int):
    def load(device: torch.device, folder: Path | None = None) -> ModelPair:
        t_dir, s_dir = _offline_folders("small", folder, student=f"student-{depth}")
        tok = _local_tokenizer(t_dir)
        return _probed(ModelPair(f"small-s{depth}", DecoderAdapter(_bridge(t_dir, device), tok, "small-teacher"),
                                 DecoderAdapter(_bridge(s_dir, device), tok, f"small-student-{depth}"), tok,
                                 f"the small teacher and its {depth}-layer student (the capacity sweep, same recipe "
                                 "and budget as the 6-layer student; data/models/small/sweep.json)"),
                       "small", {"teacher": t_dir, "student": s_dir})
    return load


for _depth in (3, 9):
    register_pair(f"small-s{_depth}")(_small_depth_loader(_depth))
    register_pair(f"small-s{_depth}-init")(
        lambda device, folder=None, d=_depth: _init_student_pair(f"small-s{d}-init", d, device, folder))


# --------------------------------------------------------------------------------------------- small2 (offline)
#: The capacity-limited family (``data/models/small2``, ``offline.train``): pair name → (teacher folder, student
#: folder, depth of a student rebuilt from the teacher before distillation or ``None``). Every model is saved in
#: fp16 and loaded in fp32 (the rounded weights, used as such).
SMALL2_PAIRS: dict[str, tuple[str, str, int | None]] = {
    "small2": ("teacher", "student", None),
    "small2-init": ("teacher", "student", 6),
    "small2@s1": ("teacher", "student@s1", None),
    "small2@s2": ("teacher", "student@s2", None),
    "small2@t1": ("teacher@t1", "student@t1", None),
    "small2@t1-init": ("teacher@t1", "student@t1", 6),
    "small2-s3": ("teacher", "student-3", None),
    "small2-s3-init": ("teacher", "student-3", 3),
    "small2-s9": ("teacher", "student-9", None),
    "small2-s9-init": ("teacher", "student-9", 9),
}


def _small2_command(model: str) -> str:
    """The ``offline.train`` command that writes the model folder ``model`` of the small2 family."""
    role, _, tags = model.partition("@")
    base, _, depth = role.partition("-")
    args = [base] + ([f"--layers {depth}"] if depth else [])
    for tag in filter(None, tags.split("@")):
        args.append(("--seed " if tag[0] == "s" or base == "teacher" else "--teacher-seed ") + tag[1:])
    return "python -m dcirc_utils.offline.train " + " ".join(args)


def _small2_loader(name: str, teacher: str, student: str, init_depth: int | None):
    def load(device: torch.device, folder: Path | None = None) -> ModelPair:
        from transformers import GPT2LMHeadModel

        from .init import init_student_from_teacher
        root = MODELS_DIR / "small2" if folder is None else Path(folder)
        dirs = {d: _retrain_command("small2", d) for d in (root / teacher, root / student)}
        need = [root / teacher] if init_depth else list(dirs)
        for d in need:
            if not (d / "config.json").exists():
                raise PairUnavailableError(f"the offline pair {name!r} is missing its folder {d}: restore "
                                           f"data/models from git or train it with `{dirs[d]}`.")
        verify_digests({d: dirs[d] for d in need})
        t_dir = root / teacher
        tok = _local_tokenizer(t_dir)
        t_adapter = DecoderAdapter(_bridge(t_dir, device, dtype=torch.float32), tok, f"{name}-teacher")
        if init_depth:
            with _quiet():
                hf_teacher = GPT2LMHeadModel.from_pretrained(str(t_dir), dtype=torch.float32)
            hf_student = init_student_from_teacher(hf_teacher, init_depth)
            with tempfile.TemporaryDirectory(prefix="dcirc-init-") as tmp:
                hf_student.config.save_pretrained(tmp)
                tok.save_pretrained(tmp)
                s_bridge = _bridge(tmp, device, hf_model=hf_student, tokenizer=tok, dtype=torch.float32)
            blocks = ", ".join(str(b) for b in hf_student.config.dcirc_layer_map)
            what = (f"a control pair: the {teacher} of the capacity-limited family small2 and a {init_depth}-layer "
                    f"student BEFORE distillation (teacher blocks {blocks} copied, no training)")
            s_dir = t_dir
        else:
            s_dir = root / student
            s_bridge = _bridge(s_dir, device, dtype=torch.float32)
            what = (f"the capacity-limited offline family small2: its {teacher} (12 layers x 12 heads, width 192) and "
                    f"{student}, distilled with the DistilGPT2 recipe in this project (data/models/small2/README.md)")
        return _probed(ModelPair(name, t_adapter, DecoderAdapter(s_bridge, tok, f"{name}-student"), tok, what),
                       "small2", {"teacher": t_dir, "student": s_dir})
    return load


for _name, (_t, _s, _d) in SMALL2_PAIRS.items():
    register_pair(_name)(_small2_loader(_name, _t, _s, _d))


# --------------------------------------------------------------------------------------------- mini (offline)
@register_pair("mini")
def _load_mini(device: torch.device, folder: Path | None = None) -> ModelPair:
    t_dir, s_dir = _offline_folders("mini", folder)
    tok = _local_tokenizer(t_dir)
    teacher, student = _bridge(t_dir, device), _bridge(s_dir, device)
    return _probed(ModelPair("mini", DecoderAdapter(teacher, tok, "mini-teacher"),
                             DecoderAdapter(student, tok, "mini-student"), tok,
                             "the offline pair: a small GPT-2 teacher and its student distilled with the DistilGPT2 "
                             "recipe in this project (data/models/mini/README.md)"),
                   "mini", {"teacher": t_dir, "student": s_dir})


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
def _load_bert_small(device: torch.device, folder: Path | None = None) -> ModelPair:
    from transformers import BertForMaskedLM, DistilBertForMaskedLM
    t_dir, s_dir = _offline_folders("bert-small", folder)
    tok = _local_tokenizer(t_dir)
    with _quiet():
        teacher = BertForMaskedLM.from_pretrained(str(t_dir))
        student = DistilBertForMaskedLM.from_pretrained(str(s_dir))
    return _probed(ModelPair("bert-small", _encoder(teacher, tok, "bert-small-teacher", device),
                             _encoder(student, tok, "bert-small-student", device), tok,
                             "the offline encoder pair: a BERT-shaped teacher trained by masked-language modelling and "
                             "its DistilBERT student distilled with DistilBERT's recipe in this project "
                             "(data/models/bert-small/README.md)"),
                   "bert-small", {"teacher": t_dir, "student": s_dir})


@register_pair("bert-small-init")
def _load_bert_small_init(device: torch.device, folder: Path | None = None) -> ModelPair:
    """The control pair of ``bert-small``: its teacher with the student BEFORE distillation (the copied blocks, rebuilt
    exactly from the teacher by :func:`~dcirc_utils.models.init.init_distilbert_from_bert`; its SHA-256 is the
    ``student_init_sha256`` of ``data/models/bert-small/training_log.json``)."""
    from transformers import BertForMaskedLM, DistilBertConfig

    from .init import init_distilbert_from_bert
    t_dir, s_dir = _offline_folders("bert-small", folder)
    tok = _local_tokenizer(t_dir)
    with _quiet():
        teacher = BertForMaskedLM.from_pretrained(str(t_dir))
        student = init_distilbert_from_bert(teacher, DistilBertConfig.from_pretrained(str(s_dir)).n_layers)
    blocks = ", ".join(str(b) for b in student.config.dcirc_layer_map)
    return _probed(ModelPair("bert-small-init", _encoder(teacher, tok, "bert-small-teacher", device),
                             _encoder(student.eval(), tok, "bert-small-init-student", device), tok,
                             f"a control pair: the bert-small teacher and its student BEFORE distillation (teacher "
                             f"blocks {blocks} copied, no training), rebuilt exactly from the teacher"),
                   "bert-small", {"teacher": t_dir, "student": t_dir})


# --------------------------------------------------------------------------------------------- bring your own pair
#: the prefix of a bring-your-own pair's name: ``load_pair("hf:<teacher>,<student>")``
HF_PREFIX = "hf:"
_BUILTIN_PAIRS = frozenset(PAIRS)
#: what a hub snapshot of a bring-your-own model fetches: configs, safetensors weights, tokenizer files
_BYO_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


def register_hf_pair(name: str, teacher: str | Path, student: str | Path, *, layer_map: list[int] | None = None,
                     tokenizer=None, ungroup_gqa: bool = True, device_map=None,
                     dtype: torch.dtype | None = None) -> Callable[[torch.device], ModelPair]:
    """Register a bring-your-own teacher/student pair under ``name`` (then ``load_pair(name)`` or
    ``DCIRC_PAIR=name`` loads it); without code, ``load_pair("hf:<teacher>,<student>")`` does the same.

    Each model is a hub id (``"Qwen/Qwen2.5-1.5B"``; taken from the Hugging Face cache, downloaded only when the
    hub can be reached and ``HF_HUB_OFFLINE`` is unset) or a local folder written by ``save_pretrained``. It must be
    a causal decoder (``*ForCausalLM`` / ``*LMHeadModel``) that TransformerLens 4.3's ``TransformerBridge`` boots
    and that :class:`~dcirc_utils.models.adapters.DecoderAdapter` can run block by block: GPT-2, Llama, Qwen2 and
    their kin (RMSNorm, rotary position embeddings, grouped-query attention). Loading boots both in compatibility
    mode and checks each with :meth:`~dcirc_utils.models.adapters.DecoderAdapter.check_family` (the block-by-block
    forward equals the model's own). Nothing is loaded here.

    Args:
        name: the registry name (not one of the built-in pairs, and not starting with ``"hf:"``).
        teacher, student: hub ids or local folders.
        layer_map: the teacher block each student block was initialised from, if known (checked against the
            depths when the pair loads; kept as ``ModelPair.layer_map``).
        tokenizer: a tokenizer object, hub id or folder for both models; default: the models' own, which must
            agree. Either way the teacher's and the student's tokenizers (when they ship one) must have the same
            vocabulary.
        ungroup_gqa: give each query head its own copy of its group's key/value projections when a model uses
            grouped-query attention (the same function; more parameters), so that one head's ``k``/``v`` can be
            patched alone, as path patching does. With ``False`` the grouped model is kept and such patches raise
            :class:`~dcirc_utils.models.adapters.FamilyError`.
        device_map: a Hugging Face / accelerate device map (``"auto"`` or module → device) passed to the loader
            (``TransformerBridge.boot_transformers(device_map=...)``, or ``from_pretrained`` when ungrouping) instead
            of a device, for models that do not fit on one. Tested on the CPU only (``{"": "cpu"}`` and ``"auto"``).
        dtype: the models' dtype (default float32).

    Returns:
        The loader ``f(device) -> ModelPair`` now in :data:`PAIRS`.

    Raises:
        ValueError: for a reserved or empty name, an empty model, or a ``layer_map`` that is not a list of ints.
    """
    if not isinstance(name, str) or not name or name.startswith(HF_PREFIX) or name in _BUILTIN_PAIRS:
        raise ValueError(f"cannot register a pair as {name!r}: choose a new name (not empty, not a built-in pair "
                         f"{sorted(_BUILTIN_PAIRS)}, not starting with {HF_PREFIX!r})")
    for role, src in (("teacher", teacher), ("student", student)):
        if not str(src).strip():
            raise ValueError(f"the {role} is empty: pass a hub id ('org/model') or a save_pretrained folder")
    if layer_map is not None and not all(isinstance(t, int) for t in layer_map):
        raise ValueError(f"layer_map must list one teacher block (an int) per student block, got {layer_map!r}")

    def load(device: torch.device) -> ModelPair:
        return _load_hf_pair(name, str(teacher), str(student), device, layer_map=layer_map, tokenizer=tokenizer,
                             ungroup_gqa=ungroup_gqa, device_map=device_map, dtype=dtype)

    PAIRS[name] = load
    return load


def _parse_hf_name(name: str) -> tuple[str, str]:
    """``"hf:<teacher>,<student>"`` → ``(teacher, student)``."""
    parts = [p.strip() for p in name[len(HF_PREFIX):].split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"malformed pair name {name!r}: write '{HF_PREFIX}<teacher>,<student>' with two hub ids or "
                         f"two local folders (no other comma), e.g. '{HF_PREFIX}gpt2,distilgpt2' or "
                         f"'{HF_PREFIX}/models/teacher,/models/student'")
    return parts[0], parts[1]


def _byo_fixes(source: str) -> str:
    return (f"Fixes: (1) connect to the internet once so that the Hugging Face cache fills with {source!r} (then it "
            "works offline); (2) point HF_HOME at a folder that already holds its cache; (3) download it elsewhere "
            "(e.g. `huggingface-cli download " + source + " --local-dir DIR`) and pass the local folder: "
            f"load_pair('{HF_PREFIX}TEACHER_DIR,STUDENT_DIR').")


def _resolve_model(source: str, role: str) -> Path:
    """The local folder of a bring-your-own model: ``source`` itself if it is a folder, else a hub snapshot."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise PairUnavailableError(f"the {role} folder {str(path)!r} holds no config.json: save the model there "
                                       "with model.save_pretrained(folder) (and its tokenizer with "
                                       "tokenizer.save_pretrained(folder))")
        return path
    if source.startswith(("/", "./", "../", "~")) or source.count("/") > 1 or os.sep in source.replace("/", ""):
        raise PairUnavailableError(f"the {role} {source!r} is neither an existing folder nor a hub id "
                                   "('org/model'): check the path")
    return _hub_snapshot(source, _byo_fixes(source), patterns=_BYO_PATTERNS)


def _decoder_config(folder: Path, role: str, source: str) -> dict:
    """The model's ``config.json``, checked to describe a causal decoder that the bridge has an adapter for.

    Raises:
        FamilyError: for an encoder-decoder, an encoder or another head, or an architecture the bridge cannot boot.
    """
    from transformer_lens.factories.architecture_adapter_factory import SUPPORTED_ARCHITECTURES

    cfg = json.loads((folder / "config.json").read_text())
    archs = cfg.get("architectures") or []
    arch = archs[0] if archs else None
    what = f"the {role} {source!r} ({arch or cfg.get('model_type', '?')})"
    if cfg.get("is_encoder_decoder"):
        raise FamilyError(f"{what} is an encoder-decoder model: this package analyses decoder-only pairs (one stack "
                          "of causal blocks, read out at the last position) and encoder pairs (the bert pairs), not "
                          "encoder-decoders (T5, BART). Use a decoder-only teacher and student (GPT-2, Llama, Qwen2)")
    if arch is None:
        raise FamilyError(f"{what}: config.json names no architecture, so the bridge cannot pick its adapter; save "
                          "the model with its *ForCausalLM class (model.save_pretrained writes 'architectures')")
    if not (arch.endswith("ForCausalLM") or arch.endswith("LMHeadModel")):
        raise FamilyError(f"{what} is not a causal language model (its class is {arch}; a decoder pair needs a "
                          "*ForCausalLM or *LMHeadModel checkpoint). Encoders such as BERT use the encoder pairs "
                          "(bert, bert-small); for other heads save the causal-LM class of the same model")
    if arch not in SUPPORTED_ARCHITECTURES:
        from transformer_lens.factories.architecture_adapter_factory import ArchitectureAdapterFactory
        ArchitectureAdapterFactory.discover_entry_points()
        if arch not in getattr(ArchitectureAdapterFactory, "_adapters", {}):
            raise FamilyError(f"{what}: TransformerLens's TransformerBridge has no adapter for {arch}, so it cannot "
                              "boot it. Use a supported family (GPT-2, Llama, Qwen2, Mistral, ...; see "
                              "transformer_lens.factories.architecture_adapter_factory.SUPPORTED_ARCHITECTURES) or "
                              "register an adapter with ArchitectureAdapterFactory.register_adapter")
    return cfg


def _folder_tokenizer(folder: Path):
    """The tokenizer saved in ``folder``, or ``None`` if it holds none."""
    if not any((folder / f).exists() for f in _TOKENIZER_FILES):
        return None
    return _local_tokenizer(folder)


def _vocab_difference(a, b) -> str | None:
    """``None`` if tokenizers ``a`` and ``b`` have the same vocabulary, else a short description of the first
    difference."""
    va, vb = a.get_vocab(), b.get_vocab()
    if va == vb:
        return None
    if len(va) != len(vb):
        return f"{len(va)} vs {len(vb)} tokens"
    for tok, i in sorted(va.items(), key=lambda kv: kv[1]):
        if vb.get(tok) != i:
            return f"token {tok!r} has id {i} in one and {vb.get(tok)} in the other"
    return "the same tokens with different ids"  # pragma: no cover - unreachable for equal-sized, unequal maps


def _pair_tokenizer(dirs: dict[str, Path], sources: dict[str, str], tokenizer):
    """The one tokenizer of a bring-your-own pair, after checking that every tokenizer on offer agrees.

    Raises:
        TokenizerMismatchError: when the teacher's, the student's or the given tokenizer disagree.
        PairUnavailableError: when neither model ships a tokenizer and none is given.
    """
    from transformers import AutoTokenizer
    offered = {role: _folder_tokenizer(d) for role, d in dirs.items()}
    if tokenizer is not None:
        if isinstance(tokenizer, (str, Path)):
            tok_dir = Path(tokenizer).expanduser()
            if not tok_dir.is_dir():
                tok_dir = _hub_snapshot(str(tokenizer), _byo_fixes(str(tokenizer)), patterns=_BYO_PATTERNS)
            with _quiet():
                tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
        offered = {"given tokenizer": tokenizer, **offered}
    found = {role: tok for role, tok in offered.items() if tok is not None}
    if not found:
        raise PairUnavailableError(f"neither {sources['teacher']!r} nor {sources['student']!r} ships a tokenizer: "
                                   "save one into the folders (tokenizer.save_pretrained) or pass tokenizer=... to "
                                   "register_hf_pair")
    (first_role, tok), *others = found.items()
    for role, other in others:
        diff = _vocab_difference(tok, other)
        if diff is not None:
            raise TokenizerMismatchError(
                f"the {first_role}'s and the {role}'s tokenizers differ ({diff}): a teacher and its student must "
                "share one vocabulary, because the prompts, the answers and every comparison use the same token ids "
                "in both models. Fix: pair the teacher with a student distilled from it (same tokenizer), or, if both "
                "models really were trained on one vocabulary, save that tokenizer into both folders or pass it as "
                "tokenizer=...")
    return tok


def _ungroup_kv(hf_model, n_heads: int, n_kv: int, head_dim: int, source: str) -> None:
    """Give every query head its own copy of its group's key and value projections (in place).

    A grouped-query model with ``n_kv`` key/value heads computes exactly what the same model with ``n_heads``
    key/value heads computes when each group's rows of ``k_proj``/``v_proj`` are repeated for its ``n_heads // n_kv``
    query heads; then one head's key or value can be patched without touching its group's other heads.

    Raises:
        FamilyError: when the attention modules are not the Llama/Qwen2 layout (separate ``k_proj``/``v_proj`` linear
            layers of ``n_kv · head_dim`` outputs and a ``num_key_value_groups`` attribute).
    """
    g = n_heads // n_kv
    layers = 0
    for module in hf_model.modules():
        if getattr(module, "num_key_value_groups", None) != g:
            continue
        for proj in ("k_proj", "v_proj"):
            lin = getattr(module, proj, None)
            if not isinstance(lin, torch.nn.Linear) or lin.out_features != n_kv * head_dim:
                raise FamilyError(f"{source!r}: cannot ungroup its grouped-query attention ({type(module).__name__} "
                                  f"has no {proj} linear layer of {n_kv}×{head_dim} outputs); load it with "
                                  "register_hf_pair(..., ungroup_gqa=False) (then one head's k/v cannot be patched "
                                  "alone)")
            new = torch.nn.Linear(lin.in_features, n_heads * head_dim, bias=lin.bias is not None,
                                  device=lin.weight.device, dtype=lin.weight.dtype)
            with torch.no_grad():
                new.weight.copy_(lin.weight.unflatten(0, (n_kv, head_dim)).repeat_interleave(g, 0).flatten(0, 1))
                if lin.bias is not None:
                    new.bias.copy_(lin.bias.unflatten(0, (n_kv, head_dim)).repeat_interleave(g, 0).flatten(0, 1))
            setattr(module, proj, new)
        module.num_key_value_groups = 1
        if hasattr(module, "num_key_value_heads"):
            module.num_key_value_heads = n_heads
        layers += 1
    text_cfg = hf_model.config.get_text_config() if hasattr(hf_model.config, "get_text_config") else hf_model.config
    if layers != text_cfg.num_hidden_layers:
        raise FamilyError(f"{source!r}: found {layers} grouped attention modules for {text_cfg.num_hidden_layers} "
                          "layers, so its grouped-query attention cannot be ungrouped; load it with "
                          "register_hf_pair(..., ungroup_gqa=False)")
    text_cfg.num_key_value_heads = n_heads


def _boot_byo(folder: Path, cfg: dict, source: str, role: str, tok, device: torch.device, ungroup_gqa: bool,
              label: str, device_map=None, dtype: torch.dtype | None = None) -> DecoderAdapter:
    """One bring-your-own model as a checked :class:`DecoderAdapter` (grouped key/value heads ungrouped first when
    asked)."""
    text = cfg.get("text_config") or cfg
    n_heads = text.get("num_attention_heads")
    n_kv = text.get("num_key_value_heads") or n_heads
    try:
        if not (ungroup_gqa and n_heads and n_kv != n_heads):
            bridge = _bridge(folder, device, tokenizer=tok, device_map=device_map, dtype=dtype)
        else:
            from transformers import AutoConfig, AutoModelForCausalLM
            with _quiet():
                hf_cfg = AutoConfig.from_pretrained(str(folder))
                placed = {} if device_map is None else {"device_map": device_map}
                hf = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype or torch.float32,
                                                          attn_implementation="eager", **placed).eval()
            text_cfg = hf.config.get_text_config() if hasattr(hf.config, "get_text_config") else hf.config
            head_dim = getattr(text_cfg, "head_dim", None) or text_cfg.hidden_size // n_heads
            probe = ((torch.arange(8)[None] * 7 + 3) % min(text_cfg.vocab_size, 1000)).to(hf.device)
            with torch.inference_mode():
                before = hf(probe).logits
                _ungroup_kv(hf, n_heads, n_kv, head_dim, source)
                after = hf(probe).logits
            if not torch.allclose(before, after, rtol=1e-4, atol=1e-4 * max(1.0, float(before.abs().max()))):
                raise FamilyError(f"{source!r}: ungrouping its key/value heads changed its logits by "
                                  f"{float((before - after).abs().max()):.3g}; load it with "
                                  "register_hf_pair(..., ungroup_gqa=False)")
            hf_cfg_text = hf_cfg.get_text_config() if hasattr(hf_cfg, "get_text_config") else hf_cfg
            hf_cfg_text.num_key_value_heads = n_heads
            with tempfile.TemporaryDirectory(prefix="dcirc-byo-") as tmp:
                hf_cfg.save_pretrained(tmp)   # the bridge reads the (now ungrouped) config from a folder
                tok.save_pretrained(tmp)
                bridge = _bridge(tmp, device if device_map is None else hf.device, hf_model=hf, tokenizer=tok,
                                 dtype=dtype)
    except OSError as err:  # missing or unreadable weights
        raise PairUnavailableError(f"could not load the {role} {source!r} from {str(folder)!r}: {err}. The folder "
                                   "needs the model's config.json and *.safetensors weights (save_pretrained writes "
                                   "both)") from err
    adapter = DecoderAdapter(bridge, tok, label)
    adapter.check_family()
    return adapter


def _load_hf_pair(name: str, teacher: str, student: str, device: torch.device, layer_map: list[int] | None = None,
                  tokenizer=None, ungroup_gqa: bool = True, device_map=None,
                  dtype: torch.dtype | None = None) -> ModelPair:
    """Load a bring-your-own pair (:func:`register_hf_pair`, ``load_pair("hf:...")``)."""
    from ..core.components import check_layer_map

    sources = {"teacher": teacher, "student": student}
    dirs = {role: _resolve_model(src, role) for role, src in sources.items()}
    cfgs = {role: _decoder_config(dirs[role], role, sources[role]) for role in sources}
    tok = _pair_tokenizer(dirs, sources, tokenizer)
    for role, cfg in cfgs.items():
        vocab = (cfg.get("text_config") or cfg).get("vocab_size")
        if vocab is not None and len(tok) > vocab:
            raise TokenizerMismatchError(f"the tokenizer has {len(tok)} tokens but the {role} {sources[role]!r} "
                                         f"embeds only {vocab}: it was not trained on this vocabulary. Pass the "
                                         "tokenizer the models were trained with (tokenizer=...)")
    labels = {role: Path(src.rstrip("/")).name or src for role, src in sources.items()}
    if labels["teacher"] == labels["student"]:
        labels = {role: f"{role} ({lab})" for role, lab in labels.items()}
    adapters = {role: _boot_byo(dirs[role], cfgs[role], sources[role], role, tok, device, ungroup_gqa, labels[role],
                                device_map, dtype) for role in sources}
    t, s = adapters["teacher"], adapters["student"]
    lm = None if layer_map is None else check_layer_map(layer_map, t.n_layers, s.n_layers)

    def shape(role: str) -> str:
        a, text = adapters[role], cfgs[role].get("text_config") or cfgs[role]
        n_kv = text.get("num_key_value_heads") or a.n_heads
        kv = "" if n_kv == a.n_heads else f", {n_kv} key/value heads{' (ungrouped)' if ungroup_gqa else ''}"
        return f"{a.architecture}: {a.n_layers} layers × {a.n_heads} heads{kv}, d_model={a.d_model}"

    return ModelPair(name, t, s, tok,
                     f"bring-your-own pair: {teacher} ({shape('teacher')}) -> {student} ({shape('student')}), "
                     "booted through TransformerLens's TransformerBridge in compatibility mode"
                     + (f"; student blocks copied from teacher blocks {lm}" if lm else ""), layer_map=lm)
