"""Tolerant readers of single JSON values, shared by the decoders: text, numbers, dates,
progress, URLs and paths into nested objects. Each returns None for what it cannot read,
never raises (except ``load_json`` for a body that is not JSON at all)."""

from __future__ import annotations

import datetime
import html
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..core.errors import APIConnectionError

__all__ = [
    "QUOTE_LIMIT",
    "dig",
    "epoch_of",
    "first_of",
    "header",
    "load_json",
    "progress_of",
    "quote",
    "text_of",
    "usable_url",
]

#: how much of a body an error message quotes
QUOTE_LIMIT = 300


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header value, looked up case-insensitively in any mapping."""
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if str(key).lower() == lowered:
                value = candidate
                break
    return None if value is None else str(value)


def quote(body: Any) -> str:
    """``body`` as short readable text for an error message."""
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body).decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body
    else:
        try:
            text = json.dumps(body, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(body)
    if re.search(r"<\s*(html|body|head|!doctype)", text, re.I):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        text = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
        text = html.unescape(text)
    text = " ".join(text.split())
    if not text:
        return "(empty body)"
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT] + "…"


def load_json(body: Any) -> Any:
    """Parse a bytes/str body as JSON; other values are already parsed."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            raise APIConnectionError(
                f"the gateway answered with something that is not JSON: {quote(body)}"
            ) from None
    return body


def text_of(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def dig(node: Any, path: Iterable[str | int]) -> Any:
    """The value at ``path`` (keys and list indexes) inside ``node``, or None when absent."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return None
            node = node[step]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(step)
    return node


def progress_of(value: Any) -> int | None:
    """0-100 from an int percent, a 0-1 float, or a string such as ``"45%"``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip().rstrip("%").strip()
        if not text:
            return None
        try:
            number: float = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            return None
        # "45%" is a percent even with a decimal point; a bare "0.5" reads like a fraction
        percent = value.strip().endswith("%")
    elif isinstance(value, (int, float)):
        number, percent = value, False
    else:
        return None
    if isinstance(number, float) and not math.isfinite(number):
        return None  # NaN or infinity (JSON's 1e400 parses to inf): not reported
    if isinstance(number, float) and not percent and 0.0 <= number <= 1.0:
        number *= 100
    return max(0, min(100, round(number)))


def epoch_of(value: Any) -> float | None:
    """Float epoch seconds from seconds, milliseconds, a numeric string or an ISO date."""
    if value is None or isinstance(value, bool):
        return None
    number: float | None = None
    if isinstance(value, (int, float)):
        number = _as_float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.timezone.utc)
            return parsed.timestamp()
    if number is None or not math.isfinite(number) or number <= 0:
        return None  # new-api sends 0 for "not yet"; NaN and infinities are not reported
    # 1e11 s is the year 5138 while 1e11 ms is 1973: anything larger is milliseconds.
    return number / 1000.0 if number > 1e11 else number


def _as_float(value: int | float) -> float | None:
    """``value`` as a float; None for an int too large for one (``10**400`` is valid JSON)."""
    try:
        return float(value)
    except OverflowError:
        return None


def first_of(node: dict[str, Any], keys: Iterable[str], reader: Callable[[Any], Any]) -> Any:
    """The first non-None ``reader(node[key])`` over ``keys``."""
    for key in keys:
        value = reader(node.get(key))
        if value is not None:
            return value
    return None


#: any whitespace (``str.isspace``'s set): one C scan, where a generator of
#: ``c.isspace()`` over a 60-character URL was a tenth of a poll's decode
_WHITESPACE = re.compile(r"\s")


def usable_url(value: Any) -> str | None:
    """``value`` when it is an http(s) URL or a path starting with ``/``, else None."""
    text = text_of(value) if isinstance(value, str) else None
    if text is None:
        return None
    if text.startswith("/") and not text.startswith("//"):
        return text
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return None
    if (
        parts.scheme.lower() in ("http", "https")
        and parts.netloc
        and _WHITESPACE.search(text) is None
    ):
        return text
    return None
