"""Concurrency lanes: how many tasks may be in flight per gateway and per model.

A lane is an adaptive semaphore. Gateways limit concurrent tasks per account and answer 429
when a client pushes too hard; a 429 therefore pauses the *whole lane* for the Retry-After
the gateway asked for (not just the task that hit it) and halves the lane's width, which
then grows back by one for every ``limit`` successes in a row (additive increase,
multiplicative decrease, as TCP does).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Mapping

from ..tasks.follow import RATE_LIMIT_PAUSE, rate_limit_pause

__all__ = ["DEFAULT_GATEWAY_CONCURRENCY", "Lane", "LaneSet"]

#: tasks in flight per gateway unless told otherwise: enough to keep a comparison grid
#: moving, few enough that an account's concurrent-task limit is rarely hit
DEFAULT_GATEWAY_CONCURRENCY = 16
#: pause used when a 429 names no Retry-After (the same rule as a rate-limited poll's)
DEFAULT_RATE_LIMIT_PAUSE = RATE_LIMIT_PAUSE


class Lane:
    """An adaptive, pausable semaphore (use on one event loop)."""

    def __init__(self, name: str, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"lane {name!r}: limit must be at least 1, got {limit}")
        self.name = name
        self.max_limit = limit
        self.limit = limit
        self.active = 0
        self.paused_until = 0.0
        self.rate_limited_count = 0
        self._successes = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._wake_handle: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"Lane({self.name!r}, active={self.active}, limit={self.limit}/{self.max_limit})"

    @property
    def paused(self) -> bool:
        """True while a rate-limit pause is in force."""
        return asyncio.get_running_loop().time() < self.paused_until

    async def acquire(self) -> None:
        """Wait for a free place (first come, first served) and take it."""
        loop = asyncio.get_running_loop()
        if not self._waiters and self._has_room(loop):
            self.active += 1
            return
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._wake(loop)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # We were handed a place just as we were cancelled: give it back.
                self.release()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a place back."""
        self.active = max(0, self.active - 1)
        self._wake(asyncio.get_running_loop())

    def rate_limited(self, retry_after: float | None) -> float:
        """Record a 429: pause the lane and narrow it. Returns the pause in seconds."""
        loop = asyncio.get_running_loop()
        pause = rate_limit_pause(retry_after)
        self.paused_until = max(self.paused_until, loop.time() + pause)
        self.limit = max(1, self.limit // 2)
        self._successes = 0
        self.rate_limited_count += 1
        return pause

    def succeeded(self) -> None:
        """Record a request the gateway accepted; widen the lane back step by step."""
        self._successes += 1
        if self.limit < self.max_limit and self._successes >= self.limit:
            self.limit += 1
            self._successes = 0
            self._wake(asyncio.get_running_loop())

    async def wait_unpaused(self) -> None:
        """Sleep until any rate-limit pause is over."""
        loop = asyncio.get_running_loop()
        while (delay := self.paused_until - loop.time()) > 0:
            await asyncio.sleep(delay)

    def _has_room(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self.active < self.limit and loop.time() >= self.paused_until

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._waiters and self._has_room(loop):
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self.active += 1
            waiter.set_result(None)
        if self._waiters and loop.time() < self.paused_until and self._wake_handle is None:
            # Nobody releases during a pause, so set a timer to hand out places when it ends.
            self._wake_handle = loop.call_at(self.paused_until, self._timer_wake, loop)

    def _timer_wake(self, loop: asyncio.AbstractEventLoop) -> None:
        self._wake_handle = None
        self._wake(loop)


class LaneSet:
    """The lanes of one client: one per gateway, one per model.

    ``gateway`` caps all tasks in flight at the gateway; ``models`` caps each model (a number
    for all, or a mapping of model name to limit, with ``"*"`` as the default). Without a
    model limit, a model may use the whole gateway lane.
    """

    def __init__(
        self,
        *,
        gateway: int = DEFAULT_GATEWAY_CONCURRENCY,
        models: int | Mapping[str, int] | None = None,
    ) -> None:
        self.gateway = Lane("gateway", gateway)
        if models is None:
            models = {}
        self._model_limits = dict(models) if isinstance(models, Mapping) else {"*": models}
        self._models: dict[str, Lane] = {}

    def model(self, name: str) -> Lane:
        """The lane of one model (created on first use)."""
        lane = self._models.get(name)
        if lane is None:
            limit = self._model_limits.get(name, self._model_limits.get("*"))
            lane = self._models[name] = Lane(f"model:{name}", limit or self.gateway.max_limit)
        return lane

    def set_gateway_limit(self, limit: int) -> None:
        """Change the gateway lane's width (model lanes without a limit of their own follow)."""
        self.gateway.max_limit = self.gateway.limit = limit
        for name, lane in self._models.items():
            if name not in self._model_limits and "*" not in self._model_limits:
                lane.max_limit = lane.limit = limit

    def lanes_for(self, model: str) -> tuple[Lane, Lane]:
        """The lanes a task of ``model`` must pass, in the one order every task takes them."""
        return (self.model(model), self.gateway)

    @contextlib.asynccontextmanager
    async def slot(self, model: str) -> AsyncIterator[tuple[Lane, ...]]:
        """Hold a place in the model's lane and the gateway's lane for the block."""
        taken: list[Lane] = []
        try:
            for lane in self.lanes_for(model):
                await lane.acquire()
                taken.append(lane)
            yield tuple(taken)
        finally:
            for lane in reversed(taken):
                lane.release()
