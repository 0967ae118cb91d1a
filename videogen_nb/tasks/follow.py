"""Following a task to its end: the one set of rules for every poll loop.

``TaskClient.wait`` follows one task with a sleeping coroutine (``follow_task``); the run
layer's ``PollScheduler`` follows thousands with one timer. Both ask a ``Follow`` what to do
after each poll and each failed poll, so the rules live here once:

- **delay**: ``PollPolicy`` decides, from the elapsed time since submit, the reported
  progress, the model's typical duration and the server's own ``openai-poll-after-ms``;
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
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import attrs

from ..core.errors import APIConnectionError, RateLimitError, ServerError, TaskTimeoutError
from ..core.task import Task
from .polling import PollPolicy, ProgressTrack

__all__ = [
    "MAX_POLL_ERRORS",
    "RATE_LIMIT_PAUSE",
    "Decision",
    "Finished",
    "Follow",
    "GiveUp",
    "PollAgain",
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
    track: ProgressTrack = attrs.field(factory=ProgressTrack)

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
        return PollAgain(self._policy_delay())

    def after_poll(self, task: Task) -> Decision:
        """The step after a poll answered ``task`` (kept under the submit's id, whatever id
        the answer carries: the answer itself stays on ``task.raw``)."""
        self.errors = 0
        if task.id != self.task_id:
            task = attrs.evolve(task, id=self.task_id)
        self.task = task
        if task.status.is_terminal:
            return Finished(task)
        if self._past_deadline():
            return self._timed_out()
        return PollAgain(self._policy_delay())

    def after_error(self, error: BaseException) -> Decision:
        """The step after a poll raised ``error``."""
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

    def _policy_delay(self) -> float:
        elapsed = time.time() - self.submitted_at
        self.track.observe(elapsed, self.task.progress)
        delay = self.policy.next_delay(
            elapsed=elapsed,
            progress=self.task.progress,
            typical_seconds=self.typical_seconds,
            poll_after=self.task.poll_after,
            track=self.track,
        )
        return self.clip(delay)

    def _past_deadline(self) -> bool:
        left = self.time_left()
        return left is not None and left <= 0

    def _timed_out(self) -> GiveUp:
        assert self.timeout is not None
        return GiveUp(TaskTimeoutError(self.task, self.timeout))


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
        try:
            task = await poll(follow.task_id)
        except Exception as exc:
            decision = follow.after_error(exc)
            continue
        decision = follow.after_poll(task)
        if on_update is not None:
            on_update(follow.task)
    if isinstance(decision, GiveUp):
        raise decision.error
    return decision.task
