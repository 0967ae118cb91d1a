"""``core.loops.running_on``: the one "am I on this loop?" test."""

from __future__ import annotations

import asyncio
import threading

from videogen_nb.core.loops import running_loop, running_on


def test_outside_any_loop_nothing_is_running():
    assert running_loop() is None
    assert not running_on(None)
    loop = asyncio.new_event_loop()
    try:
        assert not running_on(loop)
    finally:
        loop.close()


async def test_on_its_own_loop_and_not_on_another():
    here = asyncio.get_running_loop()
    assert running_loop() is here and running_on(here)
    other = asyncio.new_event_loop()
    seen: dict[str, bool] = {}

    def serve() -> None:
        asyncio.set_event_loop(other)
        other.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:

        async def probe() -> None:
            seen["other"] = running_on(other)
            seen["here"] = running_on(here)

        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(probe(), other))
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()
    assert seen == {"other": True, "here": False}
    assert not running_on(other)
