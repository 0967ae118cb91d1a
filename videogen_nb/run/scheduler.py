"""One poll scheduler for every running task of a client.

Instead of one sleeping coroutine per task, the scheduler keeps a heap of "poll task X at
time T", sleeps until the earliest one, and polls what is due with a bounded number of GETs
at once. That keeps 10,000 tasks in flight cheap, lets a 429 on a poll pause polling of the
whole gateway; what each poll decides comes from ``tasks.follow``, as for ``wait()``.

The scheduler also keeps what its client learns about the gateway (``PaceBook``: per model
durations, queue share and progress shape, seeded from the journal; the gateway's refresh
cadence), shared by every task it follows, and each task's ``PollTrace`` for
``poll_stats()``. When a model's pace learns something new (its first durations, a queue
share), the tasks of that model asleep on a guess are re-timed (``Follow.retime``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import pathlib
import time
from collections.abc import Callable
from typing import Any

from ..core.states import SUCCEEDED_STATES
from ..core.task import Task
from ..tasks.follow import Decision, Finished, Follow, GiveUp, PollAgain, PollTrace
from ..tasks.pace import KEEP_DURATIONS, Pace, PaceBook
from ..tasks.pace_file import pace_path, read_paces, write_paces
from ..tasks.task_client import TaskClient
from .lanes import Lane

__all__ = ["PollScheduler", "poll_stats"]


class _Watch:
    """One task being followed."""

    __slots__ = ("due", "follow", "future", "on_update")

    def __init__(self, follow: Follow, on_update: Callable[[Task], None] | None) -> None:
        self.follow = follow
        self.on_update = on_update
        #: when its next poll is due (a heap entry with another time is stale: re-timed)
        self.due = 0.0
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
        #: what this client learned about its gateway, per model
        self.paces = PaceBook()
        #: each followed task's trace, by task id (the cost and reasons of its polls)
        self.traces: dict[str, PollTrace] = {}
        self._kept: dict[str, dict[str, Any]] | None = None
        self._in_flight = 0
        #: per pace (by id), the milestone its waiting tasks were last timed with
        self._milestones: dict[int, int] = {}

    async def follow(
        self,
        task: Task,
        *,
        submitted_at: float | None = None,
        timeout: float | None = None,
        on_update: Callable[[Task], None] | None = None,
        model: str | None = None,
    ) -> Task:
        """Wait until ``task`` ends and return its last snapshot (completed, failed or cancelled).

        Raises ``TaskTimeoutError`` at the deadline (``timeout`` seconds from now), and the
        poll error when polling keeps failing; the caller decides what each means.
        ``model`` (else ``task.model``) picks what was learned about its pace.
        """
        follow = self._client.following(task, timeout=timeout, submitted_at=submitted_at)
        follow.pace = self.pace(model or task.model)
        self._milestones.setdefault(id(follow.pace), follow.pace.milestone)
        self.traces[task.id] = follow.trace
        watch = _Watch(follow, on_update)
        self._decide(watch, watch.follow.first())
        try:
            return await watch.future
        finally:
            if not watch.future.done():
                watch.future.cancel()  # the heap entry is skipped when it comes due

    def pace(self, model: str | None) -> Pace:
        """What is known about ``model`` at this gateway; the first time, seeded with the
        durations of its tasks that completed here before (from the journal)."""
        known = self.paces.get(model)
        if known is not None:
            return known
        return self.paces.pace(
            model,
            learned=self._journal_durations(model),
            restored=self._kept_paces().get(model or ""),
        )

    def _pace_file(self) -> pathlib.Path | None:
        journal = self._client.journal
        return None if journal is None else pace_path(journal.path)

    def _kept_paces(self) -> dict[str, dict[str, Any]]:
        """What earlier clients on this journal learned here (read once)."""
        if self._kept is None:
            path = self._pace_file()
            self._kept = {} if path is None else read_paces(path, self._client.gateway)
        return self._kept

    def keep_paces(self) -> None:
        """Write what was learned next to the journal, for the next client on it."""
        path = self._pace_file()
        if path is not None:
            write_paces(path, self._client.gateway, self.paces.export())

    def _journal_durations(self, model: str | None) -> list[float]:
        journal = self._client.journal
        if journal is None or not model:
            return []
        entries = journal.entries(
            gateway=self._client.gateway,
            models=model,
            states=[state.value for state in SUCCEEDED_STATES],
        )
        seconds = [
            e.completed_at - e.submitted_at
            for e in entries[-KEEP_DURATIONS:]
            if e.completed_at is not None and e.submitted_at is not None
        ]
        return [s for s in seconds if s > 0]

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
        watch.due = time.monotonic() + delay
        heapq.heappush(self._heap, (watch.due, next(self._counter), watch))
        self._wakeup.set()
        self._ensure_running()

    def _retime(self, pace: Pace) -> None:
        """``pace`` learned something new (its first durations, a queue share): the tasks
        waiting on a guess may be due sooner. A batch learns from its own first
        finishers, and the rest must not sleep through it."""
        milestone = pace.milestone
        if milestone <= self._milestones.get(id(pace), 0):
            return
        self._milestones[id(pace)] = milestone
        now = time.monotonic()
        for due, _, watch in list(self._heap):
            if watch.follow.pace is not pace or due != watch.due or watch.future.done():
                continue
            delay = watch.follow.retime(due - now)
            if delay is not None:
                self._schedule(watch, delay)

    async def _loop(self) -> None:
        while self._heap:
            due, _, watch = self._heap[0]
            if due != watch.due or watch.future.done():
                heapq.heappop(self._heap)  # re-timed (a newer entry stands), or ended
                continue
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
        self._in_flight += 1
        try:
            await self._poll_once(watch)
        finally:
            self._polls.release()
            self._in_flight -= 1
            if not self._heap and not self._in_flight:
                # nothing left to follow: what this batch taught is worth keeping
                self.keep_paces()

    async def _poll_once(self, watch: _Watch) -> None:
        if watch.future.done():
            return
        self.polls_sent += 1
        follow = watch.follow
        sent_at = follow.clock()
        try:
            task = await self._client.retrieve(follow.task_id, retry_rate_limits=False)
        except Exception as exc:  # an unexpected bug must reach the waiting row, not vanish
            self._decide(watch, follow.after_error(exc))
            return
        decision = follow.after_poll(task, sent_at=sent_at)
        if watch.on_update is not None:
            watch.on_update(follow.task)
        self._decide(watch, decision)
        if follow.pace is not None:
            self._retime(follow.pace)

    @staticmethod
    def _settle(watch: _Watch, outcome: Task | BaseException) -> None:
        if watch.future.done():
            return
        if isinstance(outcome, BaseException):
            watch.future.set_exception(outcome)
        else:
            watch.future.set_result(outcome)


def poll_stats(traces: dict[str, PollTrace], task_ids: list[str | None]) -> list[dict[str, Any]]:
    """Per task (in ``task_ids`` order; None for a task never submitted): the status GETs it
    cost, the bound on how late its end was seen (seconds between the last poll that saw it
    running and the one that saw it end) and how many delays each estimate chose."""
    out: list[dict[str, Any]] = []
    for task_id in task_ids:
        trace = traces.get(task_id or "")
        if trace is None:
            out.append({"task_id": task_id, "gets": 0, "lag_bound_s": None, "reasons": {}})
            continue
        reasons: dict[str, int] = {}
        for _, _, reason in trace.decisions:
            reasons[reason] = reasons.get(reason, 0) + 1
        out.append(
            {
                "task_id": task_id,
                "gets": trace.gets,
                "lag_bound_s": trace.lag_bound,
                "reasons": reasons,
                "decisions": list(trace.decisions),
            }
        )
    return out
