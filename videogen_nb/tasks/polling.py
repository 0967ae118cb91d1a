"""How long to wait before polling a task again.

Real videos take 30 s to 10+ minutes and gateways often refresh their upstream state only
every ~15 s, so polling every second wastes requests; yet users want to see a finished video
at once. The policy is never worse than a fixed 1 s loop and uses everything it can learn
(``tasks.pace``: per gateway and model), in this order, and says which estimate drove each
delay (``Delay.reason``):

0. ``scouts`` / ``scout``: while nothing is known about a model (a fresh journal), a
   batch sends a few scouts that poll about every second (each at its own offset, so that
   together they time the gateway's refreshes); the rest first poll just after the
   scouts' second poll, by when two readings may have taught the queue share. A lone
   video never waits and never scouts;
1. ``queue-share``: with progress that rises linearly after a queue phase and the queue
   share learned (two readings of one running task, or a finished one), one reading
   predicts the finish as a window: poll just after it when it is sharp, else at its
   start, where a fresh reading sharpens it, and through it once it has begun (a long
   task's progress moves a point every few seconds);
2. ``progress-rate``: without a learned queue share, the rate since progress first
   appeared (``ProgressTrack``); a rate measured from submit would overestimate the
   remaining time several times over (gateways show 0 % while queued);
3. ``stages``: without usable progress (none, or stepped: new-api pins progress to
   10/20/30/100 %, and a step is not a rate), when the task switched status, with the
   share of the duration at which each status begins (``tasks.stages``), bounds its
   finish: poll where the answer narrows those bounds most, wait until the earliest
   plausible finish, then poll every ``window_step`` through the window;
4. ``durations``: without statuses to go by, the learned distribution of durations: wait
   until the earliest plausible finish of a task this old (a low quantile of the durations
   still possible), poll through the bulk, back off in the ``tail``;
5. ``typical``: the model's typical duration (catalog), never sleeping longer than a
   share of the time already waited (a share that varies by task, so that a batch's
   polls spread out); it says little about a fast gateway;
6. ``none``: a delay that grows with elapsed time (start near 1 s, cap near 15 s).

Then two adjustments:

- ``+refresh``: when the gateway's refresh cadence is known, an answer cannot change
  between two refreshes: the poll moves to just after the last refresh before the chosen
  time (or the next refresh, whichever is later), after the latest moment that refresh may
  come given the period's error; ``+probe``: a few tasks poll inside that window first,
  so that the ticks keep being timed (polls on the ticks alone never would). A cadence
  whose error has grown past a share of its period is not used;
- ``server-hint``: ``openai-poll-after-ms`` is the soonest the server wants to be asked
  again: never sooner; later whenever the estimate says so.
"""

from __future__ import annotations

import attrs

from .pace import Pace
from .stages import StageTrack, finish_bounds, informative_poll

__all__ = ["Delay", "PollPolicy", "ProgressTrack", "has_progress"]

#: durations needed inside a task's bounds before their shortest times its next poll
MIN_PLAUSIBLE = 20
#: a wait the statuses call certain may be this many ``max_delay`` long
WAIT_CEILING = 4
#: a refresh cadence is used while the real tick may be at most this share of a period off
#: the predicted one
STALE_SHARE = 0.15
#: the share of tasks (by their jitter) that probe a refresh tick from both sides ...
PROBE_SHARE = 0.1
#: ... when the tick may be this many seconds off the predicted one
PROBE_SPREAD = 0.15
#: scouts poll about every second for this long at most (long enough to see a gateway
#: refresh twice at new-api's 15 s; a batch of long videos must not pay for more)
SCOUT_SECONDS = 40.0


@attrs.define(kw_only=True)
class ProgressTrack:
    """When (in seconds since submit) and at what value a task first and last reported
    progress. One per followed task; ``observe`` it after every poll."""

    since: float | None = None
    base: int = 0
    latest: tuple[float, int] | None = None
    #: its statuses and when it switched between them (``tasks.stages``)
    stages: StageTrack = attrs.field(factory=StageTrack)
    #: whether two of its readings already taught the pace a queue share
    paired: bool = False
    #: a number in [0, 1) of its own, that spreads a batch's polls apart
    jitter: float = 0.5
    #: one of the few tasks that poll every second while nothing is known (``Pace.enlist``)
    scout: bool = False
    #: the refresh tick this task's last poll came just before, on purpose (a probe)
    probed_tick: float | None = None

    def observe(self, elapsed: float, progress: int | None) -> None:
        """Record a poll's progress (the first and the latest reading with progress)."""
        if not has_progress(progress):
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
    early_quantile: float = attrs.field(default=0.01, validator=attrs.validators.ge(0))
    #: past this quantile of the durations, polls back off (the slowest tasks pay the lag)
    tail_quantile: float = attrs.field(default=0.95, validator=attrs.validators.le(1))
    #: seconds after a gateway refresh to poll (its answers change at the refresh)
    refresh_margin: float = attrs.field(default=0.15, validator=attrs.validators.ge(0))
    #: seconds past a predicted finish to poll (the prediction is the latest finish)
    finish_margin: float = attrs.field(default=0.1, validator=attrs.validators.ge(0))
    #: through a window where the task may end at any moment, polls come this share of
    #: ``fine_interval`` apart (a little tighter than a 1 s loop's lag)
    window_step: float = attrs.field(default=0.9, validator=attrs.validators.gt(0))

    @property
    def scout_wait(self) -> float:
        """When a batch's non-scouts first poll: just after the scouts' second poll."""
        return self.min_delay + self.fine_interval + self.finish_margin

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
            delay = self._on_refresh(delay, pace, now, track)
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
        usable = has_progress(progress) and not (pace is not None and pace.stepped)
        if (
            not usable
            and track is not None
            and track.scout
            and elapsed < SCOUT_SECONDS
            and pace is not None
            and pace.blank
            and pace.batch
        ):
            # the batch learns durations, statuses and the gateway's refreshes from these;
            # their polls keep apart (0.7-1.3 s), so that together they pin down a refresh
            return Delay(self.fine_interval * (0.7 + 0.6 * track.jitter), "scout")
        if usable and pace is not None:
            assert progress is not None
            window = pace.finish_from(elapsed, progress)
            if window is not None:
                return self._to_finish(window[0] - elapsed, window[1] - elapsed)
        if usable and track is not None and track.since is not None:
            assert progress is not None
            return self._from_rate(elapsed, progress, track)
        if pace is not None and pace.longest is not None:
            by_stages = None if usable else self._from_stages(elapsed, track, pace)
            return by_stages or self._from_durations(elapsed, pace)
        if usable:
            assert progress is not None
            remaining = elapsed * (100 - progress) / progress if elapsed > 0 else None
            if remaining is not None:
                return Delay(self._toward_finish(remaining, elapsed, cap=elapsed), "progress")
        if typical_seconds is not None and typical_seconds > 0:
            remaining = typical_seconds - elapsed
            # tasks of a batch spread their polls (a share of the age that varies by task):
            # polls at one moment teach nothing about when a gateway refreshes. While no
            # task of the model has finished, not even a scout, the share is twice as large.
            share = 0.35 + 0.3 * (track.jitter if track is not None else 0.5)
            cap = elapsed * share * (2 if pace is not None and pace.samples == 0 else 1)
            return Delay(self._toward_finish(remaining, elapsed, cap=cap), "typical")
        return Delay(self._clamp(self.min_delay + self.growth * elapsed), "none")

    def _to_finish(self, earliest: float, latest: float) -> Delay:
        """Poll just after a predicted latest finish when the prediction is sharp; else at
        its earliest finish, where a fresh reading sharpens it (an early reading carries the
        queue share's error several times over; one near the end is exact)."""
        if latest < -self.fine_window:
            return Delay(self._clamp(self.fine_interval - self.growth * latest), "overdue")
        if latest - earliest > self.fine_interval:
            if earliest > self.fine_interval / 2:
                return Delay(min(earliest, self.max_delay), "queue-share")
            # it may end at any moment of a wide window (a long task's progress moves one
            # point every few seconds): through it, as a 1 s loop would, a little tighter
            return Delay(self.fine_interval * self.window_step, "queue-share")
        delay = max(latest + self.finish_margin, self.fine_interval / 2)
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
        return Delay(self.fine_interval * self.window_step, "durations")

    def _from_stages(self, elapsed: float, track: ProgressTrack | None, pace: Pace) -> Delay | None:
        """Without usable progress, the statuses a task passed through, and when, bound its
        finish (``tasks.stages``): poll where the answer tells most, then through the
        window where it may end."""
        shares = pace.stages.shares
        if track is None or not shares:
            return None
        earliest, latest = finish_bounds(track.stages, shares)
        if latest < earliest or latest < elapsed:
            return None  # the learned shares did not hold for this task: the durations decide
        # the bounds are certain; a low quantile of the durations they leave is plausible
        # (with fewer than 1 / early_quantile of them, the shortest: a 1 / (n + 1) chance
        # to be shorter), when enough durations are left to say so
        plausible = earliest
        if pace.count_between(earliest, latest) >= MIN_PLAUSIBLE:
            plausible = max(earliest, pace.quantile(self.early_quantile, above=earliest) or 0.0)
        step = self.fine_interval * self.window_step
        if plausible - elapsed <= step:
            if latest - elapsed <= step:
                return Delay(latest - elapsed + self.finish_margin, "stages")
            return Delay(step, "stages")
        info = informative_poll(
            now=elapsed,
            until=plausible,
            window=(earliest, latest),
            durations=pace.sorted_durations,
            shares=shares,
            soonest=self.fine_interval / 2,
            step=step,
        )
        if info is not None:
            return Delay(info[0] - elapsed, "stages")
        # nothing can end before ``plausible``: wait for it, past the usual ceiling (within
        # reason) unless the gateway shows statuses only at its refreshes, up to a period
        # late, which blurs what the shares say
        ceiling = self.max_delay * (1 if pace.cadence.period else WAIT_CEILING)
        return Delay(min(plausible - elapsed, ceiling), "stages")

    def _on_refresh(
        self, delay: Delay, pace: Pace, now: float, track: ProgressTrack | None
    ) -> Delay:
        cadence = pace.cadence
        upcoming, before = cadence.next_tick(now), cadence.last_tick(now + delay.seconds)
        period = cadence.period
        if upcoming is None or before is None or period is None:
            return delay
        # The answer at the chosen time is the answer right after the refresh before it.
        tick = max(upcoming, before)
        probed, reason = None, delay.reason + "+refresh"
        if track is not None:
            probed, track.probed_tick = track.probed_tick, None
        if probed is not None and probed > now:
            tick, reason = probed, delay.reason + "+probe"  # the probe's second half
        spread = cadence.uncertainty(tick)
        if spread > STALE_SHARE * period:
            # too many periods past what was observed for the period's error: poll as the
            # estimate says (answers seen off the ticks re-time them)
            return delay
        # the wider the window, the more tasks probe it
        probers = PROBE_SHARE * spread / PROBE_SPREAD
        if (
            track is not None
            and probed is None
            and spread > PROBE_SPREAD
            and track.jitter < probers
            and tick - spread - now > self.floor
        ):
            # A few tasks poll inside the window before the tick, each at its own point,
            # and again just after it: when their answer changes, those narrow brackets
            # re-time the ticks. Polls on the ticks alone never would, and the period's
            # error grows with every period.
            track.probed_tick = tick
            share = min(1.0, track.jitter / probers)
            return Delay(tick - spread * (1 - share) - now, delay.reason + "+probe")
        # past the latest moment the refresh may come, so the answer is the new one
        return Delay(tick + max(spread, self.refresh_margin) - now, reason)

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


def has_progress(progress: int | None) -> bool:
    """Whether ``progress`` is a reading between the ends (0 % says nothing yet)."""
    return progress is not None and 0 < progress < 100
