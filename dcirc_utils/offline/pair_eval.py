"""Evaluation of an offline pair (``eval.json``): held-out prompts of every task variant and the student's KL to
the teacher on fresh corpus text, and how far a student's weights moved from its initialisation (notebook 09).

``cfg`` arguments are a ``distill.DistillConfig`` (its ``eval_*``, ``kl_docs``, ``corpus``, ``mix``, ``block_size``
and ``seed`` fields). ``distill`` re-exports the public names.
"""
from __future__ import annotations

import inspect
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from . import corpus as corpus_mod
from ..core import metrics, tasks
from .training import pack_documents

__all__ = ["end_logits", "eval_sets", "make_eval_set", "evaluate_prompts", "corpus_kl", "weight_drift",
           "evaluate_pair"]


@torch.no_grad()
def end_logits(model, ps: tasks.PromptSet, tokenizer, device: torch.device) -> Float[Tensor, "batch d_vocab"]:
    """Final-position logits of every prompt of ``ps`` (on the CPU); prompts of different token lengths are run in
    separate batches (``distill``, ``train`` and ``family_eval`` evaluate with it)."""
    enc = [tokenizer.encode(t, add_special_tokens=False) for t in ps.clean]
    out = torch.empty(len(enc), model.config.vocab_size)
    groups: dict[int, list[int]] = {}
    for i, e in enumerate(enc):
        groups.setdefault(len(e), []).append(i)
    for idx in groups.values():
        x = torch.tensor([enc[i] for i in idx], device=device)
        out[idx] = model(input_ids=x).logits[:, -1, :].float().cpu()
    return out


def eval_sets(suite: str = "numerals") -> list[tuple[str, str, dict]]:
    """``(key, task, options)`` of every evaluated set: the numeral variants (``"numerals"``), or every task and
    shift variant (``"all"``)."""
    sets: list[tuple[str, str, dict]] = [(v, "numerals", {"variant": v}) for v in tasks.VARIANTS]
    if "length" in inspect.signature(tasks.make_prompts).parameters:
        sets += [(f"long@{k}", "numerals", {"variant": "long", "length": k}) for k in (7, 8)]
    if suite == "all":
        sets += [(v, "numerals", {"variant": v}) for v in tasks.SHIFT_VARIANTS]
        sets += [(f"ioi@t{k}", "ioi", {"template": k}) for k in range(len(tasks.IOI_TEMPLATES))]
        sets += [("qa", "qa", {}), ("qa@train", "qa", {"split": "train"}), ("greater_than", "greater_than", {})]
    return sets


def make_eval_set(task: str, kwargs: dict, tokenizer, cfg) -> tasks.PromptSet:
    """The prompt set of one evaluated set (``make_prompts`` for numerals, as the mini pair's eval did)."""
    kw = dict(kwargs)
    if task == "numerals":  # the mini pair's eval.json was made with make_prompts; make_task only adds checks
        return tasks.make_prompts(cfg.eval_prompts, seed=cfg.eval_seed, tokenizer=tokenizer, **kw)
    split = kw.pop("split", "heldout")
    return tasks.make_task(task, cfg.eval_prompts, seed=cfg.eval_seed, tokenizer=tokenizer, split=split, **kw)


def evaluate_prompts(models: dict, tokenizer, cfg, device: torch.device) -> dict:
    """Top-1 accuracy and the task metric of each model on ``cfg.eval_prompts`` held-out prompts of every set
    (notebook 09; ``eval.json``).

    Sets (``cfg.eval_suite``): every variant of ``tasks.VARIANTS`` with ``make_prompts``' defaults, and the
    ``"long"`` variant with 7 and 8 shown elements (keys ``"long@7"``, ``"long@8"``); with ``"all"`` also the shift
    variants, IOI in each template family (``"ioi@t0"`` ... ``"ioi@t6"``), QA on held-out and on train people
    (``"qa"``, ``"qa@train"``) and greater-than.

    Returns:
        ``{set: {model name: {"top1", "logit_diff", "logit_diff_std", "kept_by_filter"}, "n", "example"}}`` for
        logit-difference sets (``kept_by_filter`` counts the prompts that pass ``tasks.filter_prompts``, the study's
        filter); greater-than gives ``"prob_diff"``/``"prob_diff_std"`` (P(later year) − P(earlier or same)) and
        top-1 = the most likely token is a later year. With ``"all"`` each set also records its ``task``,
        ``options`` and ``metric``.
    """
    result = {}
    for key, task, kwargs in eval_sets(cfg.eval_suite):
        ps = make_eval_set(task, kwargs, tokenizer, cfg)
        entry: dict = {"n": len(ps), "example": ps.clean[0] + " ->" + ps.correct[0]}
        if cfg.eval_suite == "all":
            entry.update(task=task, options=kwargs, metric=tasks.TASKS[task].metric_name)
        for name, model in models.items():
            end = end_logits(model, ps, tokenizer, device)
            if tasks.TASKS[ps.task].metric is None:
                correct, incorrect = ps.answer_ids(tokenizer)
                ld = metrics.logit_diff_per_prompt(end, correct, incorrect)
                _, report = tasks.filter_prompts(ps, end, correct, incorrect)
                entry[name] = {"top1": metrics.accuracy(end, correct), "logit_diff": float(ld.mean()),
                               "logit_diff_std": float(ld.std()), "kept_by_filter": report["kept"]}
            else:
                metric = ps.metric(tokenizer, d_vocab=end.shape[-1])
                vals = tasks.end_values(metric, end)
                entry[name] = {"top1": float(metric.correct(end).float().mean()), "prob_diff": float(vals.mean()),
                               "prob_diff_std": float(vals.std())}
        result[key] = entry
    return result


@torch.no_grad()
def corpus_kl(student, teacher, tokenizer, cfg, device: torch.device, seed: int) -> dict:
    """Mean per-token KL(teacher ‖ student) at τ = 1, and each model's cross-entropy, on fresh corpus text
    (notebook 09; ``eval.json``)."""
    texts = corpus_mod.generate_corpus(cfg.kl_docs, seed=seed, mix=cfg.mix, spec=cfg.corpus)
    enc = tokenizer(texts, add_special_tokens=False)["input_ids"]
    ids, labels = pack_documents(enc, cfg.block_size, tokenizer.eos_token_id)
    tot = {"kl": 0.0, "teacher_ce": 0.0, "student_ce": 0.0}
    n_tok = 0
    for start in range(0, len(ids), 64):
        x, y = ids[start: start + 64].to(device), labels[start: start + 64].to(device)
        mask = y != -100
        t = teacher(input_ids=x).logits[mask].float()
        s = student(input_ids=x).logits[mask].float()
        log_pt, log_ps = F.log_softmax(t, -1), F.log_softmax(s, -1)
        tot["kl"] += float((log_pt.exp() * (log_pt - log_ps)).sum())
        tot["teacher_ce"] += float(F.cross_entropy(t, y[mask], reduction="sum"))
        tot["student_ce"] += float(F.cross_entropy(s, y[mask], reduction="sum"))
        n_tok += int(mask.sum())
    return {k: v / n_tok for k, v in tot.items()} | {"tokens": n_tok, "docs": cfg.kl_docs, "corpus_seed": seed}


@torch.no_grad()
def weight_drift(student, init_state: dict[str, Tensor]) -> dict:
    """How far the student moved from its initialisation: ‖W − W₀‖ / ‖W₀‖ (Frobenius, over all parameters of the
    part) per student block (also its attention and MLP separately) and for the embeddings and the final LayerNorm
    (notebook 09; ``training_log.json``).

    Args:
        student: the trained student (a ``GPT2LMHeadModel``).
        init_state: its ``state_dict()`` before training (cloned).

    Raises:
        ValueError: if ``init_state`` lacks a parameter of the student.
    """
    def rel(prefixes: Sequence[str]) -> float:
        """‖W − W₀‖ / ‖W₀‖ over the parameters whose names start with one of ``prefixes``."""
        num = den = 0.0
        for name, p in student.named_parameters():
            if any(name.startswith(pr) for pr in prefixes):
                if name not in init_state:
                    raise ValueError(f"init_state has no {name!r}: pass student.state_dict() cloned before training")
                w0 = init_state[name].to(p.device).float()
                num += float((p.float() - w0).pow(2).sum())
                den += float(w0.pow(2).sum())
        return math.sqrt(num / den) if den > 0 else float("nan")

    layer_map = getattr(student.config, "dcirc_layer_map", None) or list(range(student.config.n_layer))
    blocks = [{"block": i, "teacher_block": int(layer_map[i]), "all": rel([f"transformer.h.{i}."]),
               "attn": rel([f"transformer.h.{i}.attn.", f"transformer.h.{i}.ln_1."]),
               "mlp": rel([f"transformer.h.{i}.mlp.", f"transformer.h.{i}.ln_2."])}
              for i in range(student.config.n_layer)]
    return {"blocks": blocks, "wte": rel(["transformer.wte."]), "wpe": rel(["transformer.wpe."]),
            "ln_f": rel(["transformer.ln_f."])}


def evaluate_pair(teacher, student, tokenizer, cfg, device: torch.device,
                  student_init=None) -> dict:
    """Everything in ``eval.json``: per-set accuracy and metric of both models (and of ``student_init`` when
    given), and each student's KL to the teacher on fresh corpus text (notebook 09)."""
    teacher.to(device).eval()
    student.to(device).eval()
    models = {"teacher": teacher, "student": student}
    if student_init is not None:
        models["student_init"] = student_init.to(device).eval()
    out = {"prompts": evaluate_prompts(models, tokenizer, cfg, device),
           "student_kl_to_teacher": corpus_kl(student, teacher, tokenizer, cfg, device, cfg.seed + 1_000_003),
           "eval_prompts": cfg.eval_prompts, "eval_seed": cfg.eval_seed, "split": "heldout"}
    if student_init is not None:
        out["student_init_kl_to_teacher"] = corpus_kl(student_init, teacher, tokenizer, cfg, device,
                                                      cfg.seed + 1_000_003)
    return out
