"""Scale-out of the engine's scans over processes: each rank evaluates a shard of the variants on its own
:class:`~dcirc_utils.engine.Engine`, and every rank receives the whole result.

A scan (the single-component mean-ablation scan of notebook 05, the receivers of path patching, any list of
patch-sets) is a list of independent variants. With ``torch.distributed`` initialised, every rank builds the same
engine (same model, same prompts: the means and the clean value come out the same on every rank), evaluates the
variants :func:`shard_indices` gives it, and the per-variant values are gathered with a tensor ``all_gather``, so
that :func:`sharded_ablation_scan` returns on *every* rank the dict that ``engine.ablation_scan()`` returns in one
process (``tests/integration/test_distributed.py`` checks this on the offline pair).

The default sharding is *strided* (rank ``r`` takes variants ``r, r + N, r + 2N, ...``): a scan lists its variants
layer by layer and the engine starts each at its layer, so a variant of layer ``l`` costs ``n_layers - l`` blocks;
contiguous shards would hand the first rank all the expensive early layers (with 2 ranks, about 74 % of the work
of a 32-layer scan), strided shards give every rank nearly the same mix.

The backend follows the engine's device (:func:`backend_for`): ``gloo`` for CPU engines, ``nccl`` for CUDA engines
(one GPU per rank, chosen from ``LOCAL_RANK``).

Running it
----------
In one script, under ``torchrun`` (one process per GPU, or per CPU slot; the command line is
:mod:`dcirc_utils.studies.distributed_cli`, above the engine layer)::

    torchrun --nproc-per-node 2 -m dcirc_utils.studies.distributed_cli --pair small --prompts 64 --out scan.json

or from Python::

    device = init_distributed()                    # reads RANK/WORLD_SIZE/LOCAL_RANK set by torchrun
    pair = load_pair("small", device=device)
    engine = Engine.for_prompts(pair.teacher, make_prompts(64, seed=0, tokenizer=pair.tokenizer))
    scan = sharded_ablation_scan(engine)           # the same dict on every rank

and, without ``torchrun`` (tests, notebooks), :func:`run_sharded` spawns the ranks itself:
``run_sharded(fn, 2, *args)`` runs ``fn(device, *args)`` in 2 processes with the group initialised and returns the
ranks' results.

Large pairs
-----------
Sharding here splits the *variants*, never the model: each rank holds a whole model. A model too large for one
device is placed with the ecosystem's device map, not by hand: ``TransformerBridge.boot_transformers(name,
device_map="auto", dtype=torch.bfloat16)`` (Hugging Face ``accelerate`` dispatch) loads it across the visible GPUs
of a rank. ``docs/scaling.md`` works out the sizes for Llama-3.1-8B → Llama-3.1-Minitron-4B (both fit on one
141 GB H200 in bf16, so one rank per GPU, no device map across GPUs) and what the loaders would need.
"""
from __future__ import annotations

import datetime
import hashlib
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from jaxtyping import Float
from torch import Tensor

from ..core.components import Component
from .engine import Engine, Patch

__all__ = ["SHARD_STRATEGIES", "shard_indices", "shard", "backend_for", "local_device", "init_distributed",
           "sharded_evaluate", "sharded_ablation_scan", "run_sharded"]

T = TypeVar("T")

#: How variants are split over ranks: ``"strided"`` (rank r takes r, r + N, ...; balanced for layer-ordered scans)
#: or ``"contiguous"`` (rank r takes one block; sizes differ by at most one).
SHARD_STRATEGIES = ("strided", "contiguous")

_NOT_INITIALISED = ("the torch.distributed process group is not initialised: launch the script with "
                    "`torchrun --nproc-per-node N` and call init_distributed() first, or let run_sharded(fn, N) "
                    "spawn the ranks (or call the engine's own method in a single process)")


# --------------------------------------------------------------------------------------------- sharding
def shard_indices(n: int, world_size: int, rank: int, strategy: str = "strided") -> list[int]:
    """The indices of ``n`` variants that ``rank`` of ``world_size`` evaluates.

    Over all ranks the shards cover ``range(n)`` exactly once, and their sizes differ by at most one (the first
    ``n % world_size`` ranks take one more).

    Args:
        n: number of variants (``>= 0``).
        world_size: number of ranks (``>= 1``).
        rank: this rank, ``0 <= rank < world_size``.
        strategy: one of :data:`SHARD_STRATEGIES`.

    Raises:
        ValueError: for a negative ``n``, ``world_size < 1``, a rank outside the world or an unknown strategy.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n (the number of variants) must be an integer >= 0, got {n!r}")
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be an integer >= 1 (the number of processes), got {world_size!r}")
    if not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1} for world_size {world_size}, got {rank!r}")
    if strategy == "strided":
        return list(range(rank, n, world_size))
    if strategy == "contiguous":
        size, extra = divmod(n, world_size)
        start = rank * size + min(rank, extra)
        return list(range(start, start + size + (rank < extra)))
    raise ValueError(f"strategy must be one of {SHARD_STRATEGIES}, got {strategy!r}")


def shard(items: Sequence[T], world_size: int, rank: int, strategy: str = "strided") -> list[T]:
    """The items of ``items`` that ``rank`` evaluates (:func:`shard_indices` applied to the sequence)."""
    return [items[i] for i in shard_indices(len(items), world_size, rank, strategy)]


# --------------------------------------------------------------------------------------------- process group
def backend_for(device: str | torch.device) -> str:
    """The ``torch.distributed`` backend for engines on ``device``: ``"nccl"`` on CUDA, ``"gloo"`` otherwise."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def local_device(device: str | torch.device | None = None) -> torch.device:
    """This rank's device: ``device`` (default: :func:`~dcirc_utils.models.pairs.pick_device`), with a CUDA device
    without an index pinned to GPU ``LOCAL_RANK`` (modulo the visible GPUs), one GPU per rank."""
    from ..models.pairs import pick_device
    dev = pick_device(device)
    if dev.type == "cuda" and dev.index is None:
        count = torch.cuda.device_count()
        if count == 0:
            raise RuntimeError(f"device {device!r} asks for CUDA but no GPU is visible: pass device='cpu' (gloo)")
        dev = torch.device(dev.type, int(os.environ.get("LOCAL_RANK", "0")) % count)
    return dev


def init_distributed(device: str | torch.device | None = None, timeout_s: float = 1800.0) -> torch.device:
    """Initialise the default process group from ``torchrun``'s environment and return this rank's device.

    The backend is :func:`backend_for` the device (``nccl`` on CUDA, ``gloo`` on CPU); on CUDA the rank's GPU is
    made current. A group that is already initialised is kept as it is.

    Args:
        device: the engines' device type (``"cpu"``, ``"cuda"``); default: CUDA when visible, else CPU.
        timeout_s: how long a collective waits for the other ranks before failing.

    Raises:
        RuntimeError: outside ``torchrun`` (no ``RANK``/``WORLD_SIZE``/``MASTER_ADDR`` in the environment).
    """
    dev = local_device(device)
    if dist.is_available() and dist.is_initialized():
        return dev
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(f"init_distributed reads torchrun's environment, but {missing} are not set: launch with "
                           "`torchrun --nproc-per-node N ...`, or use run_sharded(fn, N) to spawn the ranks")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group(backend_for(dev), timeout=datetime.timedelta(seconds=timeout_s))
    return dev


def _group_info(group) -> tuple[int, int]:
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(_NOT_INITIALISED)
    return dist.get_rank(group), dist.get_world_size(group)


def _comm_device(engine: Engine, group) -> torch.device:
    """Where the gathered tensors live: the engine's GPU under NCCL, the CPU under gloo (or the default
    ``cpu:gloo,cuda:nccl`` pair with a CPU engine)."""
    backend = str(dist.get_backend(group))
    if engine.device.type == "cuda" and "nccl" in backend:
        return engine.device
    if backend == "nccl":
        raise ValueError(f"the process group's backend is nccl, which moves only CUDA tensors, but the engine runs on "
                         f"{engine.device}: initialise the group with backend_for(engine.device) "
                         f"({backend_for(engine.device)!r})")
    return torch.device("cpu")


def _structure_digest(variants: Sequence[Sequence[Patch]], base: Sequence[Patch]) -> int:
    """48 bits of a digest of what each variant patches (sites, heads, shapes; not the values), exact in float64."""
    h = hashlib.sha1()
    for part in (base, *variants):
        h.update(repr([(tuple(p.site), p.index, p.per_prompt, tuple(p.values.shape)) for p in part]).encode())
        h.update(b"|")
    return int.from_bytes(h.digest()[:6], "big")


_FINGERPRINT = ("n_variants", "n_base_patches", "n_prompts", "n_layers", "n_heads", "which", "patch structure",
                "clean value")


def _check_agreement(engine: Engine, variants, base, which: str, group, comm: torch.device) -> None:
    """Every rank must run the same scan: gather a fingerprint and raise (on every rank alike) where they differ.
    Without this, ranks with different variant counts would wait on each other's collectives forever."""
    world = dist.get_world_size(group)
    mine = torch.tensor([len(variants), len(base), engine.n_prompts, engine.n_layers, engine.n_heads,
                         float(which == "clean"), float(_structure_digest(variants, base)), engine.clean_value],
                        dtype=torch.float64, device=comm)
    rows = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(rows, mine, group=group)
    ref = rows[0].tolist()
    for r, row in enumerate(rows[1:], 1):
        got = row.tolist()
        for name, a, b in zip(_FINGERPRINT, ref, got):
            same = math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6) if name == "clean value" else a == b
            if not same:
                raise ValueError(f"ranks disagree on the scan: rank {r} has {name} = {b:g}, rank 0 has {a:g}; every "
                                 "rank must build the same engine (same model, prompts and metric) and pass the same "
                                 "variants")


# --------------------------------------------------------------------------------------------- sharded scans
def sharded_evaluate(engine: Engine, variants: Sequence[Sequence[Patch]], base: Sequence[Patch] = (),
                     which: str = "clean", group=None, strategy: str = "strided", desc: str | None = None,
                     progress: bool | None = None) -> Float[Tensor, "variants"]:
    """:meth:`Engine.evaluate` with the variants split over the ranks of ``group``; every rank gets all values.

    Call it on every rank of the group with the same arguments (a collective): each rank evaluates its shard
    (:func:`shard_indices`), and the values are gathered with ``all_gather``.

    Args:
        engine: this rank's engine (same model and prompts on every rank).
        variants: the patch-sets, as for :meth:`Engine.evaluate`.
        base: patches applied to every variant.
        which: ``"clean"`` or ``"corrupted"`` prompts.
        group: the process group (default: the default group).
        strategy: one of :data:`SHARD_STRATEGIES`.
        desc: progress-bar label.
        progress: show a bar on rank 0 (default: the engine's setting); other ranks never show one.

    Returns:
        ``[len(variants)]`` mean metric per variant on the engine's device, in the original order.

    Raises:
        RuntimeError: when the process group is not initialised.
        ValueError: when the ranks' scans differ (variant count, prompts, model shape, clean value), the group's
            backend cannot carry the engine's tensors, or ``which`` or ``strategy`` is unknown.
    """
    rank, world = _group_info(group)
    if strategy not in SHARD_STRATEGIES:  # checked up front, alike on every rank: no rank is left waiting
        raise ValueError(f"strategy must be one of {SHARD_STRATEGIES}, got {strategy!r}")
    if which not in engine.tokens:
        raise ValueError(f"which must be 'clean' or 'corrupted', got {which!r}")
    comm = _comm_device(engine, group)
    _check_agreement(engine, variants, base, which, group, comm)
    n = len(variants)
    mine = shard_indices(n, world, rank, strategy)
    show = (engine.progress if progress is None else progress) and rank == 0
    if mine:
        values = engine.evaluate([variants[i] for i in mine], base, which, desc=desc, progress=show)
    else:
        values = torch.empty(0, device=engine.device)
    width = -(-n // world)  # the largest shard
    buf = torch.full((width,), float("nan"), dtype=values.dtype, device=comm)
    buf[: len(mine)] = values.to(comm)
    parts = [torch.empty_like(buf) for _ in range(world)]
    if width:
        dist.all_gather(parts, buf, group=group)
    out = torch.empty(n, dtype=values.dtype, device=engine.device)
    for r, part in enumerate(parts):
        idx = shard_indices(n, world, r, strategy)
        out[idx] = part[: len(idx)].to(engine.device)
    return out


def sharded_ablation_scan(engine: Engine, components: Sequence[Component] | None = None,
                          base_ablated: Iterable[Component] = (), group=None, strategy: str = "strided",
                          desc: str = "ablation scan") -> dict[Component, float]:
    """:meth:`Engine.ablation_scan` split over the ranks of ``group``: the same dict, on every rank.

    Args:
        engine: this rank's engine (same model and prompts on every rank).
        components: the components to mean-ablate one at a time (default: all of the model's).
        base_ablated: components mean-ablated in every variant.
        group: the process group (default: the default group).
        strategy: one of :data:`SHARD_STRATEGIES`.
        desc: progress-bar label (rank 0).

    Raises:
        RuntimeError: when the process group is not initialised.
        ValueError: when the ranks' scans differ.
    """
    components = list(engine.components if components is None else components)
    base = engine.mean_ablation(base_ablated)
    values = sharded_evaluate(engine, [engine.mean_ablation([c]) for c in components], base, group=group,
                              strategy=strategy, desc=desc)
    return {c: float(v) for c, v in zip(components, values)}


# --------------------------------------------------------------------------------------------- launcher
def _worker(rank: int, world_size: int, fn: Callable, args: tuple, device: str, init_method: str, out_dir: str,
            timeout_s: float, threads: int | None) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world_size)})
    if threads:
        torch.set_num_threads(threads)
    dev = local_device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group(backend_for(dev), init_method=init_method, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=timeout_s))
    try:
        result = fn(dev, *args)
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
        dist.barrier()      # every rank done before any tears down (gloo can abort a rank whose peer left first)
    finally:
        dist.destroy_process_group()


def run_sharded(fn: Callable[..., Any], world_size: int, *args: Any, device: str | torch.device = "cpu",
                timeout_s: float = 600.0, threads: int | None = None) -> list[Any]:
    """Run ``fn(device, *args)`` in ``world_size`` spawned processes with the process group initialised; return
    each rank's result, rank 0 first.

    For tests and notebooks (``torchrun`` does the same for scripts). The ranks meet through a ``file://``
    rendezvous in a temporary folder (no TCP port to pick); the backend is :func:`backend_for` ``device``, and on
    CUDA rank ``r`` takes GPU ``r``.

    Args:
        fn: a module-level function (the spawned processes import it by name) taking this rank's device first; its
            result must be picklable.
        world_size: number of processes (``>= 1``).
        *args: passed to ``fn`` after the device (picklable).
        device: ``"cpu"`` (gloo) or ``"cuda"`` (nccl, one visible GPU per rank).
        timeout_s: how long a collective waits for the other ranks before failing.
        threads: ``torch.set_num_threads`` in each rank (default: torch's own choice).

    Raises:
        ValueError: for ``world_size < 1``, a function that cannot be pickled by name, or fewer GPUs than ranks.
        torch.multiprocessing.ProcessRaisedException: when a rank raises (its traceback is in the message).
    """
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be an integer >= 1 (the number of processes), got {world_size!r}")
    qualname = getattr(fn, "__qualname__", "")
    if not callable(fn) or "<lambda>" in qualname or "<locals>" in qualname:
        raise ValueError(f"run_sharded needs a module-level function (spawned processes import it by name), got "
                         f"{qualname or fn!r}: define it at the top level of a module")
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.device_count() < world_size:
        raise ValueError(f"{world_size} ranks on CUDA need {world_size} visible GPUs (nccl runs one rank per GPU), "
                         f"found {torch.cuda.device_count()}: use fewer ranks or device='cpu'")
    with tempfile.TemporaryDirectory(prefix="dcirc-dist-") as tmp:
        init_method = (Path(tmp) / "rendezvous").as_uri()
        mp.spawn(_worker, args=(world_size, fn, args, str(dev), init_method, tmp, timeout_s, threads),
                 nprocs=world_size, join=True)
        return [torch.load(Path(tmp) / f"rank{r}.pt", weights_only=False) for r in range(world_size)]
