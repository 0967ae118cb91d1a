"""Keeping the API key out of everything a gateway says.

A gateway that echoes the key (a 401 body quoting the token, a task whose ``error`` or raw
fields repeat the ``Authorization`` header, a debugging header) would otherwise carry it
into exceptions, ``Task.raw``, the journal and every HTML view. The transport knows the key,
so it cleans each answer where it enters (:meth:`Scrubber.body`, :meth:`Scrubber.headers`):
everything above it reads text that no longer holds the key.

What is replaced, wherever it appears: the key, its ``Bearer <key>`` form, its URL-encoded
form, and the key spelled with JSON escapes (``"sk-\\u0061..."`` decodes to the key, so a
JSON body is also read and cleaned value by value when it holds a backslash). A body in
another charset is decoded, cleaned and encoded again.

>>> s = Scrubber("sk-live-123456")
>>> s.text("401: bad token Bearer sk-live-123456 (sk-live-123456)")
'401: bad token Bearer <redacted> (<redacted>)'
>>> s.body(b'{"e": "sk-\\\\u006cive-123456"}', None)
b'{"e":"<redacted>"}'
"""

from __future__ import annotations

import json as jsonlib
import urllib.parse
from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["MIN_SCRUBBED_KEY_CHARS", "REDACTED", "Scrubber"]

#: what stands where the key was
REDACTED = "<redacted>"
#: a key shorter than this is not searched for: replacing every "x" would garble all text
#: (and a key that short is no secret to begin with)
MIN_SCRUBBED_KEY_CHARS = 6
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
#: JSON nesting the cleaner follows; deeper values are left to the byte-level pass
_MAX_DEPTH = 200


class Scrubber:
    """Replaces one secret (and its spellings) in text, bytes, JSON values and headers.

    Its repr never shows the secret. A ``Scrubber(None)`` changes nothing.
    """

    __slots__ = ("_byte_needles", "_secret", "_text_needles")

    def __init__(self, secret: str | None) -> None:
        self._secret = secret if secret and len(secret) >= MIN_SCRUBBED_KEY_CHARS else None
        needles: list[str] = []
        if self._secret is not None:
            encoded = urllib.parse.quote(self._secret, safe="")
            plus = urllib.parse.quote_plus(self._secret, safe="")
            # longest first: a spelling that contains another is replaced whole
            needles = sorted({self._secret, encoded, plus}, key=len, reverse=True)
        self._text_needles = tuple(needles)
        self._byte_needles = tuple(n.encode() for n in needles)

    def __repr__(self) -> str:
        return "<Scrubber <redacted>>"

    def __reduce__(self) -> Any:
        raise TypeError("a Scrubber holds the API key; it cannot be pickled")

    @property
    def active(self) -> bool:
        """True when there is a secret to look for."""
        return self._secret is not None

    def text(self, value: str) -> str:
        """``value`` with every spelling of the secret replaced."""
        for needle in self._text_needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value

    def _raw_bytes(self, value: bytes) -> bytes:
        for needle in self._byte_needles:
            if needle in value:
                value = value.replace(needle, REDACTED.encode())
        return value

    def json_value(self, value: Any, depth: int = 0) -> Any:
        """A parsed JSON value with the secret replaced in every string (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if depth > _MAX_DEPTH:
            return value
        if isinstance(value, list):
            return [self.json_value(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.json_value(v, depth + 1) for k, v in value.items()}
        return value

    def body(self, payload: bytes, charset: str | None) -> bytes:
        """An answer's body with the secret gone, in its own encoding."""
        if self._secret is None or not payload:
            return payload
        cleaned = self._raw_bytes(payload)
        utf8 = charset is None or charset.lower() in _UTF8_NAMES
        if utf8 and b"\\" not in cleaned:
            return cleaned
        try:
            text = cleaned.decode(charset or "utf-8", errors="replace")
        except LookupError:
            return cleaned
        cleaned_text = self._escaped_json(self.text(text))
        if cleaned_text == text and utf8:
            return cleaned
        return cleaned_text.encode(charset or "utf-8", errors="replace")

    def _escaped_json(self, text: str) -> str:
        """``text`` re-serialised when it is JSON hiding the secret behind escapes."""
        if "\\" not in text:
            return text
        try:
            value = jsonlib.loads(text)
        except (ValueError, RecursionError):
            return text
        cleaned = self.json_value(value)
        if cleaned == value:
            return text
        return jsonlib.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))

    def headers(self, headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
        """A read-only copy of ``headers`` with the secret replaced in every value."""
        out: CIMultiDict[str] = CIMultiDict()
        for name, value in headers.items():
            out.add(name, self.text(value))
        return CIMultiDictProxy(out)


def scrub_sent_key(request_headers: Mapping[str, str], text: str) -> str:
    """``text`` without the bearer key that ``request_headers`` sent (unchanged when none).

    For code that reads an answer's body itself (``download``): the key to hide is the one
    that went out with that very request.
    """
    sent = request_headers.get("Authorization") or ""
    scheme, _, key = str(sent).partition(" ")
    if scheme.lower() != "bearer" or not key:
        return text
    return Scrubber(key.strip()).text(text)
