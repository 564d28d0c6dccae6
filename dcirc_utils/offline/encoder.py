"""Train the offline encoder pair: a BERT teacher by masked-language modelling and its DistilBERT student by the
DistilBERT recipe (``data/models/bert-small``; notebook 07).

``python -m dcirc_utils.offline.encoder`` rebuilds the pair that ``load_pair("bert-small")`` loads. Steps:

1. an uncased word-level tokenizer with BERT's special tokens (:func:`build_encoder_tokenizer`), over the same
   corpus as the GPT-2-shaped pair (``offline.corpus``, spec ``small``: the task is a minority, the shift variants
   never occur);
2. the teacher, a ``BertForMaskedLM`` trained from scratch with masked-language modelling: 15 % of the tokens chosen
   (80 % ``[MASK]``, 10 % a random token, 10 % kept), plus two task-aware additions (departures from DistilBERT's
   uniform masking, as entity masking in later BERT variants): **last-word masking**, a document's last word chosen
   with probability ``tail_mask``, so that the answers of the course's tasks (the sequence's next element, the IOI
   recipient, the QA city) are frequent targets, and **number masking**, every number token (numerals, number
   words, months) chosen with probability ``number_mask`` more. Documents lose their final period with probability
   ``drop_period``, so that both "… Sun done in 5." and the study's masked form "… Sun done in [MASK]" occur;
3. the student, a ``DistilBertForMaskedLM`` of half the depth: no token-type embeddings and no pooler, as DistilBERT;
   initialised from the teacher's word and position embeddings, embedding LayerNorm, MLM head and blocks
   ``student_layer_map(T, S)`` (``[0, 2, 4, 7, 9, 11]`` for 12 → 6, the blocks DistilBERT's extraction script takes:
   "one layer out of two"), then trained with DistilBERT's loss
   ``5 · τ²·KL(softmax(t/τ) ‖ softmax(s/τ)) + 2 · MLM + 1 · (1 − cos(h_s, h_t))`` at ``τ = 2`` (KL and cosine over all
   tokens, MLM over the masked ones);
4. evaluation on held-out masked numeral prompts, the student's KL to the teacher before and after distillation,
   and how far each student block moved from its initialisation (``eval.json``, ``training_log.json``, the model
   card ``README.md``).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Int
from torch import Tensor

from ..core.paths import REPO_ROOT
from ..models.init import init_distilbert_from_bert
from ..models.pairs import pick_device
from . import corpus as corpus_mod
from .training import (batch_indices, machine_info, make_optimizer, optimizer_step, package_version, round_log,
                       save_model, state_sha256)

__all__ = ["EncoderConfig", "SPECIALS", "build_encoder_tokenizer", "teacher_config", "init_distilbert_from_bert",
           "mask_tokens", "number_tokens", "make_mlm_blocks", "distilbert_loss", "train_teacher", "train_student", "evaluate_encoders",
           "run", "main"]

#: BERT's special tokens and their ids in the offline encoder tokenizer.
SPECIALS = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}


@dataclass
class EncoderConfig:
    """Every setting of the encoder pair's training run (written to ``training_log.json``).

    Attributes:
        seed: seeds the corpus, the weights, the masking and the batch order.
        n_layer, student_layers, n_head, d_model: the teacher's shape and the student's depth (``d_ff = 4·d_model``).
        block_size, batch_size: packed sequences of ``block_size`` tokens, ``batch_size`` per step.
        teacher_steps, student_steps, teacher_lr, student_lr: optimiser steps and AdamW peak learning rates.
        warmup_frac, min_lr_frac, weight_decay, grad_clip: optimiser settings (as ``offline.distill``).
        mask_prob, tail_mask, number_mask, drop_period: masking (see the module docstring).
        temperature, alpha_ce, alpha_mlm, alpha_cos: DistilBERT's loss weights (τ = 2, 5, 2, 1).
        eval_prompts, eval_seed: held-out masked numeral prompts and their seed.
        kl_docs: documents of fresh text for the KL of the student to the teacher.
        threads, device: as ``offline.distill`` (one thread by default: the shipped pair was trained so, and the
            thread count can change the last bits of a reduction, hence the weights).
    """

    seed: int = 0
    n_layer: int = 12
    student_layers: int = 6
    n_head: int = 12
    d_model: int = 96
    block_size: int = 64
    batch_size: int = 32
    teacher_steps: int = 3000
    student_steps: int = 1600
    teacher_lr: float = 2e-3
    student_lr: float = 1e-3
    warmup_frac: float = 0.1
    min_lr_frac: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    mask_prob: float = 0.15
    tail_mask: float = 0.5
    number_mask: float = 0.25
    drop_period: float = 0.5
    temperature: float = 2.0
    alpha_ce: float = 5.0
    alpha_mlm: float = 2.0
    alpha_cos: float = 1.0
    eval_prompts: int = 200
    eval_seed: int = 0
    kl_docs: int = 500
    threads: int = 1
    device: str = "auto"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting."""
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}")
        if not 1 <= self.student_layers <= self.n_layer:
            raise ValueError(f"need 1 <= student_layers <= n_layer, got {self.student_layers}, {self.n_layer}")
        for name in ("mask_prob", "tail_mask", "number_mask", "drop_period"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a probability, got {getattr(self, name)}")


# --------------------------------------------------------------------------------------------- tokenizer
def build_encoder_tokenizer(texts: Sequence[str] | None = None, model_max_length: int = 128):
    """An uncased word-level tokenizer with BERT's special tokens (notebook 07's offline encoder pair).

    Text is lower-cased and split as BERT's pre-tokenizer does (whitespace, then every punctuation mark alone), so
    every word, number and mark is one token, as in BERT's WordPiece vocabulary for the task's words. The vocabulary
    is every pre-token of ``texts`` (default: 20,000 documents of the ``small`` corpus), the numbers 0..99 and the
    years 1000..1999 (the greater-than sentences; BERT's pre-tokenizer keeps a year whole), every word of the corpus
    generators, plus the special tokens of :data:`SPECIALS`. ``encode`` adds ``[CLS] … [SEP]``;
    ``[MASK]`` written in a text is the mask token.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    if texts is None:
        texts = corpus_mod.generate_corpus(20_000, seed=0, spec="small")
    pre = pre_tokenizers.BertPreTokenizer()
    norm = normalizers.Lowercase()
    words: set[str] = set()
    for t in list(texts) + corpus_mod.vocabulary_texts("small"):
        words.update(p for p, _ in pre.pre_tokenize_str(norm.normalize_str(t)))
    words.update(str(i) for i in range(100))
    words.update(str(y) for y in range(1000, 2000))   # the greater-than years stay whole in BERT's pre-tokenizer
    words -= set(SPECIALS) | {s.lower() for s in SPECIALS}
    vocab = dict(SPECIALS)
    for w in sorted(words):
        vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = norm
    tok.pre_tokenizer = pre
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(list(SPECIALS))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=model_max_length)


# --------------------------------------------------------------------------------------------- models
def teacher_config(vocab_size: int, cfg: EncoderConfig):
    """The ``BertConfig`` of the teacher (dropout off: fresh data every step)."""
    from transformers import BertConfig
    return BertConfig(vocab_size=vocab_size, hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layer,
                      num_attention_heads=cfg.n_head, intermediate_size=4 * cfg.d_model,
                      max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                      pad_token_id=SPECIALS["[PAD]"], hidden_act="gelu")


# --------------------------------------------------------------------------------------------- data
def make_mlm_blocks(tokenizer, n_blocks: int, cfg: EncoderConfig, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """``n_blocks`` packed sequences ``[CLS] d₁ [SEP] d₂ [SEP] …`` of fresh ``small``-corpus documents, padded with
    ``[PAD]``, and the position of each document's last word (for last-word masking).

    Returns:
        ``(input_ids [n, block], attention_mask [n, block], tail [n, block] bool)``.
    """
    g = torch.Generator().manual_seed(seed)
    texts = corpus_mod.generate_corpus(int(n_blocks * cfg.block_size / 14) + 64, seed=seed, spec="small")
    period = tokenizer.convert_tokens_to_ids(".")
    cls_id, sep, pad = SPECIALS["[CLS]"], SPECIALS["[SEP]"], SPECIALS["[PAD]"]
    enc = tokenizer(texts, add_special_tokens=False)["input_ids"]
    ids = torch.full((n_blocks, cfg.block_size), pad, dtype=torch.long)
    tail = torch.zeros(n_blocks, cfg.block_size, dtype=torch.bool)
    row, cur, cur_tail = 0, [cls_id], []
    for doc in enc:
        doc = list(doc)[: cfg.block_size - 2]
        if doc and doc[-1] == period and float(torch.rand((), generator=g)) < cfg.drop_period:
            doc = doc[:-1]
        if len(cur) + len(doc) + 1 > cfg.block_size:
            ids[row, : len(cur)] = torch.tensor(cur)
            tail[row, cur_tail] = True
            row += 1
            if row == n_blocks:
                break
            cur, cur_tail = [cls_id], []
        last = len(doc) - 1 - (1 if doc and doc[-1] == period else 0)
        if last >= 0:
            cur_tail.append(len(cur) + last)
        cur += doc + [sep]
    if row < n_blocks:
        raise RuntimeError("the corpus sample was too short for the requested blocks; raise the document count")
    if int((ids == tokenizer.unk_token_id).sum()):
        raise RuntimeError("unknown tokens in the encoder corpus: build the tokenizer from this corpus")
    return ids, (ids != pad).long(), tail


def number_tokens(tokenizer) -> Tensor:
    """A ``[d_vocab]`` boolean mask of the number tokens (numerals, number words, months) for number masking."""
    from ..core.tasks import MONTHS, NUMBER_WORDS
    words = {w.lower() for w in NUMBER_WORDS + MONTHS}
    vocab = tokenizer.get_vocab()
    out = torch.zeros(len(vocab), dtype=torch.bool)
    for w, i in vocab.items():
        out[i] = w.isdigit() or w in words
    return out


def mask_tokens(ids: Int[Tensor, "n block"], tail: Tensor, vocab_size: int, cfg: EncoderConfig,
                g: torch.Generator, numbers: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """BERT's masking plus last-word and number masking: ``(masked input_ids, labels)`` with ``-100`` where nothing
    is asked.

    Each non-special token is chosen with probability ``mask_prob``; a document's last word (``tail``) also with
    probability ``tail_mask``; a number token (``numbers``, a vocabulary mask) also with ``number_mask``. A chosen
    token becomes ``[MASK]`` (80 %), a random token (10 %) or stays (10 %).
    """
    special = ids < len(SPECIALS)
    chosen = (torch.rand(ids.shape, generator=g) < cfg.mask_prob) | (tail & (torch.rand(ids.shape, generator=g)
                                                                             < cfg.tail_mask))
    if numbers is not None:
        chosen |= numbers[ids] & (torch.rand(ids.shape, generator=g) < cfg.number_mask)
    chosen &= ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=g)
    out = ids.clone()
    out[chosen & (r < 0.8)] = SPECIALS["[MASK]"]
    rand = chosen & (r >= 0.8) & (r < 0.9)
    out[rand] = torch.randint(len(SPECIALS), vocab_size, (int(rand.sum()),), generator=g)
    return out, labels


def distilbert_loss(s_logits: Tensor, t_logits: Tensor, s_hidden: Tensor, t_hidden: Tensor, labels: Tensor,
                    attention_mask: Tensor, cfg: EncoderConfig) -> dict[str, Tensor]:
    """DistilBERT's loss ``α_ce·τ²·KL + α_mlm·MLM + α_cos·(1 − cos)`` (notebook 07): KL between the softened
    distributions and the cosine of the last hidden states over every real token, MLM over the masked ones.

    Returns:
        ``{"loss", "kl", "mlm", "cos"}`` (``kl`` without ``τ²``, ``cos`` the mean cosine).
    """
    m = attention_mask.bool()
    T = cfg.temperature
    log_ps = F.log_softmax(s_logits[m].float() / T, -1)
    log_pt = F.log_softmax(t_logits[m].float().detach() / T, -1)
    kl = (log_pt.exp() * (log_pt - log_ps)).sum(-1).mean()
    mlm = F.cross_entropy(s_logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
    cos = F.cosine_similarity(s_hidden[m].float(), t_hidden[m].float().detach(), dim=-1).mean()
    loss = cfg.alpha_ce * T ** 2 * kl + cfg.alpha_mlm * mlm + cfg.alpha_cos * (1 - cos)
    return {"loss": loss, "kl": kl, "mlm": mlm, "cos": cos}


# --------------------------------------------------------------------------------------------- training
def train_teacher(model, ids, attn, tail, cfg: EncoderConfig, device: torch.device, progress: bool = True,
                  numbers: Tensor | None = None) -> dict:
    """Masked-language-model training of the teacher in place (notebook 07); returns ``{"loss", "lr"}`` per step."""
    from tqdm.auto import tqdm
    with torch.enable_grad():
        model.to(device).train()
        opt, sched = make_optimizer(model, cfg.teacher_lr, cfg.teacher_steps, cfg)
        g = torch.Generator().manual_seed(cfg.seed + 11)
        log: dict[str, list[float]] = {"loss": [], "lr": []}
        bar = tqdm(batch_indices(len(ids), cfg.teacher_steps, cfg.batch_size, cfg.seed + 1), total=cfg.teacher_steps,
                   desc="encoder teacher", disable=not progress, mininterval=5.0)
        for step, idx in enumerate(bar):
            x, y = mask_tokens(ids[idx], tail[idx], model.config.vocab_size, cfg, g, numbers)
            out = model(input_ids=x.to(device), attention_mask=attn[idx].to(device))
            loss = F.cross_entropy(out.logits.flatten(0, 1).float(), y.to(device).flatten(), ignore_index=-100)
            log["lr"].append(optimizer_step(model, loss, opt, sched, cfg.grad_clip))
            log["loss"].append(loss.item())
            if step % 50 == 49:
                bar.set_postfix(loss=f"{sum(log['loss'][-50:]) / 50:.3f}", refresh=False)
        model.eval()
    return log


def train_student(student, teacher, ids, attn, tail, cfg: EncoderConfig, device: torch.device,
                  progress: bool = True, numbers: Tensor | None = None) -> dict:
    """Distil ``teacher`` into ``student`` in place with :func:`distilbert_loss` (notebook 07)."""
    from tqdm.auto import tqdm
    with torch.enable_grad():
        teacher.to(device).eval()
        student.to(device).train()
        opt, sched = make_optimizer(student, cfg.student_lr, cfg.student_steps, cfg)
        g = torch.Generator().manual_seed(cfg.seed + 12)
        log: dict[str, list[float]] = {k: [] for k in ("loss", "kl", "mlm", "cos", "lr")}
        for idx in tqdm(batch_indices(len(ids), cfg.student_steps, cfg.batch_size, cfg.seed + 2), total=cfg.student_steps,
                        desc="encoder student", disable=not progress):
            x, y = mask_tokens(ids[idx], tail[idx], student.config.vocab_size, cfg, g, numbers)
            x, y, a = x.to(device), y.to(device), attn[idx].to(device)
            with torch.no_grad():
                t = teacher(input_ids=x, attention_mask=a, output_hidden_states=True)
            s = student(input_ids=x, attention_mask=a, output_hidden_states=True)
            parts = distilbert_loss(s.logits, t.logits, s.hidden_states[-1], t.hidden_states[-1], y, a, cfg)
            log["lr"].append(optimizer_step(student, parts["loss"], opt, sched, cfg.grad_clip))
            for k in ("loss", "kl", "mlm", "cos"):
                log[k].append(float(parts[k].detach()))
        student.eval()
    return log


# --------------------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate_encoders(models: dict, tokenizer, cfg: EncoderConfig, device: torch.device) -> dict:
    """Top-1 accuracy and mean Δl of each model on held-out masked prompts of every masked task (``eval.json``)."""
    from ..core.tasks import make_task
    from ..models.encoder import EncoderAdapter
    result = {}
    for task, kwargs in (("numerals_masked", {}), ("numerals_masked", {"renumber": False}), ("ioi_masked", {})):
        name = task + ("" if kwargs.get("renumber", True) else "@any_start")
        ps = make_task(task, cfg.eval_prompts, seed=cfg.eval_seed, tokenizer=tokenizer, **kwargs)
        metric = ps.metric(tokenizer)
        entry = {"n": len(ps), "example": ps.clean[0] + " ->" + ps.correct[0]}
        for role, model in models.items():
            logits = EncoderAdapter(model.to(device), tokenizer, role).readout_logits(ps.tokens(tokenizer))
            ld = metric(logits.gather(-1, metric.ids))
            entry[role] = {"top1": float(metric.correct(logits).float().mean()), "logit_diff": float(ld.mean()),
                           "logit_diff_std": float(ld.std())}
        result[name] = entry
    return result


@torch.no_grad()
def encoder_kl(student, teacher, tokenizer, cfg: EncoderConfig, device: torch.device) -> float:
    """Mean per-token KL(teacher ‖ student) at τ = 1 on fresh unmasked text (every real token)."""
    ids, attn, _ = make_mlm_blocks(tokenizer, cfg.kl_docs // 4 + 1, cfg, seed=cfg.seed + 1_000_003)
    tot, n = 0.0, 0
    for i in range(0, len(ids), 32):
        x, a = ids[i:i + 32].to(device), attn[i:i + 32].to(device)
        m = a.bool()
        lt = F.log_softmax(teacher(input_ids=x, attention_mask=a).logits[m].float(), -1)
        ls = F.log_softmax(student(input_ids=x, attention_mask=a).logits[m].float(), -1)
        tot += float((lt.exp() * (lt - ls)).sum())
        n += int(m.sum())
    return tot / n


@torch.no_grad()
def block_drift(student, init_state: dict[str, Tensor]) -> list[dict]:
    """‖W − W₀‖ / ‖W₀‖ of each student block after distillation (``training_log.json``)."""
    out = []
    layer_map = student.config.dcirc_layer_map
    for i in range(student.config.n_layers):
        prefix = f"distilbert.transformer.layer.{i}."
        num = den = 0.0
        for name, p in student.named_parameters():
            if name.startswith(prefix):
                w0 = init_state[name].float()
                num += float((p.float() - w0).pow(2).sum())
                den += float(w0.pow(2).sum())
        out.append({"block": i, "teacher_block": int(layer_map[i]), "relative_change": math.sqrt(num / den)})
    return out


def run(cfg: EncoderConfig, out: str | Path, progress: bool = True) -> dict:
    """Train, distil, evaluate and save the encoder pair to ``out`` (the command line calls this; the weights'
    SHA-256 go into ``out/digests.json``)."""
    from transformers import BertForMaskedLM
    cfg.validate()
    out = Path(out)
    torch.set_num_threads(cfg.threads)
    device = pick_device(None if cfg.device == "auto" else cfg.device)
    t0 = time.perf_counter()
    tok = build_encoder_tokenizer()
    n_blocks = max(cfg.teacher_steps, cfg.student_steps, 1) * cfg.batch_size
    ids, attn, tail = make_mlm_blocks(tok, n_blocks, cfg, seed=cfg.seed)
    t_data = time.perf_counter()
    torch.manual_seed(cfg.seed)
    teacher = BertForMaskedLM(teacher_config(len(tok), cfg))
    numbers = number_tokens(tok)
    t_log = train_teacher(teacher, ids, attn, tail, cfg, device, progress, numbers)
    t_teacher = time.perf_counter()
    student = init_distilbert_from_bert(teacher, cfg.student_layers)
    init_state = {k: v.detach().clone() for k, v in student.state_dict().items()}
    init_sha = state_sha256(student)
    kl_init = encoder_kl(student, teacher, tok, cfg, device)
    init_eval = evaluate_encoders({"student_init": student}, tok, cfg, device)
    s_log = train_student(student, teacher, ids, attn, tail, cfg, device, progress, numbers)
    t_student = time.perf_counter()
    for name, model in (("teacher", teacher), ("student", student)):
        save_model(model, tok, out / name)
    evaluation = evaluate_encoders({"teacher": teacher, "student": student}, tok, cfg, device)
    for name, entry in init_eval.items():
        evaluation[name]["student_init"] = entry["student_init"]
    evaluation = {"prompts": evaluation, "student_kl_to_teacher": encoder_kl(student, teacher, tok, cfg, device),
                  "student_init_kl_to_teacher": kl_init, "eval_prompts": cfg.eval_prompts, "split": "heldout"}
    t_end = time.perf_counter()
    log = {"config": asdict(cfg), "device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
           "transformers": package_version("transformers"), "machine": machine_info(), "vocab_size": len(tok),
           "layer_map": student.config.dcirc_layer_map,
           "params": {"teacher": sum(p.numel() for p in teacher.parameters()),
                      "student": sum(p.numel() for p in student.parameters())},
           "student_init_sha256": init_sha, "teacher_sha256": state_sha256(teacher),
           "student_sha256": state_sha256(student), "block_drift": block_drift(student, init_state),
           "wall_time_s": {"data": t_data - t0, "teacher": t_teacher - t_data, "student": t_student - t_teacher,
                           "train_total": t_student - t0, "eval": t_end - t_student, "total": t_end - t0},
           "teacher": {k: round_log(v) for k, v in t_log.items()}, "student": {k: round_log(v) for k, v in s_log.items()}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "training_log.json").write_text(json.dumps(log) + "\n")
    evaluation["wall_time_s"] = log["wall_time_s"]
    (out / "eval.json").write_text(json.dumps(evaluation, indent=1) + "\n")
    return evaluation


def main(argv: Sequence[str] | None = None) -> dict:
    """Command line: ``python -m dcirc_utils.offline.encoder [--out data/models/bert-small] [--teacher-steps N …]``."""
    d = EncoderConfig()
    p = argparse.ArgumentParser(prog="python -m dcirc_utils.offline.encoder", description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(REPO_ROOT / "data" / "models" / "bert-small"))
    for name, value in asdict(d).items():
        if name in ("device",):
            continue
        p.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    kw = {k: v for k, v in vars(args).items() if k not in ("out", "quiet")}
    cfg = EncoderConfig(**kw)
    try:
        cfg.validate()
    except ValueError as err:
        p.error(str(err))
    ev = run(cfg, args.out, progress=not args.quiet)
    num = ev["prompts"]["numerals_masked"]
    print(f"held-out masked numerals: teacher top-1 {num['teacher']['top1']:.3f} Δl {num['teacher']['logit_diff']:.2f};"
          f" student top-1 {num['student']['top1']:.3f} Δl {num['student']['logit_diff']:.2f}; student KL "
          f"{ev['student_kl_to_teacher']:.4f}; training {ev['wall_time_s']['train_total']:.0f} s -> {args.out}")
    return ev


if __name__ == "__main__":
    main()
