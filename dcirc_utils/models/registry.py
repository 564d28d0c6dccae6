"""The pair record and the registry every loader writes into: :class:`ModelPair`, :data:`PAIRS`,
:func:`register_pair`, and the errors a loader raises.

The lowest module of the pair stack: the loaders (:mod:`~dcirc_utils.models.builtin`, :mod:`~dcirc_utils.models.byo`)
register here, and :func:`~dcirc_utils.models.pairs.load_pair` (the public entry point, which re-exports these names)
looks pairs up here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .adapters import ModelAdapter

__all__ = ["ModelPair", "PAIRS", "register_pair", "PairUnavailableError", "TokenizerMismatchError"]


class PairUnavailableError(RuntimeError):
    """A pair's weights or tokenizer cannot be found offline; the message names the fixes."""


class TokenizerMismatchError(ValueError):
    """A teacher and a student that do not share one vocabulary (or a tokenizer larger than a model's embedding);
    the message says which differ and how to fix it."""


@dataclass
class ModelPair:
    """A teacher, its distilled student, their shared tokenizer and the pair's name.

    Attributes:
        name: registry name (``"mini"``, ``"gpt2"``, ``"gpt2-random"``).
        teacher, student: :class:`~dcirc_utils.models.adapters.ModelAdapter` s (``.model`` is the module, in eval
            mode with gradients off).
        tokenizer: the Hugging Face tokenizer both use.
        description: one line saying what the weights are (notebooks print it).
        layer_map: the teacher block each student block was initialised from, when known (``llama-minitron``'s and
            ``llama-random``'s, a bring-your-own pair's ``layer_map``); ``None`` otherwise, where notebooks assume
            DistilGPT2's rule (:func:`~dcirc_utils.models.pairs.pair_layer_map`).
    """

    name: str
    teacher: ModelAdapter
    student: ModelAdapter
    tokenizer: object
    description: str
    layer_map: list[int] | None = None

    @property
    def models(self) -> dict[str, ModelAdapter]:
        """``{"teacher": ..., "student": ...}``."""
        return {"teacher": self.teacher, "student": self.student}


#: pair name → loader ``f(device, **options) -> ModelPair``
PAIRS: dict[str, Callable[[torch.device], ModelPair]] = {}


def register_pair(name: str):
    """Decorator adding a loader ``f(device) -> ModelPair`` to :data:`PAIRS`."""
    def wrap(fn):
        PAIRS[name] = fn
        return fn
    return wrap
