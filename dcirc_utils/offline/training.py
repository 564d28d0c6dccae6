"""The training helpers shared by the offline pairs' recipes (``distill``, ``train``, ``sweep``, ``encoder``).

Data (:func:`pack_documents`, :func:`batch_indices`), the optimiser and its schedule (:func:`make_optimizer`,
:func:`optimizer_step`), the causal loss (:func:`causal_ce`), and what every run writes besides its weights: the
weights' hash (:func:`state_sha256`), the log's rounding (:func:`round_log`), the machine and library versions
(:func:`machine_info`, :func:`package_version`) and the saved model with its digests (:func:`save_model`).
``cfg`` arguments are a ``distill.DistillConfig`` or any config with the same optimiser fields (the encoder's).
"""
from __future__ import annotations

import hashlib
import math
import os
import platform
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Int
from torch import Tensor

from ..models.integrity import record_digests

__all__ = ["pack_documents", "lr_schedule", "make_optimizer", "optimizer_step", "batch_indices", "causal_ce",
           "state_sha256", "round_log", "package_version", "machine_info", "save_model"]


def pack_documents(docs: Sequence[Sequence[int]], block_size: int, eos_id: int,
                   ) -> tuple[Int[Tensor, "n block"], Int[Tensor, "n block"]]:
    """Greedily pack tokenised documents into blocks that each start at a document's first token (notebook 09).

    Each document is followed by ``eos_id``; a block takes whole documents while they fit and is padded with
    ``eos_id``. ``labels[:, p]`` is the token at ``p + 1`` and ``-100`` on padding and at a block's last real
    token. Documents longer than ``block_size`` are cut.

    Returns:
        ``(input_ids, labels)``.
    """
    if block_size < 2:
        raise ValueError(f"block_size must be at least 2, got {block_size}")
    blocks: list[list[int]] = []
    cur: list[int] = []
    for d in docs:
        piece = list(d)[: block_size - 1] + [eos_id]
        if cur and len(cur) + len(piece) > block_size:
            blocks.append(cur)
            cur = []
        cur.extend(piece)
    if cur:
        blocks.append(cur)
    ids = torch.full((len(blocks), block_size), eos_id, dtype=torch.long)
    labels = torch.full((len(blocks), block_size), -100, dtype=torch.long)
    for i, b in enumerate(blocks):
        ids[i, : len(b)] = torch.tensor(b)
        labels[i, : len(b) - 1] = torch.tensor(b[1:])
    return ids, labels


def lr_schedule(steps: int, cfg):
    """The learning-rate factor per step: linear warmup over ``cfg.warmup_frac`` of the steps, then cosine decay to
    ``cfg.min_lr_frac`` of the peak."""
    warm = max(1, int(round(cfg.warmup_frac * steps)))

    def f(step: int) -> float:
        """The learning-rate factor of ``step``."""
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, steps - warm)
        return cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return f


def make_optimizer(model, lr: float, steps: int, cfg):
    """AdamW (``cfg.weight_decay`` on matrices only) and its warmup-cosine schedule (:func:`lr_schedule`): the optimiser
    of every training run of the offline pairs (``distill``, ``train``, ``encoder``).

    Returns:
        ``(optimizer, scheduler)``.
    """
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lr_schedule(steps, cfg))


def optimizer_step(model, loss: Tensor, opt, sched, grad_clip: float) -> float:
    """One optimiser step of every training loop here: backward, gradient clipping at ``grad_clip``, the step and the
    schedule's step. Returns the learning rate the step used."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    lr = sched.get_last_lr()[0]
    opt.step()
    sched.step()
    return lr


def batch_indices(n_blocks: int, steps: int, batch_size: int, seed: int):
    """Block indices of each of ``steps`` steps (``batch_size`` each): seeded random permutations of the
    ``n_blocks`` blocks, a new one when a pass is used up (a generator; the same ``seed`` gives the same order)."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n_blocks, generator=g)
    pos = 0
    for _ in range(steps):
        if pos + batch_size > n_blocks:
            perm, pos = torch.randperm(n_blocks, generator=g), 0
        yield perm[pos: pos + batch_size]
        pos += batch_size


def causal_ce(logits: Tensor, labels: Tensor) -> Tensor:
    """Next-token cross-entropy over the labelled positions (``labels`` already shifted, ``-100`` to skip)."""
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)


def state_sha256(model) -> str:
    """SHA-256 of a model's state dict (names, dtypes, shapes and bytes, in name order): equal hashes mean
    bit-identical weights (``training_log.json``; notebook 09 and the tests compare reruns and rebuilt student
    inits)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def round_log(xs: Sequence[float], nd: int = 5) -> list[float | None]:
    """Values rounded to ``nd`` digits for a JSON training log; NaN as ``None``."""
    return [None if math.isnan(x) else round(x, nd) for x in xs]


def package_version(package: str) -> str | None:
    """The installed version of ``package``, or ``None``."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover
        return None


def machine_info() -> dict:
    """Platform, CPU model and core count, and the GPU's name when there is one (for the model card)."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def save_model(model, tokenizer, folder: Path) -> None:
    """``save_pretrained`` of a model and its tokenizer into ``folder``, and the SHA-256 of its weights into the
    pair's manifest (``folder/../digests.json``, checked by ``load_pair``)."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    record_digests(folder)
