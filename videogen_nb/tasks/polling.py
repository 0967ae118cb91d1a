"""How long to wait before polling a task again.

Real videos take 30 s to 10+ minutes and gateways only refresh their upstream state every
~15 s, so polling every second wastes requests; yet users want to see a finished video at
once. The policy spends few requests early and converges on the moment the task is expected
to finish, using what it knows:

1. the server's own wish (``openai-poll-after-ms``) wins;
2. reported progress gives an ETA from the rate since progress was first reported
   (``ProgressTrack``): gateways show 0 % through a queue phase and then jump, so a rate
   measured from submit would overestimate the remaining time several times over;
3. failing that, the model's typical duration (learned from the journal, or the catalog),
   but never a delay longer than half the time already waited: the typical duration of a
   real vendor says little about a fast gateway (or the sandbox), and early polls are cheap
   ways to learn progress;
4. failing that, a delay that grows with elapsed time (start near 1 s, cap near 15 s).

While the expected finish is far, it waits half of the remaining time (so the number of
polls grows with the log of the duration); near it, it polls at ``fine_interval``; once
the task is overdue, it backs off gently again.
"""

from __future__ import annotations

import attrs

__all__ = ["PollPolicy", "ProgressTrack"]


@attrs.define(kw_only=True)
class ProgressTrack:
    """When (in seconds since submit) and at what value a task first reported progress.

    One per followed task; ``observe`` it after every poll and pass it to ``next_delay``.
    """

    since: float | None = None
    base: int = 0

    def observe(self, elapsed: float, progress: int | None) -> None:
        """Record the first poll that reported progress."""
        if self.since is None and _has_progress(progress):
            assert progress is not None
            self.since, self.base = elapsed, progress


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
        if poll_after is not None and poll_after > 0:
            return max(poll_after, self.floor)
        if track is not None and track.since is not None and _has_progress(progress):
            assert progress is not None
            span, gained = elapsed - track.since, progress - track.base
            if gained <= 0 or span <= 0:
                # Progress has only just appeared: poll again soon to learn its rate.
                return self._clamp(max(self.min_delay, span))
            return self._toward_finish(span * (100 - progress) / gained, elapsed, cap=elapsed)
        remaining = self._estimated_remaining(elapsed, progress, typical_seconds)
        if remaining is None:
            return self._clamp(self.min_delay + self.growth * elapsed)
        # Never sleep much longer than the task has existed: without progress the estimate
        # is some vendor's typical duration, which says little about this gateway.
        cap = elapsed if _has_progress(progress) else elapsed / 2
        return self._toward_finish(remaining, elapsed, cap=cap)

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

    def _estimated_remaining(
        self, elapsed: float, progress: int | None, typical_seconds: float | None
    ) -> float | None:
        if _has_progress(progress) and elapsed > 0:
            assert progress is not None
            return elapsed * (100 - progress) / progress
        if typical_seconds is not None and typical_seconds > 0:
            return typical_seconds - elapsed
        return None

    def _clamp(self, delay: float) -> float:
        return min(max(delay, self.min_delay, self.floor), self.max_delay)


def _has_progress(progress: int | None) -> bool:
    return progress is not None and 0 < progress < 100
