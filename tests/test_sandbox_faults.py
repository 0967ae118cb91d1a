"""Each sandbox fault mode fires as configured, and the counters say so (real loopback HTTP)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.client import HTTPException
from typing import Any

import aiohttp
import pytest

from videogen_nb import sandbox

SMALL = {"model": "kling-v1", "prompt": "fault", "size": "160x96", "duration": 1}


@pytest.fixture
def sb() -> Iterator[sandbox.SandboxHandle]:
    handle = sandbox.start(task_seconds=0.1)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def http(sb: sandbox.SandboxHandle) -> Any:
    headers = {"Authorization": f"Bearer {sb.api_key}"}
    async with aiohttp.ClientSession(base_url=sb.base_url, headers=headers) as session:
        yield session


async def create(http: aiohttp.ClientSession, **extra: Any) -> str:
    async with http.post("/v1/video/generations", json={**SMALL, **extra}) as resp:
        assert resp.status == 200
        return (await resp.json())["id"]


async def completed_url(http: aiohttp.ClientSession, task_id: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        async with http.get(f"/v1/videos/{task_id}") as resp:
            obj = await resp.json()
        if obj["status"] == "completed":
            return obj["metadata"]["url"]
        await asyncio.sleep(0.02)
    raise AssertionError("task did not complete")


def stats(sb: sandbox.SandboxHandle) -> dict[str, Any]:
    return sb.stats(include_tasks=False)


async def test_rate_limit_next_k_gets_with_seconds_retry_after(http: Any, sb: Any) -> None:
    task_id = await create(http)
    sb.configure(rate_limit=2, rate_limit_on="get", retry_after=3)
    codes, retry_after, bodies = [], [], []
    for _ in range(3):
        async with http.get(f"/v1/videos/{task_id}") as resp:
            codes.append(resp.status)
            retry_after.append(resp.headers.get("Retry-After"))
            bodies.append(await resp.json())
    assert codes == [429, 429, 200]
    assert retry_after[:2] == ["3", "3"]
    assert bodies[0]["error"]["code"] == "rate_limit_exceeded" and bodies[0]["error"]["message"]
    await create(http)  # POSTs are not hit by a GET-only fault
    s = stats(sb)
    assert s["faults"]["rate_limit"] == 2
    assert s["statuses"]["429"] == 2
    assert s["requests"]["GET /v1/videos/{task_id}"] == 3
    assert s["tasks_created"] == 2


async def test_rate_limit_on_post_with_http_date(http: Any, sb: Any) -> None:
    sb.configure(rate_limit=1, rate_limit_on="post", retry_after=2, retry_after_date=True)
    async with http.post("/v1/video/generations", json=SMALL) as resp:
        assert resp.status == 429
        when = email.utils.parsedate_to_datetime(resp.headers["Retry-After"])
    assert 1 <= when.timestamp() - time.time() <= 5
    assert sb.tasks_created == 0  # a 429 creates nothing
    await create(http)
    assert sb.tasks_created == 1


async def test_rate_limit_fraction_is_seeded(sb: Any) -> None:
    async def hits(seed: int) -> list[int]:
        with sandbox.start(rate_limit_rate=0.4, seed=seed) as other:
            headers = {"Authorization": f"Bearer {other.api_key}"}
            async with aiohttp.ClientSession(base_url=other.base_url, headers=headers) as s:
                codes = []
                for _ in range(40):
                    async with s.get("/v1/models") as resp:
                        codes.append(resp.status)
            assert stats(other)["faults"].get("rate_limit", 0) == codes.count(429)
            return codes

    first, again, other_seed = await hits(5), await hits(5), await hits(6)
    assert first == again
    assert 6 <= first.count(429) <= 28
    assert first != other_seed


async def test_server_error_burst_cycles_statuses(http: Any, sb: Any) -> None:
    sb.configure(server_error=3, server_error_status=[500, 502, 503])
    seen = []
    for _ in range(4):
        async with http.get("/v1/models") as resp:
            seen.append((resp.status, resp.content_type, await resp.text()))
    assert [s for s, _, _ in seen] == [500, 502, 503, 200]
    assert seen[1][1] == "text/html" and "502 Bad Gateway" in seen[1][2]
    assert seen[0][1] == "application/json"
    s = stats(sb)
    assert s["faults"]["server_error"] == 3
    assert (s["statuses"]["500"], s["statuses"]["502"], s["statuses"]["503"]) == (1, 1, 1)


async def test_reset_on_get_aborts_the_connection(http: Any, sb: Any) -> None:
    task_id = await create(http)
    sb.configure(reset=1)
    # urllib, because aiohttp's client quietly retries a GET once when the server hangs up.
    req = urllib.request.Request(
        f"{sb.base_url}/v1/video/generations/{task_id}",
        headers={"Authorization": f"Bearer {sb.api_key}"},
    )
    with pytest.raises((HTTPException, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(req, timeout=10)
    async with http.get(f"/v1/video/generations/{task_id}") as resp:
        assert resp.status == 200
    s = stats(sb)
    assert s["faults"]["reset"] == 1 and s["statuses"]["aborted"] == 1


async def test_drop_after_accept_creates_the_task_then_hangs_up(http: Any, sb: Any) -> None:
    sb.configure(drop_after_accept=1)
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.post(
            "/v1/video/generations", json=SMALL, headers={"Idempotency-Key": "k-1"}
        ) as resp:
            await resp.read()
    assert sb.tasks_created == 1
    # The client's safe retry: the same key returns the task that was created, no new one.
    async with http.post(
        "/v1/video/generations", json=SMALL, headers={"Idempotency-Key": "k-1"}
    ) as resp:
        body = await resp.json()
    assert resp.status == 200
    s = sb.stats()
    assert s["tasks_created"] == 1 and body["id"] in s["tasks"]
    assert s["faults"]["drop_after_accept"] == 1 and s["idempotent_replays"] == 1


async def test_idempotency_can_be_switched_off(http: Any, sb: Any) -> None:
    headers = {"Idempotency-Key": "same"}
    ids = []
    for _ in range(2):
        async with http.post(
            "/v1/videos", json={**SMALL, "duration": None, "seconds": "1"}, headers=headers
        ) as resp:
            ids.append((await resp.json())["id"])
    assert ids[0] == ids[1] and sb.tasks_created == 1
    sb.configure(idempotency=False)
    async with http.post("/v1/videos", json={**SMALL, "seconds": "1"}, headers=headers) as resp:
        assert (await resp.json())["id"] != ids[0]
    assert sb.tasks_created == 2


async def test_malformed_json_bodies(http: Any, sb: Any) -> None:
    task_id = await create(http)
    sb.configure(malformed=1)
    async with http.get(f"/v1/videos/{task_id}") as resp:
        assert resp.status == 200
        text = await resp.text()
    with pytest.raises(ValueError):
        json.loads(text)
    async with http.get(f"/v1/videos/{task_id}") as resp:
        assert (await resp.json())["id"] == task_id
    sb.configure(malformed=1, malformed_on="post")
    async with http.post("/v1/video/generations", json=SMALL) as resp:
        with pytest.raises(ValueError):
            json.loads(await resp.text())
    assert sb.tasks_created == 2  # the POST did create its task
    assert stats(sb)["faults"]["malformed"] == 2


async def test_truncated_download_then_range_resume(http: Any, sb: Any) -> None:
    sb.configure(truncate_after=1000)
    task_id = await create(http)
    url = await completed_url(http, task_id)
    got = bytearray()
    async with aiohttp.ClientSession() as plain:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with plain.get(url) as resp:
                assert resp.status == 200
                total = int(resp.headers["Content-Length"])
                async for chunk in resp.content.iter_any():
                    got.extend(chunk)
        assert 0 < len(got) <= 1000 < total
        received_first = len(got)
        async with plain.get(url, headers={"Range": f"bytes={len(got)}-"}) as resp:
            assert resp.status == 206
            got.extend(await resp.read())
    async with http.get(f"/v1/videos/{task_id}/content") as resp:
        assert await resp.read() == bytes(got)
    s = stats(sb)
    assert s["faults"]["truncate"] == 1
    # 1000 bytes before the cut, the rest on resume, then the whole file once more.
    assert s["bytes_served"] == 1000 + (total - received_first) + total


async def test_single_use_urls_expire_and_reading_the_task_refreshes(http: Any, sb: Any) -> None:
    sb.configure(url_single_use=True)
    task_id = await create(http)
    url = await completed_url(http, task_id)
    async with aiohttp.ClientSession() as plain:
        async with plain.get(url) as resp:
            assert resp.status == 200
            await resp.read()
        async with plain.get(url) as resp:
            assert resp.status == 403
            assert b"AccessDenied" in await resp.read()
        fresh = await completed_url(http, task_id)
        assert fresh != url
        async with plain.get(fresh) as resp:
            assert resp.status == 200
        async with plain.get(url.replace("/files/", "/files/x")) as resp:
            assert resp.status == 404
    assert stats(sb)["faults"]["url_expired"] == 1


async def test_urls_expire_after_ttl(http: Any, sb: Any) -> None:
    sb.configure(url_ttl=0.2)
    task_id = await create(http)
    url = await completed_url(http, task_id)
    async with aiohttp.ClientSession() as plain:
        deadline, status = time.monotonic() + 10, 200
        while status != 403 and time.monotonic() < deadline:
            async with plain.get(url, headers={"Range": "bytes=0-0"}) as resp:
                status = resp.status
            await asyncio.sleep(0.05)
        assert status == 403
        fresh = await completed_url(http, task_id)
        async with plain.get(fresh) as resp:
            assert resp.status == 200


async def test_faults_do_not_touch_admin_or_file_routes(http: Any, sb: Any) -> None:
    task_id = await create(http)
    url = await completed_url(http, task_id)
    sb.configure(rate_limit=5, server_error=5)
    async with aiohttp.ClientSession() as plain, plain.get(url) as resp:
        assert resp.status == 200
    s = stats(sb)  # goes through the admin route's logic on the server thread
    assert s["faults"].get("rate_limit", 0) == 0
    async with http.get("/_sandbox/stats") as resp:
        assert resp.status == 200
