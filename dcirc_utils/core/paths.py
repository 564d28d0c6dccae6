"""Where the repository keeps its data, models, notebooks and cache (one place for every path).

The package is installed in editable mode from the repository (README), so these resolve inside the checkout.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["REPO_ROOT", "DATA_DIR", "MODELS_DIR", "NOTEBOOKS_DIR", "DEFAULT_CACHE_DIR"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
MODELS_DIR = DATA_DIR / "models"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
DEFAULT_CACHE_DIR = REPO_ROOT / ".dcirc_cache"
