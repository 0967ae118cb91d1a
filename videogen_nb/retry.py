"""How long to wait before trying an HTTP call again.

``RetryPolicy`` holds the backoff schedule the transport uses for retriable failures
(connection errors, 429, 5xx); ``parse_retry_after`` and ``parse_poll_after`` read the
waits a server asks for. The policy never waits less than the server asked, and never
more than ``max_retry_after``: a server that asks for longer than that gets its error
raised at once (``RateLimitError.retry_after`` carries the wait) so the run layer can
pause the lane instead of a coroutine sleeping for an hour.

>>> policy = RetryPolicy(base_delay=1.0, jitter=0.0)
>>> [policy.delay(n) for n in (1, 2, 3)]
[1.0, 2.0, 4.0]
>>> policy.delay(1, retry_after=7)
7.0
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random
import time
from collections.abc import Mapping

import attrs

from .wire import POLL_AFTER_HEADER

__all__ = ["RetryPolicy", "parse_poll_after", "parse_retry_after"]


def _non_negative(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


@attrs.define(frozen=True, kw_only=True)
class RetryPolicy:
    """Backoff schedule for retriable HTTP failures.

    ``max_attempts`` counts every try, the first included (``1`` means no retry).
    The wait before retry ``n`` (1 for the first retry) is
    ``min(max_delay, base_delay * 2 ** (n - 1))``, shortened by a random fraction of
    up to ``jitter`` so that many clients do not retry in lockstep; a ``retry_after``
    from the server raises the wait to at least that value, up to ``max_retry_after``.

    >>> RetryPolicy(max_attempts=1).max_attempts
    1
    """

    max_attempts: int = attrs.field(default=6)
    base_delay: float = attrs.field(default=0.5, validator=_non_negative)
    max_delay: float = attrs.field(default=30.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.25)
    max_retry_after: float = attrs.field(default=300.0, validator=_non_negative)

    @max_attempts.validator
    def _check_attempts(self, _attribute: attrs.Attribute, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"max_attempts must be a whole number >= 1, got {value!r}")

    @jitter.validator
    def _check_jitter(self, _attribute: attrs.Attribute, value: float) -> None:
        if not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise ValueError(f"jitter must be between 0 and 1, got {value!r}")

    def backoff(self, attempt: int) -> float:
        """The un-jittered exponential wait before retry ``attempt`` (1-based)."""
        exponent = max(0, attempt - 1)
        # 2**exponent overflows float for silly attempt numbers; the cap makes that moot
        if exponent > 60:
            return self.max_delay
        return min(self.max_delay, self.base_delay * (2**exponent))

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (1 for the first retry).

        Jittered exponential backoff, never shorter than ``retry_after`` (what the server
        asked for) and never longer than ``max_retry_after``.
        """
        wait = self.backoff(attempt) * (1.0 - self.jitter * random.random())
        if retry_after is not None and retry_after > wait:
            wait = min(float(retry_after), self.max_retry_after)
        return wait

    def exceeds_limit(self, retry_after: float | None) -> bool:
        """True when the server asked for a longer wait than this policy is willing to sleep."""
        return retry_after is not None and retry_after > self.max_retry_after


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
