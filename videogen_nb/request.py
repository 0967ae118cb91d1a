"""``VideoRequest``: one video generation request, validated before anything is sent.

SKELETON: fields, ``to_dict`` and ``fingerprint`` are final; validators and media
normalisation are being filled in (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["VideoRequest"]


@attrs.define(frozen=True, kw_only=True)
class VideoRequest:
    """One text-to-video or image-to-video request.

    >>> VideoRequest(model="kling-v1", prompt="a paper boat in the rain", duration=5).duration
    5
    """

    model: str
    prompt: str | None = None
    image: str | None = None
    images: tuple[str, ...] | None = None
    input_reference: str | None = None
    last_image: str | None = None
    size: str | None = None
    aspect_ratio: str | None = None
    quality: str | None = None
    duration: int | None = None
    seconds: int | str | None = None
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    seed: int | None = None
    n: int | None = None
    response_format: str | None = None
    user: str | None = None
    metadata: Mapping[str, Any] | None = None
    extra_body: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The set fields as plain JSON-ready values (media as URL or data-URI strings)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = json.loads(json.dumps(dict(value)))
            out[field.name] = value
        return out

    def fingerprint(self) -> str:
        """A stable sha256 hex digest of the request (for the cache and idempotency keys)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoRequest:
        """Rebuild a request from ``to_dict()`` output (the journal's record)."""
        return cls(**dict(data))

    def replace(self, **changes: Any) -> VideoRequest:
        """A copy with some fields changed (validated again)."""
        return attrs.evolve(self, **changes)
