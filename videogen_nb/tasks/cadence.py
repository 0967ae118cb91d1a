"""A gateway's refresh cadence, learned from when its answers change.

new-api does not ask its vendors on every poll: a background loop refreshes every task about
every 15 s, so an answer can only change at those ticks and polling between them is wasted.
Each poll whose answer differs from the previous poll of the same task says "a tick happened
in (previous poll, this poll]". Many tasks polled at different moments narrow those intervals
down; ticks that line up on a period are a cadence. A gateway whose answers change at any
moment (progress that rises continuously) produces change intervals that no period explains,
and ``period`` stays None.
"""

from __future__ import annotations

from collections import deque

__all__ = ["Cadence"]

#: intervals wider than this say little about when the tick happened (wider ones still
#: narrow a tick down once intersected with others)
MAX_INTERVAL = 16.0
#: a period shorter than this is not worth aligning to (a 1 s poll loop already is)
MIN_PERIOD = 2.0
#: the longest period looked for, and the resolution of the search
MAX_PERIOD = 60.0
PERIOD_STEP = 0.05
#: how far a client's clock readings may miss the server's moment of reading
SLACK = 0.05
#: recompute after this many new intervals
RECOMPUTE_EVERY = 32
#: at most this many (the narrowest) tick intervals enter the period search
MAX_CLUSTERS = 40


class Cadence:
    """Learns ``period`` and tick times from change intervals (epoch seconds)."""

    def __init__(self, *, keep: int = 800) -> None:
        self._intervals: deque[tuple[float, float]] = deque(maxlen=keep)
        self._fresh = 0
        #: seconds between two refreshes of the gateway, or None while unknown
        self.period: float | None = None
        #: a time no earlier than a refresh tick (ticks are ``anchor + k * period``)
        self.anchor: float | None = None

    def observe_change(self, before: float, after: float) -> None:
        """An answer differed between a poll at ``before`` and one at ``after``."""
        if not 0 < after - before <= MAX_INTERVAL:
            return
        self._intervals.append((before, after))
        self._fresh += 1
        if self._fresh >= RECOMPUTE_EVERY:
            self._fresh = 0
            self._estimate()

    def next_tick(self, after: float) -> float | None:
        """The first refresh tick later than ``after``, or None while the cadence is unknown."""
        if self.period is None or self.anchor is None:
            return None
        k = (after - self.anchor) // self.period + 1
        return self.anchor + k * self.period

    def last_tick(self, at: float) -> float | None:
        """The latest refresh tick no later than ``at``, or None while the cadence is unknown."""
        if self.period is None or self.anchor is None:
            return None
        return self.anchor + ((at - self.anchor) // self.period) * self.period

    def _estimate(self) -> None:
        clusters = _clusters(sorted(self._intervals))
        # the narrowest say the most, and bound the search's cost
        narrow = sorted(sorted(clusters, key=lambda c: c[1] - c[0])[:MAX_CLUSTERS])
        found = _fit(narrow)
        self.period, self.anchor = found if found is not None else (None, None)


def _clusters(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping intervals merged into their intersection (each still holds a tick)."""
    out: list[tuple[float, float]] = []
    for a, b in intervals:
        if out and a < out[-1][1] and b > out[-1][0]:
            lo, hi = out[-1]
            out[-1] = (max(lo, a), min(hi, b))
        else:
            out.append((a, b))
    return out


def _fit(ticks: list[tuple[float, float]]) -> tuple[float, float] | None:
    """(period, anchor): the longest period whose ticks fall in every interval, or None.

    Each interval holds a tick, so a period P is possible when one phase puts a tick in all
    of them. Short periods always fit; the longest one that fits is the cadence, if it
    is long enough to matter and the intervals span a few periods.
    """
    if len(ticks) < 3:
        return None
    span = ticks[-1][1] - ticks[0][0]
    fitting: list[tuple[float, tuple[float, float]]] = []
    period = min(MAX_PERIOD, span / 2)
    while period >= MIN_PERIOD:
        phases = _phases(ticks, period)
        if phases is not None:
            fitting.append((period, phases))
        elif fitting:
            break  # the contiguous block of fitting periods below the longest has ended
        period = round(period - PERIOD_STEP, 6)
    if not fitting or fitting[0][0] - fitting[-1][0] > 0.05 * fitting[0][0]:
        return None  # too loose yet: many periods would do
    # the block's middle is the best guess; servers sleep round periods
    middle = fitting[len(fitting) // 2][0]
    snapped = round(middle * 2) / 2
    best = snapped if _phases(ticks, snapped) is not None else middle
    phases = _phases(ticks, best)
    assert phases is not None
    # the latest phase that fits: a poll after it is after the real tick
    return best, ticks[-1][1] - ((ticks[-1][1] - phases[1]) % best)


def _phases(ticks: list[tuple[float, float]], period: float) -> tuple[float, float] | None:
    """The phases (mod ``period``) that put a tick in every interval, as one (low, high]
    range measured from the first interval's start; None when none does."""
    origin = ticks[0][0] - SLACK
    low, high = 0.0, ticks[0][1] - ticks[0][0] + 2 * SLACK
    if high >= period:
        low, high = 0.0, period
    for a, b in ticks[1:]:
        if b - a + 2 * SLACK >= period:
            continue  # holds a tick whatever the phase
        start = (a - SLACK - origin) % period
        end = start + (b - a) + 2 * SLACK
        # the allowed arc (start, end], possibly wrapping past the period
        lo, hi = _overlap(low, high, start, end, period)
        if lo is None or hi is None:
            return None
        low, high = lo, hi
    return (origin + low, origin + high)


def _overlap(
    low: float, high: float, start: float, end: float, period: float
) -> tuple[float | None, float | None]:
    """The part of (low, high] inside the arc (start, end] (or that arc one period back)."""
    for shift in (0.0, -period, period):
        lo, hi = max(low, start + shift), min(high, end + shift)
        if lo < hi:
            return lo, hi
    return None, None
