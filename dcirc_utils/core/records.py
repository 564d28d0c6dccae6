"""The base of the package's named result types: a frozen dataclass that also reads as a mapping of its fields.

A method's result is a named type with documented fields (``ev.accuracy``), not a bare dict; but tables, figures,
cached JSON and notebooks read results by key (``ev["accuracy"]``, ``dict(ev)``, ``frame(rows)``). A :class:`Record`
serves both::

    @dataclass(frozen=True, eq=False)
    class CosineSummary(Record):
        all: float
        ...

* ``r["all"]`` is ``r.all``; an unknown key raises a ``KeyError`` that lists the fields;
* iteration, ``len``, ``in``, ``keys``/``values``/``items``/``get``, ``dict(r)`` and ``{**r}`` see exactly the fields,
  in declaration order;
* equality is the mapping's (``eq=False`` keeps it): a record equals a dict, or another record, with the same keys
  and values; like a dict, a record is unhashable;
* :meth:`Record.to_dict` is the plain dict (for JSON: ``json.dumps(r.to_dict())``; a record is not a ``dict``, so
  ``json.dumps(r)`` refuses it rather than writing something else), and :meth:`Record.from_mapping` rebuilds the
  record from such a dict, refusing missing or unknown keys.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, Iterator, TypeVar

__all__ = ["Record"]

R = TypeVar("R", bound="Record")

_NAMES: dict[type, tuple[str, ...]] = {}


class Record(Mapping):
    """A read-only mapping of a dataclass's fields; subclass it with ``@dataclass(frozen=True, eq=False)`` (see the
    module's docstring)."""

    __slots__ = ()

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        names = _NAMES.get(cls)
        if names is None:
            if not is_dataclass(cls):
                raise TypeError(f"{cls.__name__} subclasses Record but is not a dataclass: decorate it with "
                                "@dataclass(frozen=True, eq=False)")
            names = _NAMES[cls] = tuple(f.name for f in fields(cls))
        return names

    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(f"{key!r}: a {type(self).__name__} has {list(self._names())}")
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain ``dict`` (values as they are held; nothing is copied or converted)."""
        return {k: getattr(self, k) for k in self._names()}

    @classmethod
    def from_mapping(cls: type[R], data: Mapping[str, Any]) -> R:
        """The record whose fields are ``data``'s keys (e.g. a dict read back from JSON).

        Raises:
            ValueError: if ``data`` lacks a field or has a key that is not one (both named).
        """
        names = cls._names()
        missing = [k for k in names if k not in data]
        unknown = [k for k in data if k not in names]
        if missing or unknown:
            raise ValueError(f"a {cls.__name__} needs exactly the keys {list(names)}; "
                             + "; ".join(([f"missing {missing}"] if missing else [])
                                         + ([f"unknown {unknown}"] if unknown else [])))
        return cls(**{k: data[k] for k in names})
