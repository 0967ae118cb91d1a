"""How long to wait before trying an HTTP call again.

``RetryPolicy`` holds the backoff schedule the transport uses for retriable failures
(connection errors, 429, 5xx); the waits a server asks for are read by
``dialects.headers`` (``parse_retry_after``, ``parse_poll_after``, re-exported here). The policy never waits less than the server asked, and never
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

import math
import random

import attrs

from ..dialects.headers import parse_poll_after, parse_retry_after

__all__ = ["RetryPolicy", "parse_poll_after", "parse_retry_after"]


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
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
    def _check_attempts(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"max_attempts must be a whole number >= 1, got {value!r}")

    @jitter.validator
    def _check_jitter(self, _attribute: attrs.Attribute[float], value: float) -> None:
        if not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise ValueError(f"jitter must be between 0 and 1, got {value!r}")

    def backoff(self, attempt: int) -> float:
        """The un-jittered exponential wait before retry ``attempt`` (1-based)."""
        exponent = max(0, attempt - 1)
        # 2**exponent overflows float for silly attempt numbers; the cap makes that moot
        if exponent > 60:
            return self.max_delay
        return min(self.max_delay, self.base_delay * float(2**exponent))

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
