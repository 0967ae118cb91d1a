"""The leaderboard's arithmetic and text rules: Wilson interval, percentile, how a failure
is grouped, and how ``since=`` is read. Pure functions, no journal."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any

from ..core.errors import ValidationError
from ..core.states import EntryState

__all__ = ["failure_reason", "parse_since", "percentile", "wilson_interval"]

_Z95 = 1.959963984540054
_REASON_CHARS = 60
# a word of 8+ id characters with a digit in it: task ids, request ids, hashes, uuids
_ID_RE = re.compile(r"(?<![\w-])(?=[\w-]*\d)[\w-]{8,}(?![\w-])")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")
_SINCE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def wilson_interval(successes: float, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (95 % by default).

    ``successes`` may be fractional (ties count half). ``(0.0, 1.0)`` when ``n`` is 0.

    >>> [round(x, 4) for x in wilson_interval(3, 4)]
    [0.3006, 0.9544]
    """
    if n <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, successes / n))
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation between ranks
    (numpy's default); None for no values.

    >>> percentile([10, 20, 30, 40], 50), percentile([10, 20, 30, 40], 95)
    (25.0, 38.5)
    """
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def failure_reason(error: str | None, error_code: str | None, state: str | None = None) -> str:
    """The group a failure falls in: its error code, or its message with ids and numbers
    masked, at most 60 characters.

    >>> failure_reason("TaskFailedError: task_8f3kq9z2 failed after 31 s", None)
    'TaskFailedError: <id> failed after # s'
    """
    if error_code:
        return str(error_code)
    if not error or not str(error).strip():
        return "timed out" if state == EntryState.TIMED_OUT else "(no message)"
    text = _ID_RE.sub("<id>", str(error))
    text = _NUMBER_RE.sub("#", text)
    text = " ".join(text.split())
    if len(text) > _REASON_CHARS:
        text = text[: _REASON_CHARS - 1].rstrip() + "…"
    return text


def parse_since(value: Any) -> dt.datetime | dt.date | dt.timedelta | float | None:
    """``since=`` as the journal takes it: a datetime, date, timedelta or epoch seconds as
    they are; ``"7d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"90s"`` as "that long ago"; an ISO
    date or time string (``"2026-05-01"``). Anything else raises ``ValidationError``."""
    if value is None or isinstance(value, (dt.datetime, dt.date, dt.timedelta)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _SINCE_RE.match(value)
        if match:
            return dt.timedelta(
                seconds=float(match.group(1)) * _SINCE_UNITS[match.group(2).lower()]
            )
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(
        "since",
        f"{value!r} is not a time; use '7d', '12h', '30m', '2w', an ISO date such as "
        "'2026-05-01', a datetime, or epoch seconds",
    )
