"""The built-in pairs' loaders, each registered in :data:`~dcirc_utils.models.registry.PAIRS` under its name (the
list and what each pair is: :mod:`dcirc_utils.models.pairs`).

* the study's pairs from the Hugging Face hub: ``"gpt2"`` (GPT-2 small -> DistilGPT2), ``"bert"`` (BERT-base ->
  DistilBERT) and, from the study's version 2, ``"llama-minitron"`` (Llama-3.1-8B -> Llama-3.1-Minitron-4B-Depth);
* their random-weight stand-ins with the real tokenizers: ``"gpt2-random"``, ``"bert-random"`` in the same
  architectures, ``"llama-random"`` in the Llama pair's layer, head and key/value-head grid at a reduced width (with
  GPT-2's tokenizer);
* the offline pairs shipped in ``data/models/`` (``"small"`` and its variants, the ``small2`` family, ``"mini"``,
  ``"bert-small"``), checked as they load (weights against ``digests.json``, finite logits on a probe prompt), and
  their ``*-init`` control pairs (the student before distillation, rebuilt exactly from the teacher by
  :mod:`~dcirc_utils.models.init`).
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import torch

from ..core.paths import MODELS_DIR
from .decoder import DecoderAdapter, boot_bridge
from .hf_loader import load_hf_pair
from .hub import BERT_FIXES, LLAMA_FIXES, hub_snapshot, quiet_loading
from .integrity import fix_hint, verify_digests
from .registry import PAIRS, ModelPair, PairUnavailableError, register_pair
from .tokenizers import bert_tokenizer, gpt2_tokenizer, local_tokenizer

__all__ = ["SMALL2_PAIRS", "BUILTIN_PAIRS", "LLAMA_TEACHER", "LLAMA_STUDENT", "MINITRON_DEPTH_LAYER_MAP",
           "llama_dtype"]


# --------------------------------------------------------------------------------------------- gpt2 (hub)
@register_pair("gpt2")
def _load_gpt2(device: torch.device) -> ModelPair:
    teacher_dir, student_dir = hub_snapshot("gpt2"), hub_snapshot("distilgpt2")
    teacher, student = boot_bridge(teacher_dir, device), boot_bridge(student_dir, device)
    return ModelPair("gpt2", DecoderAdapter(teacher, teacher.tokenizer, "GPT-2"),
                     DecoderAdapter(student, teacher.tokenizer, "DistilGPT2"), teacher.tokenizer,
                     "GPT-2 small (124M) -> DistilGPT2 (82M), pretrained weights from the Hugging Face hub")


# --------------------------------------------------------------------------------------------- gpt2-random
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
            with quiet_loading():
                hf = GPT2LMHeadModel(cfg)
            models.append(DecoderAdapter(boot_bridge(tmp, device, hf_model=hf, tokenizer=tok), tok, label))
    return ModelPair("gpt2-random", models[0], models[1], tok,
                     f"RANDOM weights (seed {seed}) in the GPT-2 small (12 layers) and DistilGPT2 (6 layers) "
                     "architectures, real GPT-2 tokenizer: numbers from this pair say nothing about the real models")


# --------------------------------------------------------------------------------------------- llama (hub, study v2)
#: The study's larger pair (its version 2, March 2026): the hub ids of the teacher and of its depth-pruned student.
LLAMA_TEACHER, LLAMA_STUDENT = "meta-llama/Llama-3.1-8B", "nvidia/Llama-3.1-Minitron-4B-Depth-Base"

#: The Llama-3.1-8B blocks (0-indexed) that Llama-3.1-Minitron-4B-Depth kept: 0–14 and 31, i.e. the contiguous
#: blocks 15–30 were dropped (32 → 16 layers). Sources: the Minitron report (arXiv 2408.11796) drops "layers 16 to 31
#: continuously" (the best Winogrande accuracy after pruning, 0.595 against 0.5 for the 16 least important single
#: layers) without saying how it counts; NVIDIA's NeMo tutorial for this pruning
#: (tutorials/llm/llama-3/pruning-distillation/03_a_depth_pruning.ipynb) drops the 1-indexed layers 16–31 "(leaving
#: 1-15 and 32)", which is this map. The released checkpoint does not record its provenance: docs/scaling.md §1 says
#: how sure this is and how to check it on the weights.
MINITRON_DEPTH_LAYER_MAP: tuple[int, ...] = tuple(range(15)) + (31,)


def llama_dtype(device: torch.device) -> torch.dtype:
    """The dtype ``llama-minitron`` loads in: bfloat16 on CUDA (the pair, key/value heads ungrouped, is 27.6 GB there
    instead of 55.1 GB, docs/scaling.md §2; the engine reads its metrics out in float32), float32 elsewhere (CPU
    matmuls in bf16 are slow, and some are missing)."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


@register_pair("llama-minitron")
def _load_llama_minitron(device: torch.device) -> ModelPair:
    t_dir, s_dir = hub_snapshot(LLAMA_TEACHER, LLAMA_FIXES), hub_snapshot(LLAMA_STUDENT, LLAMA_FIXES)
    dtype = llama_dtype(device)
    pair = load_hf_pair("llama-minitron", str(t_dir), str(s_dir), device, layer_map=list(MINITRON_DEPTH_LAYER_MAP),
                        dtype=dtype, labels={"teacher": "Llama-3.1-8B", "student": "Llama-3.1-Minitron-4B-Depth"})
    t, s = pair.teacher, pair.student
    n_kv = json.loads((t_dir / "config.json").read_text()).get("num_key_value_heads") or t.n_heads
    return dataclasses.replace(
        pair, description=f"Llama-3.1-8B ({t.n_layers} layers x {t.n_heads} heads, {n_kv} key/value heads ungrouped to "
                          f"one per query head) -> Llama-3.1-Minitron-4B-Depth-Base ({s.n_layers} layers: teacher "
                          "blocks 0-14 and 31 kept, then distilled), pretrained weights from the Hugging Face hub, in "
                          f"{str(dtype).removeprefix('torch.')} (bfloat16 on CUDA, float32 elsewhere; metrics are read "
                          "in float32)")


def _randomise_norms(model: torch.nn.Module) -> None:
    """Draw every norm weight of ``model`` from U(0.5, 1.5) (a fresh model's are all 1), so that folding them into
    the next matrices, as compatibility mode does with the real weights, changes something."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)


@register_pair("llama-random")
def _load_llama_random(device: torch.device, seed: int = 0) -> ModelPair:
    from transformers import LlamaConfig, LlamaForCausalLM

    from .init import init_decoder_student
    from .surgery import ungroup_kv
    tok = gpt2_tokenizer()      # the Llama-3 tokenizer is not available offline
    # Llama-3.1-8B's config (its layers, heads, key/value heads, rotary and norm settings) at width 256: head_dim 8 and
    # the 8B's MLP ratio 14336 / 4096 = 3.5
    n_heads, n_kv, head_dim = 32, 8, 8
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=n_heads * head_dim, intermediate_size=896, num_hidden_layers=32,
                      num_attention_heads=n_heads, num_key_value_heads=n_kv, head_dim=head_dim, hidden_act="silu",
                      max_position_embeddings=131072, rope_theta=500000.0, rms_norm_eps=1e-5,
                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                      attention_bias=False, mlp_bias=False, tie_word_embeddings=False,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(seed)
    with quiet_loading():
        teacher = LlamaForCausalLM(cfg).eval()
        _randomise_norms(teacher)
        student = init_decoder_student(teacher, MINITRON_DEPTH_LAYER_MAP)
    models = []
    with tempfile.TemporaryDirectory(prefix="dcirc-llama-random-") as tmp:
        tok.save_pretrained(tmp)  # the bridge reads the tokenizer from a folder
        for hf, label in ((teacher, "Llama-3.1-8B grid (random)"), (student, "Minitron-4B-Depth grid (random copy)")):
            with torch.no_grad():   # one key/value copy per query head, as llama-minitron loads (register_hf_pair)
                ungroup_kv(hf, n_heads, n_kv, head_dim, "llama-random")
            hf.config.save_pretrained(tmp)
            models.append(DecoderAdapter(boot_bridge(tmp, device, hf_model=hf, tokenizer=tok), tok, label))
    return ModelPair("llama-random", models[0], models[1], tok,
                     f"RANDOM weights (seed {seed}) in the Llama-3.1-8B grid (32 layers x 32 heads, 8 key/value heads "
                     "ungrouped as llama-minitron's are) at width 256 (head_dim 8, MLP 896), and a 16-layer student "
                     "whose blocks are COPIES of teacher blocks 0-14 and 31 (the blocks Minitron-4B-Depth kept; not "
                     "distilled), GPT-2's tokenizer (Llama-3's is not available offline): numbers from this pair say "
                     "nothing about the real models", layer_map=list(MINITRON_DEPTH_LAYER_MAP))


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


@register_pair("small")
def _load_small(device: torch.device, folder: Path | None = None) -> ModelPair:
    t_dir, s_dir = _offline_folders("small", folder)
    tok = local_tokenizer(t_dir)
    return _probed(ModelPair("small", DecoderAdapter(boot_bridge(t_dir, device), tok, "small-teacher"),
                             DecoderAdapter(boot_bridge(s_dir, device), tok, "small-student"), tok,
                             "the GPT-2-shaped offline pair: a 12-layer x 12-head teacher and its 6-layer student "
                             "distilled with the DistilGPT2 recipe in this project (data/models/small/README.md)"),
                   "small", {"teacher": t_dir, "student": s_dir})


def _init_student_pair(name: str, depth: int | None, device: torch.device, folder: Path | None = None) -> ModelPair:
    """The small teacher with a student of ``depth`` layers as it was BEFORE distillation (the copied blocks),
    rebuilt exactly from the teacher; ``depth=None`` takes the shipped student's depth."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from .init import init_student_from_teacher
    t_dir, s_dir = _offline_folders("small", folder)
    tok = local_tokenizer(t_dir)
    with quiet_loading():
        hf_teacher = GPT2LMHeadModel.from_pretrained(str(t_dir))
    depth = depth or GPT2Config.from_pretrained(str(s_dir)).n_layer
    student = init_student_from_teacher(hf_teacher, depth)
    with tempfile.TemporaryDirectory(prefix="dcirc-init-") as tmp:
        student.config.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        s_bridge = boot_bridge(tmp, device, hf_model=student, tokenizer=tok)
    blocks = ", ".join(str(b) for b in student.config.dcirc_layer_map)
    return _probed(ModelPair(name, DecoderAdapter(boot_bridge(t_dir, device), tok, "small-teacher"),
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
        tok = local_tokenizer(t_dir)
        return _probed(ModelPair(f"small-s{depth}", DecoderAdapter(boot_bridge(t_dir, device), tok, "small-teacher"),
                                 DecoderAdapter(boot_bridge(s_dir, device), tok, f"small-student-{depth}"), tok,
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
        tok = local_tokenizer(t_dir)
        t_adapter = DecoderAdapter(boot_bridge(t_dir, device, dtype=torch.float32), tok, f"{name}-teacher")
        if init_depth:
            with quiet_loading():
                hf_teacher = GPT2LMHeadModel.from_pretrained(str(t_dir), dtype=torch.float32)
            hf_student = init_student_from_teacher(hf_teacher, init_depth)
            with tempfile.TemporaryDirectory(prefix="dcirc-init-") as tmp:
                hf_student.config.save_pretrained(tmp)
                tok.save_pretrained(tmp)
                s_bridge = boot_bridge(tmp, device, hf_model=hf_student, tokenizer=tok, dtype=torch.float32)
            blocks = ", ".join(str(b) for b in hf_student.config.dcirc_layer_map)
            what = (f"a control pair: the {teacher} of the capacity-limited family small2 and a {init_depth}-layer "
                    f"student BEFORE distillation (teacher blocks {blocks} copied, no training)")
            s_dir = t_dir
        else:
            s_dir = root / student
            s_bridge = boot_bridge(s_dir, device, dtype=torch.float32)
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
    tok = local_tokenizer(t_dir)
    teacher, student = boot_bridge(t_dir, device), boot_bridge(s_dir, device)
    return _probed(ModelPair("mini", DecoderAdapter(teacher, tok, "mini-teacher"),
                             DecoderAdapter(student, tok, "mini-student"), tok,
                             "the offline pair: a small GPT-2 teacher and its student distilled with the DistilGPT2 "
                             "recipe in this project (data/models/mini/README.md)"),
                   "mini", {"teacher": t_dir, "student": s_dir})


# --------------------------------------------------------------------------------------------- encoders
def _encoder(model, tok, label: str, device: torch.device):
    from .encoder import EncoderAdapter
    for p in model.parameters():
        p.requires_grad_(False)
    return EncoderAdapter(model.to(device), tok, label)


@register_pair("bert")
def _load_bert(device: torch.device) -> ModelPair:
    from transformers import AutoTokenizer, BertForMaskedLM, DistilBertForMaskedLM
    t_dir = hub_snapshot("bert-base-uncased", BERT_FIXES)
    s_dir = hub_snapshot("distilbert-base-uncased", BERT_FIXES)
    with quiet_loading():
        tok = AutoTokenizer.from_pretrained(str(t_dir))
        teacher = BertForMaskedLM.from_pretrained(str(t_dir))
        student = DistilBertForMaskedLM.from_pretrained(str(s_dir))
    return ModelPair("bert", _encoder(teacher, tok, "BERT", device), _encoder(student, tok, "DistilBERT", device), tok,
                     "BERT-base-uncased (110M) -> DistilBERT-base-uncased (66M), pretrained weights from the hub")


@register_pair("bert-random")
def _load_bert_random(device: torch.device, seed: int = 0) -> ModelPair:
    from transformers import BertConfig, BertForMaskedLM, DistilBertConfig, DistilBertForMaskedLM
    tok = bert_tokenizer()
    with quiet_loading():
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
    tok = local_tokenizer(t_dir)
    with quiet_loading():
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
    tok = local_tokenizer(t_dir)
    with quiet_loading():
        teacher = BertForMaskedLM.from_pretrained(str(t_dir))
        student = init_distilbert_from_bert(teacher, DistilBertConfig.from_pretrained(str(s_dir)).n_layers)
    blocks = ", ".join(str(b) for b in student.config.dcirc_layer_map)
    return _probed(ModelPair("bert-small-init", _encoder(teacher, tok, "bert-small-teacher", device),
                             _encoder(student.eval(), tok, "bert-small-init-student", device), tok,
                             f"a control pair: the bert-small teacher and its student BEFORE distillation (teacher "
                             f"blocks {blocks} copied, no training), rebuilt exactly from the teacher"),
                   "bert-small", {"teacher": t_dir, "student": t_dir})


#: the names of the built-in pairs (a bring-your-own pair may not take one)
BUILTIN_PAIRS = frozenset(PAIRS)
