"""SHA-256 digests of model weight files, so that a damaged or replaced file fails loudly instead of loading.

Each offline pair's folder (``data/models/<pair>/``) ships a manifest, ``digests.json``: a JSON object mapping the
path of every weights file relative to that folder (``"student/model.safetensors"``) to its SHA-256 (64 hex
digits). The code that writes the pairs (``dcirc_utils.offline``) records each model's digests with
:func:`record_digests` right after saving it; :func:`~dcirc_utils.models.pairs.load_pair` checks them with
:func:`verify_digests` before it loads an offline pair.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from ..core.paths import REPO_ROOT

__all__ = ["IntegrityWarning", "DIGESTS_FILE", "file_sha256", "read_digests", "record_digests", "verify_digests", "fix_hint"]

#: the manifest's file name, in a pair's folder (the parent of its model folders)
DIGESTS_FILE = "digests.json"


class IntegrityWarning(RuntimeWarning):
    """Weights load unchecked (no digest recorded for them). A RuntimeWarning, so that the notebooks' setup cell,
    which silences UserWarnings, still shows it."""


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_digests(pair_dir: str | Path) -> dict[str, str]:
    """The manifest of ``pair_dir`` (relative path → SHA-256); empty when it has none."""
    path = Path(pair_dir) / DIGESTS_FILE
    if not path.exists():
        return {}
    try:
        digests = json.loads(path.read_text())
    except ValueError as err:
        digests = err
    if not isinstance(digests, dict):
        raise RuntimeError(f"{path} is not a digest manifest (a JSON object of path → SHA-256): {digests}. Fix: "
                           f"restore it with `git checkout -- {path}` when it is shipped, or delete it and record "
                           "the digests again with dcirc_utils.models.integrity.record_digests(<model folder>)")
    return digests


def _weights(model_dir: Path) -> list[Path]:
    return sorted(model_dir.glob("*.safetensors"))


def record_digests(model_dir: str | Path) -> dict[str, str]:
    """Record the SHA-256 of each ``*.safetensors`` file of ``model_dir`` in the manifest of its parent folder (the
    pair's), keeping the other models' entries and dropping entries whose file is gone. Returns the manifest."""
    model_dir = Path(model_dir)
    pair_dir = model_dir.parent
    digests = read_digests(pair_dir)
    digests.update({f"{model_dir.name}/{f.name}": file_sha256(f) for f in _weights(model_dir)})
    digests = {k: v for k, v in sorted(digests.items()) if (pair_dir / k).exists()}
    (pair_dir / DIGESTS_FILE).write_text(json.dumps(digests, indent=1) + "\n")
    return digests


def fix_hint(path: str | Path, retrain: str) -> str:
    """How to repair ``path`` (a weights file or a model folder): ``git checkout`` when it lies in the repository,
    or ``retrain`` (a command)."""
    try:
        restore = (f"restore the shipped version with `git checkout -- {Path(path).resolve().relative_to(REPO_ROOT)}` "
                   "(from the repository root)")
    except ValueError:
        restore = f"replace {path} with an intact copy"
    return f"{restore}, or retrain the model with `{retrain}` (which also records its new digest in {DIGESTS_FILE})"


def verify_digests(model_dirs: dict[Path, str]) -> None:
    """Check every ``*.safetensors`` file of each model folder against its pair's manifest (``model_dirs`` maps each
    folder to the command that retrains it, for the message).

    Files without an entry (a model trained outside the retrain commands) load unchecked, with one warning for all.

    Raises:
        RuntimeError: for a file whose SHA-256 differs from the recorded one, naming the file, both digests and the
            fix.
    """
    unrecorded = []
    for model_dir, retrain in model_dirs.items():
        model_dir = Path(model_dir)
        digests = read_digests(model_dir.parent)
        for f in _weights(model_dir):
            expected = digests.get(f"{model_dir.name}/{f.name}")
            if expected is None:
                unrecorded.append(f)
                continue
            found = file_sha256(f)
            if found != expected:
                raise RuntimeError(
                    f"{f} is damaged or was replaced: its SHA-256 is {found}, but {model_dir.parent / DIGESTS_FILE} "
                    f"records {expected}. Loading it would give wrong numbers (e.g. NaN logits). Fix: "
                    f"{fix_hint(f, retrain)}; if you replaced the file on purpose, record its digest with "
                    f"dcirc_utils.models.integrity.record_digests({str(model_dir)!r})")
    if unrecorded:
        manifests = sorted({str(f.parent.parent / DIGESTS_FILE) for f in unrecorded})
        record = "; ".join(f"record_digests({str(d)!r})" for d in dict.fromkeys(f.parent for f in unrecorded))
        warnings.warn(f"no SHA-256 recorded in {', '.join(manifests)} for {', '.join(map(str, unrecorded))}: damage "
                      "to these weights cannot be detected, so they load unchecked (expected for a model trained "
                      "outside the retrain commands). To record them: from dcirc_utils.models.integrity import "
                      f"record_digests; {record}", IntegrityWarning, stacklevel=2)
