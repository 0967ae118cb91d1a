"""Wire formats; import only core/: how a ``VideoRequest`` goes out and how any task response comes back.

Three dialects encode requests (``get_dialect(name, **options)``):

- ``"unified"`` (default): ``POST /v1/video/generations`` as new-api and its forks read it;
  fields new-api ignores are folded into ``metadata``.
- ``"openai"``: ``POST /v1/videos`` (JSON, or multipart for a local reference image).
- ``"kling"``: uniall-style Kling (``aspect_ratio``, string ``duration``, ``extra_body``).

``"auto"`` is not a dialect but a client behaviour: the client speaks unified and switches
to openai when ``/v1/video/generations`` answers 404/405.

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
from .unified import UnifiedDialect

__all__ = [
    "DIALECT_NAMES",
    "Dialect",
    "FormPart",
    "KlingDialect",
    "OpenAIDialect",
    "UnifiedDialect",
    "WireRequest",
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
