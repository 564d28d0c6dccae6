"""Train an offline teacher and distil its student with the DistilGPT2 recipe (the pairs in ``data/models``).

``python -m dcirc_utils.offline.distill --pair mini`` rebuilds the pair that ``load_pair("mini")`` loads
(``data/models``), ``--pair small`` the GPT-2-shaped pair in ``data/models/small`` (12 → 6 layers, 12 heads; see its
``README.md``). Notebook 09 explains the recipe; every notebook uses the result. Steps:

1. a word-level tokenizer and a seeded training corpus (:mod:`dcirc_utils.offline.corpus`, spec ``cfg.corpus``);
2. the teacher: a small ``GPT2LMHeadModel`` trained from scratch with next-token cross-entropy;
3. the student: the same width with half the layers, initialised DistilGPT2-style by copying an evenly spread
   subset of the teacher's blocks (:func:`student_layer_map`, :func:`init_student_from_teacher`) and its
   embeddings and final LayerNorm, then trained on the same corpus with
   ``α_ce·τ²·KL(softmax(t/τ) ‖ softmax(s/τ)) + α_clm·CE`` (:func:`distillation_loss`), optionally plus a cosine
   loss between the final hidden states;
4. evaluation on held-out prompts of every task variant and the student's KL to the teacher on fresh corpus text
   (``eval.json``), a training log (``training_log.json``) and a loss-curve figure (``loss_curves.png``). With
   ``eval_suite="all"`` (the ``small`` preset) every task of ``core.tasks`` and every shift variant is evaluated for
   the teacher, the student and the *student at initialisation* (``student_init``: the copied blocks before any
   distillation step). That control is not saved: :func:`init_student_from_teacher` rebuilds it bit for bit from
   the saved teacher (``training_log.json`` records the hash of its weights and whether the rebuild matched), and
   the log reports how far each student block moved from it.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from . import corpus as corpus_mod
from ..core import tasks
from ..core.components import student_layer_map
from ..models.init import init_student_from_teacher
from ..models.pairs import pick_device
from .pair_eval import corpus_kl, evaluate_pair, evaluate_prompts, weight_drift
from .training import (batch_indices, causal_ce, machine_info, make_optimizer, optimizer_step, pack_documents,
                       package_version, round_log, save_model, state_sha256)

__all__ = [
    "DistillConfig", "PRESETS", "PRESET_OUT", "preset", "student_layer_map", "init_student_from_teacher",
    "distillation_loss", "distillation_loss_parts", "build_teacher", "model_config", "pack_documents",
    "make_training_blocks", "optimizer_step", "train_teacher", "train_student", "evaluate_prompts", "evaluate_pair", "corpus_kl",
    "state_sha256", "weight_drift", "plot_losses", "run", "main",
]
# pack_documents, optimizer_step and state_sha256 live in ``offline.training``, evaluate_prompts, evaluate_pair,
# corpus_kl and weight_drift in ``offline.pair_eval``: re-exported here, where the recipe's users look for them.


@dataclass
class DistillConfig:
    """Every setting of a training run (written to ``training_log.json``).

    Attributes:
        seed: seeds the corpus, the teacher's initial weights and the batch order.
        teacher_steps, student_steps: optimiser steps of each phase.
        n_layer, student_layers: blocks of the teacher and of the student.
        n_head, n_embd, n_positions: shared by both models (``n_inner`` is ``4·n_embd``).
        block_size, batch_size: training sequences of ``block_size`` tokens, ``batch_size`` per step.
        teacher_lr, student_lr: AdamW peak learning rates (linear warmup, cosine decay to ``min_lr_frac``).
        warmup_frac, min_lr_frac, weight_decay, grad_clip: optimiser settings.
        temperature, alpha_ce, alpha_clm, alpha_cos: distillation loss weights (DistilGPT2: τ=2, 0.5, 0.5;
            the cosine hidden-state loss is off by default).
        corpus: the corpus spec, ``"mini"`` or ``"small"`` (``offline.corpus.CORPORA``); it also picks the
            tokenizer (``corpus.build_tokenizer(spec=...)``).
        mix: document kinds and their shares (``None``: the spec's mix, e.g. ``corpus.DEFAULT_MIX`` for mini).
        eval_suite: ``"numerals"`` (the numeral variants, teacher and student: the ``mini`` pair's
            ``eval.json``) or ``"all"`` (every task and shift variant, also for the student at initialisation).
        eval_prompts, eval_seed: held-out prompts per variant and their ``make_prompts`` seed.
        kl_docs: documents of fresh corpus text (seed ``seed + 1_000_003``) for the student's KL to the teacher.
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device string.
        threads: ``torch.set_num_threads`` for CPU runs.
    """

    seed: int = 0
    teacher_steps: int = 600
    student_steps: int = 400
    n_layer: int = 6
    student_layers: int = 3
    n_head: int = 4
    n_embd: int = 128
    n_positions: int = 128
    block_size: int = 64
    batch_size: int = 32
    teacher_lr: float = 3e-3
    student_lr: float = 2e-3
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    temperature: float = 2.0
    alpha_ce: float = 0.5
    alpha_clm: float = 0.5
    alpha_cos: float = 0.0
    corpus: str = "mini"
    mix: dict | None = None
    eval_suite: str = "numerals"
    eval_prompts: int = 200
    eval_seed: int = 0
    kl_docs: int = 1000
    device: str = "auto"
    threads: int = 1

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting and how to fix it (the command line; notebook 09)."""
        if self.n_layer < 1 or not 1 <= self.student_layers <= self.n_layer:
            raise ValueError(f"need 1 <= student_layers <= n_layer, got student_layers={self.student_layers}, "
                             f"n_layer={self.n_layer}: the student copies a subset of the teacher's blocks")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}; pick a width that is")
        if self.block_size > self.n_positions:
            raise ValueError(f"block_size={self.block_size} exceeds n_positions={self.n_positions}; lower it")
        if min(self.teacher_steps, self.student_steps) < 0 or self.batch_size < 1:
            raise ValueError("steps must be >= 0 and batch_size >= 1")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        corpus_mod.get_spec(self.corpus)
        if self.eval_suite not in ("numerals", "all"):
            raise ValueError(f"eval_suite must be 'numerals' or 'all', got {self.eval_suite!r}")


#: The training runs of the shipped offline pairs (``--pair``). ``mini`` is the default config, unchanged; ``small``
#: is the GPT-2-shaped pair (sizes and steps chosen from measured pilots, see ``data/models/small/README.md``).
PRESETS: dict[str, DistillConfig] = {
    "mini": DistillConfig(),
    "small": DistillConfig(corpus="small", n_layer=12, student_layers=6, n_head=12, n_embd=96, n_positions=128,
                           block_size=64, batch_size=32, teacher_steps=2800, student_steps=1800, teacher_lr=3e-3,
                           student_lr=1e-3, eval_suite="all", threads=2),
}
#: Where each preset's pair is written (relative to the repository root).
PRESET_OUT: dict[str, str] = {"mini": "data/models/mini", "small": "data/models/small"}


def preset(name: str, **overrides) -> DistillConfig:
    """A copy of a preset config with ``overrides`` (the command line's ``--pair``; notebook 09).

    Raises:
        ValueError: for an unknown preset or setting.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown pair {name!r}; choose one of {sorted(PRESETS)}")
    known = {f.name for f in fields(DistillConfig)}
    bad = sorted(set(overrides) - known)
    if bad:
        raise ValueError(f"unknown settings {bad}; DistillConfig has {sorted(known)}")
    return replace(copy.deepcopy(PRESETS[name]), **overrides)


# --------------------------------------------------------------------------------------------- the recipe
def model_config(vocab_size: int, n_layer: int, cfg: DistillConfig, tokenizer=None):
    """The ``GPT2Config`` of the teacher (``n_layer = cfg.n_layer``) or student; dropout off (fresh data each step;
    notebook 09)."""
    from transformers import GPT2Config
    eos = tokenizer.eos_token_id if tokenizer is not None else None
    return GPT2Config(vocab_size=vocab_size, n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=n_layer,
                      n_head=cfg.n_head, n_inner=4 * cfg.n_embd, activation_function="gelu_new",
                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=eos, eos_token_id=eos,
                      tie_word_embeddings=True)


def build_teacher(tokenizer, cfg: DistillConfig):
    """A freshly initialised teacher; the same ``cfg.seed`` gives the same weights (notebook 09)."""
    from transformers import GPT2LMHeadModel
    torch.manual_seed(cfg.seed)
    return GPT2LMHeadModel(model_config(len(tokenizer), cfg.n_layer, cfg, tokenizer))


def distillation_loss_parts(student_logits: Float[Tensor, "batch pos d_vocab"],
                            teacher_logits: Float[Tensor, "batch pos d_vocab"], labels: Int[Tensor, "batch pos"],
                            temperature: float = 2.0, alpha_ce: float = 0.5,
                            alpha_clm: float = 0.5) -> dict[str, Float[Tensor, ""]]:
    """:func:`distillation_loss` and its two terms: ``{"loss", "kl", "ce"}`` (``kl`` without ``τ²``; notebook 09).

    Raises:
        ValueError: as :func:`distillation_loss`.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} differ in shape: both models must share the tokenizer and "
                         "see the same batch")
    if labels.shape != student_logits.shape[:-1]:
        raise ValueError(f"labels {tuple(labels.shape)} must have the logits' shape without the vocabulary "
                         f"dimension, {tuple(student_logits.shape[:-1])}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    mask = labels != -100
    if not bool(mask.any()):
        raise ValueError("every label is -100: no position to train on; check the batch's padding")
    s = student_logits[mask].float()
    t = teacher_logits[mask].float().detach()
    log_ps = F.log_softmax(s / temperature, dim=-1)
    log_pt = F.log_softmax(t / temperature, dim=-1)
    kl = (log_pt.exp() * (log_pt - log_ps)).sum(-1).mean()
    ce = F.cross_entropy(s, labels[mask])
    loss = alpha_ce * temperature ** 2 * kl + alpha_clm * ce
    return {"loss": loss, "kl": kl, "ce": ce}


def distillation_loss(student_logits: Float[Tensor, "batch pos d_vocab"],
                      teacher_logits: Float[Tensor, "batch pos d_vocab"], labels: Int[Tensor, "batch pos"],
                      temperature: float = 2.0, alpha_ce: float = 0.5, alpha_clm: float = 0.5) -> Float[Tensor, ""]:
    """DistilGPT2's loss ``α_ce·τ²·KL(softmax(t/τ) ‖ softmax(s/τ)) + α_clm·CE(s, labels)`` (notebook 09).

    A pure function. ``labels[b, p]`` is the target of the logits at ``[b, p]`` (already shifted: the next
    token), ``-100`` where there is none (padding); both terms average over the other positions, the KL summed
    over the vocabulary at each (``reduction="batchmean"`` over positions). The ``τ²`` factor keeps the soft
    term's gradients on the scale of the hard one's. The teacher's logits get no gradient.

    Args:
        student_logits, teacher_logits: logits of the same batch.
        labels: next-token targets, ``-100`` to skip a position.
        temperature: τ (> 0).
        alpha_ce, alpha_clm: weights of the soft (KL) and hard (cross-entropy) terms.

    Raises:
        ValueError: on mismatched shapes, ``τ <= 0`` or a batch with no labelled position.
    """
    return distillation_loss_parts(student_logits, teacher_logits, labels, temperature, alpha_ce, alpha_clm)["loss"]


# --------------------------------------------------------------------------------------------- data
def make_training_blocks(tokenizer, n_blocks: int, cfg: DistillConfig, seed: int | None = None,
                         spec: corpus_mod.CorpusSpec | None = None,
                         ) -> tuple[Int[Tensor, "n block"], Int[Tensor, "n block"]]:
    """At least ``n_blocks`` packed blocks of fresh corpus text of ``cfg.corpus`` (or of ``spec`` when given; seed
    ``cfg.seed`` unless given; notebook 09).

    Raises:
        RuntimeError: if the tokenizer does not know a word of the corpus (for a spec with a closed vocabulary, such
            as SMALL2: a word outside its ``prose`` documents, whose rare words are ``[UNK]`` by design).
    """
    seed = cfg.seed if seed is None else seed
    spec = corpus_mod.get_spec(cfg.corpus) if spec is None else spec
    # documents average ~24 (mini) / ~17 (small) tokens with their EOS; a short first draw is extended below
    n_docs = max(64, int(n_blocks * cfg.block_size / spec.tokens_per_doc))
    while True:
        docs = corpus_mod.generate_documents(n_docs, seed=seed, mix=cfg.mix, spec=spec)
        enc = tokenizer([d.text for d in docs], add_special_tokens=False)["input_ids"]
        ids, labels = pack_documents(enc, cfg.block_size, tokenizer.eos_token_id)
        if len(ids) >= n_blocks:
            unk_id = tokenizer.unk_token_id
            if spec.closed_vocabulary is None:
                unk = int((ids == unk_id).sum())
            else:
                unk = sum(e.count(unk_id) for d, e in zip(docs, enc) if d.kind != "prose")
            if unk:
                raise RuntimeError(f"{unk} unknown tokens in the corpus: build the tokenizer from this corpus's "
                                   "words (corpus.build_tokenizer) so that its vocabulary is closed")
            return ids[:n_blocks], labels[:n_blocks]
        n_docs = int(n_docs * 1.3) + 16












def train_teacher(model, ids: Int[Tensor, "n block"], labels: Int[Tensor, "n block"], cfg: DistillConfig,
                  device: torch.device, progress: bool = True) -> dict[str, list[float]]:
    """Train ``model`` in place with next-token cross-entropy for ``cfg.teacher_steps`` steps (notebook 09).

    Returns:
        ``{"loss": [...], "lr": [...]}`` per step.
    """
    with torch.enable_grad():  # also when a notebook or test switched gradients off globally
        return _train_teacher(model, ids, labels, cfg, device, progress)


def _train_teacher(model, ids, labels, cfg: DistillConfig, device: torch.device, progress: bool):
    """The body of :func:`train_teacher`."""
    from tqdm import tqdm
    model.to(device).train()
    steps = cfg.teacher_steps
    opt, sched = make_optimizer(model, cfg.teacher_lr, steps, cfg)
    log: dict[str, list[float]] = {"loss": [], "lr": []}
    bar = tqdm(batch_indices(len(ids), steps, cfg.batch_size, cfg.seed + 1), total=steps, desc="teacher",
               disable=not progress)
    for idx in bar:
        x, y = ids[idx].to(device), labels[idx].to(device)
        loss = causal_ce(model(input_ids=x).logits, y)
        log["lr"].append(optimizer_step(model, loss, opt, sched, cfg.grad_clip))
        log["loss"].append(loss.item())
        bar.set_postfix(loss=f"{log['loss'][-1]:.3f}")
    model.eval()
    return log


def train_student(student, teacher, ids: Int[Tensor, "n block"], labels: Int[Tensor, "n block"],
                  cfg: DistillConfig, device: torch.device, progress: bool = True) -> dict[str, list[float]]:
    """Distil ``teacher`` into ``student`` (in place) for ``cfg.student_steps`` steps (notebook 09).

    Loss per step: :func:`distillation_loss` with ``cfg.temperature``, ``cfg.alpha_ce``, ``cfg.alpha_clm``, plus
    ``cfg.alpha_cos · (1 − cos)`` between the two models' final hidden states when ``alpha_cos > 0``.

    Returns:
        ``{"loss", "kl", "ce", "cos", "lr"}``, one value per step (``cos`` is the mean cosine similarity).
    """
    with torch.enable_grad():  # also when a notebook or test switched gradients off globally
        return _train_student(student, teacher, ids, labels, cfg, device, progress)


def _train_student(student, teacher, ids, labels, cfg: DistillConfig, device: torch.device, progress: bool):
    """The body of :func:`train_student`."""
    from tqdm import tqdm
    teacher.to(device).eval()
    student.to(device).train()
    steps = cfg.student_steps
    opt, sched = make_optimizer(student, cfg.student_lr, steps, cfg)
    log: dict[str, list[float]] = {k: [] for k in ("loss", "kl", "ce", "cos", "lr")}
    want_hidden = cfg.alpha_cos > 0
    bar = tqdm(batch_indices(len(ids), steps, cfg.batch_size, cfg.seed + 2), total=steps, desc="student",
               disable=not progress)
    for idx in bar:
        x, y = ids[idx].to(device), labels[idx].to(device)
        with torch.no_grad():
            t_out = teacher(input_ids=x, output_hidden_states=want_hidden)
        s_out = student(input_ids=x, output_hidden_states=want_hidden)
        parts = distillation_loss_parts(s_out.logits, t_out.logits, y, cfg.temperature, cfg.alpha_ce,
                                        cfg.alpha_clm)
        loss = parts["loss"]
        cos = torch.tensor(float("nan"))
        if want_hidden:
            mask = y != -100
            cos = F.cosine_similarity(s_out.hidden_states[-1][mask], t_out.hidden_states[-1][mask], dim=-1).mean()
            loss = loss + cfg.alpha_cos * (1 - cos)
        log["lr"].append(optimizer_step(student, loss, opt, sched, cfg.grad_clip))
        for k, v in (("loss", loss), ("kl", parts["kl"]), ("ce", parts["ce"]), ("cos", cos)):
            log[k].append(float(v.detach()))
        bar.set_postfix(loss=f"{log['loss'][-1]:.3f}", ce=f"{log['ce'][-1]:.3f}")
    student.eval()
    return log


# --------------------------------------------------------------------------------------------- outputs
def plot_losses(log: dict, path: Path) -> Path:
    """The loss curves of both phases as a PNG (matplotlib's Agg backend; the model cards and notebook 09 show
    it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def smooth(xs, k=20):
        """Running mean over the last ``k`` values."""
        out, acc = [], 0.0
        for i, x in enumerate(xs):
            acc += x
            if i >= k:
                acc -= xs[i - k]
            out.append(acc / min(i + 1, k))
        return out

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    t = log["teacher"]["loss"]
    axes[0].plot(t, alpha=0.3, color="C0")
    axes[0].plot(smooth(t), color="C0", label="cross-entropy")
    axes[0].set(title=f"teacher ({log['config']['n_layer']} layers)", xlabel="step", ylabel="loss", yscale="log")
    axes[0].legend()
    s = log["student"]
    for key, color, label in (("loss", "C1", "total"), ("ce", "C2", "hard: cross-entropy"),
                              ("kl", "C3", "soft: KL at τ (no τ²)")):
        axes[1].plot(s[key], alpha=0.25, color=color)
        axes[1].plot(smooth(s[key]), color=color, label=label)
    axes[1].set(title=f"student ({log['config']['student_layers']} layers, distillation)", xlabel="step",
                yscale="log")
    axes[1].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path








def run(cfg: DistillConfig, out: str | Path, progress: bool = True) -> dict:
    """Train, distil, evaluate and save the pair to ``out`` (the module's command line calls this; notebook 09).

    Writes ``out/teacher`` and ``out/student`` (``save_pretrained`` + tokenizer), their weights' SHA-256 in
    ``digests.json``, ``training_log.json``, ``loss_curves.png`` and ``eval.json``. The log also records the SHA-256
    of the student's weights at initialisation, whether :func:`init_student_from_teacher` rebuilds exactly those
    weights from the *saved* teacher, and (``eval_suite="all"``) how far each student block moved from them
    (:func:`weight_drift`) and the corpus's token shares per document kind. Returns the evaluation dict.
    """
    from transformers import GPT2LMHeadModel
    cfg.validate()
    out = Path(out)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(None if cfg.device == "auto" else cfg.device)
    t0 = time.perf_counter()
    tokenizer = corpus_mod.build_tokenizer(model_max_length=cfg.n_positions, spec=cfg.corpus)
    n_blocks = max(cfg.teacher_steps, cfg.student_steps, 1) * cfg.batch_size
    ids, labels = make_training_blocks(tokenizer, n_blocks, cfg)
    t_data = time.perf_counter()
    teacher = build_teacher(tokenizer, cfg)
    t_log = train_teacher(teacher, ids, labels, cfg, device, progress)
    t_teacher = time.perf_counter()
    student = init_student_from_teacher(teacher, cfg.student_layers)
    init_hash = state_sha256(student)
    init_state = {k: v.detach().clone() for k, v in student.state_dict().items()}
    s_log = train_student(student, teacher, ids, labels, cfg, device, progress)
    t_student = time.perf_counter()
    save_model(teacher, tokenizer, out / "teacher")
    save_model(student, tokenizer, out / "student")
    # the student-at-init control is not saved: rebuild it from the saved teacher and check it is the same
    saved_teacher = GPT2LMHeadModel.from_pretrained(str(out / "teacher")).to(device).eval()
    student_init = init_student_from_teacher(saved_teacher, cfg.student_layers).to(device).eval()
    rebuilt_hash = state_sha256(student_init)
    evaluation = evaluate_pair(teacher, student, tokenizer, cfg, device,
                               student_init if cfg.eval_suite == "all" else None)
    t_end = time.perf_counter()
    spec = corpus_mod.get_spec(cfg.corpus)
    corpus_info = {"spec": spec.name, "mix": cfg.mix or dict(spec.mix), "nouns": len(tasks.NOUNS),
                   "names": len(tasks.NAMES)}
    if cfg.eval_suite == "all":
        docs = corpus_mod.generate_documents(20_000, seed=cfg.seed, mix=cfg.mix, spec=spec)
        corpus_info["token_shares_first_20000_docs"] = corpus_mod.token_shares(docs, tokenizer)
    log = {
        "config": asdict(cfg), "seed": cfg.seed, "device": str(device), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "transformers": package_version("transformers"), "machine": machine_info(),
        "corpus": corpus_info,
        "layer_map": student.config.dcirc_layer_map, "vocab_size": len(tokenizer),
        "params": {"teacher": sum(p.numel() for p in teacher.parameters()),
                   "student": sum(p.numel() for p in student.parameters())},
        "training_blocks": len(ids), "training_tokens": int((labels != -100).sum()),
        "wall_time_s": {"data": t_data - t0, "teacher": t_teacher - t_data, "student": t_student - t_teacher,
                        "train_total": t_student - t0, "eval": t_end - t_student, "total": t_end - t0},
        "student_init_sha256": init_hash, "student_init_rebuilt_identical": rebuilt_hash == init_hash,
        "weights_sha256": {"teacher": state_sha256(teacher), "student": state_sha256(student)},
        "student_weight_drift": weight_drift(student, init_state),
        "teacher": {k: round_log(v) for k, v in t_log.items()},
        "student": {k: round_log(v) for k, v in s_log.items()},
    }
    (out / "training_log.json").write_text(json.dumps(log) + "\n")
    evaluation["wall_time_s"] = log["wall_time_s"]
    evaluation["student_init_rebuilt_identical"] = log["student_init_rebuilt_identical"]
    evaluation["student_weight_drift"] = log["student_weight_drift"]
    (out / "eval.json").write_text(json.dumps(evaluation, indent=1) + "\n")
    plot_losses(log, out / "loss_curves.png")
    return evaluation


_INT_SETTINGS = ("teacher_steps", "student_steps", "student_layers", "seed", "threads", "n_layer", "n_head",
                 "n_embd", "n_positions", "block_size", "batch_size", "eval_prompts", "eval_seed", "kl_docs")
_FLOAT_SETTINGS = ("teacher_lr", "student_lr", "temperature", "alpha_ce", "alpha_clm", "alpha_cos")


def _parser() -> argparse.ArgumentParser:
    """The command line's argument parser (options default to ``None``: the preset's value)."""
    p = argparse.ArgumentParser(prog="python -m dcirc_utils.offline.distill", description=__doc__.split("\n")[0])
    p.add_argument("--pair", default="mini", choices=sorted(PRESETS),
                   help="preset to start from: mini (data/models, the default) or small (data/models/small)")
    p.add_argument("--out", default=None, help="output folder (default: the preset's, e.g. data/models)")
    for name in _INT_SETTINGS:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=None, help="default: the preset's")
    for name in _FLOAT_SETTINGS:
        p.add_argument("--" + name.replace("_", "-"), type=float, default=None, help="default: the preset's")
    p.add_argument("--corpus", default=None, choices=sorted(corpus_mod.CORPORA), help="default: the preset's")
    p.add_argument("--eval-suite", default=None, choices=("numerals", "all"), help="default: the preset's")
    p.add_argument("--device", default=None, help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps ...")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> dict:
    """Command line: ``python -m dcirc_utils.offline.distill --pair small [--out DIR] [--teacher-steps N ...]``
    (notebook 09 shows it); unset options take the preset's values."""
    parser = _parser()
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k not in ("out", "quiet", "pair") and v is not None}
    try:
        cfg = preset(args.pair, **overrides)
        cfg.validate()
    except ValueError as err:
        parser.error(str(err))
    out = args.out or PRESET_OUT[args.pair]
    evaluation = run(cfg, out, progress=not args.quiet)
    num = evaluation["prompts"]["numerals"]
    print(f"held-out numerals: teacher top-1 {num['teacher']['top1']:.3f} Δl {num['teacher']['logit_diff']:.2f}; "
          f"student top-1 {num['student']['top1']:.3f} Δl {num['student']['logit_diff']:.2f}; "
          f"student KL {evaluation['student_kl_to_teacher']['kl']:.4f}; "
          f"training {evaluation['wall_time_s']['train_total']:.0f} s -> {out}")
    return evaluation


if __name__ == "__main__":
    main()
