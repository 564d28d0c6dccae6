"""The size of a registered pair's teacher without loading it (what the notebooks' setup cell needs to pick a thread
count before the pair loads: :func:`dcirc_utils.core.runtime.threads_for`)."""
from __future__ import annotations

import json

from ..core.paths import MODELS_DIR

__all__ = ["teacher_parameters", "HUB_PARAMETERS"]

#: Teacher sizes of the pairs that load from the hub (or are random models of the hub's architectures).
HUB_PARAMETERS = {"gpt2": 124_439_808, "gpt2-random": 124_439_808, "bert": 109_482_240, "bert-random": 109_482_240}


def teacher_parameters(pair: str) -> int | None:
    """Approximate parameter count of ``pair``'s teacher (embeddings and blocks), read from the offline pair's
    ``config.json``; ``None`` for a pair whose size is not known before loading (bring-your-own pairs)."""
    if pair in HUB_PARAMETERS:
        return HUB_PARAMETERS[pair]
    for folder in (MODELS_DIR / pair, MODELS_DIR / pair.split("-")[0].split("@")[0]):
        config = folder / "teacher" / "config.json"
        if config.exists():
            c = json.loads(config.read_text())
            d = c.get("n_embd") or c.get("hidden_size") or c.get("dim")
            layers = c.get("n_layer") or c.get("num_hidden_layers") or c.get("n_layers")
            if d and layers:
                return int(12 * layers * d * d + c.get("vocab_size", 0) * d)
    return None
