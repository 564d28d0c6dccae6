"""On-disk cache of costly results (circuits, edge scores, scans), so that a notebook does not rediscover what an
earlier one found (notebooks 02, 05, 06, 08).

A cache must never serve a result that a fresh computation would not give. So every key holds

* what the computation actually used: a fingerprint of the model's weights (:func:`model_fingerprint`) and of the
  engine's own inputs — its token tensors, readout positions and metric (:func:`engine_fingerprint`), not the
  caller's description of them;
* a fingerprint of the code that computes it (:func:`code_fingerprint`: the source of every module of the package's
  ``core``, ``models``, ``engine``, ``methods`` and ``studies`` layers), so that editing an algorithm invalidates its
  old entries without anyone bumping a version by hand.

Files are JSON under ``$DCIRC_CACHE`` (default ``.dcirc_cache/`` at the repository root, git-ignored). Each writer
writes its own temporary file and renames it into place (atomic on POSIX), so concurrent runs never see a half-written
entry and never throw a computed result away; an unreadable entry (truncated, not JSON, another key) is a miss that
is recomputed and overwritten, with one :class:`CacheWarning` naming the file; a cache folder that cannot be written
leaves the result uncached, with one warning, and the computation is returned all the same.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from ..core.settings import Settings

__all__ = ["CacheWarning", "cache_dir", "model_fingerprint", "engine_fingerprint", "code_fingerprint", "cached"]

#: The package layers whose source is part of every key (everything a cached computation can call).
_CODE_LAYERS = ("core", "models", "engine", "methods", "studies")


class CacheWarning(RuntimeWarning):
    """An entry could not be read or written; the result was recomputed (or not stored). The message names the file."""


def cache_dir(settings: Settings | None = None) -> Path:
    """The cache folder of ``settings`` (default :meth:`Settings.from_env`: ``$DCIRC_CACHE``), else
    ``<repo>/.dcirc_cache`` (not created here: :func:`cached` creates it when it writes)."""
    return (Settings.from_env() if settings is None else settings).resolved_cache_dir


def _hash_tensor(h, name: str, t: torch.Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def model_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of the model's weights: the exact bytes of every floating-point tensor, with its name, dtype and
    shape. Exact, so it does not depend on the number of threads (a sum would: its rounding follows the reduction
    order) or on the machine."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        if torch.is_tensor(p) and p.is_floating_point():
            _hash_tensor(h, name, p)
    return h.hexdigest()[:16]


def engine_fingerprint(engine) -> str:
    """A short hash of what an :class:`~dcirc_utils.engine.Engine` computes on: its clean and corrupted tokens, its
    readout positions, its metric (class, name and every tensor or value it holds) and its model's weights. Two
    engines with the same fingerprint give the same scans."""
    h = hashlib.sha256(model_fingerprint(engine.adapter.model).encode())
    for kind in sorted(engine.tokens):
        _hash_tensor(h, f"tokens.{kind}", engine.tokens[kind])
        _hash_tensor(h, f"positions.{kind}", engine.positions[kind])
    metric = engine.metric
    h.update(f"{type(metric).__module__}.{type(metric).__qualname__}".encode())
    for name, value in sorted(vars(metric).items()):
        if torch.is_tensor(value):
            _hash_tensor(h, f"metric.{name}", value)
        else:
            h.update(f"metric.{name}={value!r}".encode())
    return h.hexdigest()[:16]


@functools.cache
def code_fingerprint() -> str:
    """A short hash of the source of the package's ``core``, ``models``, ``engine``, ``methods`` and ``studies``
    modules, read once per process (so it describes the code this process runs)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for layer in _CODE_LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _read(path: Path, key_json: Any) -> tuple[bool, Any]:
    """``(True, value)`` for a readable entry of this key, ``(False, None)`` for none; a damaged entry warns."""
    try:
        stored = json.loads(path.read_text())
        if not isinstance(stored, dict) or "value" not in stored:
            raise ValueError("not a cache entry")
    except FileNotFoundError:
        return False, None
    except (OSError, ValueError) as err:          # JSONDecodeError and UnicodeDecodeError are ValueErrors
        warnings.warn(f"cache entry {path} is unreadable ({type(err).__name__}: {err}); recomputing and "
                      "overwriting it", CacheWarning, stacklevel=3)
        return False, None
    return stored.get("key") == key_json, stored["value"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` through this writer's own temporary file and an atomic rename; a folder that
    cannot be written warns once and stores nothing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, 0o666 & ~_umask())           # mkstemp makes 0600: others sharing the cache must read it
            with os.fdopen(fd, "w") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        warnings.warn(f"could not store the result in the cache at {path} ({type(err).__name__}: {err}); it is "
                      "returned but not cached. Set $DCIRC_CACHE to a writable folder to keep results.",
                      CacheWarning, stacklevel=3)


def cached(kind: str, key: dict, compute: Callable[[], Any], to_json: Callable[[Any], Any] = lambda x: x,
           from_json: Callable[[Any], Any] = lambda x: x, refresh: bool = False,
           folder: str | Path | None = None) -> Any:
    """Return the cached result for ``(kind, key)`` or compute, store and return it.

    Args:
        kind: what is cached (a file-name prefix), e.g. ``"circuit"``.
        key: JSON-serialisable description of everything the result depends on besides the code (include
            :func:`model_fingerprint` or :func:`engine_fingerprint`); :func:`code_fingerprint` is added here.
        compute: produces the result on a miss.
        to_json, from_json: convert the result to and from JSON-serialisable data.
        refresh: recompute (and overwrite) even on a hit.
        folder: the cache folder; ``None``: :func:`cache_dir`.
    """
    full_key = dict(key, code=code_fingerprint())
    key_json = json.loads(json.dumps(full_key, sort_keys=True, default=str))
    digest = hashlib.sha256(json.dumps(key_json, sort_keys=True).encode()).hexdigest()[:20]
    path = Path(folder if folder is not None else cache_dir()) / f"{kind}-{digest}.json"
    if not refresh:
        hit, value = _read(path, key_json)
        if hit:
            return from_json(value)
    value = compute()
    _write(path, json.dumps({"key": key_json, "value": to_json(value)}, default=str))
    return value
