"""Multipart bodies: what ``Transport.send(form=...)`` reads from a part, and the aiohttp
``FormData`` built from the parts (afresh for every attempt: it can be sent only once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import aiohttp

__all__ = ["FormPartLike", "build_form"]


class FormPartLike(Protocol):
    """What ``send(form=...)`` reads from each part (``dialects.base.FormPart`` fits).

    Read-only properties, so a frozen attrs class satisfies it.
    """

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str | bytes: ...

    @property
    def filename(self) -> str | None: ...

    @property
    def content_type(self) -> str | None: ...


def build_form(parts: Sequence[FormPartLike]) -> aiohttp.FormData:
    """A ``multipart/form-data`` body with ``parts`` in order."""
    form = aiohttp.FormData(default_to_multipart=True)
    for part in parts:
        kwargs: dict[str, Any] = {}
        if part.filename is not None:
            kwargs["filename"] = part.filename
        if part.content_type is not None:
            kwargs["content_type"] = part.content_type
        form.add_field(part.name, part.value, **kwargs)
    return form
