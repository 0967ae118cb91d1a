"""One poll scheduler for every running task of a client.

Instead of one sleeping coroutine per task, the scheduler keeps a heap of "poll task X at
time T", sleeps until the earliest one, and polls what is due with a bounded number of GETs
at once. That keeps 10,000 tasks in flight cheap, lets a 429 on a poll pause polling of the
whole gateway; what each poll decides comes from ``tasks.follow``, as for ``wait()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable

from ..core.task import Task
from ..tasks.follow import Decision, Finished, Follow, GiveUp, PollAgain
from ..tasks.task_client import TaskClient
from .lanes import Lane

__all__ = ["PollScheduler"]


class _Watch:
    """One task being followed."""

    __slots__ = ("follow", "future", "on_update")

    def __init__(self, follow: Follow, on_update: Callable[[Task], None] | None) -> None:
        self.follow = follow
        self.on_update = on_update
        self.future: asyncio.Future[Task] = asyncio.get_running_loop().create_future()


class PollScheduler:
    """Follows tasks to a terminal state for one client, on that client's loop.

    When to poll, when to give up and what a failed poll means are decided by
    ``tasks.follow.Follow`` (the rules ``client.wait()`` follows too); the scheduler only
    batches the polls on one timer and lets a 429 pause the whole gateway lane.
    """

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

    async def follow(
        self,
        task: Task,
        *,
        submitted_at: float | None = None,
        timeout: float | None = None,
        on_update: Callable[[Task], None] | None = None,
    ) -> Task:
        """Wait until ``task`` ends and return its last snapshot (completed, failed or cancelled).

        Raises ``TaskTimeoutError`` at the deadline (``timeout`` seconds from now), and the
        poll error when polling keeps failing; the caller decides what each means.
        """
        watch = _Watch(
            self._client.following(task, timeout=timeout, submitted_at=submitted_at), on_update
        )
        self._decide(watch, watch.follow.first())
        try:
            return await watch.future
        finally:
            if not watch.future.done():
                watch.future.cancel()  # the heap entry is skipped when it comes due

    def _decide(self, watch: _Watch, decision: Decision) -> None:
        if isinstance(decision, Finished):
            self._settle(watch, decision.task)
        elif isinstance(decision, GiveUp):
            self._settle(watch, decision.error)
        else:
            self._schedule(watch, self._lane_delay(watch, decision))

    def _lane_delay(self, watch: _Watch, decision: PollAgain) -> float:
        if decision.rate_limit is None or self._gateway_lane is None:
            return decision.delay
        # A 429 on one poll pauses (and narrows) the whole gateway lane.
        pause = self._gateway_lane.rate_limited(decision.rate_limit.retry_after)
        return watch.follow.clip(pause)

    def _ensure_running(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._loop())

    def _schedule(self, watch: _Watch, delay: float) -> None:
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._counter), watch))
        self._wakeup.set()
        self._ensure_running()

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
        follow = watch.follow
        try:
            task = await self._client.retrieve(follow.task_id, retry_rate_limits=False)
        except Exception as exc:  # an unexpected bug must reach the waiting row, not vanish
            self._decide(watch, follow.after_error(exc))
            return
        decision = follow.after_poll(task)
        if watch.on_update is not None:
            watch.on_update(follow.task)
        self._decide(watch, decision)

    @staticmethod
    def _settle(watch: _Watch, outcome: Task | BaseException) -> None:
        if watch.future.done():
            return
        if isinstance(outcome, BaseException):
            watch.future.set_exception(outcome)
        else:
            watch.future.set_result(outcome)
