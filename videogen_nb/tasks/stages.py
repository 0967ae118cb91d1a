"""What a task's statuses say about when it will finish.

Gateways pass a task through a few statuses before it ends (new-api: ``NOT_START``,
``SUBMITTED``, ``QUEUED``, ``IN_PROGRESS``). Where a status begins at a steady share of the
task's duration (a queue that grows with the job; the sandbox), the moment a task switches
status bounds its finish: a task seen queued at 3 s and running at 3.5 s, with running
starting at a quarter of the time, ends between 12 and 14 s. That is worth most when a task
reports no progress (or stepped progress, which is not a rate).

- ``StageTrack``: one task's statuses, and when it was seen switching;
- ``StageShares``: per status, the share of the duration at which it begins (the least,
  the typical and the most), learned from finished tasks;
- ``finish_bounds``: the (earliest, latest) finish a task's switches allow;
- ``informative_poll``: the moment whose answer best splits the durations still possible.

Nothing here sleeps or does I/O.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import deque
from collections.abc import Sequence

import attrs

__all__ = ["StageShares", "StageTrack", "common_stretch", "finish_bounds", "informative_poll"]

#: finished tasks that must have seen a status begin before its share is trusted
MIN_SWITCHES = 3
#: ranges kept per status
KEEP = 500
#: when this share of the tasks agree on one stretch, the share is a constant
AGREE = 0.9
#: how far outside that stretch a task may still fall (clock readings, rounding)
SLACK = 0.005
#: the shares of tasks outside these quantiles are treated as odd ones
LEAST_QUANTILE, MOST_QUANTILE = 0.03, 0.97
#: moments tried between now and the earliest finish
CANDIDATES = 24
#: running tasks' bounds are folded in again after this many updates (at least)
RESPREAD = 16


@attrs.define(kw_only=True)
class StageTrack:
    """One task's status (``stage``) and its switches, in seconds since its submit."""

    stage: str | None = None
    #: when the current status was last seen
    last: float = 0.0
    #: the first status seen, and when
    origin: str | None = None
    origin_seen: float = 0.0
    #: (status entered, last seen in the one before, first seen in it)
    switches: list[tuple[str, float, float]] = attrs.field(factory=list)

    def observe(self, elapsed: float, stage: str) -> None:
        """A poll at ``elapsed`` saw the task in ``stage``."""
        if self.stage is None:
            self.origin, self.origin_seen = stage, elapsed
        elif stage != self.stage:
            self.switches.append((stage, self.last, elapsed))
        self.stage, self.last = stage, elapsed


class StageShares:
    """Per status, the share of a task's duration at which it begins."""

    def __init__(self) -> None:
        self._ranges: dict[str, deque[tuple[float, float]]] = {}
        self._cache: dict[str, tuple[float, float, float]] | None = None
        #: tasks still running: per status, the most its share can be (insertion order)
        self._running: dict[str, dict[str, float]] = {}
        self._stale = 0

    def bound_running(
        self, key: str, switches: Sequence[tuple[str, float, float]], elapsed: float
    ) -> None:
        """Task ``key`` is still running ``elapsed`` seconds after its submit: each status in
        its ``switches`` began by the first poll that saw it, so its share is below that
        moment over ``elapsed``. A batch's long tasks tighten the shares this way well
        before they finish."""
        if not switches or elapsed <= 0:
            return
        bounds = self._running.pop(key, {})  # re-inserted: the oldest are dropped first
        for stage, _, after in switches:
            bounds[stage] = min(1.0, after / elapsed)
        self._running[key] = bounds
        if len(self._running) > KEEP:
            del self._running[next(iter(self._running))]
        self._stale += 1
        # folding them in costs a sort of every range: not for every poll of 10,000 tasks
        if self._stale >= max(RESPREAD, len(self._running) // 8):
            self._stale, self._cache = 0, None

    def forget(self, key: str) -> None:
        """Task ``key`` ended: its running bounds no longer hold (``learn`` has its range)."""
        if self._running.pop(key, None) is not None:
            self._cache = None

    def learn(
        self, switches: Sequence[tuple[str, float, float]], *, earliest: float, finished: float
    ) -> None:
        """A task that switched as ``switches`` say finished in (``earliest``, ``finished``]."""
        if earliest <= 0 or finished <= 0:
            return
        for stage, before, after in switches:
            if 0 <= before < after <= finished:
                ranges = self._ranges.setdefault(stage, deque(maxlen=KEEP))
                ranges.append((before / finished, min(1.0, after / earliest)))
                self._cache = None

    def export(self) -> dict[str, list[tuple[float, float]]]:
        """What was learned, as plain data (``restore`` takes it back)."""
        return {stage: list(ranges) for stage, ranges in self._ranges.items()}

    def restore(self, data: dict[str, list[tuple[float, float]]]) -> None:
        """Add the ranges an earlier client learned (``export``)."""
        for stage, ranges in data.items():
            kept = self._ranges.setdefault(stage, deque(maxlen=KEEP))
            kept.extend((float(lo), float(hi)) for lo, hi in ranges if 0 <= lo <= hi <= 1)
        self._cache = None

    @property
    def shares(self) -> dict[str, tuple[float, float, float]]:
        """status -> (least, typical, most) share of the duration at which it begins."""
        if self._cache is None:
            self._cache = {
                stage: _spread([*ranges, *self._running_ranges(stage)])
                for stage, ranges in self._ranges.items()
                if len(ranges) >= MIN_SWITCHES  # finished tasks say where a share lies
            }
        return self._cache

    def _running_ranges(self, stage: str) -> list[tuple[float, float]]:
        return [(0.0, b[stage]) for b in self._running.values() if stage in b]


def _spread(ranges: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """(least, typical, most) of the shares that ``ranges`` bound, one range per task.

    When nearly all ranges share a stretch, the share is a constant of the gateway and the
    stretch is where it lies; otherwise the shares vary from task to task and only the
    ranges' own low and high quantiles bound them.
    """
    low, high, depth = common_stretch(ranges)
    if depth >= AGREE * len(ranges):
        return max(0.0, low - SLACK), (low + high) / 2, min(1.0, high + SLACK)
    lows = sorted(lo for lo, _ in ranges)
    highs = sorted(hi for _, hi in ranges)
    mids = [(lo + hi) / 2 for lo, hi in ranges]
    least, most = _quantile(lows, LEAST_QUANTILE), _quantile(highs, MOST_QUANTILE)
    return least, statistics.median(mids), most


def common_stretch(ranges: Sequence[tuple[float, float]]) -> tuple[float, float, int]:
    """The stretch covered by the most ranges, and by how many."""
    edges = sorted([(lo, 0) for lo, _ in ranges] + [(hi, 1) for _, hi in ranges])
    best, depth, low, high = 0, 0, 0.0, 0.0
    for i, (value, closing) in enumerate(edges):  # at a tie an opening sorts first
        if closing:
            depth -= 1
            continue
        depth += 1
        if depth > best:
            best, low = depth, value
            high = edges[i + 1][0] if i + 1 < len(edges) else value
    return low, high, best


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def finish_bounds(
    track: StageTrack, shares: dict[str, tuple[float, float, float]]
) -> tuple[float, float]:
    """(earliest, latest) finish, in seconds since submit, that the task's statuses allow
    (``math.inf``: no bound). Each poll said which status had begun by then (the finish is
    at most its moment over that status's least share) and which had not (at least its
    moment over the most share of the next one). Never earlier than the last poll."""
    low, high = track.last, math.inf
    stage, seen = track.origin, {track.origin}
    origin = shares.get(track.origin or "")
    if origin is not None and origin[0] > 0:
        high = track.origin_seen / origin[0]  # it began before it was first seen
    for entered, before, after in track.switches:
        low = max(low, before / _next_most(stage, seen, shares))
        known = shares.get(entered)
        if known is not None and known[0] > 0:
            high = min(high, after / known[0])
        stage = entered
        seen.add(entered)
    return max(low, track.last / _next_most(stage, seen, shares)), high


def _next_most(
    stage: str | None, seen: set[str | None], shares: dict[str, tuple[float, float, float]]
) -> float:
    """The smallest "most" share among the statuses that come after ``stage`` (any not in
    ``seen`` when ``stage`` is not known); 1.0 (the finish) when there are none."""
    after = shares[stage][1] if stage in shares else -1.0
    later = [
        most
        for name, (_, typical, most) in shares.items()
        if name not in seen and typical > after and most > 0
    ]
    return min(later, default=1.0)


def informative_poll(
    *,
    now: float,
    until: float,
    window: tuple[float, float],
    durations: list[float],
    shares: dict[str, tuple[float, float, float]],
    soonest: float,
    step: float,
) -> tuple[float, float] | None:
    """The moment in [``now + soonest``, ``until``] whose answer (done, or which status)
    narrows most the stretch of learned ``durations`` (sorted) still possible (inside
    ``window``), and the polls it saves; None when none saves more than itself.

    What is left after the last answer is polled every ``step`` seconds until the task
    ends, so an answer is worth the width it takes off that stretch, in steps.
    """
    start = bisect.bisect_right(durations, window[0])
    stop = bisect.bisect_right(durations, window[1])
    if stop - start < MIN_SWITCHES or until <= now + soonest:
        return None
    possible = durations[start:stop]
    typical = sorted({s[1] for s in shares.values() if 0 < s[1] < 1})
    width = possible[-1] - possible[0]
    best: tuple[float, float] | None = None
    span = until - (now + soonest)
    for k in range(CANDIDATES + 1):
        at = now + soonest + span * k / CANDIDATES
        # at ``at`` a task of duration d is done (d <= at) or in the status whose share
        # d * share has passed: the answer tells which side of each threshold d lies
        cuts = sorted({at} | {at / share for share in typical})
        saved = (width - _expected_width(possible, cuts)) / step - 1
        if best is None or saved > best[1] + 1e-9:
            best = (at, saved)
    return best if best is not None and best[1] > 0 else None


def _expected_width(values: list[float], cuts: list[float]) -> float:
    """The width of the stretch of ``values`` left after learning which part between
    ``cuts`` holds the value, on average over ``values``."""
    total, expected, previous = len(values), 0.0, 0
    for cut in [*cuts, math.inf]:
        upto = bisect.bisect_right(values, cut)
        if upto > previous:
            expected += (upto - previous) / total * (values[upto - 1] - values[previous])
        previous = upto
    return expected
