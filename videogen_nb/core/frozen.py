"""``FrozenMapping``: a deep read-only JSON object, what a request's ``metadata`` and
``extra_body`` hold, so that a ``VideoRequest`` is a true value (hashable, comparable)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from . import media
from .checks import require_utf8
from .errors import ValidationError
from .text import shorten

__all__ = ["FrozenMapping", "shorten_media", "thaw"]


class FrozenMapping(Mapping[str, Any]):
    """A read-only, hashable JSON object: what ``metadata`` and ``extra_body`` hold.

    Nested objects are ``FrozenMapping`` too and lists are tuples, so nothing inside a
    request can change after it was validated. It compares equal to a plain ``dict`` with
    the same content; :meth:`to_dict` gives a mutable, JSON-ready copy.

    >>> m = FrozenMapping.freeze({"cfg_scale": 0.5, "tags": ["a"]}, "extra_body")
    >>> m["tags"], m == {"cfg_scale": 0.5, "tags": ["a"]}
    (('a',), True)
    """

    __slots__ = ("_data",)
    _data: dict[str, Any]

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        # Callers outside this module should use ``freeze`` so that nested values are
        # validated and frozen too.
        object.__setattr__(self, "_data", dict(data or {}))

    @classmethod
    def freeze(cls, value: Any, field: str) -> FrozenMapping:
        """Validate ``value`` as a JSON object with string keys and return a frozen copy.

        Raises :class:`ValidationError` naming the offending path, e.g. ``metadata['a'][0]``.
        """
        if not isinstance(value, Mapping):
            raise ValidationError(
                field, f"must be a mapping (dict) of JSON values, got {type(value).__name__}"
            )
        frozen = _freeze_json(value, field)
        assert isinstance(frozen, FrozenMapping)
        return frozen

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return bool(thaw(self) == thaw(other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMapping({shorten_media(thaw(self))!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMapping, (self._data,))

    def to_dict(self) -> dict[str, Any]:
        """A mutable deep copy as plain ``dict``/``list`` values (JSON-ready)."""
        thawed = thaw(self)
        assert isinstance(thawed, dict)
        return thawed


#: the deepest nesting a JSON value in a request may have (deeper is a mistake, or an attack)
MAX_JSON_DEPTH = 64
#: the most values (objects, lists, strings, numbers, ...) one mapping may hold in all
MAX_JSON_VALUES = 100_000
#: the most characters (keys and strings) a mapping may hold; extra_body may carry images
MAX_JSON_CHARS = {"metadata": 1_000_000}
_DEFAULT_MAX_CHARS = 64 * 1024 * 1024


class _Budget:
    """What one mapping may still hold, so a huge or deep value stops early and clearly."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.values = 0
        self.chars = 0
        self.max_chars = MAX_JSON_CHARS.get(field, _DEFAULT_MAX_CHARS)

    def take(self, path: str, depth: int, chars: int = 0) -> None:
        self.values += 1
        self.chars += chars
        if depth > MAX_JSON_DEPTH:
            raise ValidationError(
                self.field,
                f"is nested more than {MAX_JSON_DEPTH} levels deep (at {shorten(path, 200)}); "
                "flatten it",
            )
        if self.values > MAX_JSON_VALUES:
            raise ValidationError(
                self.field, f"holds more than {MAX_JSON_VALUES:,} values; send less"
            )
        if self.chars > self.max_chars:
            raise ValidationError(
                self.field,
                f"holds more than {self.max_chars:,} characters of keys and text; send less",
            )


def _freeze_json(value: Any, path: str, budget: _Budget | None = None, depth: int = 0) -> Any:
    budget = budget or _Budget(path)
    budget.take(path, depth, len(value) if isinstance(value, str) else 0)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return require_utf8(value, path)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(path, f"{value!r} is not valid JSON; use a finite number")
        return value
    if isinstance(value, Mapping):
        items = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(
                    path, f"keys must be strings, got {key!r} ({type(key).__name__})"
                )
            budget.take(path, depth, len(key))
            require_utf8(key, f"{path} key {shorten(repr(key), 60)}")
            items[key] = _freeze_json(item, f"{path}[{key!r}]", budget, depth + 1)
        return FrozenMapping(items)
    if isinstance(value, (list, tuple)):
        return tuple(
            _freeze_json(item, f"{path}[{i}]", budget, depth + 1) for i, item in enumerate(value)
        )
    raise ValidationError(
        path,
        f"a {type(value).__name__} is not JSON-serialisable; use str, int, float, bool, "
        "None, list or dict",
    )


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


def shorten_media(value: Any) -> Any:
    """``value`` with every data URI and very long string shortened, for reprs."""
    if isinstance(value, str):
        return media.describe_media(value)
    if isinstance(value, dict):
        return {key: shorten_media(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shorten_media(item) for item in value]
    return value
