"""Issue 12, items 9 and 10: a gateway that echoes the key, and a traceback with locals.

A hostile gateway repeats the bearer token everywhere it can (a 401 body, a 422 body, a
task's error message, a task's raw fields, a header, an error body on the video route);
the key, its ``Bearer`` form and its URL-encoded form must reach none of the exception
texts, ``Task.raw``, the Result HTML, the report page or the journal file. And a request
that dies inside the send path must leave the key in no frame's locals.
"""

from __future__ import annotations

import pathlib
import socket
import traceback
import urllib.parse
from typing import Any

import pytest
from aiohttp import web

import videogen_nb as vg
from tests.support import small
from videogen_nb.display.report import render_report
from videogen_nb.http.retry import RetryPolicy
from videogen_nb.http.scrub import Scrubber
from videogen_nb.http.transport import Transport

KEY = "sk-ECHOED-4b9d1e7f0a-secret/+key"
SPELLINGS = (
    KEY,
    f"Bearer {KEY}",
    urllib.parse.quote(KEY, safe=""),
    urllib.parse.quote_plus(KEY, safe=""),
    KEY.removeprefix("sk-"),
)


def _leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [s for s in SPELLINGS if s.encode() in text]
    return [s for s in SPELLINGS if s in text]


def _escaped(text: str) -> str:
    """``text`` with its first letter after the prefix spelled as a JSON escape."""
    return text.replace("ECHOED", "\\u0045CHOED")


async def _echo_server(aiohttp_port: list[int]) -> web.AppRunner:
    tasks: dict[str, str] = {}

    async def submit(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        body = await request.json()
        model = body.get("model")
        if model == "m401":
            return web.json_response(
                {"error": {"message": f"invalid token: {auth}", "type": "auth"}}, status=401
            )
        if model == "m422":
            text = f'{{"error": {{"message": "bad field for key {_escaped(KEY)}, {auth}"}}}}'
            return web.Response(status=422, text=text, content_type="application/json")
        task_id = f"task_{len(tasks) + 1}"
        tasks[task_id] = model
        return web.json_response(
            {"id": task_id, "status": "queued", "echo": auth},
            headers={"X-Echo": auth, "X-Echo-Encoded": urllib.parse.quote(KEY, safe="")},
        )

    async def poll(request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        auth = request.headers.get("Authorization", "")
        base = {"id": task_id, "debug": {"headers": {"authorization": auth}}, KEY: "as a key"}
        if tasks.get(task_id) == "fail":
            base.update(
                status="failed",
                error={"message": f"upstream refused {auth}", "code": KEY},
                fail_reason=f"token {urllib.parse.quote_plus(KEY, safe='')}",
            )
        else:
            port = aiohttp_port[0]
            base.update(
                status="succeeded",
                progress=100,
                video_url=f"http://127.0.0.1:{port}/v1/videos/{task_id}/content?k={KEY}",
            )
        return web.json_response(base, headers={"X-Debug": auth})

    async def content(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        return web.Response(status=403, text=f"forbidden for {auth}")

    app = web.Application()
    app.router.add_post("/v1/video/generations", submit)
    app.router.add_get("/v1/video/generations/{task_id}", poll)
    app.router.add_get("/v1/videos/{task_id}/content", content)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    aiohttp_port.append(runner.addresses[0][1])
    aiohttp_port.pop(0) if len(aiohttp_port) > 1 else None
    return runner


def _exception_texts(exc: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(exc))]
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [repr(current), str(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return texts


async def test_an_echoed_key_is_scrubbed_everywhere(client_options: dict[str, Any], tmp_path):
    port: list[int] = [0]
    runner = await _echo_server(port)
    base_url = f"http://127.0.0.1:{port[0]}"
    texts: list[str] = []
    client = vg.AsyncClient(base_url, KEY, dialect="unified", **client_options)
    try:
        for model in ("m401", "m422", "fail", "ok"):
            with pytest.raises(vg.VideoGenError) as info:
                await client.generate(small(model, model=model))
            texts += _exception_texts(info.value)
        run = client.run([small(f"row {m}", model=m) for m in ("m401", "m422", "fail", "ok")])
        await run
        results = run.results
        assert {r.error is not None for r in results} == {True}
        for result in results:
            texts += [result._repr_html_(), repr(result)]
            if result.task is not None:
                texts += [repr(result.task.raw), str(result.task.error), repr(result.task)]
            if result.error is not None:
                texts += _exception_texts(result.error)
        raws = [r.task.raw for r in results if r.task is not None]
        assert raws, "the failed and the succeeded task carry their raw answers"
        texts.append(render_report(results, base_dir=tmp_path))
        texts.append(repr(run.rows))
    finally:
        await client.aclose()
        await runner.cleanup()

    found = {s for text in texts for s in _leaks(text)}
    assert not found, f"the key leaked in: {found}"
    assert any("<redacted>" in text for text in texts), "the echoes were there to scrub"
    journal = pathlib.Path(client_options["journal"])
    files = list(journal.parent.glob(journal.name + "*"))
    assert files
    for path in files:
        assert not _leaks(path.read_bytes()), f"the key is in {path.name}"


async def test_an_echoed_key_in_headers_and_charsets_is_scrubbed():
    port: list[int] = [0]

    async def answer(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        text = f'{{"said": "{auth}", "hidden": "{_escaped(KEY)}"}}'
        return web.Response(
            body=text.encode("utf-16"),
            headers={"X-Echo": auth, "Content-Type": "application/json; charset=utf-16"},
        )

    app = web.Application()
    app.router.add_get("/v1/echo", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port[0] = runner.addresses[0][1]
    try:
        async with Transport(f"http://127.0.0.1:{port[0]}", KEY) as transport:
            response = await transport.send("GET", "/v1/echo")
    finally:
        await runner.cleanup()
    assert not _leaks(response.text)
    assert not _leaks(repr(dict(response.headers)))
    assert response.headers["X-Echo"] == "Bearer <redacted>"
    assert response.json() == {"said": "Bearer <redacted>", "hidden": "<redacted>"}


def test_scrubber_leaves_text_without_the_key_alone():
    scrubber = Scrubber(KEY)
    body = b'{"id": "task_1", "note": "caf\\u00e9"}'
    assert scrubber.body(body, None) == body
    assert Scrubber(None).text(KEY) == KEY
    assert Scrubber("abc").text("abcabc") == "abcabc", "too short to be worth scrubbing"
    assert KEY not in repr(scrubber)


# -- item 10: no key in any frame's locals --------------------------------------------------


def _reset_server() -> tuple[socket.socket, int]:
    """A listener that accepts and resets every connection once the request arrives."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener, listener.getsockname()[1]


def _local_reprs(exc: BaseException) -> list[str]:
    texts: list[str] = []
    formatted = traceback.TracebackException.from_exception(exc, capture_locals=True)
    texts += list(formatted.format())
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            for name, value in tb.tb_frame.f_locals.items():
                try:
                    texts.append(f"{name}={value!r}")
                except Exception as error:  # a repr that needs a loop says nothing
                    texts.append(type(error).__name__)
            tb = tb.tb_next
        current = current.__cause__ or current.__context__
    return texts


async def test_the_key_is_in_no_frame_local_when_the_send_path_fails():
    import asyncio
    import struct

    listener, port = _reset_server()
    listener.setblocking(False)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    async def reset_all() -> None:
        while not stop.is_set():
            conn, _ = await loop.sock_accept(listener)
            await loop.sock_recv(conn, 65536)  # the request (headers with the key) arrived
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    server = asyncio.create_task(reset_all())
    caught: list[BaseException] = []
    try:
        async with Transport(
            f"http://127.0.0.1:{port}", KEY, retry=RetryPolicy(max_attempts=1)
        ) as transport:
            for method in ("GET", "POST"):
                with pytest.raises(vg.APIConnectionError) as info:
                    await transport.send(method, "/v1/video/generations", json={"a": 1})
                caught.append(info.value)
            with pytest.raises(Exception) as streamed:
                async with transport.stream("/v1/videos/x/content") as resp:
                    await resp.read()
            caught.append(streamed.value)
    finally:
        stop.set()
        server.cancel()
        listener.close()
    texts = [text for exc in caught for text in _local_reprs(exc)]
    assert len(texts) > 20, "the tracebacks have frames with locals"
    found = {s for text in texts for s in _leaks(text)}
    assert not found, f"the key is in a frame local: {found}"
