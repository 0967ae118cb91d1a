"""One poll scheduler for every running task of a client.

Instead of one sleeping coroutine per task, the scheduler keeps a heap of "poll task X at
time T", sleeps until the earliest one, and polls what is due with a bounded number of GETs
at once. That keeps 10,000 tasks in flight cheap, lets a 429 on a poll pause polling of the
whole gateway, and gives one place where the poll schedule is decided (``PollPolicy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable

from ..core.errors import (
    APIConnectionError,
    BadRequestError,
    RateLimitError,
    ServerError,
    TaskTimeoutError,
)
from ..core.task import Task
from ..tasks.polling import ProgressTrack
from ..tasks.task_client import TaskClient
from .lanes import Lane

__all__ = ["PollScheduler"]

logger = logging.getLogger("videogen_nb")

#: consecutive failed polls (after the transport's own retries) before a task is given up
#: on in this run; the journal keeps it "submitted" so resume() can pick it up later
MAX_POLL_ERRORS = 6


class _Watch:
    """One task being followed."""

    __slots__ = (
        "deadline",
        "errors",
        "future",
        "on_update",
        "submitted_at",
        "task",
        "track",
        "typical",
    )

    def __init__(
        self,
        task: Task,
        *,
        submitted_at: float,
        deadline: float | None,
        typical: float | None,
        on_update: Callable[[Task], None] | None,
    ) -> None:
        self.task = task
        self.submitted_at = submitted_at
        self.deadline = deadline
        self.typical = typical
        self.on_update = on_update
        self.errors = 0
        self.track = ProgressTrack()
        self.future: asyncio.Future[Task] = asyncio.get_running_loop().create_future()


class PollScheduler:
    """Follows tasks to a terminal state for one client, on that client's loop."""

    def __init__(
        self, client: TaskClient, *, gateway_lane: Lane | None = None, max_parallel_polls: int = 64
    ) -> None:
        self._client = client
        self._gateway_lane = gateway_lane
        self._heap: list[tuple[float, int, _Watch]] = []
        self._counter = itertools.count()
        self._wakeup = asyncio.Event()
        self._polls = asyncio.Semaphore(max_parallel_polls)
        self._runner: asyncio.Task[None] | None = None
        self.polls_sent = 0

    @property
    def watching(self) -> int:
        """How many tasks are being followed."""
        return len(self._heap)

    async def follow(
        self,
        task: Task,
        *,
        submitted_at: float | None = None,
        timeout: float | None = None,
        on_update: Callable[[Task], None] | None = None,
    ) -> Task:
        """Wait until ``task`` ends and return its last snapshot (completed, failed or cancelled).

        Raises ``TaskTimeoutError`` at the deadline, and the poll error when polling keeps
        failing; the caller decides what each means.
        """
        if task.status.is_terminal:
            return task
        submitted = submitted_at if submitted_at is not None else time.time()
        deadline = submitted + timeout if timeout is not None else None
        watch = _Watch(
            task,
            submitted_at=submitted,
            deadline=deadline,
            typical=self._client.typical_seconds(task.model),
            on_update=on_update,
        )
        self._schedule(watch, self._delay(watch))
        try:
            return await watch.future
        finally:
            if not watch.future.done():
                watch.future.cancel()  # the heap entry is skipped when it comes due

    def _ensure_running(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._loop())

    def _schedule(self, watch: _Watch, delay: float) -> None:
        due = time.monotonic() + delay
        if watch.deadline is not None:
            # Never sleep past the deadline: the last poll happens at it.
            due = min(due, time.monotonic() + max(0.0, watch.deadline - time.time()))
        heapq.heappush(self._heap, (due, next(self._counter), watch))
        self._wakeup.set()
        self._ensure_running()

    def _delay(self, watch: _Watch) -> float:
        task = watch.task
        elapsed = time.time() - watch.submitted_at
        watch.track.observe(elapsed, task.progress)
        return self._client.poll_policy.next_delay(
            elapsed=elapsed,
            progress=task.progress,
            typical_seconds=watch.typical,
            poll_after=task.poll_after,
            track=watch.track,
        )

    async def _loop(self) -> None:
        while self._heap:
            due, _, watch = self._heap[0]
            now = time.monotonic()
            if lane_pause := self._pause_left():
                due = max(due, now + lane_pause)
            if due > now:
                self._wakeup.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=due - now)
                continue
            heapq.heappop(self._heap)
            if watch.future.done():
                continue
            await self._polls.acquire()
            asyncio.get_running_loop().create_task(self._poll(watch))

    def _pause_left(self) -> float:
        if self._gateway_lane is None:
            return 0.0
        return max(0.0, self._gateway_lane.paused_until - asyncio.get_running_loop().time())

    async def _poll(self, watch: _Watch) -> None:
        try:
            await self._poll_once(watch)
        finally:
            self._polls.release()

    async def _poll_once(self, watch: _Watch) -> None:
        if watch.future.done():
            return
        self.polls_sent += 1
        try:
            task = await self._client.retrieve(watch.task.id, retry_rate_limits=False)
        except RateLimitError as exc:
            pause = (
                self._gateway_lane.rate_limited(exc.retry_after)
                if self._gateway_lane is not None
                else exc.retry_after or 5.0
            )
            self._schedule(watch, pause)
            return
        except (ServerError, APIConnectionError) as exc:
            watch.errors += 1
            if watch.errors >= MAX_POLL_ERRORS:
                self._settle(watch, exc)
                return
            logger.info("poll of %s failed (%s); trying again", watch.task.id, exc)
            self._schedule(watch, min(2.0**watch.errors, 30.0))
            return
        except BadRequestError as exc:
            self._settle(watch, exc)
            return
        except Exception as exc:  # an unexpected bug must reach the waiting row, not vanish
            self._settle(watch, exc)
            return
        watch.errors = 0
        watch.task = task
        if watch.on_update is not None:
            watch.on_update(task)
        if task.status.is_terminal:
            self._settle(watch, task)
            return
        if watch.deadline is not None and time.time() >= watch.deadline:
            self._settle(watch, TaskTimeoutError(task, watch.deadline - watch.submitted_at))
            return
        self._schedule(watch, self._delay(watch))

    @staticmethod
    def _settle(watch: _Watch, outcome: Task | BaseException) -> None:
        if watch.future.done():
            return
        if isinstance(outcome, BaseException):
            watch.future.set_exception(outcome)
        else:
            watch.future.set_result(outcome)
