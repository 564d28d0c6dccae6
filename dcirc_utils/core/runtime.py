"""How the package uses the CPU: the OpenMP wait policy and the number of intra-op threads.

OpenMP's default lets idle worker threads spin, which steals the cores that other programs (and the other workers)
need. ``python -m bench.busy_laptop`` (the ``small`` teacher's ablation scan, 156 components × 100 prompts, median of
3 runs, on this project's 2-core machine) measured, quiet and beside two CPU-bound processes:

=====================  ========  ==============  =====
setting                quiet     beside 2 busy   ratio
=====================  ========  ==============  =====
2 threads, passive     16.0 s    26.0 s          1.62
1 thread, passive      19.9 s    37.2 s          1.87
2 threads, active      14.8 s    46.9 s          3.17
=====================  ========  ==============  =====

So the wait policy is what makes a busy laptop slow, and with passive waiting every core still pays, even on the
offline pairs (the ``mini`` teacher's scan: 2.1 s at 1 thread, 1.3–2.0 s at 2). Hence:

* :func:`use_passive_openmp` sets ``OMP_WAIT_POLICY=PASSIVE`` for this process (effective only before the OpenMP
  runtime starts, i.e. before torch is imported: ``import dcirc_utils`` calls it first) and for every process it
  starts (notebook kernels), unless the user set a policy;
* :func:`threads_for` gives every core this process may run on (its CPU affinity, which a container or ``taskset``
  narrows; ``torch``'s own default counts the machine's physical cores). ``$DCIRC_THREADS`` overrides it in the
  notebooks' setup cell.
"""
from __future__ import annotations

import os

__all__ = ["use_passive_openmp", "threads_for"]


def use_passive_openmp() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` in this process's environment unless one is set (read by the OpenMP runtime when it
    starts, and inherited by the processes this one starts)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def threads_for() -> int:
    """Intra-op threads for the course's work: the cores this process may run on (its CPU affinity where the OS
    reports it, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                         # macOS, Windows
        return max(1, os.cpu_count() or 1)
