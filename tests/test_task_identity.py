"""Issue 11: a task's identity is the id its submit returned, whatever a poll answer says.

A LiteLLM proxy packs provider and model into the id its submit hands out, and its poll
answers carry a shorter id of their own; it can route only the first. The gateway below
does the same on purpose: every call by the id a poll invented answers HTTP 500, as
LiteLLM does ("Cannot connect to host api.openai.com").
"""

from __future__ import annotations

import pathlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

import videogen_nb as vg
from tests.support import decode_video, make_mp4
from videogen_nb.run import RowState

#: what LiteLLM answers when it cannot route a task id
CANNOT_ROUTE = "litellm.InternalServerError: Cannot connect to host api.openai.com:443"
#: polls a task answers "in_progress" before it completes
POLLS_TO_FINISH = 3


class HostileGateway:
    """OpenAI video routes whose poll answers carry an id that cannot be routed."""

    def __init__(self, video: bytes) -> None:
        self.video = video
        self.polls: Counter[str] = Counter()
        self.misrouted: list[str] = []
        self.created = 0
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    @staticmethod
    def routed_id(n: int) -> str:
        return f"video_bGl0ZWxsbTpwcm92aWRlcj1vcGVuYWk7bW9kZWw9c29yYS0y_{n}"

    @staticmethod
    def poll_id(n: int) -> str:
        return f"video_{n}"

    def _known(self, request: web.Request) -> str | None:
        task_id = request.match_info["task_id"]
        if task_id.startswith("video_bGl0"):
            return task_id
        self.misrouted.append(f"{request.method} {request.path}")
        return None

    async def create(self, request: web.Request) -> web.Response:
        await request.read()
        self.created += 1
        return web.json_response(
            {
                "id": self.routed_id(self.created),
                "object": "video",
                "status": "queued",
                "progress": 0,
                "model": "sora-2",
            }
        )

    async def retrieve(self, request: web.Request) -> web.Response:
        task_id = self._known(request)
        if task_id is None:
            return _cannot_route()
        self.polls[task_id] += 1
        done = self.polls[task_id] >= POLLS_TO_FINISH
        return web.json_response(
            {
                "id": self.poll_id(int(task_id.rsplit("_", 1)[1])),
                "object": "video",
                "status": "completed" if done else "in_progress",
                "progress": 100 if done else 30 * self.polls[task_id],
                "model": "sora-2",
            }
        )

    async def content(self, request: web.Request) -> web.Response:
        if self._known(request) is None:
            return _cannot_route()
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
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _cannot_route() -> web.Response:
    return web.json_response(
        {"error": {"message": CANNOT_ROUTE, "type": "internal_server_error"}},
        status=500,
    )


@pytest.fixture
async def gateway(tmp_path: pathlib.Path) -> AsyncIterator[HostileGateway]:
    video = make_mp4(tmp_path / "upstream.mp4").read_bytes()
    server = HostileGateway(video)
    await server.start()
    yield server
    await server.stop()


def sora(prompt: str = "a paper boat in the rain") -> vg.VideoRequest:
    return vg.VideoRequest(model="sora-2", prompt=prompt, size="1280x720", seconds=4)


def _client(gateway: HostileGateway, options: dict[str, Any], **extra: Any) -> vg.AsyncClient:
    return vg.AsyncClient(gateway.base_url, "sk-test", dialect="openai", **{**options, **extra})


async def test_generate_polls_and_downloads_by_the_submitted_id(gateway, client_options):
    async with _client(gateway, client_options) as client:
        result = await client.generate(sora())
        assert result.ok, result
        assert result.task.id == gateway.routed_id(1)
        # what the poll said is kept, but never routed by
        assert result.task.raw["id"] == gateway.poll_id(1)
        assert gateway.misrouted == []
        assert gateway.polls[gateway.routed_id(1)] == POLLS_TO_FINISH
        assert result.path.read_bytes() == gateway.video
        entry = client.journal.get(result.journal_id)
        assert entry.task_id == gateway.routed_id(1)
        assert entry.state == "downloaded"


async def test_wait_and_retrieve_keep_the_submitted_id(gateway, client_options):
    async with _client(gateway, client_options) as client:
        task = await client.submit(sora())
        seen: list[str] = []
        done = await client.wait(task, on_update=lambda t: seen.append(t.id))
        assert done.status is vg.TaskStatus.COMPLETED
        assert set(seen) == {task.id} and done.id == task.id
        again = await client.retrieve(task.id)
        assert again.id == task.id and again.raw["id"] == gateway.poll_id(1)
        path = await client.download(done)
        assert decode_video(path)["frames"] > 0
    assert gateway.misrouted == []


async def test_run_follows_every_row_by_its_submitted_id(gateway, client_options):
    async with _client(gateway, client_options) as client:
        run = client.run([sora(f"row {i}") for i in range(3)])
        await run
        assert [row.state for row in run.rows] == [RowState.DONE] * 3, run.results
        assert sorted(row.task.id for row in run.rows) == [gateway.routed_id(n) for n in (1, 2, 3)]
        for result in run.results:
            assert result.path.read_bytes() == gateway.video
            assert client.journal.get(result.journal_id).task_id == result.task.id
    assert gateway.misrouted == []


async def test_resume_after_restart_polls_by_the_journalled_id(gateway, client_options):
    first = _client(gateway, client_options)
    task = await first.submit(sora())
    # one poll before the "restart": the journal now holds what a poll said, too
    await first.retrieve(task.id)
    await first.aclose()

    async with _client(gateway, client_options) as second:  # a new process: nothing in memory
        run = second.resume()
        await run
        (row,) = run.rows
        assert row.state is RowState.DONE, row.error
        assert row.task.id == task.id
        entry = second.journal.get(row.entry_id)
        assert entry.task_id == task.id and entry.state == "downloaded"
    assert gateway.misrouted == []
    assert gateway.polls[task.id] == POLLS_TO_FINISH
