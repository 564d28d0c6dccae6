"""Gaussian weight noise in the student, and sweeps of a metric over noise levels and seeds (notebook 06).

The study injected noise into the student at increasing levels (five seeds per level) and watched its alignment with
the teacher decay towards a plateau. Here a level σ adds ``σ · std(W) · N(0, 1)`` to every weight matrix ``W``, each
scaled by its own standard deviation, so that one σ means the same relative damage for embeddings, attention and
MLP matrices alike.

Noise is applied **in place** and undone exactly (the original tensors are kept and copied back), inside a context
manager that restores the weights even when the code inside raises. On a ``TransformerBridge`` in compatibility
mode the parameters hold the *processed* weights the forward pass actually uses (LayerNorm folded into the next
matrices, writing weights centred; embedding and unembedding separate, as in ``HookedTransformer``): noise is
relative to those. The bridge also keeps a fused ``attn.qkv`` matrix next to the split ``q``/``k``/``v`` ones that
the forward uses; perturbing it is harmless. Parameters that share memory (tied weights, views of a fused matrix)
are perturbed once, through the largest of them.

An :class:`~dcirc_utils.engine.Engine` caches mean activations and residual streams: build a new one on the
perturbed model (``tests/unit/test_alignment.py`` checks that logits change under noise and come back
bit-identical).
"""
from __future__ import annotations

import contextlib
import hashlib
import math
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..models.adapters import ModelAdapter

__all__ = ["noise_targets", "perturb_weights_", "restore_weights_", "add_weight_noise", "noise_sweep", "mean_std"]


def _storage_key(p: Tensor) -> int:
    return p.untyped_storage().data_ptr()


def noise_targets(model: torch.nn.Module, include_vectors: bool = False) -> list[tuple[str, torch.nn.Parameter]]:
    """The parameters :func:`add_weight_noise` perturbs, as ``(name, parameter)`` (notebook 06).

    Every floating-point parameter with at least two dimensions (weight matrices: embeddings, attention, MLP,
    unembedding); with ``include_vectors`` also biases and LayerNorm scales. Of parameters sharing memory only the
    largest is listed.
    """
    by_storage: dict[int, tuple[str, torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.is_floating_point() or (p.ndim < 2 and not include_vectors) or p.numel() == 0:
            continue
        key = _storage_key(p)
        if key not in by_storage or p.numel() > by_storage[key][1].numel():
            by_storage[key] = (name, p)
    return sorted(by_storage.values(), key=lambda item: item[0])


def _seed_for(seed: int, name: str) -> int:
    """A per-tensor seed from the run's seed and the parameter's name (noise does not depend on the order of
    parameters or on which others are perturbed)."""
    return int.from_bytes(hashlib.sha256(f"{int(seed)}|{name}".encode()).digest()[:8], "little") & ((1 << 63) - 1)


def perturb_weights_(model: torch.nn.Module, level: float, seed: int,
                     include_vectors: bool = False) -> dict[str, Tensor]:
    """Add ``level · std(W) · N(0, 1)`` to every weight matrix ``W`` of ``model`` in place (notebook 06).

    Noise is drawn on the CPU from a generator seeded by ``(seed, parameter name)`` and moved to the parameter's
    device, so a seed gives the same perturbation on every device. Prefer :func:`add_weight_noise`, which restores.

    Args:
        model: the model to perturb (its parameters change).
        level: σ ≥ 0; 0 changes nothing.
        seed: the noise seed.
        include_vectors: perturb biases and LayerNorm vectors too.

    Returns:
        ``{name: original tensor}`` of the perturbed parameters, for :func:`restore_weights_`.

    Raises:
        ValueError: if ``level`` is negative or not finite. If drawing or adding noise fails midway, the weights
            already perturbed are restored before the error propagates.
    """
    if not (isinstance(level, (int, float)) and math.isfinite(level) and level >= 0):
        raise ValueError(f"noise level must be a finite number ≥ 0 (a multiple of each weight's std), got {level!r}")
    originals: dict[str, Tensor] = {}
    if level == 0:
        return originals
    targets = noise_targets(model, include_vectors)
    try:
        with torch.no_grad():
            for name, p in targets:
                std = float(p.detach().float().std()) if p.numel() > 1 else 0.0
                if not std > 0.0:
                    continue  # a constant tensor (e.g. folded LayerNorm scales of 1): nothing to scale noise by
                gen = torch.Generator(device="cpu").manual_seed(_seed_for(seed, name))
                noise = torch.randn(tuple(p.shape), generator=gen, dtype=torch.float32)
                originals[name] = p.detach().clone()
                p.add_((noise * (level * std)).to(device=p.device, dtype=p.dtype))
    except BaseException:
        restore_weights_(model, originals)
        raise
    return originals


def restore_weights_(model: torch.nn.Module, originals: dict[str, Tensor]) -> None:
    """Copy the tensors returned by :func:`perturb_weights_` back into ``model`` (bit-exact)."""
    if not originals:
        return
    params = dict(model.named_parameters())
    missing = [n for n in originals if n not in params]
    if missing:
        raise ValueError(f"cannot restore {missing[:3]}: they are not parameters of this model (restore into the "
                         "model that was perturbed)")
    with torch.no_grad():
        for name, value in originals.items():
            params[name].copy_(value)


@contextlib.contextmanager
def add_weight_noise(model: torch.nn.Module, level: float, seed: int,
                     include_vectors: bool = False) -> Iterator[torch.nn.Module]:
    """Perturb ``model``'s weights in place for the duration of a ``with`` block, then restore them (notebook 06).

    ``noise = level · std(W) · N(0, 1)`` for every weight matrix ``W`` (see :func:`perturb_weights_`). Level 0
    leaves the model bit-identical; the same ``seed`` gives the same perturbed model; on leaving the block (also on
    an exception) every weight is copied back exactly.

    Example::

        with add_weight_noise(pair.student.model, 0.1, seed=0):
            engine = Engine.for_prompts(pair.student, prompts)   # build engines inside: they cache activations

    Args, Raises: as :func:`perturb_weights_`.
    """
    originals = perturb_weights_(model, level, seed, include_vectors)
    try:
        yield model
    finally:
        restore_weights_(model, originals)


def _shares_memory(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    keys = {_storage_key(p) for p in a.parameters()}
    return any(_storage_key(p) in keys for p in b.parameters())


def noise_sweep(teacher: ModelAdapter, student: ModelAdapter, levels: Sequence[float], seeds: Sequence[int],
                measure_fn: Callable[[ModelAdapter], Mapping[str, Any]], include_vectors: bool = False,
                progress: bool = True) -> list[dict]:
    """Measure a perturbed student at every (noise level, seed) (notebook 06).

    For each level and seed the student is perturbed in place (:func:`add_weight_noise`), ``measure_fn(student)``
    returns a mapping of numbers (a dict, or a record such as
    :class:`~dcirc_utils.methods.alignment.AlignmentMeasure`), and the weights are restored. The teacher is never
    perturbed; it is checked to share no memory with the student (an in-place perturbation would otherwise reach
    it). Level 0 is measured once and its row repeated for every seed (the model is the same; its spread is truly
    0). The rows stay dicts: their keys are ``measure_fn``'s, whatever it measures.

    Args:
        teacher, student: the pair's adapters (``measure_fn`` may close over teacher results such as its
            influences); the student's ``model`` is perturbed.
        levels: noise levels σ ≥ 0.
        seeds: noise seeds (the study used five per level).
        measure_fn: ``student adapter (perturbed) → {metric: value}`` (any mapping).
        include_vectors: perturb biases and LayerNorm vectors too.
        progress: show a tqdm bar.

    Returns:
        One row per (level, seed): ``{"level", "seed", **metrics}``.

    Raises:
        ValueError: if the teacher shares weights with the student, a level is negative, there are no seeds, or
            ``measure_fn`` does not return a mapping.
    """
    if teacher is student or _shares_memory(teacher.model, student.model):
        raise ValueError("teacher and student share weight memory: perturbing the student in place would perturb "
                         "the teacher too; load them as separate models")
    if not seeds:
        raise ValueError("pass at least one seed")
    bad = [lv for lv in levels if not (isinstance(lv, (int, float)) and math.isfinite(lv) and lv >= 0)]
    if bad:
        raise ValueError(f"noise levels must be finite numbers ≥ 0, got {bad}")
    rows: list[dict] = []
    jobs = [(lv, s) for lv in levels for s in seeds]
    zero: dict | None = None
    for lv, s in tqdm(jobs, desc="noise sweep", disable=not progress):
        if lv == 0 and zero is not None:
            rows.append({"level": float(lv), "seed": s, **zero})
            continue
        with add_weight_noise(student.model, lv, s, include_vectors):
            out = measure_fn(student)
        if not isinstance(out, Mapping):
            raise ValueError(f"measure_fn must return a mapping (e.g. a dict) of metrics, got {type(out).__name__}")
        if lv == 0:
            zero = dict(out)
        rows.append({"level": float(lv), "seed": s, **out})
    return rows


def mean_std(rows: Sequence[dict], metric: str, by: str = "level") -> list[dict]:
    """Mean ± standard deviation (over seeds, ddof = 1; 0 for a single value) of ``metric`` per ``by`` value
    (notebook 06: the error bars of the noise curve).

    Returns:
        ``[{by: value, "mean", "std", "n"}]`` sorted by ``by``; NaN values are left out of the statistics.

    Raises:
        ValueError: if a row lacks ``metric`` or ``by``.
    """
    groups: dict[Any, list[float]] = {}
    for r in rows:
        if metric not in r or by not in r:
            raise ValueError(f"row {r} has no {metric!r} or {by!r}: pass the rows of noise_sweep and a metric that "
                             "measure_fn returns")
        groups.setdefault(r[by], []).append(float(r[metric]))
    out = []
    for key in sorted(groups):
        v = np.asarray([x for x in groups[key] if not math.isnan(x)])
        out.append({by: key, "mean": float(v.mean()) if v.size else math.nan,
                    "std": float(v.std(ddof=1)) if v.size > 1 else 0.0 if v.size else math.nan, "n": int(v.size)})
    return out
