"""Issue 12.2: a 2xx answer to a submit POST from which no task id can be read is an unknown
outcome (the gateway may have made, and billed, the task), never a plain failure: the entry
is ``submit_unknown``, quoting a bounded excerpt of what came back, and
``run.retry_unknown()`` offers it (resent with the same Idempotency-Key)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

import videogen_nb as vg
from tests.support import FAST_POLL, FAST_RETRY, make_mp4, small
from videogen_nb.run import RowState

#: answers a gateway might send with 200 that name no task
NOT_A_TASK: dict[str, Any] = {
    "list": [],
    "list of tasks": [{"id": "video_1", "status": "queued"}],
    "number": 42,
    "null": None,
    "true": True,
    "string": "video_1",
    "empty object": {},
    "object without id": {"object": "video", "status": "queued", "progress": 0},
    "null id": {"id": None, "status": "queued"},
    "empty id": {"id": "", "status": "queued"},
    "empty data": {"data": {}},
}


class NoTaskGateway:
    """OpenAI video routes whose POST answers 200 with ``body`` until ``honest`` is set;
    then it answers with a real task (which completes at once)."""

    def __init__(self, video: bytes) -> None:
        self.video = video
        self.body: Any = None
        self.honest = False
        self.keys: list[str | None] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def create(self, request: web.Request) -> web.Response:
        await request.read()
        self.keys.append(request.headers.get("Idempotency-Key"))
        if self.honest:
            return web.json_response({"id": "video_1", "object": "video", "status": "queued"})
        return web.Response(text=json.dumps(self.body), content_type="application/json")

    async def retrieve(self, request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        return web.json_response(
            {"id": task_id, "object": "video", "status": "completed", "progress": 100}
        )

    async def content(self, request: web.Request) -> web.Response:
        return web.Response(body=self.video, content_type="video/mp4")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/videos", self.create)
        app.router.add_get("/v1/videos/{task_id}", self.retrieve)
        app.router.add_get("/v1/videos/{task_id}/content", self.content)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def gateway(tmp_path: pathlib.Path) -> AsyncIterator[NoTaskGateway]:
    server = NoTaskGateway(make_mp4(tmp_path / "upstream.mp4").read_bytes())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(gateway: NoTaskGateway, tmp_path: pathlib.Path) -> AsyncIterator[vg.AsyncClient]:
    c = vg.AsyncClient(
        gateway.base_url,
        "sk-test",
        dialect="openai",
        journal=tmp_path / "journal.sqlite",
        output_dir=tmp_path / "videos",
        poll=FAST_POLL,
        retry=FAST_RETRY,
        timeout=10.0,
        task_timeout=30.0,
    )
    yield c
    await c.aclose()


@pytest.mark.parametrize("shape", sorted(NOT_A_TASK))
async def test_a_200_that_is_not_a_task_is_an_unknown_outcome(
    shape: str, gateway: NoTaskGateway, client: vg.AsyncClient
) -> None:
    gateway.body = NOT_A_TASK[shape]
    with pytest.raises(vg.SubmitOutcomeUnknownError, match="may have created") as info:
        await client.submit(small(f"answer {shape}"))
    assert "retry_unknown" in str(info.value)
    assert json.dumps(gateway.body)[:20] in str(info.value), "quote what came back"
    assert len(gateway.keys) == 1, "never resent on its own"
    (entry,) = client.journal.entries()
    assert entry.state == "submit_unknown" and entry.task_id is None
    assert json.dumps(gateway.body)[:20] in entry.error


async def test_the_quote_is_bounded(gateway: NoTaskGateway, client: vg.AsyncClient) -> None:
    gateway.body = [{"filler": "x" * 1000} for _ in range(2000)]  # 2 MB of not-a-task
    with pytest.raises(vg.SubmitOutcomeUnknownError) as info:
        await client.submit(small("huge"))
    assert len(str(info.value)) < 1000
    assert len(client.journal.entries()[0].error) < 1000


async def test_retry_unknown_offers_it_with_the_same_key(
    gateway: NoTaskGateway, client: vg.AsyncClient
) -> None:
    gateway.body = {"object": "video", "status": "queued"}  # billed, but which task?
    run = client.run([small("billed?")])
    await run
    (row,) = run.rows
    assert row.state is RowState.SUBMIT_UNKNOWN
    assert isinstance(row.error, vg.SubmitOutcomeUnknownError)
    assert client.journal.entries()[0].state == "submit_unknown"
    gateway.honest = True
    assert run.retry_unknown() == 1
    await run
    assert row.state is RowState.DONE
    assert len(gateway.keys) == 2 and gateway.keys[0] == gateway.keys[1] is not None
    (entry,) = client.journal.entries()
    assert (entry.state, entry.task_id) == ("downloaded", "video_1")


async def test_an_error_envelope_under_200_is_still_a_refusal(
    gateway: NoTaskGateway, client: vg.AsyncClient
) -> None:
    # new-api sends refusals as {"code": "...", "message": ...} under HTTP 200: nothing made
    gateway.body = {"code": "invalid_request", "message": "prompt is required", "data": None}
    with pytest.raises(vg.APIError):
        await client.submit(small("refused"))
    assert client.journal.entries()[0].state == "failed"
