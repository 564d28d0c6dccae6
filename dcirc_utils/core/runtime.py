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
* :func:`default_threads` gives one thread per physical core this process may use: its CPU affinity (which a
  container or ``taskset`` narrows), counting hyperthread siblings once, and no more than the container's CPU quota
  (cgroup ``cpu.max``). ``$DCIRC_THREADS`` overrides it in the notebooks' setup cell.
"""
from __future__ import annotations

import os

import math
from pathlib import Path

__all__ = ["use_passive_openmp", "default_threads"]


def use_passive_openmp() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` in this process's environment unless one is set (read by the OpenMP runtime when it
    starts, and inherited by the processes this one starts)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _physical(cpus: set[int]) -> int:
    """How many physical cores ``cpus`` spans (hyperthread siblings counted once; Linux's sysfs, else ``len``)."""
    cores = set()
    for cpu in cpus:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            return len(cpus)
    return len(cores)


def _quota(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> int | None:
    """The CPUs a cgroup-v2 quota allows (``"200000 100000"`` → 2), ``None`` without one."""
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def default_threads() -> int:
    """Intra-op threads for the course's work: the physical cores this process may run on, capped by the
    container's CPU quota."""
    try:
        cpus = set(os.sched_getaffinity(0))
    except AttributeError:                         # macOS, Windows: no affinity or sibling count to read
        return max(1, os.cpu_count() or 1)
    return max(1, min(_physical(cpus), _quota() or len(cpus)))
