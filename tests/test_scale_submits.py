"""Issue 13, scale: a client sends its submits in waves of at most
``MAX_SUBMITS_IN_FLIGHT`` POSTs, so 10,000 submits never share one turn of the event loop
(a notebook cell would wait behind them); every submit still returns its committed id."""

from __future__ import annotations

import asyncio
import itertools

from aiohttp import web

import videogen_nb as vg
from tests.support import small
from videogen_nb.tasks.task_client import MAX_SUBMITS_IN_FLIGHT


async def test_submits_go_out_in_bounded_waves(client_options) -> None:
    in_flight = 0
    most = 0
    ids = itertools.count()

    async def submit(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.02)
            return web.json_response({"task_id": f"t{next(ids)}", "status": "queued"})
        finally:
            in_flight -= 1

    app = web.Application()
    app.router.add_post("/v1/video/generations", submit)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = vg.AsyncClient(f"http://127.0.0.1:{port}", "k", dialect="unified", **client_options)
    try:
        n = MAX_SUBMITS_IN_FLIGHT * 2 + 5
        tasks = await asyncio.gather(*(client.submit(small(f"wave {i}")) for i in range(n)))
        assert len({t.id for t in tasks}) == n
        assert 1 < most <= MAX_SUBMITS_IN_FLIGHT
        entries = client.journal.entries()
        assert sorted(e.task_id for e in entries) == sorted(t.id for t in tasks)
    finally:
        await client.aclose()
        await runner.cleanup()


def test_the_journal_is_asked_a_models_typical_duration_once_per_few_seconds(
    client_options, monkeypatch
) -> None:
    # asked for every followed task: 10,000 tasks must not scan the journal 10,000 times
    from videogen_nb.tasks import task_client as module

    client = vg.AsyncClient("http://127.0.0.1:9", "k", **client_options)
    asked: list[str] = []
    journal = client.journal
    real = journal.typical_seconds

    def counting(model: str, **kwargs: object) -> float | None:
        asked.append(model)
        return real(model, **kwargs)

    monkeypatch.setattr(journal, "typical_seconds", counting)
    for _ in range(100):
        client.typical_seconds("kling-v1")
    assert asked == ["kling-v1"]
    monkeypatch.setattr(module, "TYPICAL_SECONDS_TTL", -1.0)  # expired: asked again
    client.typical_seconds("kling-v1")
    assert asked == ["kling-v1", "kling-v1"]
    journal.close()
