"""One vocabulary for the parts of a transformer: components, activation sites and teacher/student labels.

Everything else in the package names a head or an MLP with :class:`Component` and an activation with
:class:`Site`; strings appear only at the edges (printing, parsing user input), through the functions here. The
model families (``dcirc_utils.models.adapters``) translate a :class:`Site` into their library's hook name, so that
no code above them spells a hook name.

Printed forms (the study's):

* a head: ``"4.10"`` (layer 4, head 10); an MLP: ``"MLP3"``;
* a teacher/student pair: ``"T9/S4"`` for MLPs, ``"T4.4/S2.4"`` for heads (:func:`pair_label`).

Used by every notebook.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

__all__ = ["Component", "Site", "SITE_KINDS", "parse_component", "all_components", "pair_label", "parse_pair_label",
           "student_layer_map"]

#: Activation sites every model family provides (shapes for a batch of ``batch`` prompts of ``pos`` tokens):
#:
#: * ``"resid_pre"`` — the residual stream entering block ``layer`` ``[batch, pos, d_model]``;
#: * ``"q"``, ``"k"``, ``"v"`` — each head's query/key/value ``[batch, pos, head, d_head]``;
#: * ``"pattern"`` — attention probabilities ``[batch, head, query, key]``;
#: * ``"z"`` — each head's output before the output projection ``[batch, pos, head, d_head]``;
#: * ``"mlp_in"`` — what the MLP reads, patchable without changing the residual stream ``[batch, pos, d_model]``;
#: * ``"mlp_out"`` — what the MLP writes ``[batch, pos, d_model]``;
#: * ``"resid_final"`` — the residual stream after the last block, before the output head (``layer`` is ``None``).
SITE_KINDS: tuple[str, ...] = ("resid_pre", "q", "k", "v", "pattern", "z", "mlp_in", "mlp_out", "resid_final")


class Site(NamedTuple):
    """An activation of a model: its kind (one of :data:`SITE_KINDS`) and block (``None`` for ``resid_final``)."""

    kind: str
    layer: int | None = None

    def __str__(self) -> str:
        return self.kind if self.layer is None else f"{self.kind}@{self.layer}"


@dataclass(frozen=True, order=True)
class Component:
    """An attention head (``head >= 0``) or the MLP (``head == -1``) of a layer.

    Printed as the study writes them: ``"4.10"`` for layer 4 head 10, ``"MLP3"`` for the MLP of layer 3; read back
    with :func:`parse_component` (or ``Component.parse``).
    """

    layer: int
    head: int = -1

    def __post_init__(self):
        if self.layer < 0 or self.head < -1:
            raise ValueError(f"a component has layer >= 0 and head >= 0 (or -1 for the MLP), got layer={self.layer}, "
                             f"head={self.head}")

    @property
    def is_mlp(self) -> bool:
        return self.head < 0

    @property
    def site(self) -> Site:
        """The activation this component writes: its head's slice of ``z``, or ``mlp_out``."""
        return Site("mlp_out" if self.is_mlp else "z", self.layer)

    @property
    def index(self) -> int | None:
        """Index into the site's head axis (``None`` for an MLP: the whole activation)."""
        return None if self.is_mlp else self.head

    @classmethod
    def parse(cls, text: "str | Component") -> "Component":
        return parse_component(text)

    @classmethod
    def mlp(cls, layer: int) -> "Component":
        """The MLP of ``layer`` (printed ``"MLP<layer>"``)."""
        return cls(layer, -1)

    def __str__(self) -> str:
        return f"MLP{self.layer}" if self.is_mlp else f"{self.layer}.{self.head}"

    __repr__ = __str__


class _HeadConstructor:
    """``Component.head``: read on the class, the constructor ``Component.head(layer, head)`` (an attention head);
    read on a component, its head index (``-1`` for an MLP: prefer :attr:`Component.is_mlp`). A component's fields
    live in its instance dictionary, which wins over this non-data descriptor, so the field is untouched."""

    def __get__(self, obj, cls=None):
        if obj is not None:                              # only reached if an instance lacks the field
            raise AttributeError("head")
        return self._build

    @staticmethod
    def _build(layer: int, head: int) -> "Component":
        """Head ``head`` of ``layer`` (printed ``"<layer>.<head>"``); ``head`` must be at least 0."""
        if head < 0:
            raise ValueError(f"Component.head(layer, head) needs head >= 0, got {head}; the MLP of a layer is "
                             f"Component.mlp({layer})")
        return Component(layer, head)


Component.head = _HeadConstructor()      # after @dataclass has read the field's default (-1)


_COMPONENT = re.compile(r"\s*(?:MLP\s*(\d+)|(\d+)\.(\d+))\s*")


def parse_component(text: "str | Component") -> Component:
    """``"4.10"`` → head 10 of layer 4; ``"MLP3"`` → MLP of layer 3; a :class:`Component` is returned as it is.

    Raises:
        ValueError: for anything else, naming the two accepted forms.
    """
    if isinstance(text, Component):
        return text
    m = _COMPONENT.fullmatch(str(text))
    if not m:
        raise ValueError(f"cannot read component {text!r}: write heads as 'layer.head' (e.g. '4.10') and MLPs as "
                         "'MLP<layer>' (e.g. 'MLP3')")
    return Component(int(m.group(1))) if m.group(1) else Component(int(m.group(2)), int(m.group(3)))


def all_components(n_layers: int, n_heads: int) -> list[Component]:
    """Every head and MLP, layer by layer (heads first, then the MLP)."""
    return [Component(l, h) for l in range(n_layers) for h in list(range(n_heads)) + [-1]]


def _short(c: Component) -> str:
    return str(c.layer) if c.is_mlp else str(c)


def pair_label(teacher: Component, student: Component) -> str:
    """A teacher/student pair as the study wrote MLP pairs: ``"T9/S4"`` (MLPs), ``"T4.4/S2.4"`` (heads).

    Raises:
        ValueError: if one is a head and the other an MLP.
    """
    teacher, student = parse_component(teacher), parse_component(student)
    if teacher.is_mlp != student.is_mlp:
        raise ValueError(f"cannot pair {teacher} with {student}: a head matches a head and an MLP an MLP")
    return f"T{_short(teacher)}/S{_short(student)}"


_PAIR = re.compile(r"\s*T(\d+)(?:\.(\d+))?\s*/\s*S(\d+)(?:\.(\d+))?\s*")


def parse_pair_label(text: str) -> tuple[Component, Component]:
    """``"T9/S4"`` → ``(MLP9, MLP4)``; ``"T4.4/S2.4"`` → ``(4.4, 2.4)``: ``(teacher, student)``.

    Raises:
        ValueError: for anything else.
    """
    m = _PAIR.fullmatch(str(text))
    if not m or (m.group(2) is None) != (m.group(4) is None):
        raise ValueError(f"cannot read pair {text!r}: write 'T9/S4' for MLPs or 'T4.4/S2.4' for heads")
    tl, th, sl, sh = m.groups()
    return (Component(int(tl), -1 if th is None else int(th)), Component(int(sl), -1 if sh is None else int(sh)))


def student_layer_map(n_teacher: int, n_student: int) -> list[int]:
    """Which teacher block each student block copies: ``round(i·(T−1)/(S−1))`` for ``i = 0..S−1``.

    Evenly spread, first and last block always kept; 12 → 6 gives ``[0, 2, 4, 7, 9, 11]``, the blocks of GPT-2 that
    DistilGPT2 was initialised from. Python's ``round`` sends halves to the even neighbour, so 6 → 3 gives
    ``[0, 2, 5]``. A one-block student copies block 0. (The offline pairs' recipe, ``dcirc_utils.offline.distill``;
    notebooks 03 and 04 compare students with the blocks they copy.)

    Raises:
        ValueError: unless ``1 <= n_student <= n_teacher``.
    """
    if not 1 <= n_student <= n_teacher:
        raise ValueError(f"need 1 <= n_student <= n_teacher, got n_teacher={n_teacher}, n_student={n_student}: "
                         "a student copies a subset of the teacher's blocks")
    if n_student == 1:
        return [0]
    return [round(i * (n_teacher - 1) / (n_student - 1)) for i in range(n_student)]


def check_layer_map(layer_map: Sequence[int], n_teacher: int, n_student: int) -> list[int]:
    """``layer_map`` as ints, checked to list ``n_student`` increasing teacher layers.

    Raises:
        ValueError: otherwise.
    """
    lm = [int(t) for t in layer_map]
    if len(lm) != n_student or any(b <= a for a, b in zip(lm, lm[1:])) or not all(0 <= t < n_teacher for t in lm):
        raise ValueError(f"layer_map {lm} must list {n_student} increasing teacher layers in 0..{n_teacher - 1}")
    return lm


__all__ += ["check_layer_map"]
