"""new-api as it is today (GATEWAYS.md): each new fact decoded from a recorded body, served by
a sandbox personality, and followed end to end through ``vg.Client``/``vg.AsyncClient``.

Facts: the full task object of ``GET /v1/video/generations/{id}`` (integer row ``id``,
``quota``, ``fail_reason``, the three times, ``platform``, ``action``); the newest
``GET /v1/videos/{id}`` (UPPERCASE statuses, no URL); artifact links behind an expiring HMAC
token (404 once expired: re-read the task for a fresh one); the ``X-New-Api-Other-Ratios``
submit header; progress that only moves in steps.
"""

from __future__ import annotations

import asyncio
import hashlib
import pathlib
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

import videogen_nb as vg
from tests.support import small
from videogen_nb.dialects.decode import decode_task
from videogen_nb.dialects.newapi import (
    QUOTA_PER_USD,
    other_ratios,
    task_facts,
    task_quota,
    task_timing,
)
from videogen_nb.sandbox.newapi import NEWAPI_TODAY, OTHER_RATIOS_HEADER
from videogen_nb.tasks.fetch import MAX_URL_REFRESHES, artifact_link_expired

ARTIFACT = "/v1/tasks/{task_id}/artifacts/{artifact}/content"
LINK = (
    "https://gw.example/v1/tasks/task_9Xq/artifacts/video/content"
    "?access=1796460260.QEi1aUMogXYgjk6I_cWmGwxCbml9tDW2HnDzM-6MrmE"
)

# --- recorded bodies --------------------------------------------------------------------------

#: ``GET /v1/video/generations/{id}`` with new-api's full dto/task.go object
TASK_OBJECT_SUCCESS: dict[str, Any] = {
    "code": "success",
    "message": "",
    "data": {
        "id": 4242,
        "created_at": 1766737700,
        "updated_at": 1766737812,
        "task_id": "task_9Xq",
        "platform": "kling",
        "user_id": 7,
        "group": "default",
        "channel_id": 3,
        "quota": 125000,
        "action": "textGenerate",
        "status": "SUCCESS",
        "fail_reason": "",
        "result_url": LINK,
        "submit_time": 1766737700,
        "start_time": 1766737712,
        "finish_time": 1766737807,
        "progress": "100%",
        "properties": {"input": "a boat", "upstream_model_name": "kling-v1"},
        "data": {"code": 0, "data": {"task_id": "860001", "task_status": "succeed"}},
        "async": {
            "execution_status": "finished",
            "attempt": 1,
            "request_sent_at": 1766737700,
            "error_phase": "",
            "error_code": "",
            "billing_status": "charged",
        },
    },
}

TASK_OBJECT_FAILURE: dict[str, Any] = {
    "code": "success",
    "message": "",
    "data": {
        "id": 4243,
        "task_id": "task_fail",
        "platform": "kling",
        "quota": 0,
        "action": "generate",
        "status": "FAILURE",
        "fail_reason": "视频生成失败：上游服务繁忙，请稍后重试",
        "result_url": "",
        "submit_time": 1766737700,
        "start_time": 1766737705,
        "finish_time": 1766737720,
        "progress": "100%",
        "async": {"execution_status": "finished", "error_code": "upstream_error"},
    },
}

#: ``GET /v1/videos/{id}`` on new-api rc.30 and later: no URL, no ``id``, UPPERCASE status
NEWEST_VIDEO = {
    "created_at": 1766737700,
    "fail_reason": "",
    "finished_at": 1766737807,
    "platform": "kling",
    "progress": "100%",
    "status": "SUCCESS",
    "task_id": "task_9Xq",
}


# --- decoding recorded bodies -----------------------------------------------------------------


def test_task_object_routes_by_the_public_id_not_the_database_row() -> None:
    task = decode_task(TASK_OBJECT_SUCCESS, task_id="task_9Xq")
    assert task.id == "task_9Xq"
    assert task.status is vg.TaskStatus.COMPLETED and task.progress == 100
    assert task.video_url == LINK
    assert task.created_at == 1766737700 and task.completed_at == 1766737807
    assert task.raw["data"]["id"] == 4242  # the row id is kept, but never routes


def test_an_integer_id_alone_never_becomes_the_task_id() -> None:
    body = {"code": "success", "data": {"id": 4242, "status": "IN_PROGRESS", "progress": "20%"}}
    task = decode_task(body, task_id="task_9Xq")
    assert task.id == "task_9Xq"
    assert task.status is vg.TaskStatus.IN_PROGRESS and task.progress == 20


def test_task_object_times_quota_and_facts() -> None:
    task = decode_task(TASK_OBJECT_SUCCESS)
    timing = task_timing(task)
    assert timing.queue_seconds == 12.0
    assert timing.run_seconds == 95.0
    assert task_quota(task) == 125000
    assert task_quota(task) / QUOTA_PER_USD == 0.25  # what the cost work will read
    facts = task_facts(task)
    assert facts["platform"] == "kling" and facts["action"] == "textGenerate"
    assert facts["quota"] == 125000 and facts["async_status"] == "finished"


def test_task_object_not_started_yet_has_no_times() -> None:
    body = {
        "code": "success",
        "data": {
            "id": 1,
            "task_id": "task_q",
            "status": "NOT_START",
            "progress": "0%",
            "submit_time": 1766737700,
            "start_time": 0,
            "finish_time": 0,
        },
    }
    task = decode_task(body)
    assert task.status is vg.TaskStatus.QUEUED
    assert task_timing(task).queue_seconds is None and task_timing(task).run_seconds is None


def test_task_object_failure_reads_fail_reason_and_the_async_error_code() -> None:
    task = decode_task(TASK_OBJECT_FAILURE)
    assert task.status is vg.TaskStatus.FAILED
    assert task.error == "视频生成失败：上游服务繁忙，请稍后重试"
    assert task.error_code == "upstream_error"
    assert task.video_url is None
    assert task_quota(task) == 0  # refunded
    assert task_timing(task).run_seconds == 15.0


def test_newest_video_answer_without_url_or_id() -> None:
    task = decode_task(NEWEST_VIDEO, task_id="task_9Xq")
    assert task.id == "task_9Xq"
    assert task.status is vg.TaskStatus.COMPLETED and task.status_text == "SUCCESS"
    assert task.video_url is None  # the client falls back to the content route
    assert task.completed_at == 1766737807
    assert task_timing(task).finished_at == 1766737807


@pytest.mark.parametrize(
    ("status", "progress", "expected"),
    [
        ("NOT_START", "0%", vg.TaskStatus.QUEUED),
        ("SUBMITTED", "0%", vg.TaskStatus.QUEUED),
        ("QUEUED", "0%", vg.TaskStatus.QUEUED),
        ("UNKNOWN", "0%", vg.TaskStatus.QUEUED),
        ("IN_PROGRESS", "30%", vg.TaskStatus.IN_PROGRESS),
        ("FAILURE", "100%", vg.TaskStatus.FAILED),
    ],
)
def test_newest_video_internal_statuses(
    status: str, progress: str, expected: vg.TaskStatus
) -> None:
    body = dict(NEWEST_VIDEO, status=status, progress=progress, fail_reason="")
    if status == "FAILURE":
        body["fail_reason"] = "content policy"
    task = decode_task(body)
    assert task.status is expected
    if status == "FAILURE":
        assert task.error == "content policy"


def test_stepped_progress_strings_decode_as_steps() -> None:
    seen = [
        decode_task(dict(NEWEST_VIDEO, status="IN_PROGRESS", progress=p)).progress
        for p in ("10%", "20%", "30%")
    ]
    assert seen == [10, 20, 30]
    assert decode_task(NEWEST_VIDEO).progress == 100


def test_other_ratios_header_is_kept_on_raw_and_decoded() -> None:
    body = {"id": "task_1", "task_id": "task_1", "object": "video", "status": "queued"}
    task = decode_task(body, headers={"x-new-api-other-ratios": '{"seconds":5,"size":1.5}'})
    assert task.raw["_headers"] == {"X-New-Api-Other-Ratios": '{"seconds":5,"size":1.5}'}
    assert "_headers" not in body  # the body as it came is untouched
    assert other_ratios(task) == {"seconds": 5.0, "size": 1.5}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"seconds":"8","size":1,"note":"x","flag":true}', {"seconds": 8.0, "size": 1.0}),
        ("not json", None),
        ("[1, 2]", None),
        ("{}", {}),
    ],
)
def test_other_ratios_header_decodes_tolerantly(value: str, expected: Any) -> None:
    task = decode_task({"id": "t", "status": "queued"}, headers={OTHER_RATIOS_HEADER: value})
    assert other_ratios(task) == expected


def test_no_other_ratios_header_leaves_raw_as_the_body() -> None:
    body = {"id": "t", "status": "queued"}
    task = decode_task(body, headers={"Content-Type": "application/json"})
    assert task.raw == body and other_ratios(task) is None


# --- the sandbox personalities over HTTP ------------------------------------------------------


def _auth(sb: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.api_key}"}


async def _submit(http: aiohttp.ClientSession, sb: Any, route: str = "/v1/video/generations"):
    body = {"model": "kling-v1", "prompt": "a boat", "size": "160x96", "duration": 1}
    if route == "/v1/videos":
        body["seconds"] = str(body.pop("duration"))
    async with http.post(sb.base_url + route, json=body, headers=_auth(sb)) as resp:
        assert resp.status == 200
        return await resp.json(), resp.headers


async def _read(http: aiohttp.ClientSession, sb: Any, path: str) -> dict[str, Any]:
    async with http.get(sb.base_url + path, headers=_auth(sb)) as resp:
        assert resp.status == 200
        return await resp.json()


async def _until_done(
    http: aiohttp.ClientSession, sb: Any, task_id: str, *, route: str = "/v1/video/generations"
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        body = await _read(http, sb, f"{route}/{task_id}")
        seen.append(body)
        node = body.get("data", body)
        if node["status"] in ("SUCCESS", "FAILURE"):
            return seen
    raise AssertionError(f"task did not finish; last: {seen[-1:]!r}")


async def test_sandbox_task_object_shape(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(task_object=True, other_ratios=True)
    async with aiohttp.ClientSession() as http:
        submitted, headers = await _submit(http, sb)
        assert headers[OTHER_RATIOS_HEADER] == '{"seconds":1.0,"size":1.0}'
        seen = await _until_done(http, sb, submitted["id"])
    data = seen[-1]["data"]
    assert isinstance(data["id"], int) and data["task_id"] == submitted["id"]
    assert data["status"] == "SUCCESS" and data["progress"] == "100%"
    assert data["quota"] == 25000 and data["platform"] == "kling"
    assert data["action"] == "textGenerate"
    assert data["submit_time"] <= data["start_time"] <= data["finish_time"]
    for key in ("user_id", "group", "channel_id", "fail_reason", "properties", "data", "async"):
        assert key in data
    assert {s["data"]["status"] for s in seen} <= {
        "NOT_START",
        "SUBMITTED",
        "QUEUED",
        "IN_PROGRESS",
        "SUCCESS",
    }


async def test_sandbox_newest_video_shape(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(newest_videos=True)
    async with aiohttp.ClientSession() as http:
        submitted, _ = await _submit(http, sb, "/v1/videos")
        seen = await _until_done(http, sb, submitted["id"], route="/v1/videos")
    keys = {"created_at", "fail_reason", "finished_at", "platform", "progress", "status", "task_id"}
    assert all(set(body) == keys for body in seen)
    assert seen[-1]["status"] == "SUCCESS" and seen[-1]["finished_at"] > 0


async def test_sandbox_stepped_progress(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(task_seconds=1.0, stepped_progress=True)
    async with aiohttp.ClientSession() as http:
        submitted, _ = await _submit(http, sb)
        seen = await _until_done(http, sb, submitted["id"])
    steps = [s["data"]["progress"] for s in seen]
    assert set(steps) <= {"0%", "10%", "20%", "30%", "100%"}
    assert {"10%", "20%", "30%"} <= set(steps), steps  # 1 s of fast reads sees every step


async def test_sandbox_artifact_link_token_rules(make_sandbox: Callable[..., Any]) -> None:
    sb = make_sandbox(artifact_links=True, artifact_ttl=0.5)
    async with aiohttp.ClientSession() as http:
        submitted, _ = await _submit(http, sb)
        task_id = submitted["id"]
        link = (await _until_done(http, sb, task_id))[-1]["data"]["result_url"]
        parts = urllib.parse.urlsplit(link)
        assert parts.path == ARTIFACT.format(task_id=task_id, artifact="video")
        token = urllib.parse.parse_qs(parts.query)["access"][0]
        async with http.get(link) as resp:  # the token stands in for the key
            assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
            data = await resp.read()
        forged = link.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
        other = (await _submit(http, sb))[0]["id"]
        elsewhere = link.replace(task_id, other)
        for bad in (forged, elsewhere):
            async with http.get(bad) as resp:
                assert resp.status == 404
                assert (await resp.json())["error"]["code"] == "artifact_not_found"
        bare = sb.base_url + parts.path
        async with http.get(bare) as resp:
            assert resp.status == 401  # no token: the ordinary key is needed
        async with http.get(bare, headers=_auth(sb)) as resp:
            assert resp.status == 200 and await resp.read() == data
        await asyncio.sleep(0.6)  # past the token's lifetime (server runs on its own thread)
        async with http.get(link) as resp:
            assert resp.status == 404
        fresh = (await _read(http, sb, f"/v1/video/generations/{task_id}"))["data"]["result_url"]
        assert fresh != link
        async with http.get(fresh) as resp:
            assert resp.status == 200 and await resp.read() == data


# --- end to end through the client ------------------------------------------------------------


async def _content_bytes(sb: Any, task_id: str) -> bytes:
    async with aiohttp.ClientSession() as http:
        url = f"{sb.base_url}/v1/videos/{task_id}/content"
        async with http.get(url, headers=_auth(sb)) as resp:
            assert resp.status == 200
            return await resp.read()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _artifact_gets(sb: Any) -> int:
    return sb.stats(include_tasks=False)["requests"].get("GET " + ARTIFACT, 0)


async def test_expired_artifact_link_is_refreshed_and_the_bytes_arrive(
    make_sandbox: Callable[..., Any], make_client: Callable[..., vg.AsyncClient]
) -> None:
    sb = make_sandbox(artifact_expired=1, **NEWAPI_TODAY)
    client = make_client(sb)
    result = await client.generate(small())
    assert result.ok and result.task is not None
    assert sb.stats(include_tasks=False)["faults"]["artifact_expired"] == 1
    assert _artifact_gets(sb) == 2  # the expired link, then the fresh one
    assert result.path is not None
    assert _sha(result.path.read_bytes()) == _sha(await _content_bytes(sb, result.task.id))


async def test_link_that_expires_while_the_user_waits_is_refreshed(
    make_sandbox: Callable[..., Any], make_client: Callable[..., vg.AsyncClient]
) -> None:
    sb = make_sandbox(artifact_links=True, artifact_ttl=0.3)
    client = make_client(sb)
    task = await client.wait(await client.submit(small()))
    assert task.video_url is not None and "/artifacts/video/content?access=" in task.video_url
    await asyncio.sleep(0.4)  # the notebook user looks away; the link's token runs out
    assert artifact_link_expired(task.video_url)
    path = await client.download(task)
    # The token said it had run out: the client re-read the task first, so new-api's
    # limit of invalid attempts per address was not spent on a link known to be dead.
    assert sb.stats(include_tasks=False)["faults"].get("artifact_expired", 0) == 0
    assert _artifact_gets(sb) == 1
    assert _sha(path.read_bytes()) == _sha(await _content_bytes(sb, task.id))


@pytest.mark.parametrize(
    ("url", "expired"),
    [
        ("https://gw/v1/tasks/t/artifacts/video/content?access=1000.c2ln", True),
        ("https://gw/v1/tasks/t/artifacts/video/content?access=1000000.c2ln", True),
        ("https://gw/v1/tasks/t/artifacts/video/content?access=3000000000.c2ln", False),
        ("https://gw/v1/tasks/t/artifacts/video/content?access=3000000000000.c2ln", False),
        ("https://gw/v1/tasks/t/artifacts/video/content?access=c2lnbmF0dXJl", False),
        ("https://gw/v1/tasks/t/artifacts/video/content", False),
        ("https://cdn.example/v.mp4?access=1000.c2ln", False),
    ],
)
def test_artifact_link_expiry_is_read_from_the_token(url: str, expired: bool) -> None:
    assert artifact_link_expired(url, now=2_000_000_000) is expired


async def test_refreshing_links_is_bounded_then_the_content_route_serves(
    make_sandbox: Callable[..., Any], make_client: Callable[..., vg.AsyncClient]
) -> None:
    sb = make_sandbox(artifact_links=True, artifact_expired=50)
    client = make_client(sb)
    result = await client.generate(small())
    assert result.ok and result.task is not None and result.path is not None
    assert _artifact_gets(sb) == MAX_URL_REFRESHES
    requests = sb.stats(include_tasks=False)["requests"]
    assert requests["GET /v1/videos/{task_id}/content"] == 1
    assert _sha(result.path.read_bytes()) == _sha(await _content_bytes(sb, result.task.id))


async def test_task_object_end_to_end_keeps_the_submit_id_times_quota_and_ratios(
    make_sandbox: Callable[..., Any], make_client: Callable[..., vg.AsyncClient]
) -> None:
    sb = make_sandbox(**NEWAPI_TODAY)
    client = make_client(sb)
    submitted = await client.submit(small())
    assert other_ratios(submitted) == {"seconds": 1.0, "size": 1.0}
    done = await client.wait(submitted)
    assert done.id == submitted.id and isinstance(done.raw["data"]["id"], int)
    assert task_quota(done) == 25000
    timing = task_timing(done)
    assert timing.queue_seconds is not None and timing.queue_seconds >= 0
    assert timing.run_seconds is not None and timing.run_seconds >= 0
    assert task_facts(done)["platform"] == "kling"
    path = await client.download(done)
    assert path.stat().st_size > 0


async def test_task_object_failure_end_to_end(
    make_sandbox: Callable[..., Any], make_client: Callable[..., vg.AsyncClient]
) -> None:
    sb = make_sandbox(failure_rate=1.0, **NEWAPI_TODAY)
    client = make_client(sb)
    with pytest.raises(vg.TaskFailedError) as info:
        await client.generate(small())
    task = info.value.task
    assert task.error and task.error_code  # fail_reason and async.error_code
    assert task_quota(task) == 0


async def test_newest_videos_answer_end_to_end(
    make_sandbox: Callable[..., Any], make_client: Callable[..., vg.AsyncClient]
) -> None:
    sb = make_sandbox(**NEWAPI_TODAY)
    client = make_client(sb, dialect="openai")
    result = await client.generate(small())
    assert result.ok and result.task is not None and result.path is not None
    assert result.task.video_url is None and result.task.status_text == "SUCCESS"
    assert set(result.task.raw) == {
        "created_at",
        "fail_reason",
        "finished_at",
        "platform",
        "progress",
        "status",
        "task_id",
    }
    assert _sha(result.path.read_bytes()) == _sha(await _content_bytes(sb, result.task.id))


def test_stepped_progress_end_to_end_with_the_blocking_client(
    make_sandbox: Callable[..., Any], client_options: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    sb = make_sandbox(task_seconds=1.0, stepped_progress=True, task_object=True)
    seen: list[int | None] = []
    with vg.Client(sb.base_url, sb.api_key, **client_options) as client:
        task = client.submit(small())
        done = client.wait(task, on_update=lambda t: seen.append(t.progress))
    assert done.status is vg.TaskStatus.COMPLETED
    assert set(seen) <= {0, 10, 20, 30, 100, None}
    assert seen[-1] == 100
