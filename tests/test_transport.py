"""Transport and retry policy against real aiohttp servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from videogen_nb.core.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
    ServerError,
    SubmitOutcomeUnknownError,
    ValidationError,
    api_error_for_status,
)
from videogen_nb.core.wire import IDEMPOTENCY_KEY_HEADER
from videogen_nb.dialects.base import FormPart
from videogen_nb.http.retry import RetryPolicy, parse_poll_after, parse_retry_after
from videogen_nb.http.transport import Response, Transport, is_transient, normalize_base_url

KEY = "sk-test-SECRET-9f3a"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """A real aiohttp server on 127.0.0.1 with a list of the requests it saw."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.requests: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    def route(self, method: str, path: str, handler: Handler) -> None:
        async def recorded(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "headers": dict(request.headers),
                    "body": body,
                }
            )
            return await handler(request)

        self.app.router.add_route(method, path, recorded)

    async def start(self, sock: socket.socket | None = None) -> str:
        self.runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self.runner.setup()
        site: web.BaseSite
        site = (
            web.SockSite(self.runner, sock)
            if sock is not None
            else web.TCPSite(self.runner, "127.0.0.1", 0)
        )
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r["method"] == method and r["path"] == path)


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[[], Server]]:
    servers: list[Server] = []

    def factory() -> Server:
        server = Server()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        await server.stop()


@pytest.fixture
async def transports() -> AsyncIterator[list[Transport]]:
    made: list[Transport] = []
    yield made
    for t in made:
        await t.aclose()


def make_transport(made: list[Transport], base_url: str, **kwargs: Any) -> Transport:
    kwargs.setdefault("retry", FAST)
    t = Transport(base_url, KEY, **kwargs)
    made.append(t)
    return t


def reset_connection(request: web.Request) -> None:
    """Send a TCP RST: SO_LINGER 0, then abort."""
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- pure functions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:1", "http://h:1"),
        ("http://h:1/", "http://h:1"),
        ("http://h:1/v1", "http://h:1"),
        ("http://h:1/v1/", "http://h:1"),
        ("  https://gw.example/v1  ", "https://gw.example"),
        ("https://h/api/v1", "https://h/api"),
        ("https://h/api/v1/", "https://h/api"),
        ("https://h/api", "https://h/api"),
        ("https://h/v1x", "https://h/v1x"),
        ("HTTPS://H.Example:8443/v1", "https://h.example:8443"),
    ],
)
def test_base_url_normalisation(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected
    assert Transport(given, None).base_url == expected


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "gw.example", "ftp://h/v1", "http://", "https://user:pw@h/v1", "https://h/v1?x=1"],
)
def test_base_url_rejected(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_base_url(bad)
    assert info.value.field == "base_url"
    assert "pw" not in str(info.value)


def test_url_for_joins_paths_and_passes_absolute_urls() -> None:
    t = Transport("https://h.example/api/v1/", None)
    assert t.url_for("/v1/videos/x") == "https://h.example/api/v1/videos/x"
    assert t.url_for("v1/models") == "https://h.example/api/v1/models"
    assert t.url_for("https://cdn.other/v.mp4?sig=1") == "https://cdn.other/v.mp4?sig=1"
    assert t.is_gateway_url("https://h.example:443/x")
    assert not t.is_gateway_url("http://h.example/x")
    assert not t.is_gateway_url("https://cdn.other/v.mp4")


def test_repr_hides_key() -> None:
    t = Transport("http://127.0.0.1:9/v1", KEY)
    assert KEY not in repr(t) and KEY not in str(t)
    assert repr(t) == "Transport(base_url='http://127.0.0.1:9')"
    assert KEY not in repr(vars(t))
    assert t.has_api_key


def test_retry_policy_delays() -> None:
    p = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.25)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0), (500, 4.0)]:
        for _ in range(20):
            d = p.delay(attempt)
            assert base * 0.75 <= d <= base
    # never shorter than the server asked, capped at max_retry_after
    assert p.delay(1, retry_after=12.0) == 12.0
    assert RetryPolicy(max_retry_after=20).delay(1, retry_after=999) == 20
    assert RetryPolicy().exceeds_limit(301) and not RetryPolicy().exceeds_limit(300)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2)


def test_parse_retry_after_and_poll_after() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("later") is None
    assert parse_retry_after("nan") is None
    assert parse_poll_after({"openai-poll-after-ms": "2500"}) == 2.5
    assert parse_poll_after({"OpenAI-Poll-After-Ms": "100"}) == 0.1
    assert parse_poll_after({"openai-poll-after-ms": "x"}) is None
    assert parse_poll_after({}) is None


def test_response_json_error_quotes_text() -> None:
    r = Response(200, {"Content-Type": "text/html"}, b"<html>" + b"x" * 1000, "http://h/v1/x?t=1")
    with pytest.raises(APIConnectionError) as info:
        r.json()
    assert "<html>xx" in str(info.value) and "text/html" in str(info.value)
    assert len(str(info.value)) < 400
    assert Response(200, {}, b'{"a": 1}').json() == {"a": 1}
    assert "bytes" in repr(r) and "t=1" not in repr(r)


def test_cleartext_warning_once_for_remote_hosts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="videogen_nb.http.transport")
    Transport("http://127.0.0.1:8000", KEY)
    Transport("http://localhost:8000", KEY)
    Transport("https://gw.example", KEY)
    assert not caplog.records
    Transport("http://gw-cleartext.example:3000/v1", KEY)
    Transport("http://gw-cleartext.example:3000/", KEY)
    warnings = [r for r in caplog.records if "unencrypted" in r.getMessage()]
    assert len(warnings) == 1
    assert KEY not in caplog.text


# -- GET retries ------------------------------------------------------------------------


async def test_get_retries_after_connection_reset(make_server, transports) -> None:
    server = make_server()
    state = {"n": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        state["n"] += 1
        if state["n"] <= 2:
            reset_connection(request)
            await asyncio.sleep(0)
            return web.Response()
        return web.json_response({"ok": True})

    server.route("GET", "/v1/models", handler)
    base = await server.start()
    retries: list[tuple[int, float, Exception]] = []
    t = make_transport(transports, base, on_retry=lambda a, d, e: retries.append((a, d, e)))
    resp = await t.send("GET", "/v1/models")
    assert resp.json() == {"ok": True}
    assert server.count("GET", "/v1/models") == 3
    # aiohttp itself repeats an idempotent request once on a dropped connection, so the
    # toolkit's own retries number 1 or 2; each one is reported as a connection error
    assert 1 <= len(retries) <= 2
    assert all(isinstance(e, APIConnectionError) for _, _, e in retries)
    assert [a for a, _, _ in retries] == list(range(1, len(retries) + 1))


async def test_get_retries_5xx_burst_then_succeeds(make_server, transports) -> None:
    server = make_server()
    statuses = [500, 502, 503]

    async def handler(request: web.Request) -> web.StreamResponse:
        if statuses:
            return web.Response(status=statuses.pop(0), text="upstream hiccup")
        return web.json_response({"id": "task_1"})

    server.route("GET", "/v1/videos/task_1", handler)
    base = await server.start()
    errors: list[Exception] = []
    t = make_transport(transports, base, on_retry=lambda a, d, e: errors.append(e))
    resp = await t.send("GET", "/v1/videos/task_1")
    assert resp.status == 200
    assert server.count("GET", "/v1/videos/task_1") == 4
    assert [e.status_code for e in errors] == [500, 502, 503]  # type: ignore[attr-defined]
    assert all(isinstance(e, ServerError) for e in errors)


async def test_get_gives_up_with_last_error(make_server, transports) -> None:
    server = make_server()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=502, text="Bad Gateway from nginx")

    server.route("GET", "/v1/models", handler)
    base = await server.start()
    t = make_transport(transports, base)
    with pytest.raises(ServerError) as info:
        await t.send("GET", "/v1/models")
    assert info.value.status_code == 502
    assert "Bad Gateway from nginx" in info.value.message
    assert server.count("GET", "/v1/models") == FAST.max_attempts


async def test_501_and_4xx_are_not_retried(make_server, transports) -> None:
    server = make_server()

    async def not_impl(request: web.Request) -> web.StreamResponse:
        return web.Response(status=501, text="nope")

    async def bad(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"code": "invalid_request", "message": "prompt is required"}, status=400
        )

    server.route("GET", "/a", not_impl)
    server.route("GET", "/b", bad)
    base = await server.start()
    t = make_transport(transports, base)
    with pytest.raises(ServerError):
        await t.send("GET", "/a")
    with pytest.raises(BadRequestError) as info:
        await t.send("GET", "/b")
    assert server.count("GET", "/a") == 1 and server.count("GET", "/b") == 1
    # the fallback decoder knows no field names: the raw body is the message
    assert "prompt is required" in info.value.message
    assert info.value.body == {"code": "invalid_request", "message": "prompt is required"}


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_429_retry_after_is_honoured(make_server, transports, form: str) -> None:
    server = make_server()
    state = {"n": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        state["n"] += 1
        if state["n"] == 1:
            if form == "seconds":
                value = "1"
            else:
                # an HTTP date has whole-second resolution: +2 s is at least 1 s away
                value = email.utils.formatdate(time.time() + 2, usegmt=True)
            return web.Response(status=429, text="请求过于频繁", headers={"Retry-After": value})
        return web.json_response({"ok": 1})

    server.route("GET", "/v1/models", handler)
    base = await server.start()
    seen: list[tuple[float, Exception]] = []
    t = make_transport(transports, base, on_retry=lambda a, d, e: seen.append((d, e)))
    started = time.monotonic()
    await t.send("GET", "/v1/models")
    waited = time.monotonic() - started
    assert waited >= 0.9
    assert waited < 5
    assert len(seen) == 1
    delay, error = seen[0]
    assert delay >= 0.9
    assert isinstance(error, RateLimitError) and error.retry_after is not None
    assert error.message == "请求过于频繁"


async def test_poll_after_header_is_honoured(make_server, transports) -> None:
    server = make_server()
    state = {"n": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        state["n"] += 1
        if state["n"] == 1:
            return web.Response(status=503, headers={"openai-poll-after-ms": "400"})
        return web.json_response({})

    server.route("GET", "/v1/videos/v", handler)
    base = await server.start()
    t = make_transport(transports, base)
    started = time.monotonic()
    await t.send("GET", "/v1/videos/v")
    assert time.monotonic() - started >= 0.35


async def test_429_without_rate_limit_retries_raises_at_once(make_server, transports) -> None:
    server = make_server()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=429, text="slow down", headers={"Retry-After": "7"})

    server.route("POST", "/v1/video/generations", handler)
    server.route("GET", "/v1/models", handler)
    base = await server.start()
    t = make_transport(transports, base)
    with pytest.raises(RateLimitError) as info:
        await t.send("POST", "/v1/video/generations", json={"x": 1}, retry_rate_limits=False)
    assert info.value.retry_after == 7.0
    assert server.count("POST", "/v1/video/generations") == 1
    # a wait longer than the policy's limit is handed back instead of slept through
    t2 = make_transport(transports, base, retry=RetryPolicy(max_attempts=5, max_retry_after=2))
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        await t2.send("GET", "/v1/models")
    assert time.monotonic() - started < 1.0
    assert server.count("GET", "/v1/models") == 1


async def test_malformed_json_on_get_is_retried_when_expected(make_server, transports) -> None:
    server = make_server()
    bodies = [b"<html>proxy error</html>", b'{"status": "ok"}']

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=bodies.pop(0) if len(bodies) > 1 else bodies[0], content_type="text/html"
        )

    server.route("GET", "/v1/videos/j", handler)
    base = await server.start()
    t = make_transport(transports, base)
    resp = await t.send("GET", "/v1/videos/j", expect_json=True)
    assert resp.json() == {"status": "ok"}
    assert server.count("GET", "/v1/videos/j") == 2


async def test_malformed_json_gives_up_quoting_body(make_server, transports) -> None:
    server = make_server()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>Cloudflare says hi</html>", content_type="text/html")

    server.route("GET", "/v1/videos/j", handler)
    server.route("POST", "/v1/video/generations", handler)
    base = await server.start()
    t = make_transport(transports, base)
    with pytest.raises(APIConnectionError) as info:
        await t.send("GET", "/v1/videos/j", expect_json=True)
    assert "Cloudflare says hi" in str(info.value)
    assert server.count("GET", "/v1/videos/j") == FAST.max_attempts
    # a 2xx that cannot be read after a POST: the task may exist, so it is not resent
    with pytest.raises(SubmitOutcomeUnknownError):
        await t.send("POST", "/v1/video/generations", json={}, expect_json=True)
    assert server.count("POST", "/v1/video/generations") == 1


async def test_get_refused_is_retried_then_raises(transports) -> None:
    port = free_port()  # nothing listens there
    retries: list[int] = []
    t = make_transport(
        transports, f"http://127.0.0.1:{port}", on_retry=lambda a, d, e: retries.append(a)
    )
    with pytest.raises(APIConnectionError) as info:
        await t.send("GET", "/v1/models")
    assert not isinstance(info.value, SubmitOutcomeUnknownError)
    assert retries == [1, 2, 3]
    assert "could not connect" in str(info.value) and "4 attempts" in str(info.value)
    assert KEY not in str(info.value)


async def test_connection_errors_say_whether_a_retry_may_help(transports) -> None:
    port = free_port()  # nothing listens there: a refusal may pass
    t = make_transport(transports, f"http://127.0.0.1:{port}", retry=RetryPolicy(max_attempts=1))
    with pytest.raises(APIConnectionError) as info:
        await t.send("GET", "/v1/models")
    assert info.value.transient and info.value.attempts == 1
    with pytest.raises(APIConnectionError) as streamed:
        async with t.stream("/v1/videos/x/content"):
            pass
    assert streamed.value.transient
    assert is_transient(streamed.value)
    assert not is_transient(APIConnectionError("TLS certificate check failed", transient=False))


# -- POST safety ------------------------------------------------------------------------


async def test_post_reset_after_body_is_not_retried(make_server, transports) -> None:
    server = make_server()

    async def handler(request: web.Request) -> web.StreamResponse:
        reset_connection(request)
        await asyncio.sleep(0)
        return web.Response()

    server.route("POST", "/v1/video/generations", handler)
    base = await server.start()
    retries: list[int] = []
    t = make_transport(transports, base, on_retry=lambda a, d, e: retries.append(a))
    with pytest.raises(SubmitOutcomeUnknownError) as info:
        await t.send(
            "POST", "/v1/video/generations", json={"prompt": "a cat"}, idempotency_key="k1"
        )
    assert server.count("POST", "/v1/video/generations") == 1
    assert retries == []
    assert "may have created" in str(info.value) and "NOT resubmitted" in str(info.value)
    assert KEY not in str(info.value)


async def test_post_read_timeout_is_unknown_outcome(make_server, transports) -> None:
    server = make_server()
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response({})

    server.route("POST", "/v1/video/generations", handler)
    base = await server.start()
    t = make_transport(transports, base, timeout=0.3)
    try:
        with pytest.raises(SubmitOutcomeUnknownError):
            await t.send("POST", "/v1/video/generations", json={"prompt": "p"})
    finally:
        release.set()
    assert server.count("POST", "/v1/video/generations") == 1


async def test_post_refused_then_server_comes_up(make_server, transports) -> None:
    # reserve a port, refuse connections on it, and start listening from the retry hook
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = make_server()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"id": "task_up"}, status=200)

    server.route("POST", "/v1/video/generations", handler)
    starting: list[asyncio.Task[str]] = []

    def on_retry(attempt: int, delay: float, error: Exception) -> None:
        assert isinstance(error, APIConnectionError)
        assert not isinstance(error, SubmitOutcomeUnknownError)
        if attempt == 2:
            sock.listen(16)  # from here on connections are accepted (queued until served)
            starting.append(asyncio.get_running_loop().create_task(server.start(sock)))

    t = make_transport(transports, f"http://127.0.0.1:{port}", on_retry=on_retry)
    resp = await t.send(
        "POST", "/v1/video/generations", json={"prompt": "p"}, idempotency_key="ik-7"
    )
    await starting[0]
    assert resp.json() == {"id": "task_up"}
    assert server.count("POST", "/v1/video/generations") == 1
    assert server.requests[0]["headers"][IDEMPOTENCY_KEY_HEADER] == "ik-7"


async def test_post_refused_gives_up_with_connection_error(transports) -> None:
    port = free_port()
    t = make_transport(transports, f"http://127.0.0.1:{port}")
    with pytest.raises(APIConnectionError) as info:
        await t.send("POST", "/v1/video/generations", json={"prompt": "p"})
    assert not isinstance(info.value, SubmitOutcomeUnknownError)


async def test_post_503_and_429_retried_500_not(make_server, transports) -> None:
    server = make_server()
    answers = {"/a": [503, 429, 200], "/b": [500, 200]}

    async def handler(request: web.Request) -> web.StreamResponse:
        status = answers[request.path].pop(0)
        headers = {"Retry-After": "0"} if status == 429 else {}
        return web.json_response(
            {"id": "x"} if status == 200 else {"e": status}, status=status, headers=headers
        )

    server.route("POST", "/a", handler)
    server.route("POST", "/b", handler)
    base = await server.start()
    t = make_transport(transports, base)
    resp = await t.send("POST", "/a", json={})
    assert resp.status == 200 and server.count("POST", "/a") == 3
    with pytest.raises(ServerError) as info:
        await t.send("POST", "/b", json={})
    assert info.value.status_code == 500 and server.count("POST", "/b") == 1


@pytest.mark.parametrize("status", [502, 504])
async def test_post_answered_by_a_proxy_timeout_is_an_unknown_outcome(
    make_server, transports, status
) -> None:
    server = make_server()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text="upstream timed out", status=status)

    server.route("POST", "/v1/video/generations", handler)
    base = await server.start()
    t = make_transport(transports, base)
    with pytest.raises(SubmitOutcomeUnknownError, match="NOT resubmitted") as info:
        await t.send("POST", "/v1/video/generations", json={"prompt": "x"})
    assert "upstream timed out" in str(info.value)
    assert server.count("POST", "/v1/video/generations") == 1


async def test_post_reset_with_idempotent_override_is_retried(make_server, transports) -> None:
    server = make_server()
    state = {"n": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        state["n"] += 1
        if state["n"] == 1:
            reset_connection(request)
            await asyncio.sleep(0)
        return web.json_response({"cancelled": True})

    server.route("POST", "/v1/videos/x/cancel", handler)
    base = await server.start()
    t = make_transport(transports, base)
    resp = await t.send("POST", "/v1/videos/x/cancel", idempotent=True)
    assert resp.json() == {"cancelled": True}
    assert server.count("POST", "/v1/videos/x/cancel") == 2


async def test_retry_false_makes_one_attempt(make_server, transports) -> None:
    server = make_server()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=503)

    server.route("GET", "/v1/models", handler)
    base = await server.start()
    t = make_transport(transports, base)
    with pytest.raises(ServerError):
        await t.send("GET", "/v1/models", retry=False)
    assert server.count("GET", "/v1/models") == 1


# -- headers, auth, bodies ----------------------------------------------------------------


async def test_headers_auth_and_idempotency_key(make_server, transports) -> None:
    gateway, cdn = make_server(), make_server()

    async def ok(request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True})

    gateway.route("POST", "/v1/video/generations", ok)
    cdn.route("GET", "/file", ok)
    base = await gateway.start()
    other = await cdn.start()
    t = make_transport(transports, base + "/v1")
    await t.send("POST", "/v1/video/generations", json={"prompt": "猫"}, idempotency_key="idem-1")
    seen = gateway.requests[0]
    assert seen["headers"]["Authorization"] == f"Bearer {KEY}"
    assert seen["headers"][IDEMPOTENCY_KEY_HEADER] == "idem-1"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["User-Agent"].startswith("videogen-nb/")
    assert seen["body"].decode() == '{"prompt":"猫"}'
    # another origin (same host, other port) never gets the key
    await t.send("GET", other + "/file")
    assert "Authorization" not in cdn.requests[0]["headers"]
    async with t.stream(other + "/file") as resp:
        assert resp.status == 200
    assert "Authorization" not in cdn.requests[1]["headers"]
    async with t.stream(other + "/file", auth=True) as resp:
        await resp.read()
    assert cdn.requests[2]["headers"]["Authorization"] == f"Bearer {KEY}"


async def test_redirect_to_other_origin_drops_key(make_server, transports) -> None:
    gateway, cdn = make_server(), make_server()

    async def ok(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"\x00\x01", content_type="video/mp4")

    cdn.route("GET", "/v.mp4", ok)
    other = await cdn.start()

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(other + "/v.mp4")

    gateway.route("GET", "/v1/videos/x/content", redirect)
    base = await gateway.start()
    t = make_transport(transports, base)
    async with t.stream("/v1/videos/x/content") as resp:
        assert await resp.read() == b"\x00\x01"
    assert gateway.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert "Authorization" not in cdn.requests[0]["headers"]


async def test_multipart_form_is_sent_on_every_attempt(make_server, transports) -> None:
    server = make_server()
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        # parsed with aiohttp's own multipart reader, so this route skips the recorder
        fields: dict[str, Any] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader)
            fields[part.name or ""] = (
                await part.read(),
                part.filename,
                part.headers.get("Content-Type"),
            )
        seen.append(fields)
        if len(seen) == 1:
            return web.Response(status=503)
        return web.json_response({"id": "video_1"})

    server.app.router.add_post("/v1/videos", handler)
    base = await server.start()
    t = make_transport(transports, base)
    parts = [
        FormPart(name="prompt", value="a paper boat"),
        FormPart(name="seconds", value="4"),
        FormPart(
            name="input_reference",
            value=b"\x89PNG\r\n",
            filename="ref.png",
            content_type="image/png",
        ),
    ]
    resp = await t.send("POST", "/v1/videos", form=parts)
    assert resp.json() == {"id": "video_1"}
    assert len(seen) == 2
    for fields in seen:
        assert fields["prompt"][0] == b"a paper boat"
        assert fields["seconds"][0] == b"4"
        assert fields["input_reference"] == (bytearray(b"\x89PNG\r\n"), "ref.png", "image/png")


async def test_custom_error_decoder_is_used(make_server, transports) -> None:
    server = make_server()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"error": {"message": "Invalid token (request id: 1)", "code": ""}}, status=401
        )

    server.route("GET", "/v1/models", handler)
    base = await server.start()
    calls: list[tuple[int, Any]] = []

    def decoder(status: int, body: Any, headers: Any) -> Any:
        calls.append((status, body))
        assert headers["Content-Type"].startswith("application/json")
        return api_error_for_status(status, body["error"]["message"], code="tok")

    t = make_transport(transports, base, error_decoder=decoder)
    with pytest.raises(AuthenticationError) as info:
        await t.send("GET", "/v1/models")
    assert info.value.message == "Invalid token (request id: 1)" and info.value.code == "tok"
    assert calls == [(401, {"error": {"message": "Invalid token (request id: 1)", "code": ""}})]


def test_session_is_lazy_and_survives_a_new_event_loop() -> None:
    server_loop_results: list[int] = []

    async def run_once(t: Transport) -> int:
        server = Server()

        async def ok(request: web.Request) -> web.StreamResponse:
            return web.json_response({"n": 1})

        server.route("GET", "/v1/models", ok)
        base = await server.start()
        try:
            resp = await t.send("GET", base + "/v1/models")
            return resp.json()["n"]
        finally:
            await server.stop()

    t = Transport("http://127.0.0.1:9", None, retry=FAST)  # built outside any loop
    server_loop_results.append(asyncio.run(run_once(t)))
    server_loop_results.append(asyncio.run(run_once(t)))  # the first loop is closed now
    asyncio.run(t.aclose())
    assert server_loop_results == [1, 1]
    assert t.closed


async def test_closed_transport_refuses(transports) -> None:
    t = make_transport(transports, "http://127.0.0.1:9")
    await t.aclose()
    with pytest.raises(APIConnectionError, match="closed"):
        await t.send("GET", "/v1/models")


def test_proxy_settings_are_honoured_only_when_present(monkeypatch, tmp_path) -> None:
    from videogen_nb.http.session import environment_has_proxy_or_netrc

    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    assert environment_has_proxy_or_netrc() is False
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert environment_has_proxy_or_netrc() is True
    monkeypatch.delenv("HTTPS_PROXY")
    (tmp_path / "no-netrc").write_text("machine example.com login a password b\n")
    assert environment_has_proxy_or_netrc() is True
