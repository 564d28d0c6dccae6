"""Weight surgery that keeps a model's function: grouped-query attention ungrouped into one key/value head per query
head (:func:`ungroup_kv`), so that one head's key or value can be patched alone (path patching does).

Used when a bring-your-own pair loads (:mod:`~dcirc_utils.models.byo`, ``register_hf_pair(..., ungroup_gqa=True)``);
students initialised from their teachers are :mod:`~dcirc_utils.models.init`.
"""
from __future__ import annotations

import torch

from .adapters import FamilyError

__all__ = ["ungroup_kv"]


def ungroup_kv(hf_model, n_heads: int, n_kv: int, head_dim: int, source: str) -> None:
    """Give every query head its own copy of its group's key and value projections (in place).

    A grouped-query model with ``n_kv`` key/value heads computes exactly what the same model with ``n_heads``
    key/value heads computes when each group's rows of ``k_proj``/``v_proj`` are repeated for its ``n_heads // n_kv``
    query heads; then one head's key or value can be patched without touching its group's other heads.

    Raises:
        FamilyError: when the attention modules are not the Llama/Qwen2 layout (separate ``k_proj``/``v_proj`` linear
            layers of ``n_kv · head_dim`` outputs and a ``num_key_value_groups`` attribute).
    """
    g = n_heads // n_kv
    layers = 0
    for module in hf_model.modules():
        if getattr(module, "num_key_value_groups", None) != g:
            continue
        for proj in ("k_proj", "v_proj"):
            lin = getattr(module, proj, None)
            if not isinstance(lin, torch.nn.Linear) or lin.out_features != n_kv * head_dim:
                raise FamilyError(f"{source!r}: cannot ungroup its grouped-query attention ({type(module).__name__} "
                                  f"has no {proj} linear layer of {n_kv}×{head_dim} outputs); load it with "
                                  "register_hf_pair(..., ungroup_gqa=False) (then one head's k/v cannot be patched "
                                  "alone)")
            new = torch.nn.Linear(lin.in_features, n_heads * head_dim, bias=lin.bias is not None,
                                  device=lin.weight.device, dtype=lin.weight.dtype)
            with torch.no_grad():
                new.weight.copy_(lin.weight.unflatten(0, (n_kv, head_dim)).repeat_interleave(g, 0).flatten(0, 1))
                if lin.bias is not None:
                    new.bias.copy_(lin.bias.unflatten(0, (n_kv, head_dim)).repeat_interleave(g, 0).flatten(0, 1))
            setattr(module, proj, new)
        module.num_key_value_groups = 1
        if hasattr(module, "num_key_value_heads"):
            module.num_key_value_heads = n_heads
        layers += 1
    text_cfg = hf_model.config.get_text_config() if hasattr(hf_model.config, "get_text_config") else hf_model.config
    if layers != text_cfg.num_hidden_layers:
        raise FamilyError(f"{source!r}: found {layers} grouped attention modules for {text_cfg.num_hidden_layers} "
                          "layers, so its grouped-query attention cannot be ungrouped; load it with "
                          "register_hf_pair(..., ungroup_gqa=False)")
    text_cfg.num_key_value_heads = n_heads
