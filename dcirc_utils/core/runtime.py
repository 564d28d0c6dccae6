"""How the package uses the CPU: the OpenMP wait policy and the number of intra-op threads.

Measured on a 2-core machine (issue 23): an ablation scan of the offline ``small`` teacher took 57.2 s at 2 threads
beside one busy process and 21.8 s at 1 thread; beside two busy processes, 141.7 s at 2 threads, 54.6 s at 2 threads
with a passive wait policy. OpenMP's default lets idle worker threads spin, which steals the cores other programs
(and the other worker) need; and a model a few million parameters wide gains little from a second thread. So:

* :func:`use_passive_openmp` sets ``OMP_WAIT_POLICY=PASSIVE`` for this process (effective only before the OpenMP
  runtime starts, i.e. before torch is imported: ``import dcirc_utils`` calls it first) and for every process it
  starts (notebook kernels), unless the user set a policy;
* :func:`threads_for` picks the thread count by model size: one thread below :data:`ONE_THREAD_BELOW` parameters (the
  offline pairs), every core above (GPT-2, BERT, bring-your-own pairs). ``$DCIRC_THREADS`` overrides it in the
  notebooks' setup cell.
"""
from __future__ import annotations

import os

__all__ = ["use_passive_openmp", "threads_for", "ONE_THREAD_BELOW", "cpu_cores"]

#: Models with fewer parameters than this run on one thread (the offline pairs have 1–10 M; GPT-2 small 124 M).
ONE_THREAD_BELOW = 30_000_000


def use_passive_openmp() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` in this process's environment unless one is set (read by the OpenMP runtime when it
    starts, and inherited by the processes this one starts)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                         # macOS, Windows
        return max(1, os.cpu_count() or 1)


def threads_for(n_parameters: int | None, cores: int | None = None) -> int:
    """Intra-op threads for a model of ``n_parameters`` (``None``: unknown, e.g. a hub pair not yet loaded) on a
    machine of ``cores`` cores (default :func:`cpu_cores`): 1 below :data:`ONE_THREAD_BELOW`, else every core."""
    cores = cores or cpu_cores()
    if n_parameters is not None and n_parameters < ONE_THREAD_BELOW:
        return 1
    return cores
