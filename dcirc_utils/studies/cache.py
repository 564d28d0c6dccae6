"""On-disk cache of costly results (circuits, edge scores, scans), keyed by pair, model weights, task and
parameters, so that a notebook does not rediscover what an earlier one found (notebooks 02, 05, 06).

Files are JSON under ``$DCIRC_CACHE`` (default ``.dcirc_cache/`` at the repository root, git-ignored). The key
includes a fingerprint of the model's weights, so retraining the offline pair never serves stale results.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import torch

from ..core.paths import DEFAULT_CACHE_DIR

__all__ = ["cache_dir", "model_fingerprint", "cached"]


def cache_dir() -> Path:
    """``$DCIRC_CACHE`` or ``<repo>/.dcirc_cache``."""
    d = Path(os.environ.get("DCIRC_CACHE") or DEFAULT_CACHE_DIR)
    d.mkdir(parents=True, exist_ok=True)
    return d


def model_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of the model's weights: the exact bytes of every floating-point tensor, with its name, dtype and
    shape. Exact, so it does not depend on the number of threads (a sum would: its rounding follows the reduction
    order) or on the machine."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        if not torch.is_tensor(p) or not p.is_floating_point():
            continue
        t = p.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def cached(kind: str, key: dict, compute: Callable[[], Any], to_json: Callable[[Any], Any] = lambda x: x,
           from_json: Callable[[Any], Any] = lambda x: x, refresh: bool = False) -> Any:
    """Return the cached result for ``(kind, key)`` or compute, store and return it.

    Args:
        kind: what is cached (a file-name prefix), e.g. ``"circuit"``.
        key: JSON-serialisable parameters identifying the result (include ``model_fingerprint``).
        compute: produces the result on a miss.
        to_json, from_json: convert the result to and from JSON-serialisable data.
        refresh: recompute even on a hit.
    """
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = cache_dir() / f"{kind}-{digest}.json"
    if path.exists() and not refresh:
        stored = json.loads(path.read_text())
        if stored.get("key") == json.loads(json.dumps(key, sort_keys=True, default=str)):
            return from_json(stored["value"])
    value = compute()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "value": to_json(value)}, default=str))
    tmp.replace(path)
    return value
