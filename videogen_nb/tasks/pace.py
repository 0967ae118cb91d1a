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
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from .cadence import Cadence
from .stages import StageShares, common_stretch

__all__ = ["Pace", "PaceBook"]

#: finished durations kept per model
KEEP_DURATIONS = 500
#: finished tasks needed before their distribution (or queue share) is trusted
MIN_SAMPLES = 3
#: progress readings needed before the shape is judged
SHAPE_READINGS = 30
#: at most this many distinct in-between values (e.g. 10/20/30) make progress stepped
MAX_STEPS = 5
#: while nothing is known about a model, this many tasks of a batch poll on the base
#: schedule (scouts); the rest wait for what the scouts' first readings teach
SCOUTS = 8
#: two readings of one task this many points apart measure its queue share
PAIR_SPAN = 10


class Pace:
    """Learned pace of one model at one gateway (see the module docstring)."""

    def __init__(self, cadence: Cadence | None = None) -> None:
        self.cadence = cadence if cadence is not None else Cadence()
        self._order: deque[float] = deque(maxlen=KEEP_DURATIONS)
        self._sorted: list[float] = []
        self._queue_shares: deque[tuple[float, float]] = deque(maxlen=KEEP_DURATIONS)
        self._share: tuple[float, float] | None = None
        self._readings = 0
        self._running = 0
        #: per status, the share of the duration at which it begins
        self.stages = StageShares()
        self._values: set[int] = set()
        self._scouts = 0

    # -- scouts -----------------------------------------------------------------------------

    @property
    def blank(self) -> bool:
        """True while nothing about this model's pace is known (no durations, no queue
        share, no refresh cadence)."""
        return (
            len(self._sorted) < MIN_SAMPLES
            and self.queue_share is None
            and self.cadence.period is None
        )

    @property
    def milestone(self) -> int:
        """How many kinds of knowledge this pace holds (durations, a queue share). When
        it grows, tasks that wait on a guess may be due sooner: a batch learns from its
        own first finishers. (A refresh cadence only ever moves polls later.)"""
        return (len(self._sorted) >= MIN_SAMPLES) + (self._agreed_share() is not None)

    def enlist(self) -> bool:
        """Whether a task starting now is one of the batch's scouts (the first ``SCOUTS``
        while the pace is blank)."""
        self._scouts += 1
        return self._scouts <= SCOUTS

    @property
    def batch(self) -> bool:
        """Whether enough tasks started while nothing was known for scouting to pay (one
        video alone polls on the base schedule)."""
        return self._scouts > 2 * SCOUTS

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
        switches: Sequence[tuple[str, float, float]] = (),
    ) -> None:
        """A task finished ``finished`` seconds after its submit (at the latest; not before
        ``earliest`` when known: the last poll that saw it running). ``reading`` is one
        (elapsed, progress) it reported on the way, for the queue share; ``switches`` are
        (status entered, last seen before, first seen in it), for the status shares."""
        earliest = finished if earliest is None else max(min(earliest, finished), 0.0)
        self.learn_durations([(earliest + finished) / 2])
        self.stages.learn(switches, earliest=earliest, finished=finished)
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

    def learn_pair(self, first: tuple[float, int], second: tuple[float, int]) -> None:
        """Two progress readings of one running task, (elapsed, progress) each: with linear
        progress after a queue they fix its queue share without waiting for it to finish
        (a batch's scouts teach the rest within seconds)."""
        if self.stepped:
            return
        (t1, p1), (t2, p2) = first, second
        if p2 - p1 < PAIR_SPAN or not 0 < p1 < p2 < 100 or not 0 < t1 < t2:
            return
        # progress is truncated: each true value lies in [p, p + 1); the share lies between
        # the shares of the extreme slopes
        shares = [_pair_share(t1, a, t2, b) for a in (p1, p1 + 1) for b in (p2, p2 + 1)]
        self._queue_shares.append((min(shares), max(shares)))
        self._share = None

    def export(self) -> dict[str, Any]:
        """What was learned beyond the durations (the journal keeps those), as plain data:
        the queue share ranges and the status shares."""
        return {"queue_shares": list(self._queue_shares), "stages": self.stages.export()}

    def restore(self, data: dict[str, Any]) -> None:
        """Add what an earlier client learned (``export``); bad parts are skipped."""
        shares = data.get("queue_shares")
        if isinstance(shares, list):
            self._queue_shares.extend(
                (float(lo), float(hi)) for lo, hi in shares if 0 <= lo <= hi <= 1
            )
            self._share = None
        stages = data.get("stages")
        if isinstance(stages, dict):
            self.stages.restore(stages)

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

    def count_between(self, low: float, high: float) -> int:
        """How many known durations lie in (``low``, ``high``]."""
        return bisect.bisect_right(self._sorted, high) - bisect.bisect_right(self._sorted, low)

    @property
    def longest(self) -> float | None:
        """The longest duration known (None with too few samples)."""
        return self._sorted[-1] if len(self._sorted) >= MIN_SAMPLES else None

    @property
    def queue_share(self) -> float | None:
        """The learned share of a task's time spent before progress starts, or None."""
        agreed = self._agreed_share()
        return None if agreed is None else (agreed[0] + agreed[1]) / 2

    @property
    def queue_share_error(self) -> float:
        """How far the queue share may be off: half the stretch most tasks agree on."""
        agreed = self._agreed_share()
        return 0.0 if agreed is None else max(0.005, (agreed[1] - agreed[0]) / 2)

    def _agreed_share(self) -> tuple[float, float] | None:
        if len(self._queue_shares) < MIN_SAMPLES:
            return None
        if self._share is None:
            self._share = _most_agreed(self._queue_shares)
        return self._share

    @property
    def sorted_durations(self) -> list[float]:
        """The finished durations known, shortest first (do not change the list)."""
        return self._sorted

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

    def finish_from(self, elapsed: float, progress: int) -> tuple[float, float] | None:
        """The (earliest, latest) finish (seconds after submit) one progress reading allows,
        using the learned queue share and its spread; None without one."""
        q = self.queue_share
        if q is None or self.stepped or not 0 < progress < 100:
            return None
        error = self.queue_share_error
        # progress is truncated: the true value lies in [progress, progress + 1)
        low_q, high_q = max(0.0, q - error), min(0.95, q + error)
        latest = elapsed / (low_q + (1 - low_q) * progress / 100)
        earliest = elapsed / (high_q + (1 - high_q) * min(100, progress + 1) / 100)
        return earliest, latest


def _queue_share(share: float, progress: int) -> float:
    """The queue share that makes ``progress`` % show at ``share`` of the task's time."""
    done = progress / 100
    return min(0.95, max(0.0, (share - done) / (1 - done)))


def _pair_share(t1: float, p1: float, t2: float, p2: float) -> float:
    """The queue share of a task that showed ``p1`` % at ``t1`` and ``p2`` % at ``t2``:
    elapsed = queue + progress * per_point, so two readings give both."""
    per_point = (t2 - t1) / (p2 - p1)
    queue = t1 - per_point * p1
    return min(0.95, max(0.0, queue / (queue + 100 * per_point)))


def _most_agreed(ranges: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The queue share most of the ranges finished or twice-read tasks allow ("it is in
    here"), as the (low, high) stretch that the most ranges cover: every range is a true
    bound for its task, so a few odd tasks leave the stretch where most agree."""
    low, high, _ = common_stretch(ranges)
    return low, high


class PaceBook:
    """The ``Pace`` of every model at one gateway, sharing that gateway's cadence."""

    def __init__(self) -> None:
        self.cadence = Cadence()
        self._paces: dict[str, Pace] = {}

    def get(self, model: str | None) -> Pace | None:
        """The pace of ``model`` (None when the model is unknown)."""
        return self._paces.get(model or "")

    def pace(
        self,
        model: str | None,
        *,
        learned: Iterable[float] = (),
        restored: dict[str, Any] | None = None,
    ) -> Pace:
        """The pace of ``model``, created the first time from ``learned`` durations and
        what an earlier client ``restored`` (``Pace.export``)."""
        key = model or ""
        pace = self._paces.get(key)
        if pace is None:
            pace = self._paces[key] = Pace(self.cadence)
            pace.learn_durations(learned)
            if restored:
                pace.restore(restored)
        return pace

    def export(self) -> dict[str, dict[str, Any]]:
        """What every model's pace learned (``Pace.export``), by model."""
        return {model: pace.export() for model, pace in self._paces.items() if model}
