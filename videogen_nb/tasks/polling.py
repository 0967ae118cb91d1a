"""How long to wait before polling a task again.

Real videos take 30 s to 10+ minutes and gateways often refresh their upstream state only
every ~15 s, so polling every second wastes requests; yet users want to see a finished video
at once. The policy is never worse than a fixed 1 s loop and uses everything it can learn
(``tasks.pace``: per gateway and model), in this order, and says which estimate drove each
delay (``Delay.reason``):

1. ``queue-share``: with progress that rises linearly after a queue phase and the queue
   share learned from finished tasks, one reading predicts the latest finish; poll then;
2. ``progress-rate``: without a learned queue share, the rate since progress first
   appeared (``ProgressTrack``); a rate measured from submit would overestimate the
   remaining time several times over (gateways show 0 % while queued);
3. ``durations``: without usable progress (none, or stepped: new-api pins progress to
   10/20/30/100 %, and a step is not a rate), the learned distribution of durations: wait
   until the earliest plausible finish of a task this old (a low quantile of the durations
   still possible), poll at ``fine_interval`` through the bulk, back off in the tail;
4. ``typical``: the model's typical duration (catalog), never sleeping longer than half
   the time already waited: it says little about a fast gateway;
5. ``none``: a delay that grows with elapsed time (start near 1 s, cap near 15 s).

Then two adjustments:

- ``+refresh``: when the gateway's refresh cadence is known, an answer cannot change
  between two refreshes: the poll moves to just after the last refresh before the chosen
  time (or the next refresh, whichever is later);
- ``server-hint``: ``openai-poll-after-ms`` is the soonest the server wants to be asked
  again: never sooner; later whenever the estimate says so.
"""

from __future__ import annotations

import attrs

from .pace import Pace

__all__ = ["Delay", "PollPolicy", "ProgressTrack"]


@attrs.define(kw_only=True)
class ProgressTrack:
    """When (in seconds since submit) and at what value a task first and last reported
    progress. One per followed task; ``observe`` it after every poll."""

    since: float | None = None
    base: int = 0
    latest: tuple[float, int] | None = None
    #: elapsed at the last poll that saw the task queued, and at the first that saw it running
    queued_until: float | None = None
    started: float | None = None

    def observe_status(self, elapsed: float, running: bool | None) -> None:
        """Record whether a poll saw the task still queued (False) or running (True)."""
        if running is False and self.started is None:
            self.queued_until = elapsed
        elif running and self.started is None:
            self.started = elapsed

    @property
    def switch(self) -> tuple[float, float] | None:
        """(last seen queued, first seen running), once both were seen."""
        if self.queued_until is None or self.started is None:
            return None
        return (self.queued_until, self.started)

    def observe(self, elapsed: float, progress: int | None) -> None:
        """Record a poll's progress (the first and the latest reading with progress)."""
        if not _has_progress(progress):
            return
        assert progress is not None
        if self.since is None:
            self.since, self.base = elapsed, progress
        self.latest = (elapsed, progress)


@attrs.frozen
class Delay:
    """Seconds until the next poll, and the estimate that chose them."""

    seconds: float
    reason: str


@attrs.define(frozen=True, kw_only=True)
class PollPolicy:
    """Delays between polls of one task.

    >>> policy = PollPolicy()
    >>> policy.next_delay(elapsed=0.0)
    1.0
    >>> policy.next_delay(elapsed=10.0, progress=10)  # ETA 90 s: half of it, capped at the age
    10.0
    """

    #: first delay, and the floor of every delay the policy picks on its own
    min_delay: float = attrs.field(default=1.0, validator=attrs.validators.gt(0))
    #: the ceiling; gateways refresh their upstream state about every 15 s anyway
    max_delay: float = attrs.field(default=15.0, validator=attrs.validators.gt(0))
    #: the interval used once the task is expected to finish within ``fine_window`` seconds
    fine_interval: float = attrs.field(default=1.0, validator=attrs.validators.gt(0))
    fine_window: float = attrs.field(default=3.0, validator=attrs.validators.ge(0))
    #: with no estimate at all, the delay grows by this share of the elapsed time
    growth: float = attrs.field(default=0.1, validator=attrs.validators.ge(0))
    #: never poll faster than this, even when the server asks for it
    floor: float = attrs.field(default=0.05, validator=attrs.validators.gt(0))
    #: the quantile of the still-possible durations that times a poll without progress
    early_quantile: float = attrs.field(default=0.05, validator=attrs.validators.ge(0))
    #: past this quantile of the durations, polls back off (the slowest tasks pay the lag)
    tail_quantile: float = attrs.field(default=0.95, validator=attrs.validators.le(1))
    #: seconds after a gateway refresh to poll (its answers change at the refresh)
    refresh_margin: float = attrs.field(default=0.3, validator=attrs.validators.ge(0))
    #: seconds past a predicted finish to poll (the prediction is the latest finish)
    finish_margin: float = attrs.field(default=0.1, validator=attrs.validators.ge(0))

    def next_delay(
        self,
        *,
        elapsed: float,
        progress: int | None = None,
        typical_seconds: float | None = None,
        poll_after: float | None = None,
        track: ProgressTrack | None = None,
    ) -> float:
        """Seconds to wait before the next poll of a task submitted ``elapsed`` seconds ago."""
        return self.decide(
            elapsed=elapsed,
            progress=progress,
            typical_seconds=typical_seconds,
            poll_after=poll_after,
            track=track,
        ).seconds

    def decide(
        self,
        *,
        elapsed: float,
        progress: int | None = None,
        typical_seconds: float | None = None,
        poll_after: float | None = None,
        track: ProgressTrack | None = None,
        pace: Pace | None = None,
        now: float | None = None,
    ) -> Delay:
        """The next delay and its reason. ``pace`` is what was learned about this model at
        this gateway; ``now`` (epoch seconds) places the poll on the gateway's refreshes."""
        delay = self._estimate(elapsed, progress, typical_seconds, track, pace)
        if pace is not None and now is not None:
            delay = self._on_refresh(delay, pace, now)
        if poll_after is not None and poll_after > delay.seconds:
            return Delay(max(poll_after, self.floor), "server-hint")
        return Delay(max(delay.seconds, self.floor), delay.reason)

    # -- the estimates, best first --------------------------------------------------------

    def _estimate(
        self,
        elapsed: float,
        progress: int | None,
        typical_seconds: float | None,
        track: ProgressTrack | None,
        pace: Pace | None,
    ) -> Delay:
        usable = _has_progress(progress) and not (pace is not None and pace.stepped)
        if usable and pace is not None:
            assert progress is not None
            finish = pace.finish_from(elapsed, progress)
            if finish is not None:
                return self._to_finish(finish - elapsed)
        if usable and track is not None and track.since is not None:
            assert progress is not None
            return self._from_rate(elapsed, progress, track)
        if pace is not None and pace.longest is not None:
            by_start = self._from_start(elapsed, track, pace)
            return by_start or self._from_durations(elapsed, pace)
        if usable:
            assert progress is not None
            remaining = elapsed * (100 - progress) / progress if elapsed > 0 else None
            if remaining is not None:
                return Delay(self._toward_finish(remaining, elapsed, cap=elapsed), "progress")
        if typical_seconds is not None and typical_seconds > 0:
            remaining = typical_seconds - elapsed
            return Delay(self._toward_finish(remaining, elapsed, cap=elapsed / 2), "typical")
        return Delay(self._clamp(self.min_delay + self.growth * elapsed), "none")

    def _to_finish(self, remaining: float) -> Delay:
        """Poll just after a predicted latest finish (a fresh reading refines it on the way)."""
        if remaining < -self.fine_window:
            return Delay(self._clamp(self.fine_interval - self.growth * remaining), "overdue")
        delay = max(remaining + self.finish_margin, self.fine_interval / 2)
        return Delay(min(delay, self.max_delay), "queue-share")

    def _from_rate(self, elapsed: float, progress: int, track: ProgressTrack) -> Delay:
        assert track.since is not None
        span, gained = elapsed - track.since, progress - track.base
        if gained <= 0 or span <= 0:
            # Progress has only just appeared: poll again soon to learn its rate.
            return Delay(self._clamp(max(self.min_delay, span)), "progress-start")
        remaining = span * (100 - progress) / gained
        return Delay(self._toward_finish(remaining, elapsed, cap=elapsed), "progress-rate")

    def _from_durations(self, elapsed: float, pace: Pace) -> Delay:
        tail = pace.quantile(self.tail_quantile)
        if tail is not None and elapsed > tail:
            # The slowest few per cent: each further second is unlikely to be the one.
            return Delay(self._clamp(self.fine_interval + self.growth * (elapsed - tail)), "tail")
        first = pace.quantile(self.early_quantile, above=elapsed)
        if first is None:
            # Older than every finish seen so far (a batch learning from its first
            # finishers): keep pace with the finishes, backing off as they fall behind.
            longest = pace.longest or 0.0
            return Delay(
                self._clamp(self.fine_interval + self.growth * (elapsed - longest)), "beyond"
            )
        remaining = first - elapsed
        if remaining > self.fine_interval:
            return Delay(min(remaining, self.max_delay), "durations")
        return Delay(self.fine_interval, "durations")

    def _from_start(self, elapsed: float, track: ProgressTrack | None, pace: Pace) -> Delay | None:
        """Without progress, when the status turned to running tells when the task ends:
        queue time and run time keep a learned ratio (``Pace.start_share``)."""
        shares = pace.start_share
        if shares is None or track is None:
            return None
        low, high = shares
        if track.switch is not None:
            queued_until, started = track.switch
            earliest, latest = queued_until / max(high, 1e-3), started / max(low, 1e-3)
            if elapsed > latest:
                return None  # the ratio did not hold for this task: the durations decide
            if earliest - elapsed > self.fine_interval:
                return Delay(min(earliest - elapsed, self.max_delay), "queue-time")
            return Delay(self.fine_interval, "queue-time")
        if track.started is not None or not pace.silent:
            return None  # the switch was missed, or progress will tell more than it
        # Still queued: poll around the earliest plausible switch, to catch it closely.
        first = pace.quantile(self.early_quantile, above=elapsed / max(low, 1e-3))
        if first is None:
            return None
        switch = first * low
        if switch - elapsed > self.fine_interval:
            return Delay(min(switch - elapsed, self.max_delay), "queue-start")
        return Delay(self.fine_interval, "queue-start")

    def _on_refresh(self, delay: Delay, pace: Pace, now: float) -> Delay:
        cadence = pace.cadence
        upcoming, before = cadence.next_tick(now), cadence.last_tick(now + delay.seconds)
        if upcoming is None or before is None:
            return delay
        # The answer at the chosen time is the answer right after the refresh before it.
        tick = max(upcoming, before)
        return Delay(tick + self.refresh_margin - now, delay.reason + "+refresh")

    # -- shapes of a delay ----------------------------------------------------------------

    def _toward_finish(self, remaining: float, elapsed: float, *, cap: float) -> float:
        if remaining > self.fine_window:
            # Halving the distance to the expected finish spends O(log T) polls on the wait
            # and arrives at the finish line with a small step.
            delay = max(remaining / 2, self.fine_interval)
            return self._clamp(min(delay, max(self.min_delay, cap)))
        overdue = -remaining
        if overdue > self.fine_window:
            # The estimate was wrong; grow the delay again so a stuck task costs little.
            return self._clamp(self.fine_interval + self.growth * overdue)
        return max(self.fine_interval, self.floor)

    def _clamp(self, delay: float) -> float:
        return min(max(delay, self.min_delay, self.floor), self.max_delay)


def _has_progress(progress: int | None) -> bool:
    return progress is not None and 0 < progress < 100
