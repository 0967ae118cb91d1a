"""Concurrency lanes: limits, rate-limit pauses of the whole lane, additive recovery."""

from __future__ import annotations

import asyncio
import time

import pytest

from videogen_nb.run.lanes import Lane, LaneSet


async def test_lane_caps_concurrency_and_serves_in_order():
    lane = Lane("t", 2)
    running, peak, order = 0, 0, []

    async def work(i):
        nonlocal running, peak
        await lane.acquire()
        running += 1
        peak = max(peak, running)
        order.append(i)
        await asyncio.sleep(0.01)
        running -= 1
        lane.release()

    await asyncio.gather(*(work(i) for i in range(8)))
    assert peak == 2
    assert order == list(range(8))


async def test_rate_limit_pauses_the_whole_lane_and_halves_it():
    lane = Lane("t", 8)
    pause = lane.rate_limited(0.3)
    assert pause == pytest.approx(0.3)
    assert lane.limit == 4
    started = time.monotonic()
    await lane.acquire()  # nobody holds a place, yet the pause must be waited out
    assert time.monotonic() - started >= 0.25
    lane.release()


async def test_success_widens_the_lane_back_to_its_maximum():
    lane = Lane("t", 4)
    lane.rate_limited(0)
    assert lane.limit == 2
    for _ in range(50):
        lane.succeeded()
    assert lane.limit == 4


async def test_cancelled_waiter_does_not_leak_a_place():
    lane = Lane("t", 1)
    await lane.acquire()
    waiter = asyncio.ensure_future(lane.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    lane.release()
    await asyncio.wait_for(lane.acquire(), 1)
    assert lane.active == 1


async def test_laneset_model_limits_and_slot():
    lanes = LaneSet(gateway=3, models={"slow": 1})
    inside = {"slow": 0, "fast": 0}
    peak = {"slow": 0, "fast": 0}

    async def work(model):
        async with lanes.slot(model):
            inside[model] += 1
            peak[model] = max(peak[model], inside[model])
            await asyncio.sleep(0.01)
            inside[model] -= 1

    await asyncio.gather(*(work(m) for m in ["slow", "fast"] * 4))
    assert peak["slow"] == 1
    assert peak["fast"] <= 3
    assert lanes.gateway.active == 0


def test_lane_rejects_zero():
    with pytest.raises(ValueError, match="at least 1"):
        Lane("t", 0)
