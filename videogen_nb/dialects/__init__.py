"""Wire formats; import only core/: how a ``VideoRequest`` goes out and how any task response comes back.

Four dialects encode requests (``get_dialect(name, **options)``):

- ``"unified"`` (default): ``POST /v1/video/generations`` as new-api and its forks read it;
  fields new-api ignores are folded into ``metadata``.
- ``"openai"``: ``POST /v1/videos`` (JSON, or multipart for a local reference image).
- ``"kling"``: uniall-style Kling (``aspect_ratio``, string ``duration``, ``extra_body``).
- ``"openrouter"``: OpenRouter's ``POST /api/v1/videos`` and its ``polling_url``.

``"auto"`` is not a dialect but a client behaviour: the client speaks unified and, while
a submit route answers 404/405 (nothing was created), moves along ``AUTO_ORDER`` (unified,
then openai's ``/v1/videos``, then OpenRouter's ``/api/v1/videos``): ``auto_fallback``.

One decoder (``decode``, with the value readers of ``readers``) reads the answers of all of
them into a ``Task``.

>>> from videogen_nb.core.request import VideoRequest
>>> get_dialect("kling").build_submit(VideoRequest(model="kling-v1", prompt="hi", duration=5)).json
{'model': 'kling-v1', 'prompt': 'hi', 'duration': '5'}
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ValidationError
from .base import Dialect, FormPart, WireRequest
from .decode import (
    decode_error,
    decode_models,
    decode_task,
    parse_poll_after,
    parse_retry_after,
    parse_status,
)
from .kling import KlingDialect
from .openai import OpenAIDialect
from .openrouter import OpenRouterDialect
from .unified import UnifiedDialect

__all__ = [
    "AUTO_ORDER",
    "DIALECT_NAMES",
    "Dialect",
    "FormPart",
    "KlingDialect",
    "OpenAIDialect",
    "OpenRouterDialect",
    "UnifiedDialect",
    "WireRequest",
    "auto_fallback",
    "bind_base",
    "decode_error",
    "decode_models",
    "decode_task",
    "get_dialect",
    "parse_poll_after",
    "parse_retry_after",
    "parse_status",
]

_DIALECTS: dict[str, type[Dialect]] = {
    UnifiedDialect.name: UnifiedDialect,
    OpenAIDialect.name: OpenAIDialect,
    KlingDialect.name: KlingDialect,
    OpenRouterDialect.name: OpenRouterDialect,
}

#: the names ``get_dialect`` accepts, the default first
DIALECT_NAMES: tuple[str, ...] = tuple(_DIALECTS)


def get_dialect(name: str, **options: Any) -> Dialect:
    """A new dialect by name (case-insensitive), built with its constructor ``options``.

    >>> get_dialect("unified", top_level=("seed",)).top_level
    ('seed',)
    """
    key = name.strip().lower() if isinstance(name, str) else ""
    cls = _DIALECTS.get(key)
    if cls is None:
        hint = " ('auto' is chosen by the client, not a dialect itself)" if key == "auto" else ""
        raise ValidationError(
            "dialect", f"unknown dialect {name!r}{hint}; choose from {', '.join(DIALECT_NAMES)}"
        )
    try:
        return cls(**options)
    except TypeError as exc:
        raise ValidationError("dialect", f"bad option for the {key} dialect: {exc}") from None


#: the dialects ``dialect="auto"`` tries, in order, while a submit route is missing
AUTO_ORDER: tuple[str, ...] = ("unified", "openai", "openrouter")


def bind_base(dialect: Dialect, base_url: str) -> Dialect:
    """``dialect`` fitted to the gateway's ``base_url`` (OpenRouter's routes depend on
    whether the base already ends in ``/api``; the OpenAI dialect's URL-reference form on
    whether it is OpenAI's own API); other dialects are returned as they are."""
    if isinstance(dialect, (OpenRouterDialect, OpenAIDialect)):
        dialect.bind_base(base_url)
    return dialect


def auto_fallback(current: Dialect, base_url: str) -> Dialect | None:
    """The dialect ``"auto"`` tries after ``current``'s submit route answered 404/405, or
    None when there is none left (a missing route created nothing, so trying the next one
    cannot pay twice).

    >>> auto_fallback(get_dialect("unified"), "http://gw.example").name
    'openai'
    >>> auto_fallback(get_dialect("openai"), "http://gw.example").name
    'openrouter'
    >>> auto_fallback(get_dialect("openrouter"), "http://gw.example") is None
    True
    """
    if current.name not in AUTO_ORDER:
        return None
    following = AUTO_ORDER[AUTO_ORDER.index(current.name) + 1 :]
    if not following:
        return None
    return bind_base(get_dialect(following[0]), base_url)
