"""A gateway's refresh cadence, learned from when its answers change.

new-api does not ask its vendors on every poll: a background loop refreshes every task about
every 15 s, so an answer can only change at those ticks and polling between them is wasted.
Each poll whose answer differs from the previous poll of the same task says "a tick happened
in (previous poll, this poll]". Many tasks polled at different moments narrow those intervals
down; ticks that line up on a period are a cadence. A gateway whose answers change at any
moment (progress that rises continuously) produces change intervals that no period explains,
and ``period`` stays None.

A cadence is known only as well as its ticks were seen: the period may be off by what the
evidence allows (``uncertainty`` grows with every period past the ticks seen), so polls
land after the latest moment the refresh may come, and once polls sit on the ticks, the
few that probe a tick from both sides (``tasks.polling``) keep timing it.
"""

from __future__ import annotations

from collections import deque

__all__ = ["Cadence"]

#: a period shorter than this is not worth aligning to (a 1 s poll loop already is)
MIN_PERIOD = 5.0
#: change intervals at most this wide time the ticks (half the shortest period)
CLUSTER_WIDTH = MIN_PERIOD / 2
#: quiet stretches longer than this are not kept (a poll pair 15 s apart tells nothing)
MAX_INTERVAL = 16.0
#: the longest period looked for, and the resolution of the search
MAX_PERIOD = 60.0
PERIOD_STEP = 0.05
#: how far a client's clock readings may miss the server's moment of reading
SLACK = 0.05
#: recompute once this many new intervals came, at most every so many seconds
RECOMPUTE_AFTER = 4
RECOMPUTE_SECONDS = 0.5
#: ... and after this many whatever their times say
RECOMPUTE_ANYWAY = 32
#: at most this many (the narrowest) tick intervals enter the period search
MAX_CLUSTERS = 40
#: intervals that must agree on a tick before it counts
MIN_SUPPORT = 3
#: two clusters narrower than this share of their distance can time a cadence alone ...
TWO_TICK_WIDTH = 0.05
#: ... when this many quiet polls fell between them
TWO_TICK_QUIET = 20
#: this share of the change intervals must hold a tick of a cadence
EXPLAINED = 0.95
#: how much later than the real tick the estimated one may be
ANCHOR_SLACK = 0.25


class Cadence:
    """Learns ``period`` and tick times from change intervals (epoch seconds)."""

    def __init__(self, *, keep: int = 800) -> None:
        self._intervals: deque[tuple[float, float]] = deque(maxlen=keep)
        #: polls of one task whose answers did not change: (previous poll, this poll)
        self._quiet: deque[tuple[float, float]] = deque(maxlen=keep)
        #: every change interval, narrow or not (one inside a stretch puts a tick there)
        self._changes: deque[tuple[float, float]] = deque(maxlen=keep)
        self._fresh = 0
        self._estimated_at = float("-inf")
        self._period: float | None = None
        self._anchor: float | None = None
        #: how far ``_period`` may be off the real one (the evidence allows that much),
        #: and how long after its real tick ``_anchor`` may be
        self._error = 0.0
        self._late = 0.0
        self._latest = float("-inf")

    def observe_change(self, before: float, after: float) -> None:
        """An answer differed between a poll at ``before`` and one at ``after``."""
        if after <= before:
            return
        if after - before <= MAX_PERIOD / 2:
            self._changes.append((before, after))
        if after - before > CLUSTER_WIDTH:
            # Wide: it times a tick only where the known cadence says the tick must be
            # (a probe's poll inside that window cuts it). Kept, wide ones (every poll of
            # a task whose progress rises) would push the narrow ones out of the window.
            cut = self._within_window(before, after)
            if cut is None:
                return
            before, after = cut
        self._intervals.append((before, after))
        self._fresh += 1
        self._latest = max(self._latest, after)
        if self._fresh >= RECOMPUTE_ANYWAY:
            self._refresh(after)

    @property
    def period(self) -> float | None:
        """Seconds between two refreshes of the gateway, or None while unknown."""
        self._refresh(self._latest)
        return self._period

    @property
    def anchor(self) -> float | None:
        """A time no earlier than a refresh tick (ticks are ``anchor + k * period``)."""
        self._refresh(self._latest)
        return self._anchor

    def uncertainty(self, tick: float) -> float:
        """How far after ``tick`` (a tick of ``next_tick`` or ``last_tick``) the real
        refresh may be: the period's error, once per period between the tick and the
        latest one observed. (It may be earlier by that much and by how late the anchor
        may be.) 0 while the cadence is unknown."""
        if self._period is None or self._anchor is None:
            return 0.0
        return SLACK + self._error * abs(tick - self._anchor) / self._period

    def _within_window(self, before: float, after: float) -> tuple[float, float] | None:
        """The part of (``before``, ``after``] where the known cadence allows a tick, when
        exactly one tick's window meets the interval and a poll fell inside that window
        (else None: the window alone only repeats what is known)."""
        period = self._period
        if period is None or after - before >= period:
            return None
        last = self.last_tick(after + period / 2)
        assert last is not None
        windows = []
        for tick in (last, last - period, last - 2 * period):
            spread = self.uncertainty(tick)
            start, end = tick - spread - self._late, tick + spread
            low, high = max(before, start), min(after, end)
            if low < high:
                windows.append((low, high, end - start))
        if len(windows) != 1:
            return None
        low, high, width = windows[0]
        if width > CLUSTER_WIDTH or high - low >= width - SLACK:
            return None  # too loose to time a tick, or no poll inside the window
        return low, high

    def observe_same(self, before: float, after: float) -> None:
        """An answer was the same at a poll at ``before`` and one at ``after``. A quiet
        stretch that many polls cross is evidence that no refresh happened in it (with
        only two refreshes seen, the one thing that tells their distance from its half)."""
        if 0 < after - before <= MAX_INTERVAL:
            self._quiet.append((before, after))

    def _refresh(self, now: float) -> None:
        """Estimate again when new evidence came: soon after it (a batch's first finishers
        wait on it), but not for every poll of 10,000 tasks whose progress changes all the
        time (at most every ``RECOMPUTE_SECONDS``, unless much came)."""
        due = now - self._estimated_at >= RECOMPUTE_SECONDS or self._fresh >= RECOMPUTE_ANYWAY
        if self._fresh >= RECOMPUTE_AFTER and due:
            self._fresh, self._estimated_at = 0, now
            self._estimate()

    def next_tick(self, after: float) -> float | None:
        """The first refresh tick later than ``after`` (now, for the caller), or None while
        the cadence is unknown."""
        self._refresh(after)
        if self._period is None or self._anchor is None:
            return None
        k = (after - self._anchor) // self._period + 1
        return self._anchor + k * self._period

    def last_tick(self, at: float) -> float | None:
        """The latest refresh tick no later than ``at``, or None while the cadence is unknown."""
        if self._period is None or self._anchor is None:
            return None
        return self._anchor + ((at - self._anchor) // self._period) * self._period

    def _estimate(self) -> None:
        # only narrow intervals are clustered: two wider ones may overlap while each holds
        # a different tick
        clusters = _clusters(sorted(i for i in self._intervals if i[1] - i[0] <= CLUSTER_WIDTH))
        # the narrowest say the most, and bound the search's cost
        narrow = sorted(sorted(clusters, key=lambda c: c[1] - c[0])[:MAX_CLUSTERS])
        found = _fit(narrow) or _fit_two(narrow, self._quiet, self._changes)
        if found is not None and not _explains(found, self._intervals):
            found = None  # answers change off the ticks too: progress, not a refresh loop
        period, anchor = self._period, self._anchor
        if period is not None and anchor is not None:
            known = (period, anchor, self._error, self._late)
            # what was learned still explains every change: keep it. A later, sparser set
            # of clusters may fit a multiple of the period (or none), and polling on a
            # multiple would miss refreshes in between
            if _explains(known, self._intervals) and (found is None or found[0] > period * 1.5):
                return
        if found is None:
            self._period, self._anchor, self._error, self._late = None, None, 0.0, 0.0
        else:
            self._period, self._anchor, self._error, self._late = found


def _clusters(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping intervals merged into their intersection (each still holds a tick);
    only intersections of at least ``MIN_SUPPORT`` intervals: one poll pair that saw a
    change says little (progress changes on every poll)."""
    out: list[tuple[float, float]] = []
    support: list[int] = []
    for a, b in intervals:
        # intervals that merely touch (one poll ends one and starts the next) may hold two
        # different ticks: only a real overlap is one tick
        if out and a < out[-1][1] - SLACK and b > out[-1][0] + SLACK:
            lo, hi = out[-1]
            out[-1] = (max(lo, a), min(hi, b))
            support[-1] += 1
        else:
            out.append((a, b))
            support.append(1)
    return [c for c, n in zip(out, support, strict=True) if n >= MIN_SUPPORT]


#: a fitted cadence: (period, anchor, error, late) as ``Cadence`` keeps them
Fit = tuple[float, float, float, float]


def _fit(ticks: list[tuple[float, float]]) -> Fit | None:
    """(period, anchor, error, late): the longest period whose ticks fall in every interval,
    or None; ``error`` is how far the real period may be from it (the fitting periods'
    span), ``late`` how long after the real tick the anchor may be.

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
    error = max(fitting[0][0] - best, best - fitting[-1][0]) + PERIOD_STEP
    # the latest tick any fitting period allows: a poll after it is after the real tick
    end = ticks[-1][1]
    anchor = max(end - ((end - high) % period) for period, (_, high) in fitting)
    return best, anchor, error, ANCHOR_SLACK


def _fit_two(
    ticks: list[tuple[float, float]],
    quiet: deque[tuple[float, float]],
    changes: deque[tuple[float, float]],
) -> Fit | None:
    """(period, anchor, error, late) from the two narrowest change clusters, when polls crossed the
    stretch between them often enough and never saw a change there: their distance is one
    period, not several. Known one period sooner than ``_fit`` can tell."""
    if len(ticks) < 2:
        return None
    first, second = sorted(sorted(ticks, key=lambda c: c[1] - c[0])[:2])
    period = (second[0] + second[1]) / 2 - (first[0] + first[1]) / 2
    if not MIN_PERIOD <= period <= MAX_PERIOD:
        return None
    if max(first[1] - first[0], second[1] - second[0]) > TWO_TICK_WIDTH * period:
        return None
    inside = sum(1 for a, b in quiet if first[1] <= a and b <= second[0])
    if inside < TWO_TICK_QUIET:
        return None
    if any(first[1] + SLACK < a and b < second[0] - SLACK for a, b in changes):
        # an answer changed in between: a tick there (a task whose status stays put
        # through a refresh makes quiet polls across it, so quiet alone proves little)
        return None
    # the period lies between the clusters' nearest and farthest ends
    shortest, longest = second[0] - first[1], second[1] - first[0]
    snapped = round(period * 2) / 2
    if shortest <= snapped <= longest:
        period = snapped
    error = max(period - shortest, longest - period)
    # the second cluster's end: no earlier than its tick, whatever the period's error
    return period, second[1], error, second[1] - second[0] + SLACK


def _explains(found: Fit, intervals: deque[tuple[float, float]]) -> bool:
    """Whether nearly every narrow change interval may hold a tick of ``found``, given
    how late its anchor and how wrong its period may be."""
    period, anchor, error, late = found
    narrow = [(a, b) for a, b in intervals if b - a <= CLUSTER_WIDTH]
    held = 0
    for a, b in narrow:
        k = round(((a + b) / 2 - anchor) / period)
        for j in (k - 1, k, k + 1):
            tick, give = anchor + j * period, SLACK + error * abs(j)
            if tick - late - give < b and tick + give > a:
                held += 1
                break
    return held >= EXPLAINED * len(narrow)


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
