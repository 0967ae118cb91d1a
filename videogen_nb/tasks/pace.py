"""What a client has learned about how fast one gateway's tasks finish, per model.

A ``Pace`` holds, for one gateway and model:

- **durations**: seconds from submit to completion of finished tasks, from the journal and
  from the batch's own first finishers, kept as a distribution (its quantiles time the first
  poll and pace tasks that report no progress);
- **queue share**: how progress maps to the share of the task's time. Gateways show 0 %
  through a queue and then rise linearly, so ``share = q + (1 - q) * progress / 100``;
  once ``q`` is learned from finished tasks, one progress reading predicts the finish;
- **progress shape**: linear (many distinct values) or stepped (new-api pins progress to a
  few values such as 10/20/30/100 %: a step is not a rate);
- the gateway's refresh ``cadence`` (shared by every model of a ``PaceBook``).

Nothing here sleeps or does I/O: the follow rules feed it observations.
"""

from __future__ import annotations

import bisect
import statistics
from collections import deque
from collections.abc import Iterable

from .cadence import Cadence

__all__ = ["Pace", "PaceBook"]

#: finished durations kept per model
KEEP_DURATIONS = 500
#: finished tasks needed before their distribution (or queue share) is trusted
MIN_SAMPLES = 3
#: progress readings needed before the shape is judged
SHAPE_READINGS = 30
#: at most this many distinct in-between values (e.g. 10/20/30) make progress stepped
MAX_STEPS = 5


class Pace:
    """Learned pace of one model at one gateway (see the module docstring)."""

    def __init__(self, cadence: Cadence | None = None) -> None:
        self.cadence = cadence if cadence is not None else Cadence()
        self._order: deque[float] = deque(maxlen=KEEP_DURATIONS)
        self._sorted: list[float] = []
        self._queue_shares: deque[tuple[float, float]] = deque(maxlen=KEEP_DURATIONS)
        self._share: float | None = None
        self._readings = 0
        self._running = 0
        self._start_shares: deque[tuple[float, float]] = deque(maxlen=KEEP_DURATIONS)
        self._values: set[int] = set()

    # -- learning ---------------------------------------------------------------------------

    def learn_durations(self, seconds: Iterable[float]) -> None:
        """Add finished tasks' durations (submit to completion, in seconds)."""
        for value in seconds:
            if value <= 0:
                continue
            if len(self._order) == self._order.maxlen:
                self._sorted.remove(self._order[0])
            self._order.append(value)
            bisect.insort(self._sorted, value)

    def learn_reading(self, progress: int | None, *, running: bool = False) -> None:
        """One progress value a poll reported (for the shape); ``running``: the task said
        it was in progress (a running task that never shows progress is silent)."""
        self._running += running
        if progress is not None and 0 < progress < 100:
            self._readings += 1
            if len(self._values) <= MAX_STEPS:
                self._values.add(progress)

    def learn_finish(
        self,
        *,
        finished: float,
        reading: tuple[float, int] | None = None,
        earliest: float | None = None,
        switch: tuple[float, float] | None = None,
    ) -> None:
        """A task finished ``finished`` seconds after its submit (at the latest; not before
        ``earliest`` when known: the last poll that saw it running). ``reading`` is one
        (elapsed, progress) it reported on the way, for the queue share; ``switch`` is
        (last seen queued, first seen running), for the start share."""
        earliest = finished if earliest is None else max(min(earliest, finished), 0.0)
        self.learn_durations([(earliest + finished) / 2])
        if switch is not None and 0 <= switch[0] < switch[1] <= finished and earliest > 0:
            self._start_shares.append((switch[0] / finished, min(1.0, switch[1] / earliest)))
        if reading is None or self.stepped:
            return
        at, progress = reading
        if not 0 < progress < 100 or not 0 < at < finished or earliest >= finished:
            return  # no progress, or a finish bracketed too loosely to learn from
        # The finish is somewhere in (earliest, finished]: so is the queue share in between.
        low = _queue_share(at / finished, progress)
        high = _queue_share(at / max(earliest, at), progress)
        self._queue_shares.append((low, high))
        self._share = None

    # -- estimates --------------------------------------------------------------------------

    @property
    def samples(self) -> int:
        """How many finished durations are known."""
        return len(self._sorted)

    def quantile(self, q: float, *, above: float = 0.0) -> float | None:
        """The ``q`` quantile of the durations longer than ``above`` (None: none known)."""
        if len(self._sorted) < MIN_SAMPLES:
            return None
        start = bisect.bisect_right(self._sorted, above)
        rest = len(self._sorted) - start
        if rest <= 0:
            return None
        return self._sorted[start + min(rest - 1, int(q * rest))]

    @property
    def longest(self) -> float | None:
        """The longest duration known (None with too few samples)."""
        return self._sorted[-1] if len(self._sorted) >= MIN_SAMPLES else None

    @property
    def queue_share(self) -> float | None:
        """The learned share of a task's time spent before progress starts, or None."""
        if len(self._queue_shares) < MIN_SAMPLES:
            return None
        if self._share is None:
            self._share = _most_agreed(self._queue_shares)
        return self._share

    @property
    def start_share(self) -> tuple[float, float] | None:
        """The share of a task's time before its status turns to running, as a (low, high)
        range learned from finished tasks (None with too few)."""
        if len(self._start_shares) < MIN_SAMPLES:
            return None
        lows = sorted(lo for lo, _ in self._start_shares)
        highs = sorted(hi for _, hi in self._start_shares)
        # each task bounds it from both sides; the middle 60 % of the bounds is robust
        low, high = lows[int(0.8 * (len(lows) - 1))], highs[int(0.2 * (len(highs) - 1))]
        return (min(low, high), max(low, high))

    @property
    def silent(self) -> bool:
        """True once running tasks were seen often, never with any progress."""
        return self._running >= SHAPE_READINGS and self._readings == 0

    @property
    def stepped(self) -> bool:
        """True once progress is seen to take only a few values (a step is not a rate)."""
        return self._readings >= SHAPE_READINGS and len(self._values) <= MAX_STEPS

    @property
    def shape(self) -> str:
        """``"stepped"``, ``"linear"``, ``"none"`` (silent) or ``"unknown"`` (too few readings)."""
        if self.silent:
            return "none"
        if self._readings < SHAPE_READINGS:
            return "unknown"
        return "stepped" if self.stepped else "linear"

    def finish_from(self, elapsed: float, progress: int) -> float | None:
        """The latest finish (seconds after submit) one progress reading allows, using the
        learned queue share; None without one."""
        q = self.queue_share
        if q is None or self.stepped or not 0 < progress < 100:
            return None
        # progress is truncated: the true value is below progress + 1, so the share is
        # at least this and the finish at most elapsed / share
        share = q + (1 - q) * progress / 100
        return elapsed / share


def _queue_share(share: float, progress: int) -> float:
    """The queue share that makes ``progress`` % show at ``share`` of the task's time."""
    done = progress / 100
    return min(0.95, max(0.0, (share - done) / (1 - done)))


def _most_agreed(ranges: Iterable[tuple[float, float]]) -> float:
    """One queue share from the ranges finished tasks allow ("it is in here").

    Each range's low end comes from the latest possible finish, so with one true share every
    low end is at or below it: a high quantile of the low ends is close to it and robust to a
    few odd tasks (never above most of the high ends). Erring low predicts later finishes:
    a poll a little late rather than a wasted early one.
    """
    lows = sorted(lo for lo, _ in ranges)
    highs = sorted(hi for _, hi in ranges)
    estimate = lows[min(len(lows) - 1, int(0.8 * len(lows)))]
    return min(estimate, statistics.median(highs))


class PaceBook:
    """The ``Pace`` of every model at one gateway, sharing that gateway's cadence."""

    def __init__(self) -> None:
        self.cadence = Cadence()
        self._paces: dict[str, Pace] = {}

    def get(self, model: str | None) -> Pace | None:
        """The pace of ``model`` (None when the model is unknown)."""
        return self._paces.get(model or "")

    def pace(self, model: str | None, *, learned: Iterable[float] = ()) -> Pace:
        """The pace of ``model``, created from ``learned`` durations the first time."""
        key = model or ""
        pace = self._paces.get(key)
        if pace is None:
            pace = self._paces[key] = Pace(self.cadence)
            pace.learn_durations(learned)
        return pace
