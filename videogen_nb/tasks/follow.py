"""Following a task to its end: the one set of rules for every poll loop.

``TaskClient.wait`` follows one task with a sleeping coroutine (``follow_task``); the run
layer's ``PollScheduler`` follows thousands with one timer. Both ask a ``Follow`` what to do
after each poll and each failed poll, so the rules live here once:

- **delay**: ``PollPolicy`` decides, from the elapsed time since submit, the reported
  progress, what was learned about the model at this gateway (``pace``: durations, queue
  share, progress shape, refresh cadence; fed here by every poll and every finish), the
  model's typical duration and the server's own ``openai-poll-after-ms``; ``trace`` keeps
  the GETs spent and the reason of every delay, for ``run.poll_stats()``; a poller of
  many tasks asks ``retime`` again when the pace learned something new while a task slept
  on a guess (``+retimed``);
- **deadline**: ``timeout`` seconds from the moment the following began (a task picked up
  by ``resume()`` after a restart gets a fresh budget; counting from its old submit time
  would time it out at once). No sleep goes past the deadline: the last poll happens at
  it, and a task still running then ends the follow with ``TaskTimeoutError``;
- **rate limits** (429 on a poll): poll again after the gateway's ``Retry-After`` (5 s when
  it names none); never counted as an error: the task is fine, the gateway is busy;
- **transient errors** (5xx, a connection lost, after the transport's own retries): poll
  again after 2, 4, 8... s (at most 30 s); ``MAX_POLL_ERRORS`` in a row end the follow with
  the last error (the remote task may still finish: the journal keeps it for ``resume()``);
- **anything else** (a 404: the gateway does not know the task; 401/403; a connection
  error that will not pass, such as a bad certificate; a bug) ends the follow at once with
  that error;
- an error at or after the deadline ends the follow with ``TaskTimeoutError``.

A task's identity is the id its submit returned: every poll asks for ``follow.task_id``,
whatever id a poll answer carries.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import attrs

from ..core.errors import APIConnectionError, RateLimitError, ServerError, TaskTimeoutError
from ..core.task import Task, TaskStatus
from .pace import PAIR_SPAN, Pace
from .polling import Delay, PollPolicy, ProgressTrack, has_progress

__all__ = [
    "MAX_POLL_ERRORS",
    "RATE_LIMIT_PAUSE",
    "RETIME_GAIN",
    "Decision",
    "Finished",
    "Follow",
    "GiveUp",
    "PollAgain",
    "PollTrace",
    "follow_task",
    "rate_limit_pause",
]

logger = logging.getLogger("videogen_nb")

#: consecutive failed polls (after the transport's own retries) before the follow gives up
MAX_POLL_ERRORS = 6
#: seconds to wait after a 429 that names no Retry-After
RATE_LIMIT_PAUSE = 5.0
#: the longest wait between polls that failed
MAX_ERROR_BACKOFF = 30.0


def rate_limit_pause(retry_after: float | None) -> float:
    """Seconds to hold off after a 429: the gateway's ``Retry-After``, else ``RATE_LIMIT_PAUSE``."""
    return retry_after if retry_after is not None and retry_after >= 0 else RATE_LIMIT_PAUSE


@attrs.frozen
class PollAgain:
    """Poll the task again in ``delay`` seconds (``rate_limit``: the 429 that asked for it)."""

    delay: float
    rate_limit: RateLimitError | None = None


@attrs.frozen
class Finished:
    """The task reached a terminal status (completed, failed or cancelled)."""

    task: Task


@attrs.frozen
class GiveUp:
    """Stop following: ``error`` is what the caller raises."""

    error: BaseException


#: what to do next
Decision: TypeAlias = PollAgain | Finished | GiveUp

#: decisions kept per task (a stuck task polled for hours keeps its latest ones)
MAX_DECISIONS = 200
#: a waiting task is re-timed when what was learned brings its poll this much sooner
RETIME_GAIN = 1.0
#: a finish bracketed by polls further apart than this is learned at its upper bound
NARROW_FINISH = 2.0


@attrs.define(kw_only=True)
class PollTrace:
    """What following one task cost, and why: the numbers behind ``run.poll_stats()``."""

    #: status GETs answered (failed polls are not counted)
    gets: int = 0
    #: (seconds since submit, chosen delay, the estimate that chose it), oldest first
    decisions: list[tuple[float, float, str]] = attrs.field(factory=list)
    #: at most this long passed between the task ending and the poll that saw it (the
    #: time since the previous poll that still saw it running); None until it ends
    lag_bound: float | None = None
    #: the previous answer (status, progress) and when its GET was sent / answered (epoch)
    last_answer: tuple[str, int | None] | None = None
    last_sent: float | None = None
    last_answered: float | None = None

    def note(self, elapsed: float, delay: float, reason: str) -> None:
        """Record one decision."""
        if len(self.decisions) >= MAX_DECISIONS:
            del self.decisions[0]
        self.decisions.append((round(elapsed, 3), round(delay, 3), reason))


@attrs.define(kw_only=True)
class Follow:
    """What is known while following one task, and the rules that decide the next step."""

    #: the last snapshot; its ``id`` is always ``task_id``
    task: Task
    policy: PollPolicy
    #: epoch seconds of the submit (from the journal after a restart), for the poll policy
    submitted_at: float
    #: seconds from ``started`` to the deadline; None waits as long as it takes
    timeout: float | None = None
    typical_seconds: float | None = None
    started: float = attrs.field(factory=time.monotonic)
    errors: int = 0
    track: ProgressTrack = attrs.field(
        default=attrs.Factory(
            lambda self: ProgressTrack(jitter=_jitter(self.task.id)), takes_self=True
        )
    )
    #: what is learned about this model at this gateway (shared by its tasks), or None
    pace: Pace | None = None
    trace: PollTrace = attrs.field(factory=PollTrace)
    #: epoch seconds now (a test drives a recorded timeline through it)
    clock: Callable[[], float] = time.time
    #: the current wait is a 429's or an error's, not the policy's
    _held: bool = attrs.field(default=False, init=False)

    @property
    def task_id(self) -> str:
        """The id the submit returned: the only id this task is ever polled by."""
        return self.task.id

    def time_left(self) -> float | None:
        """Seconds until the deadline (negative once past it), or None without one."""
        if self.timeout is None:
            return None
        return self.timeout - (time.monotonic() - self.started)

    def clip(self, delay: float) -> float:
        """``delay``, shortened so that no sleep goes past the deadline."""
        left = self.time_left()
        return delay if left is None else max(0.0, min(delay, left))

    def first(self) -> Decision:
        """The first step: done already, or when to poll first."""
        if self.task.status.is_terminal:
            return Finished(self.task)
        pace = self.pace
        elapsed = self.clock() - self.submitted_at
        if pace is not None and elapsed < self.policy.scout_wait and pace.blank:
            # Nothing is known about this model yet: a few scouts poll every second, and
            # the rest first poll when the scouts' second readings have taught them.
            self.track.scout = pace.enlist()
            if not self.track.scout:
                delay = self.policy.scout_wait - elapsed
                self.trace.note(elapsed, delay, "scouts")
                return PollAgain(self.clip(delay))
        return PollAgain(self._policy_delay())

    def after_poll(self, task: Task, *, sent_at: float | None = None) -> Decision:
        """The step after a poll answered ``task`` (kept under the submit's id, whatever id
        the answer carries: the answer itself stays on ``task.raw``). ``sent_at`` (epoch)
        is when that GET left; it brackets when the answer changed, for the cadence."""
        self.errors, self._held = 0, False
        if task.id != self.task_id:
            task = attrs.evolve(task, id=self.task_id)
        self.task = task
        self._learn(task, sent_at=sent_at, now=self.clock())
        if task.status.is_terminal:
            return Finished(task)
        if self._past_deadline():
            return self._timed_out()
        return PollAgain(self._policy_delay())

    def retime(self, waiting: float) -> float | None:
        """The next poll decided again because something was learned about the model while
        this task waits ``waiting`` more seconds (a batch's first finishers): the new delay
        when it is at least ``RETIME_GAIN`` sooner, else None (also when the wait is not the
        policy's: the task ended, or it waits out an error or a 429)."""
        if self.task.status.is_terminal or self.errors or self._held:
            return None
        if has_progress(self.task.progress) and not (self.pace and self.pace.stepped):
            return None  # a reading that old would be read as today's: it waits as it is
        now = self.clock()
        elapsed = now - self.submitted_at
        probe = self.track.probed_tick
        delay = self._choose(now, elapsed)
        if delay.seconds > waiting - RETIME_GAIN:
            self.track.probed_tick = probe  # the wait stands, and so does its purpose
            return None
        self.trace.note(elapsed, delay.seconds, delay.reason + "+retimed")
        return self.clip(delay.seconds)

    def after_error(self, error: BaseException) -> Decision:
        """The step after a poll raised ``error``."""
        self._held = True
        if not _may_pass(error):
            return GiveUp(error)
        if self._past_deadline():
            return self._timed_out()
        if isinstance(error, RateLimitError):
            return PollAgain(self.clip(rate_limit_pause(error.retry_after)), rate_limit=error)
        self.errors += 1
        if self.errors >= MAX_POLL_ERRORS:
            return GiveUp(error)
        logger.info("poll of %s failed (%s); trying again", self.task_id, error)
        return PollAgain(self.clip(min(2.0**self.errors, MAX_ERROR_BACKOFF)))

    def _learn(self, task: Task, *, sent_at: float | None, now: float) -> None:
        """Feed one answer to the trace and the pace (progress shape, cadence, durations)."""
        trace = self.trace
        trace.gets += 1
        answer = (task.status.value, task.progress)
        sent = now if sent_at is None else sent_at
        if self.pace is not None:
            self.pace.learn_reading(task.progress, running=task.status is TaskStatus.IN_PROGRESS)
            if trace.last_answer is not None:
                assert trace.last_sent is not None
                if answer != trace.last_answer:
                    self.pace.cadence.observe_change(trace.last_sent, now)
                else:
                    self.pace.cadence.observe_same(trace.last_answered or trace.last_sent, sent)
        if task.status.is_terminal and self.pace is not None:
            self.pace.stages.forget(self.task_id)
        if task.status.is_terminal and trace.last_answered is not None:
            trace.lag_bound = now - trace.last_answered
            if self.pace is not None and task.status is TaskStatus.COMPLETED:
                self._learn_finish(now, trace.last_answered)
        trace.last_answer, trace.last_sent, trace.last_answered = answer, sent, now

    def _learn_finish(self, now: float, before: float) -> None:
        assert self.pace is not None
        done, prior = now - self.submitted_at, before - self.submitted_at
        # a finish bracketed loosely says little about when exactly it happened
        earliest = prior if done - prior <= NARROW_FINISH else done
        track = self.track
        # the first reading: a low progress value is the least sensitive to the finish's error
        first = None if track.since is None else (track.since, track.base)
        self.pace.learn_finish(
            finished=done, earliest=earliest, reading=first, switches=track.stages.switches
        )

    def _learn_pair(self, pace: Pace) -> None:
        track = self.track
        if track.since is None or track.latest is None:
            return
        if track.latest[1] - track.base >= PAIR_SPAN:
            track.paired = True
            pace.learn_pair((track.since, track.base), track.latest)

    def _policy_delay(self) -> float:
        now = self.clock()
        elapsed = now - self.submitted_at
        self._observe(elapsed)
        return self._decide(now, elapsed)

    def _observe(self, elapsed: float) -> None:
        """Feed the latest answer to this task's track (progress, statuses)."""
        self.track.observe(elapsed, self.task.progress)
        if self.pace is not None and not self.track.paired:
            self._learn_pair(self.pace)
        if self.trace.gets and not self.task.status.is_terminal:
            # statuses as polls show them (a submit's answer names them its own way)
            self.track.stages.observe(elapsed, stage_of(self.task))
            if self.pace is not None:
                self.pace.stages.bound_running(self.task_id, self.track.stages.switches, elapsed)

    def _decide(self, now: float, elapsed: float) -> float:
        delay = self._choose(now, elapsed)
        self.trace.note(elapsed, delay.seconds, delay.reason)
        return self.clip(delay.seconds)

    def _choose(self, now: float, elapsed: float) -> Delay:
        return self.policy.decide(
            elapsed=elapsed,
            progress=self.task.progress,
            typical_seconds=self.typical_seconds,
            poll_after=self.task.poll_after,
            track=self.track,
            pace=self.pace,
            now=now,
        )

    def _past_deadline(self) -> bool:
        left = self.time_left()
        return left is not None and left <= 0

    def _timed_out(self) -> GiveUp:
        assert self.timeout is not None
        return GiveUp(TaskTimeoutError(self.task, self.timeout))


def _jitter(task_id: str) -> float:
    """A number in [0, 1) that is the same for a task every time (its id's CRC)."""
    return zlib.crc32(task_id.encode("utf-8", "replace")) / 2**32


def stage_of(task: Task) -> str:
    """The status a task is in, as the gateway names it (new-api tells NOT_START,
    SUBMITTED and QUEUED apart, where the canonical status says queued for all three)."""
    return (task.status_text or task.status.value).lower()


def _may_pass(error: BaseException) -> bool:
    """True for the errors that say nothing about the task: a busy or failing gateway."""
    if isinstance(error, APIConnectionError):
        return error.transient  # a refused connection may pass; a bad certificate will not
    return isinstance(error, RateLimitError | ServerError)


async def follow_task(
    follow: Follow,
    poll: Callable[[str], Awaitable[Task]],
    *,
    on_update: Callable[[Task], None] | None = None,
) -> Task:
    """Poll ``follow``'s task with ``poll(task_id)`` until it ends; return its terminal
    snapshot, or raise what ended the follow (``TaskTimeoutError``, a poll error)."""
    decision = follow.first()
    while isinstance(decision, PollAgain):
        await asyncio.sleep(decision.delay)
        sent_at = follow.clock()
        try:
            task = await poll(follow.task_id)
        except Exception as exc:
            decision = follow.after_error(exc)
            continue
        decision = follow.after_poll(task, sent_at=sent_at)
        if on_update is not None:
            on_update(follow.task)
    if isinstance(decision, GiveUp):
        raise decision.error
    return decision.task
