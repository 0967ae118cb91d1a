"""Issue 12, items 5 to 8: what a hostile gateway and careless input find.

A small OpenAI-style gateway below misbehaves on purpose: numbers JSON can carry but Python
cannot compute with (``1e400`` parses to infinity, ``NaN``), megabyte error messages, and
task ids that are not one URL path segment. Bad input (lone surrogates, metadata nested
5,000 deep) is refused before any request reaches the sandbox.
"""

from __future__ import annotations

import json
import pathlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web

import videogen_nb as vg
from tests.support import make_mp4, post_count
from videogen_nb.core.errors import APIConnectionError, BadRequestError, ValidationError

POLLS_TO_FINISH = 3
HUGE = 2 * 1024 * 1024  # a 2 MB gateway message
#: a bound comfortably above the 2,000-character excerpt plus its framing
BOUNDED = 3000

Answer = Callable[[int], web.Response]


def raw_json(text: str, status: int = 200) -> web.Response:
    """A JSON body sent as written (``json.dumps`` cannot write ``1e400``)."""
    return web.Response(text=text, status=status, content_type="application/json")


class Gateway:
    """OpenAI video routes whose answers the test chooses; records every path it is asked."""

    def __init__(self, video: bytes) -> None:
        self.video = video
        self.task_id = "video_1"
        self.create_answer: Callable[[], web.Response] | None = None
        self.poll_answer: Answer | None = None
        self.polls: Counter[str] = Counter()
        self.gets: list[str] = []
        self.posts = 0
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def create(self, request: web.Request) -> web.Response:
        await request.read()
        self.posts += 1
        if self.create_answer is not None:
            return self.create_answer()
        return web.json_response({"id": self.task_id, "object": "video", "status": "queued"})

    async def get(self, request: web.Request) -> web.Response:
        raw = request.raw_path
        self.gets.append(raw)
        prefix = "/v1/videos/"
        if not raw.startswith(prefix):
            return web.json_response({"error": {"message": f"no route {raw}"}}, status=404)
        tail = raw[len(prefix) :]
        if tail.endswith("/content"):
            if not self._is_our_segment(tail[: -len("/content")]):
                return web.json_response({"error": {"message": "misrouted"}}, status=404)
            return web.Response(body=self.video, content_type="video/mp4")
        if not self._is_our_segment(tail):
            return web.json_response({"error": {"message": f"misrouted: {raw}"}}, status=404)
        self.polls[tail] += 1
        n = self.polls[tail]
        if self.poll_answer is not None:
            return self.poll_answer(n)
        done = n >= POLLS_TO_FINISH
        return web.json_response(
            {"id": self.task_id, "status": "completed" if done else "in_progress"}
        )

    def _is_our_segment(self, segment: str) -> bool:
        """The raw segment is one path segment that decodes to the task id."""
        return not any(c in segment for c in "/?#") and unquote(segment) == self.task_id

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/videos", self.create)
        app.router.add_get("/{tail:.*}", self.get)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def gateway(tmp_path: pathlib.Path) -> AsyncIterator[Gateway]:
    server = Gateway(make_mp4(tmp_path / "upstream.mp4").read_bytes())
    await server.start()
    yield server
    await server.stop()


def _client(gateway: Gateway, options: dict[str, Any]) -> vg.AsyncClient:
    return vg.AsyncClient(gateway.base_url, "sk-test", dialect="openai", **options)


def sora(prompt: str = "a paper boat in the rain") -> vg.VideoRequest:
    return vg.VideoRequest(model="sora-2", prompt=prompt, size="1280x720", seconds=4)


# --- item 5: numbers that break the decoder ----------------------------------------------


NON_FINITE = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", '"1e400"', '"inf"', '"nan%"']


@pytest.mark.parametrize("number", NON_FINITE)
async def test_non_finite_numbers_in_a_poll_are_not_reported(gateway, client_options, number):
    def answer(n: int) -> web.Response:
        status = "completed" if n >= POLLS_TO_FINISH else "in_progress"
        fields = ", ".join(
            f'"{key}": {number}'
            for key in ("progress", "created_at", "completed_at", "expires_at", "seconds")
        )
        return raw_json(f'{{"id": "video_1", "status": "{status}", {fields}}}')

    gateway.poll_answer = answer
    async with _client(gateway, client_options) as client:
        result = await client.generate(sora())
    assert result.ok, result
    task = result.task
    assert task.created_at is None and task.completed_at is None and task.expires_at is None
    assert task.progress == 100  # completed with no readable progress: done is 100 %
    assert result.path is not None and result.path.read_bytes() == gateway.video


async def test_a_progress_of_1e400_while_running_does_not_fail_the_row(gateway, client_options):
    seen: list[int | None] = []

    def answer(n: int) -> web.Response:
        if n < POLLS_TO_FINISH:
            return raw_json('{"id": "video_1", "status": "in_progress", "progress": 1e400}')
        return raw_json('{"id": "video_1", "status": "completed", "progress": 100}')

    gateway.poll_answer = answer
    async with _client(gateway, client_options) as client:
        task = await client.submit(sora())
        for _ in range(POLLS_TO_FINISH - 1):
            seen.append((await client.retrieve(task)).progress)
        run = client.run([sora("a second boat")])
        await run
        [row_result] = run.results
    assert seen == [None] * (POLLS_TO_FINISH - 1)
    assert row_result.ok, row_result


# --- item 6: validation gaps, refused before any HTTP call --------------------------------


def _nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


BAD_FIELDS = [
    ("prompt", {"prompt": "a boat \ud800 in the rain"}),
    ("metadata", {"prompt": "x", "metadata": _nested(5000)}),
    ("extra_body", {"prompt": "x", "extra_body": _nested(5000)}),
    ("metadata", {"prompt": "x", "metadata": {"note": "lone \udfff"}}),
    ("metadata", {"prompt": "x", "metadata": {"bad \ud83d key": 1}}),
    ("extra_body", {"prompt": "x", "extra_body": {"shots": ["ok", "\ud800"]}}),
    ("user", {"prompt": "x", "user": "\ud800"}),
    ("model", {"model": "sora-\ud800", "prompt": "x"}),
    ("image", {"image": "https://cdn.example/\ud800.png"}),
]


@pytest.mark.parametrize(("field", "fields"), BAD_FIELDS)
def test_bad_strings_and_deep_json_are_refused_naming_the_field(field, fields):
    with pytest.raises(ValidationError) as caught:
        vg.VideoRequest(**{"model": "sora-2", **fields})
    assert caught.value.field.startswith(field), caught.value


@pytest.mark.parametrize(("field", "fields"), BAD_FIELDS[:3])
async def test_bad_input_sends_no_post(sandbox, make_client, field, fields):
    client = make_client(sandbox)
    fields = dict(fields)
    prompt = fields.pop("prompt")
    fields.pop("model", None)
    with pytest.raises(ValidationError) as caught:
        client.compare(prompt=prompt, models=["kling-v1"], **fields)
    assert caught.value.field.startswith(field)
    assert post_count(sandbox) == 0


def test_nesting_and_size_bounds_are_clear():
    vg.VideoRequest(model="m", prompt="x", metadata=_nested(60))  # deep but allowed
    with pytest.raises(ValidationError, match="nested more than 64 levels"):
        vg.VideoRequest(model="m", prompt="x", metadata=_nested(65))
    loop: dict[str, Any] = {}
    loop["self"] = loop  # a cycle is just infinitely deep
    with pytest.raises(ValidationError, match="nested more than 64 levels"):
        vg.VideoRequest(model="m", prompt="x", extra_body=loop)
    with pytest.raises(ValidationError, match="characters"):
        vg.VideoRequest(model="m", prompt="x", metadata={"note": "x" * 1_000_001})
    with pytest.raises(ValidationError, match="values"):
        vg.VideoRequest(model="m", prompt="x", metadata={"n": list(range(100_001))})


# --- item 7: unbounded error text ---------------------------------------------------------


def _huge_message() -> str:
    return "upstream refused: " + "é" * (HUGE - len("upstream refused: "))


def _assert_bounded(text: str) -> None:
    assert len(text) < BOUNDED, len(text)
    assert f"(2,000 of {HUGE:,} characters shown)" in text


async def test_a_2_mb_submit_error_is_kept_as_an_excerpt(gateway, client_options):
    message = _huge_message()
    gateway.create_answer = lambda: web.json_response(
        {"error": {"message": message, "code": "c" * HUGE}}, status=400
    )
    async with _client(gateway, client_options) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.generate(sora())
        _assert_bounded(str(caught.value))
        assert caught.value.message.startswith("upstream refused: éé")
        assert caught.value.code is not None and len(caught.value.code) < 300
        run = client.run([sora("another")])
        await run
        [result] = run.results
        _assert_bounded(str(result.error))
        entries = client.journal.entries()
    assert len(entries) == 2
    for entry in entries:
        _assert_bounded(entry.error or "")
        assert len(entry.error_code or "") < 300


async def test_a_2_mb_failure_reason_is_kept_as_an_excerpt(gateway, client_options):
    message = _huge_message()
    gateway.poll_answer = lambda n: web.json_response(
        {"id": "video_1", "status": "failed", "error": {"message": message}}
    )
    async with _client(gateway, client_options) as client:
        with pytest.raises(vg.TaskFailedError) as caught:
            await client.generate(sora())
        _assert_bounded(str(caught.value))
        _assert_bounded(caught.value.task.error or "")
        [entry] = client.journal.entries()
    _assert_bounded(entry.error or "")


# --- item 8: task ids that are not one path segment --------------------------------------


@pytest.mark.parametrize("task_id", [".", ".."])
async def test_dot_segment_ids_are_refused_quoting_the_answer(gateway, client_options, task_id):
    gateway.task_id = task_id
    async with _client(gateway, client_options) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.generate(sora())
    # the submit's outcome is unknown (the gateway may bill a task no route can reach);
    # the error quotes the gateway's answer
    assert f'"id": {json.dumps(task_id)}' in str(caught.value)
    assert gateway.gets == []  # nothing was polled at the route above


@pytest.mark.parametrize("task_id", [".", ".."])
def test_the_decoder_says_why_a_dot_segment_id_is_refused(task_id):
    from videogen_nb.dialects.decode import decode_task

    with pytest.raises(APIConnectionError) as caught:
        decode_task({"id": task_id, "status": "queued"})
    text = str(caught.value)
    assert f"task id {task_id!r}" in text and "one URL path segment" in text
    assert f'"id": {json.dumps(task_id)}' in text
    # a poll keeps the id it asked for: a dot id in a poll answer is only kept on raw
    polled = decode_task({"id": task_id, "status": "queued"}, task_id="video_1")
    assert polled.raw["id"] == task_id


@pytest.mark.parametrize("task_id", ["a/b", "a?b=1", "a#frag", "100%", "..a", "./x", "a/../b"])
async def test_awkward_ids_stay_one_path_segment(gateway, client_options, task_id):
    gateway.task_id = task_id
    async with _client(gateway, client_options) as client:
        result = await client.generate(sora())
    assert result.ok, result
    assert result.task.id == task_id
    [segment] = gateway.polls  # every poll asked for one segment, the task's own
    assert gateway.polls[segment] == POLLS_TO_FINISH
    assert gateway.gets[-1] == f"/v1/videos/{segment}/content"
    assert all(path.startswith(f"/v1/videos/{segment}") for path in gateway.gets), gateway.gets


def test_dialects_refuse_dot_segment_ids():
    from videogen_nb.dialects import get_dialect

    for name in ("openai", "unified", "kling"):
        dialect = get_dialect(name)
        for task_id in (".", ".."):
            with pytest.raises(ValidationError, match="one URL path segment"):
                dialect.poll_paths(task_id)
            with pytest.raises(ValidationError, match="one URL path segment"):
                dialect.content_path(task_id)
            with pytest.raises(ValidationError, match="one URL path segment"):
                dialect.build_cancel(task_id)
