"""A complete API answer (``Response``), reading it within a size limit, and the fallback
error decoder that turns a non-2xx answer into an ``APIError`` without knowing any JSON shape."""

from __future__ import annotations

import http
import json as jsonlib
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import attrs

from ..core.errors import APIConnectionError, APIError, api_error_for_status
from ..core.text import shorten
from ..core.urls import redact_url
from .retry import parse_poll_after, parse_retry_after

__all__ = [
    "MAX_RESPONSE_BYTES",
    "ErrorDecoder",
    "Response",
    "default_error_decoder",
    "read_limited",
    "server_wait",
]

#: A JSON API answer larger than this is refused: videos go through ``download``, not ``send``.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

ErrorDecoder = Callable[[int, Any, Mapping[str, str]], APIError]
"""``(status, body, headers) -> APIError``: body is the parsed JSON, or the text when it is not JSON."""


def _decode_text(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def default_error_decoder(status: int, body: Any, headers: Mapping[str, str]) -> APIError:
    """Fallback error decoder: the ``APIError`` for ``status`` with the raw body as its message.

    The client replaces it with ``dialects.decode.decode_error``, which knows the gateways'
    error shapes; this one knows none, by design.
    """
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body).decode("utf-8", errors="replace")
    elif isinstance(body, str):
        text = body
    elif body is None:
        text = ""
    else:
        text = jsonlib.dumps(body, ensure_ascii=False)
    if not text.strip():
        try:
            text = http.HTTPStatus(status).phrase
        except ValueError:
            text = "no error message"
    retry_after = parse_retry_after(headers.get("Retry-After")) if headers else None
    return api_error_for_status(status, shorten(text, 2000), body=body, retry_after=retry_after)


def _show_body_size(body: bytes) -> str:
    return f"<{len(body)} bytes>"


@attrs.define(frozen=True)
class Response:
    """A complete 2xx answer: ``status``, case-insensitive ``headers``, raw ``body`` bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes = attrs.field(repr=_show_body_size)
    url: str = attrs.field(default="", repr=redact_url)

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ('' when the header is absent)."""
        raw = self.headers.get("Content-Type") or ""
        return raw.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of Content-Type, if any."""
        raw = self.headers.get("Content-Type") or ""
        for param in raw.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip('"') or None
        return None

    @property
    def text(self) -> str:
        """The body decoded as text (``charset`` from the headers, else UTF-8; bad bytes replaced)."""
        return _decode_text(self.body, self.charset)

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises ``APIConnectionError`` quoting the (shortened) text when it is not JSON: a
        gateway answer that is not JSON is not a usable answer.
        """
        try:
            return jsonlib.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            ctype = self.content_type or "no content type"
            shown = shorten(self.text, 200) or "an empty body"
            raise APIConnectionError(
                f"expected JSON from {redact_url(self.url) or 'the gateway'}, "
                f"got HTTP {self.status} ({ctype}): {shown!r}"
            ) from None


def server_wait(headers: Mapping[str, str]) -> float | None:
    """The longer of ``Retry-After`` and ``openai-poll-after-ms``, when either is present."""
    waits = [
        w
        for w in (parse_retry_after(headers.get("Retry-After")), parse_poll_after(headers))
        if w is not None
    ]
    return max(waits) if waits else None


async def read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body of ``resp``; ``APIConnectionError`` once it passes ``limit`` bytes."""
    length = resp.content_length
    if length is not None and length > limit:
        raise APIConnectionError(
            f"the answer is {length} bytes, more than the {limit}-byte limit for API calls"
        )
    if length is not None and "Content-Encoding" not in resp.headers:
        # a plain body of known size (every status poll): read at once, not chunk by chunk
        return await resp.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise APIConnectionError(f"the answer exceeded the {limit}-byte limit for API calls")
        chunks.append(chunk)
    return b"".join(chunks)
