"""The waits a gateway asks for in its headers: ``Retry-After`` and ``openai-poll-after-ms``.

They live with the wire formats because the decoder reads them into ``Task.poll_after`` and
``RateLimitError.retry_after``; the HTTP layer's retry policy reads them too.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import time
from collections.abc import Mapping

from ..core.wire import POLL_AFTER_HEADER

__all__ = ["parse_poll_after", "parse_retry_after"]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when the header is absent or unreadable; a date in the past gives 0.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
    10.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; a naive result means the zone was "-0000"
        when = when.replace(tzinfo=datetime.timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def parse_poll_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from the ``openai-poll-after-ms`` header, or None when absent or unreadable.

    >>> parse_poll_after({"openai-poll-after-ms": "1500"})
    1.5
    """
    if not headers:
        return None
    raw = headers.get(POLL_AFTER_HEADER)
    if raw is None:
        # plain dicts are case-sensitive; the transport passes a case-insensitive mapping
        for key, val in headers.items():
            if key.lower() == POLL_AFTER_HEADER:
                raw = val
                break
    if raw is None:
        return None
    try:
        millis = float(str(raw).strip())
    except ValueError:
        return None
    if not math.isfinite(millis) or millis < 0:
        return None
    return millis / 1000.0
