"""stream_to_file and safe_output_path against real aiohttp servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import pathlib
import re
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from videogen_nb.core.errors import DownloadError, ValidationError
from videogen_nb.http.download import (
    DownloadExpiredError,
    DownloadInfo,
    safe_output_path,
    stream_to_file,
)
from videogen_nb.http.retry import RetryPolicy
from videogen_nb.http.transport import Transport

KEY = "sk-download-SECRET-77"
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, jitter=0.0)
VIDEO = bytes(range(256)) * 4096  # 1 MiB with a recognisable pattern

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """A real aiohttp server on 127.0.0.1 that records each request's headers."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.seen: list[dict[str, str]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    def route(self, path: str, handler: Handler) -> None:
        async def recorded(request: web.Request) -> web.StreamResponse:
            self.seen.append(dict(request.headers))
            return await handler(request)

        self.app.router.add_get(path, recorded)

    async def start(self) -> str:
        self.runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def env() -> AsyncIterator[dict[str, Any]]:
    servers: list[Server] = []
    transports: list[Transport] = []

    def server() -> Server:
        s = Server()
        servers.append(s)
        return s

    def transport(base: str) -> Transport:
        t = Transport(base, KEY, retry=FAST, timeout=5)
        transports.append(t)
        return t

    yield {"server": server, "transport": transport}
    for t in transports:
        await t.aclose()
    for s in servers:
        await s.stop()


def ranged(data: bytes, *, cut_first_at: int | None = None, honour_range: bool = True) -> Handler:
    """A handler serving ``data`` with byte ranges; the first answer is cut after ``cut_first_at``."""
    state = {"n": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        state["n"] += 1
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
        if match and honour_range:
            start = int(match.group(1))
        status = 206 if start else 200
        resp = web.StreamResponse(status=status)
        resp.content_type = "video/mp4"
        resp.headers["Accept-Ranges"] = "bytes"
        resp.headers["ETag"] = '"v1"'
        resp.content_length = len(data) - start
        if status == 206:
            resp.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        await resp.prepare(request)
        body = data[start:]
        if state["n"] == 1 and cut_first_at is not None:
            await resp.write(body[:cut_first_at])
            assert request.transport is not None
            request.transport.close()  # flushes what was written, then FIN: a short body
            return resp
        await resp.write(body)
        await resp.write_eof()
        return resp

    return handler


def leftovers(directory: pathlib.Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_plain_download_is_atomic_and_hashed(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()
    server.route("/v.mp4", ranged(VIDEO))
    base = await server.start()
    t = env["transport"](base)
    dest = tmp_path / "out" / "clip.mp4"
    calls: list[tuple[int, int | None]] = []
    info = await stream_to_file(
        t, base + "/v.mp4", dest, progress=lambda d, n: calls.append((d, n))
    )
    assert isinstance(info, DownloadInfo)
    assert dest.read_bytes() == VIDEO
    assert info.size == len(VIDEO) and info.path == dest
    assert info.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert info.content_type == "video/mp4" and info.resumes == 0
    assert leftovers(dest.parent) == ["clip.mp4"]
    assert calls[-1] == (len(VIDEO), len(VIDEO))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    # same origin as the gateway: the key goes along; no compression on video bytes
    assert server.seen[0]["Authorization"] == f"Bearer {KEY}"
    assert server.seen[0]["Accept-Encoding"] == "identity"


async def test_range_resume_after_truncation(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()
    cut = 300_000
    server.route("/v.mp4", ranged(VIDEO, cut_first_at=cut))
    base = await server.start()
    t = env["transport"](base)
    dest = tmp_path / "v.mp4"
    info = await stream_to_file(t, "/v.mp4", dest, chunk_size=64 * 1024)
    assert dest.read_bytes() == VIDEO
    assert info.sha256 == hashlib.sha256(VIDEO).hexdigest() and info.resumes == 1
    assert len(server.seen) == 2
    assert "Range" not in server.seen[0]
    assert server.seen[1]["Range"] == f"bytes={cut}-"
    assert server.seen[1]["If-Range"] == '"v1"'
    assert leftovers(tmp_path) == ["v.mp4"]


async def test_200_answer_to_range_restarts(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()
    server.route("/v.mp4", ranged(VIDEO, cut_first_at=200_000, honour_range=False))
    base = await server.start()
    t = env["transport"](base)
    dest = tmp_path / "v.mp4"
    info = await stream_to_file(t, "/v.mp4", dest)
    # the second answer was the whole file again: appending it would double the start
    assert dest.read_bytes() == VIDEO
    assert info.size == len(VIDEO) and info.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert server.seen[1]["Range"] == "bytes=200000-"


async def test_no_ranges_restart_from_zero(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()
    state = {"n": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        state["n"] += 1
        resp = web.StreamResponse()
        resp.content_type = "application/octet-stream"
        resp.content_length = len(VIDEO)
        await resp.prepare(request)
        if state["n"] == 1:
            await resp.write(VIDEO[:1000])
            assert request.transport is not None
            request.transport.close()
            return resp
        await resp.write(VIDEO)
        return resp

    server.route("/v", handler)
    base = await server.start()
    t = env["transport"](base)
    dest = tmp_path / "v.mp4"
    await stream_to_file(t, "/v", dest)
    assert dest.read_bytes() == VIDEO
    assert "Range" not in server.seen[1]


async def test_keeps_breaking_gives_up_and_cleans(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "video/mp4"
        resp.content_length = len(VIDEO)
        resp.headers["Accept-Ranges"] = "bytes"
        await resp.prepare(request)
        await resp.write(b"\x00" * 10)
        assert request.transport is not None
        request.transport.close()
        return resp

    server.route("/v", handler)
    base = await server.start()
    t = env["transport"](base)
    with pytest.raises(DownloadError, match="kept breaking"):
        await stream_to_file(t, "/v", tmp_path / "v.mp4", resume_attempts=2)
    assert len(server.seen) == 3
    assert leftovers(tmp_path) == []


async def test_size_limit_by_content_length_and_by_counting(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()
    server.route("/big", ranged(VIDEO))

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "video/mp4"
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(16):
            await resp.write(b"\x01" * 65536)
        await resp.write_eof()
        return resp

    server.route("/chunked", chunked)
    base = await server.start()
    t = env["transport"](base)
    with pytest.raises(DownloadError, match="over the 1000-byte limit"):
        await stream_to_file(t, "/big", tmp_path / "a.mp4", max_bytes=1000)
    with pytest.raises(DownloadError, match="more than the 100000-byte limit"):
        await stream_to_file(t, "/chunked", tmp_path / "b.mp4", max_bytes=100_000)
    assert leftovers(tmp_path) == []
    # under the limit the chunked body downloads fine
    info = await stream_to_file(t, "/chunked", tmp_path / "c.mp4")
    assert info.size == 16 * 65536


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/json"])
async def test_non_video_content_type_is_refused(env, tmp_path: pathlib.Path, ctype: str) -> None:
    server = env["server"]()
    said = "<html><body>Access denied: this link needs a login</body></html>" + "x" * 500

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=said.encode(), headers={"Content-Type": ctype})

    server.route("/v", handler)
    base = await server.start()
    t = env["transport"](base)
    with pytest.raises(DownloadError) as info:
        await stream_to_file(t, "/v", tmp_path / "v.mp4")
    text = str(info.value)
    assert "not a video" in text and "Access denied: this link needs a login" in text
    assert "x" * 300 not in text
    assert not getattr(info.value, "expired", False)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("ctype", ["video/webm", "binary/octet-stream", "application/octet-stream"])
async def test_accepted_content_types(env, tmp_path: pathlib.Path, ctype: str) -> None:
    server = env["server"]()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"abc", headers={"Content-Type": ctype})

    server.route("/v", handler)
    base = await server.start()
    t = env["transport"](base)
    info = await stream_to_file(t, "/v", tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == b"abc"
    assert info.content_type == ctype


async def test_missing_content_type_is_accepted(env, tmp_path: pathlib.Path) -> None:
    # aiohttp.web always adds a Content-Type, so this server speaks raw HTTP/1.1
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        await writer.drain()
        writer.close()

    raw = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    try:
        t = env["transport"](f"http://127.0.0.1:{port}")
        info = await stream_to_file(t, "/v", tmp_path / "v.mp4")
    finally:
        raw.close()
        await raw.wait_closed()
    assert (tmp_path / "v.mp4").read_bytes() == b"hello"
    assert info.content_type is None


@pytest.mark.parametrize("status", [403, 404, 410])
async def test_expired_url_is_flagged(env, tmp_path: pathlib.Path, status: int) -> None:
    server = env["server"]()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            status=status, text="<Error><Code>AccessDenied</Code>Request has expired</Error>"
        )

    server.route("/v.mp4", handler)
    base = await server.start()
    t = env["transport"](base)
    with pytest.raises(DownloadExpiredError) as info:
        await stream_to_file(t, base + "/v.mp4?X-Signature=abc", tmp_path / "v.mp4")
    assert info.value.expired is True and info.value.status_code == status
    assert "Request has expired" in str(info.value)
    assert "X-Signature=abc" not in str(info.value)
    assert len(server.seen) == 1
    assert leftovers(tmp_path) == []


async def test_5xx_retried_then_gives_up_cleanly(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()
    state = {"n": 0}

    async def flaky(request: web.Request) -> web.StreamResponse:
        state["n"] += 1
        if state["n"] < 3:
            return web.Response(status=503)
        return web.Response(body=b"ok-bytes", content_type="video/mp4")

    async def down(request: web.Request) -> web.StreamResponse:
        return web.Response(status=502)

    server.route("/flaky", flaky)
    server.route("/down", down)
    base = await server.start()
    t = env["transport"](base)
    await stream_to_file(t, "/flaky", tmp_path / "a.mp4")
    assert (tmp_path / "a.mp4").read_bytes() == b"ok-bytes"
    with pytest.raises(DownloadError, match="kept answering 502"):
        await stream_to_file(t, "/down", tmp_path / "b.mp4")
    assert leftovers(tmp_path) == ["a.mp4"]


async def test_failed_download_leaves_existing_file_untouched(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=410)

    server.route("/v", handler)
    base = await server.start()
    t = env["transport"](base)
    dest = tmp_path / "v.mp4"
    dest.write_bytes(b"previous complete video")
    with pytest.raises(DownloadExpiredError):
        await stream_to_file(t, "/v", dest)
    assert dest.read_bytes() == b"previous complete video"
    assert leftovers(tmp_path) == ["v.mp4"]


async def test_key_goes_only_to_gateway_origin(env, tmp_path: pathlib.Path) -> None:
    gateway, cdn = env["server"](), env["server"]()
    cdn.route("/v.mp4", ranged(b"video-bytes"))
    other = await cdn.start()
    base = await gateway.start()
    t = env["transport"](base)
    await stream_to_file(t, other + "/v.mp4", tmp_path / "a.mp4")
    assert "Authorization" not in cdn.seen[0]
    await stream_to_file(t, other + "/v.mp4", tmp_path / "b.mp4", auth=True)
    assert cdn.seen[1]["Authorization"] == f"Bearer {KEY}"


async def test_memory_stays_flat_for_a_50_mb_body(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()
    block = bytes(range(256)) * 1024  # 256 KiB
    blocks = 200  # 50 MiB

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "video/mp4"
        resp.content_length = len(block) * blocks
        await resp.prepare(request)
        for _ in range(blocks):
            await resp.write(block)
        await resp.write_eof()
        return resp

    server.route("/big.mp4", handler)
    base = await server.start()
    t = env["transport"](base)
    dest = tmp_path / "big.mp4"
    tracemalloc.start()
    try:
        info = await stream_to_file(t, "/big.mp4", dest)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == len(block) * blocks == os.path.getsize(dest)
    expected = hashlib.sha256()
    for _ in range(blocks):
        expected.update(block)
    assert info.sha256 == expected.hexdigest()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# -- safe_output_path ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("run1_kling-v2_0", "run1_kling-v2_0.mp4"),
        ("../../etc/passwd", "_.._etc_passwd.mp4"),
        ("..", "video.mp4"),
        ("", "video.mp4"),
        ("a paper boat: 猫 / rain", "a_paper_boat_rain.mp4"),
        ("x" * 300, "x" * 120 + ".mp4"),
        (".hidden", "hidden.mp4"),
    ],
)
def test_safe_output_path_sanitises(tmp_path: pathlib.Path, stem: str, name: str) -> None:
    path = safe_output_path(tmp_path, stem)
    assert path.name == name
    assert path.parent == tmp_path.resolve()


def test_safe_output_path_rejects_escapes(tmp_path: pathlib.Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "clip.mp4").symlink_to(outside / "clip.mp4")
    with pytest.raises(ValidationError) as info:
        safe_output_path(inside, "clip")
    assert info.value.field == "output_dir"
    with pytest.raises(ValidationError):
        safe_output_path(inside, "clip", suffix="/../x")
    assert safe_output_path(inside, "clip", suffix=".webm").name == "clip.webm"


async def test_cancelled_download_leaves_nothing(env, tmp_path: pathlib.Path) -> None:
    server = env["server"]()
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "video/mp4"
        resp.content_length = len(VIDEO)
        await resp.prepare(request)
        await resp.write(VIDEO[:100_000])
        await release.wait()
        return resp

    server.route("/v", handler)
    base = await server.start()
    t = env["transport"](base)
    got_bytes = asyncio.Event()
    task = asyncio.create_task(
        stream_to_file(t, "/v", tmp_path / "v.mp4", progress=lambda done, total: got_bytes.set())
    )
    await asyncio.wait_for(got_bytes.wait(), 5)
    assert (tmp_path / ".v.mp4.part").exists()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    assert leftovers(tmp_path) == []


# --- issue 12, item 3: a trickling server cannot hold a download for good ------------------


def trickle(*, total: int, step: int, every: float, announce: bool = True) -> Handler:
    """A handler that sends ``step`` bytes every ``every`` seconds, ``total`` bytes in all."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "video/mp4"
        if announce:
            resp.content_length = total
        await resp.prepare(request)
        sent = 0
        while sent < total:  # bounded: the test's server stops on its own
            await resp.write(VIDEO[sent : sent + step])
            sent += step
            await asyncio.sleep(every)
        await resp.write_eof()
        return resp

    return handler


async def test_a_trickle_under_the_minimum_throughput_is_given_up(
    env, tmp_path: pathlib.Path
) -> None:
    from videogen_nb.http.download import DownloadPace, DownloadTooSlowError

    server = env["server"]()
    # one byte every 20 ms: 50 B/s, for 6 s if nothing stops it
    server.route("/v.mp4", trickle(total=300, step=1, every=0.02))
    base = await server.start()
    pace = DownloadPace(min_bytes_per_second=1000, window=0.3)
    dest = tmp_path / "v.mp4"
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(DownloadTooSlowError) as caught:
        await stream_to_file(env["transport"](base), "/v.mp4", dest, pace=pace)
    assert loop.time() - started < 2.0
    error = caught.value
    assert error.limit == "throughput" and isinstance(error, DownloadError)
    assert re.search(r"too slow: \d+ B/s over 0\.\d s, the minimum is 1,000 B/s", str(error))
    assert leftovers(tmp_path) == []


async def test_silence_is_caught_at_the_end_of_the_window(env, tmp_path: pathlib.Path) -> None:
    from videogen_nb.http.download import DownloadPace, DownloadTooSlowError

    release = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "video/mp4"
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b"x" * 10)
        # silent, well inside the transport's 5 s read timeout, until the test ends
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(release.wait(), 4)
        return resp

    server = env["server"]()
    server.route("/v.mp4", stall)
    base = await server.start()
    pace = DownloadPace(min_bytes_per_second=1000, window=0.3)
    try:
        with pytest.raises(DownloadTooSlowError, match=r"too slow: \d+ B/s"):
            await asyncio.wait_for(
                stream_to_file(env["transport"](base), "/v.mp4", tmp_path / "v.mp4", pace=pace),
                3,
            )
    finally:
        release.set()


async def test_an_endless_body_of_unannounced_size_meets_the_deadline(
    env, tmp_path: pathlib.Path
) -> None:
    from videogen_nb.http.download import DownloadPace, DownloadTooSlowError

    server = env["server"]()
    # fast enough for the throughput check (10 kB/s), but it would go on for 30 s
    server.route("/v.mp4", trickle(total=300_000, step=100, every=0.01, announce=False))
    base = await server.start()
    pace = DownloadPace(min_bytes_per_second=1000, window=0.2, unknown_size_deadline=0.6)
    with pytest.raises(DownloadTooSlowError) as caught:
        await asyncio.wait_for(
            stream_to_file(env["transport"](base), "/v.mp4", tmp_path / "v.mp4", pace=pace), 5
        )
    assert caught.value.limit == "deadline"
    assert "deadline of 1 s for a body of unannounced size" in str(caught.value)
    assert leftovers(tmp_path) == []


async def test_a_steady_download_passes_the_pace_checks(env, tmp_path: pathlib.Path) -> None:
    from videogen_nb.http.download import DownloadPace

    server = env["server"]()
    server.route("/v.mp4", trickle(total=4000, step=200, every=0.02))
    base = await server.start()
    pace = DownloadPace(min_bytes_per_second=1000, window=0.1, base_deadline=1.0)
    info = await stream_to_file(env["transport"](base), "/v.mp4", tmp_path / "v.mp4", pace=pace)
    assert info.size == 4000 and (tmp_path / "v.mp4").read_bytes() == VIDEO[:4000]


def test_the_deadline_scales_with_the_size() -> None:
    from videogen_nb.http.download import DownloadPace

    pace = DownloadPace(min_bytes_per_second=1000, base_deadline=60, unknown_size_deadline=900)
    assert pace.deadline_for(0) == 60
    assert pace.deadline_for(1_000_000) == 60 + 1000
    assert pace.deadline_for(None) == 900
    for bad in (0, -1, float("inf"), float("nan"), "10"):
        with pytest.raises(ValidationError):
            DownloadPace(window=bad)


async def test_the_process_wide_pace_applies_when_none_is_given(
    env, tmp_path: pathlib.Path
) -> None:
    from videogen_nb.http.download import (
        DownloadTooSlowError,
        download_pace,
        set_download_pace,
    )

    server = env["server"]()
    server.route("/v.mp4", trickle(total=300, step=1, every=0.02))
    base = await server.start()
    set_download_pace(min_bytes_per_second=1000, window=0.3)
    try:
        assert download_pace().window == 0.3
        with pytest.raises(DownloadTooSlowError, match="the minimum is 1,000 B/s"):
            await stream_to_file(env["transport"](base), "/v.mp4", tmp_path / "v.mp4")
        with pytest.raises(ValidationError):
            set_download_pace(windw=1.0)
    finally:
        assert set_download_pace().window == 10.0
