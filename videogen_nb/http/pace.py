"""How slow a download may be: a minimum throughput over a window and an overall deadline.

A server that trickles would otherwise hold a download for good: the read timeout restarts
on every chunk, so one byte a second never times out. ``DownloadPace`` says how slow is too
slow, ``PaceMeter`` watches one download against it, and ``read_within`` bounds each wait
for data by the next check, so a server that sends nothing is caught too.
``DownloadTooSlowError`` says which limit was hit.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import aiohttp
import attrs

from ..core.errors import DownloadTooSlowError, ValidationError

__all__ = [
    "DownloadPace",
    "PaceMeter",
    "download_pace",
    "read_within",
    "set_download_pace",
]


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (isinstance(value, (int, float)) and value > 0 and value < float("inf")):
        raise ValidationError(attribute.name, f"must be a positive number, got {value!r}")


@attrs.define(frozen=True, kw_only=True)
class DownloadPace:
    """How slow a download may be before it is given up (``DownloadTooSlowError``).

    Every ``window`` seconds of body the transfer must have averaged at least
    ``min_bytes_per_second``; and the whole download (resumptions and waits included)
    must end within ``base_deadline + size / min_bytes_per_second`` seconds of its start
    when the server announces the size, else within ``unknown_size_deadline``.

    >>> DownloadPace().deadline_for(64 * 1024 * 1024)
    4156.0
    >>> DownloadPace(min_bytes_per_second=1024, window=2.0).window
    2.0
    """

    min_bytes_per_second: float = attrs.field(default=16 * 1024, validator=_positive)
    window: float = attrs.field(default=10.0, validator=_positive)
    base_deadline: float = attrs.field(default=60.0, validator=_positive)
    unknown_size_deadline: float = attrs.field(default=7200.0, validator=_positive)

    def deadline_for(self, size: int | None) -> float:
        """Seconds a download of ``size`` bytes (None: not announced) may take in all."""
        if size is None:
            return float(self.unknown_size_deadline)
        return float(self.base_deadline + size / self.min_bytes_per_second)


_default_pace = DownloadPace()


def set_download_pace(pace: DownloadPace | None = None, **changes: float) -> DownloadPace:
    """Set how slow downloads may be, for this process (``None``: back to the defaults).

    Either a whole ``DownloadPace`` or some of its fields; returns the pace now in force.

    >>> set_download_pace(min_bytes_per_second=4096).min_bytes_per_second
    4096
    >>> set_download_pace()
    DownloadPace(min_bytes_per_second=16384, window=10.0, base_deadline=60.0, unknown_size_deadline=7200.0)
    """
    global _default_pace
    if pace is not None and not isinstance(pace, DownloadPace):
        raise ValidationError("pace", f"must be a DownloadPace, got {type(pace).__name__}")
    base = pace or (_default_pace if changes else DownloadPace())
    try:
        _default_pace = attrs.evolve(base, **changes)
    except TypeError as exc:
        raise ValidationError("pace", str(exc)) from None
    return _default_pace


def download_pace() -> DownloadPace:
    """The pace downloads use when none is given (see ``set_download_pace``)."""
    return _default_pace


class PaceMeter:
    """Watches one download's pace: the overall deadline and each window's throughput."""

    def __init__(self, pace: DownloadPace, shown: str, full_url: str) -> None:
        self.pace = pace
        self.shown = shown
        self.full_url = full_url
        self.started = time.monotonic()
        self.size: int | None = None
        self.deadline = self.started + pace.deadline_for(None)
        self.mark_time = self.started
        self.mark_bytes = 0

    def expect(self, size: int | None) -> None:
        """The server announced the total size: the deadline scales to it."""
        self.size = size
        self.deadline = self.started + self.pace.deadline_for(size)

    def start_window(self, received: int) -> None:
        """A body starts arriving: its first window begins now."""
        self.mark_time = time.monotonic()
        self.mark_bytes = received

    def seconds_to_next_check(self) -> float:
        """How long to wait for data before the pace must be checked again."""
        due = min(self.deadline, self.mark_time + self.pace.window)
        return max(0.0, due - time.monotonic())

    def check(self, received: int) -> None:
        """Raise ``DownloadTooSlowError`` past the deadline or below the minimum rate."""
        now = time.monotonic()
        if now >= self.deadline:
            size = "a body of unannounced size" if self.size is None else f"{self.size:,} bytes"
            raise DownloadTooSlowError(
                f"{self.shown}: gave up at the deadline of {self.deadline - self.started:.0f} s "
                f"for {size} ({received:,} bytes received); set DownloadPace to allow longer",
                url=self.full_url,
                limit="deadline",
            )
        elapsed = now - self.mark_time
        if elapsed < self.pace.window:
            return
        rate = (received - self.mark_bytes) / elapsed
        if rate < self.pace.min_bytes_per_second:
            raise DownloadTooSlowError(
                f"{self.shown}: too slow: {rate:,.0f} B/s over {elapsed:.1f} s, the minimum is "
                f"{self.pace.min_bytes_per_second:,.0f} B/s (set DownloadPace to allow slower)",
                url=self.full_url,
                limit="throughput",
            )
        self.mark_time, self.mark_bytes = now, received


async def read_within(stream: aiohttp.StreamReader, size: int, seconds: float) -> bytes | None:
    """Up to ``size`` bytes from ``stream``, or None when none came within ``seconds``.

    The read runs in the calling task (``asyncio.timeout``), so data already buffered is
    taken without yielding to the loop: a body cut short is then read to its last byte
    before the break is seen, and a resume asks for the right range.
    """
    if sys.version_info >= (3, 11):
        timer = asyncio.timeout(seconds)
        try:
            async with timer:
                return await stream.read(size)
        except TimeoutError:
            if timer.expired():
                return None
            raise  # the transport's own read timeout: a broken transfer, as before
    try:  # Python 3.10: no asyncio.timeout; the read runs in a task of its own
        return await asyncio.wait_for(stream.read(size), seconds)
    except aiohttp.ServerTimeoutError:
        raise
    except asyncio.TimeoutError:
        return None
