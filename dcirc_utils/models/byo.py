"""Bring-your-own pairs: a teacher and its student given as two hub ids or two local ``save_pretrained`` folders,
named ``"hf:<teacher>,<student>"`` (:data:`HF_PREFIX`; usable as ``DCIRC_PAIR``) or registered under a name with
:func:`register_hf_pair`.

Any decoder family TransformerLens 4.3's ``TransformerBridge`` boots and
:class:`~dcirc_utils.models.decoder.DecoderAdapter` can run block by block (GPT-2, Llama, Qwen2 and their kin:
RMSNorm, rotary position embeddings, grouped-query attention), checked when it loads: the config must describe a
causal decoder the bridge has an adapter for, the two tokenizers must agree, and each model's block-by-block forward
must equal its own (:meth:`~dcirc_utils.models.decoder.DecoderAdapter.check_blockwise_forward`). Hub ids come from the Hugging
Face cache and fail fast offline (:func:`~dcirc_utils.models.hub.hub_snapshot`). The loading itself is
:mod:`~dcirc_utils.models.hf_loader`'s (:func:`load_hf_pair`, re-exported here); this module names the pairs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from .builtin import BUILTIN_PAIRS
from .hf_loader import HF_PREFIX, load_hf_pair
from .registry import PAIRS, ModelPair

__all__ = ["HF_PREFIX", "register_hf_pair", "parse_hf_name", "load_hf_pair"]


def register_hf_pair(name: str, teacher: str | Path, student: str | Path, *, layer_map: list[int] | None = None,
                     tokenizer=None, ungroup_gqa: bool = True, device_map=None,
                     dtype: torch.dtype | None = None) -> Callable[[torch.device], ModelPair]:
    """Register a bring-your-own teacher/student pair under ``name`` (then ``load_pair(name)`` or
    ``DCIRC_PAIR=name`` loads it); without code, ``load_pair("hf:<teacher>,<student>")`` does the same.

    Each model is a hub id (``"Qwen/Qwen2.5-1.5B"``; taken from the Hugging Face cache, downloaded only when the
    hub can be reached and ``HF_HUB_OFFLINE`` is unset) or a local folder written by ``save_pretrained``. It must be
    a causal decoder (``*ForCausalLM`` / ``*LMHeadModel``) that TransformerLens 4.3's ``TransformerBridge`` boots
    and that :class:`~dcirc_utils.models.adapters.DecoderAdapter` can run block by block: GPT-2, Llama, Qwen2 and
    their kin (RMSNorm, rotary position embeddings, grouped-query attention). Loading boots both in compatibility
    mode and checks each with :meth:`~dcirc_utils.models.decoder.DecoderAdapter.check_blockwise_forward` (the block-by-block
    forward equals the model's own). Nothing is loaded here.

    Args:
        name: the registry name (not one of the built-in pairs, and not starting with ``"hf:"``).
        teacher, student: hub ids or local folders.
        layer_map: the teacher block each student block was initialised from, if known (checked against the
            depths when the pair loads; kept as ``ModelPair.layer_map``).
        tokenizer: a tokenizer object, hub id or folder for both models; default: the models' own, which must
            agree. Either way the teacher's and the student's tokenizers (when they ship one) must have the same
            vocabulary.
        ungroup_gqa: give each query head its own copy of its group's key/value projections when a model uses
            grouped-query attention (the same function; more parameters), so that one head's ``k``/``v`` can be
            patched alone, as path patching does. With ``False`` the grouped model is kept and such patches raise
            :class:`~dcirc_utils.models.adapters.FamilyError`.
        device_map: a Hugging Face / accelerate device map (``"auto"`` or module → device) passed to the loader
            (``TransformerBridge.boot_transformers(device_map=...)``, or ``from_pretrained`` when ungrouping) instead
            of a device, for models that do not fit on one. Tested on the CPU only (``{"": "cpu"}`` and ``"auto"``).
        dtype: the models' dtype (default float32).

    Returns:
        The loader ``f(device) -> ModelPair`` now in :data:`PAIRS`.

    Raises:
        ValueError: for a reserved or empty name, an empty model, or a ``layer_map`` that is not a list of ints.
    """
    if not isinstance(name, str) or not name or name.startswith(HF_PREFIX) or name in BUILTIN_PAIRS:
        raise ValueError(f"cannot register a pair as {name!r}: choose a new name (not empty, not a built-in pair "
                         f"{sorted(BUILTIN_PAIRS)}, not starting with {HF_PREFIX!r})")
    for role, src in (("teacher", teacher), ("student", student)):
        if not str(src).strip():
            raise ValueError(f"the {role} is empty: pass a hub id ('org/model') or a save_pretrained folder")
    if layer_map is not None and not all(isinstance(t, int) for t in layer_map):
        raise ValueError(f"layer_map must list one teacher block (an int) per student block, got {layer_map!r}")

    def load(device: torch.device) -> ModelPair:
        return load_hf_pair(name, str(teacher), str(student), device, layer_map=layer_map, tokenizer=tokenizer,
                             ungroup_gqa=ungroup_gqa, device_map=device_map, dtype=dtype)

    PAIRS[name] = load
    return load


def parse_hf_name(name: str) -> tuple[str, str]:
    """``"hf:<teacher>,<student>"`` → ``(teacher, student)``."""
    parts = [p.strip() for p in name[len(HF_PREFIX):].split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"malformed pair name {name!r}: write '{HF_PREFIX}<teacher>,<student>' with two hub ids or "
                         f"two local folders (no other comma), e.g. '{HF_PREFIX}gpt2,distilgpt2' or "
                         f"'{HF_PREFIX}/models/teacher,/models/student'")
    return parts[0], parts[1]
