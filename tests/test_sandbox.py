"""The sandbox gateway over real loopback HTTP: routes, shapes, lifecycle and rendered MP4s."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from aiohttp import web
from PIL import Image

from videogen_nb import sandbox
from videogen_nb.sandbox import DEFAULT_API_KEY, DEFAULT_MODELS

SMALL = {"size": "160x96", "duration": 1}


@pytest.fixture
def sb() -> Iterator[sandbox.SandboxHandle]:
    handle = sandbox.start(task_seconds=0.25)
    try:
        yield handle
    finally:
        handle.stop()


def auth(handle: sandbox.SandboxHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {handle.api_key}"}


@pytest.fixture
async def http(sb: sandbox.SandboxHandle) -> Any:
    async with aiohttp.ClientSession(base_url=sb.base_url, headers=auth(sb)) as session:
        yield session


async def wait_for(
    fetch: Callable[[], Any], done: Callable[[Any], bool], *, timeout: float = 15.0
) -> list[Any]:
    """Call ``fetch`` until ``done(result)``; returns every result seen (bounded by time)."""
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(await fetch())
        if done(seen[-1]):
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met in {timeout}s; last: {seen[-1:]!r}")


def probe(data: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return {
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "fps": float(video.average_rate),
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "frames": frames,
            "audio": [s.codec_context.name for s in container.streams.audio],
        }


def png_data_uri(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


async def submit(
    http: aiohttp.ClientSession, body: dict[str, Any], route: str = "/v1/video/generations"
) -> dict[str, Any]:
    async with http.post(route, json=body) as resp:
        payload = await resp.json()
        assert resp.status == 200, payload
        return payload


async def gen_status(http: aiohttp.ClientSession, task_id: str) -> dict[str, Any]:
    async with http.get(f"/v1/video/generations/{task_id}") as resp:
        assert resp.status == 200
        return await resp.json()


async def video_status(http: aiohttp.ClientSession, task_id: str) -> dict[str, Any]:
    async with http.get(f"/v1/videos/{task_id}") as resp:
        assert resp.status == 200
        return await resp.json()


async def finished_generation(http: aiohttp.ClientSession, task_id: str) -> list[dict[str, Any]]:
    return await wait_for(
        lambda: gen_status(http, task_id),
        lambda b: b["data"]["status"] in ("SUCCESS", "FAILURE"),
    )


async def fetch_bytes(url: str) -> bytes:
    async with aiohttp.ClientSession() as plain, plain.get(url) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"] == "video/mp4"
        return await resp.read()


# --- access ---------------------------------------------------------------------------------


async def test_models_list_includes_defaults_and_extras() -> None:
    with sandbox.start(models=["my-model"]) as handle:
        async with (
            aiohttp.ClientSession(headers=auth(handle)) as s,
            s.get(handle.base_url + "/v1/models") as resp,
        ):
            body = await resp.json()
    assert resp.status == 200
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert set(DEFAULT_MODELS) <= set(ids)
    assert "my-model" in ids


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-key", "Basic sk-sandbox-local", "Bearer "],
)
async def test_bad_or_missing_key_is_401_in_new_api_shape(sb: Any, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    async with aiohttp.ClientSession(base_url=sb.base_url, headers=headers) as s:
        for method, path in [("GET", "/v1/models"), ("POST", "/v1/video/generations")]:
            async with s.request(method, path, json={"model": "kling-v1", "prompt": "x"}) as resp:
                body = await resp.json()
            assert resp.status == 401
            assert body["error"]["type"] == "new_api_error"
            assert body["error"]["message"].startswith("Invalid token (request id: ")
    assert sb.tasks_created == 0


async def test_sk_prefix_is_optional(sb: Any) -> None:
    bare = sb.api_key.removeprefix("sk-")
    async with (
        aiohttp.ClientSession(base_url=sb.base_url) as s,
        s.get("/v1/models", headers={"Authorization": f"Bearer {bare}"}) as resp,
    ):
        assert resp.status == 200


def test_api_key_never_shown() -> None:
    key = "sk-very-secret-123"
    with sandbox.start(api_key=key) as handle:
        assert handle.api_key == key
        assert key not in repr(handle)
        assert key not in json.dumps(handle.stats())
        assert key not in repr(sandbox.Behaviour(api_key=key))
        req = urllib.request.Request(
            handle.base_url + "/_sandbox/stats", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert key.encode() not in resp.read()


# --- unified route --------------------------------------------------------------------------


async def test_unified_submit_shape_lifecycle_and_download(http: Any, sb: Any) -> None:
    body = await submit(
        http, {"model": "kling-v2-5-turbo", "prompt": "a paper boat", "seed": 7, **SMALL}
    )
    assert set(body) >= {"id", "task_id", "object", "model", "status", "progress", "created_at"}
    assert body["id"] == body["task_id"] and body["id"].startswith("task_")
    assert len(body["id"]) == len("task_") + 32
    assert (body["object"], body["status"], body["progress"]) == ("video", "queued", 0)
    assert body["model"] == "kling-v2-5-turbo"
    assert abs(body["created_at"] - time.time()) < 5

    seen = await finished_generation(http, body["id"])
    statuses = [b["data"]["status"] for b in seen]
    allowed = {"NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS"}
    assert set(statuses) <= allowed and statuses[-1] == "SUCCESS"
    progress = [int(b["data"]["progress"].rstrip("%")) for b in seen]
    assert all(b["data"]["progress"].endswith("%") for b in seen)
    assert progress == sorted(progress) and progress[-1] == 100
    assert all(b["code"] == "success" for b in seen)

    final = seen[-1]["data"]
    assert final["task_id"] == body["id"]
    assert final["fail_reason"] == ""
    assert final["finish_time"] >= final["submit_time"] > 0
    url = final["result_url"]
    assert url.startswith(sb.base_url + "/files/") and url.endswith(".mp4")
    # Kling's raw JSON, passed through by new-api.
    assert final["data"]["data"]["task_status"] == "succeed"
    assert final["data"]["data"]["task_result"]["videos"][0]["url"] == url
    for b in seen[:-1]:
        assert b["data"]["result_url"] == ""

    info = probe(await fetch_bytes(url))
    assert (info["width"], info["height"]) == (160, 96)
    assert info["fps"] == 12 and len(info["frames"]) == 12
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["audio"] == []
    # Something moves from frame to frame.
    assert np.abs(info["frames"][0].astype(int) - info["frames"][-1].astype(int)).mean() > 1


async def test_vendor_shapes_under_wrapper(http: Any) -> None:
    expect = {
        "veo_3_1-fast": lambda d, url: d["done"] and d["response"]["videos"][0]["uri"] == url,
        "sora-2": lambda d, url: d["status"] == "completed" and d["object"] == "video",
        "gen-3-alpha": lambda d, url: d["status"] == "SUCCEEDED" and d["output"] == [url],
    }
    for model, check in expect.items():
        body = await submit(http, {"model": model, "prompt": "p", **SMALL})
        final = (await finished_generation(http, body["id"]))[-1]["data"]
        assert check(final["data"], final["result_url"]), (model, final)


async def test_kling_style_body_with_ratio_string_duration_and_multi_prompt(http: Any) -> None:
    body = await submit(
        http,
        {
            "model": "kling-v3-std-silent",
            "aspect_ratio": "9:16",
            "duration": "2",
            "extra_body": {
                "multi_prompt": [{"prompt": "one"}, {"prompt": "two"}],
                "cfg_scale": 0.5,
            },
        },
    )
    obj = (
        await wait_for(lambda: video_status(http, body["id"]), lambda o: o["status"] == "completed")
    )[-1]
    assert obj["seconds"] == "2" and obj["size"] == "360x640"
    info = probe(await fetch_bytes(obj["metadata"]["url"]))
    assert (info["width"], info["height"]) == (360, 640)
    assert len(info["frames"]) == 24


async def test_multipart_on_generations_route(http: Any) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "kling-v1")
    form.add_field("prompt", "from a form")
    form.add_field("size", "160x96")
    form.add_field("duration", "1")
    form.add_field("metadata", json.dumps({"fps": 8}))
    async with http.post("/v1/video/generations", data=form) as resp:
        body = await resp.json()
    assert resp.status == 200, body
    final = (await finished_generation(http, body["id"]))[-1]["data"]
    info = probe(await fetch_bytes(final["result_url"]))
    assert info["fps"] == 8 and len(info["frames"]) == 8


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
async def test_other_content_types_are_not_read(http: Any, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    raw = json.dumps({"model": "kling-v1", "prompt": "x"}).encode()
    async with http.post("/v1/video/generations", data=raw, headers=headers) as resp:
        body = await resp.json()
    assert resp.status == 400
    assert body == {"code": "invalid_request", "message": "prompt is required", "data": None}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "kling-v1"}, 400, "invalid_request"),
        ({"model": "kling-v1", "prompt": ""}, 400, "invalid_request"),
        ({"prompt": "x"}, 400, "missing_model"),
        ({"model": "kling-v1", "prompt": "x", "duration": 5.5}, 400, "invalid_request"),
        ({"model": "kling-v1", "prompt": "x", "duration": "five"}, 400, "invalid_request"),
        ({"model": "kling-v1", "prompt": "x", "duration": 0}, 400, "invalid_request"),
        ({"model": "kling-v1", "prompt": "x", "seconds": 5}, 400, "invalid_request"),
        ({"model": "kling-v1", "prompt": "x", "size": "big"}, 400, "invalid_size"),
        ({"model": "kling-v1", "prompt": "x", "size": "99999x10"}, 400, "invalid_size"),
        ({"model": "kling-v1", "prompt": "x", "image": "not base64!!"}, 400, "invalid_request"),
        ({"model": "kling-v1", "prompt": "x", "image": "aGVsbG8="}, 400, "invalid_request"),
        ({"model": "kling-v1", "prompt": "x", "metadata": "nope"}, 400, "invalid_request"),
        (
            {"model": "kling-v1", "prompt": "x", "extra_body": {"multi_prompt": "x"}},
            400,
            "invalid_request",
        ),
        ({"model": "kling-v1", "prompt": "x", "fps": 0}, 400, "invalid_request"),
    ],
)
async def test_submit_validation(
    http: Any, sb: Any, body: dict[str, Any], status: int, code: str
) -> None:
    async with http.post("/v1/video/generations", json=body) as resp:
        payload = await resp.json()
    assert resp.status == status, payload
    assert payload["code"] == code and payload["data"] is None and payload["message"]
    assert sb.tasks_created == 0


async def test_invalid_json_and_unknown_model(http: Any, sb: Any) -> None:
    async with http.post(
        "/v1/video/generations", data=b"{not json", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["code"] == "invalid_json"
    async with http.post("/v1/video/generations", json={"model": "nope-1", "prompt": "x"}) as resp:
        body = await resp.json()
    assert resp.status == 503
    assert body["error"]["code"] == "model_not_found" and "nope-1" in body["error"]["message"]
    assert sb.tasks_created == 0


async def test_float_duration_with_no_fraction_is_ignored_like_new_api(http: Any) -> None:
    body = await submit(
        http, {"model": "kling-v1", "prompt": "x", "duration": 2.0, "size": "160x96"}
    )
    obj = await video_status(http, body["id"])
    assert obj["seconds"] == "5"  # new-api turns 2.0 into 0: the default applies


async def test_unknown_task_ids(http: Any) -> None:
    async with http.get("/v1/video/generations/task_doesnotexist") as resp:
        body = await resp.json()
    assert resp.status == 400 and body["code"] == "task_not_exist"
    for path in ("/v1/videos/task_nope", "/v1/videos/task_nope/content"):
        async with http.get(path) as resp:
            assert resp.status == 404
    async with http.get("/v1/nothing-here") as resp:
        assert resp.status == 404
        assert "Invalid URL" in (await resp.json())["error"]["message"]


# --- OpenAI route ---------------------------------------------------------------------------


async def test_openai_route_seconds_must_be_string(http: Any, sb: Any) -> None:
    async with http.post(
        "/v1/videos", json={"model": "sora-2", "prompt": "x", "seconds": 4}
    ) as resp:
        body = await resp.json()
    assert resp.status == 400 and "string" in body["message"]
    assert sb.tasks_created == 0
    created = await submit(
        http,
        {"model": "sora-2", "prompt": "x", "seconds": "1", "size": "160x96"},
        route="/v1/videos",
    )
    assert (
        created["status"] == "queued" and created["seconds"] == "1" and created["size"] == "160x96"
    )


async def test_openai_object_lifecycle_and_content(http: Any) -> None:
    created = await submit(
        http,
        {"model": "kling-v2-1-master", "prompt": "x", "seconds": "1", "size": "160x96"},
        route="/v1/videos",
    )
    task_id = created["id"]
    async with http.get(f"/v1/videos/{task_id}/content") as resp:
        assert resp.status == 400  # not finished yet
    seen = await wait_for(lambda: video_status(http, task_id), lambda o: o["status"] == "completed")
    assert {o["status"] for o in seen} <= {"queued", "in_progress", "completed"}
    assert all(o["metadata"]["url"] == "" for o in seen[:-1])
    obj = seen[-1]
    assert obj["object"] == "video" and obj["progress"] == 100
    assert obj["seconds"] == "1" and obj["size"] == "160x96"
    # Kling timestamps are milliseconds.
    assert obj["created_at"] > 10**12 and obj["completed_at"] >= obj["created_at"]
    assert "error" not in obj
    async with http.get(f"/v1/videos/{task_id}/content") as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
        content = await resp.read()
    assert content == await fetch_bytes(obj["metadata"]["url"])
    assert probe(content)["width"] == 160


async def test_openai_timestamps_in_seconds_for_other_models(http: Any) -> None:
    created = await submit(
        http, {"model": "sora-2", "prompt": "x", "seconds": "1"}, route="/v1/videos"
    )
    obj = await video_status(http, created["id"])
    assert obj["created_at"] < 10**11


async def test_openai_multipart_input_reference_animates_the_image(http: Any) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 30, 30)).save(buf, "PNG")
    form = aiohttp.FormData()
    form.add_field("model", "sora-2")
    form.add_field("prompt", "animate this")
    form.add_field("seconds", "1")
    form.add_field("size", "160x96")
    form.add_field("input_reference", buf.getvalue(), filename="ref.png", content_type="image/png")
    async with http.post("/v1/videos", data=form) as resp:
        created = await resp.json()
    assert resp.status == 200, created
    await wait_for(lambda: video_status(http, created["id"]), lambda o: o["status"] == "completed")
    async with http.get(f"/v1/videos/{created['id']}/content") as resp:
        info = probe(await resp.read())
    upper = info["frames"][0][: int(96 * 0.6)].reshape(-1, 3).mean(axis=0)
    assert upper[0] > 150 and upper[1] < 80 and upper[2] < 80, upper


async def test_image_to_video_cross_fades_to_last_image(http: Any) -> None:
    body = await submit(
        http,
        {
            "model": "kling-v3-pro-silent",
            "prompt": "first and last",
            "image": png_data_uri((220, 40, 40)),
            "last_image": png_data_uri((30, 40, 220)),
            **SMALL,
        },
    )
    final = (await finished_generation(http, body["id"]))[-1]["data"]
    frames = probe(await fetch_bytes(final["result_url"]))["frames"]
    first = frames[0][:57].reshape(-1, 3).mean(axis=0)
    last = frames[-1][:57].reshape(-1, 3).mean(axis=0)
    assert first[0] > 150 and first[2] < 90, first
    assert last[2] > 150 and last[0] < 90, last


async def test_remote_image_url_gets_a_placeholder(http: Any) -> None:
    body = await submit(
        http, {"model": "kling-v1", "prompt": "x", "image": "https://example.com/a.png", **SMALL}
    )
    final = (await finished_generation(http, body["id"]))[-1]["data"]
    assert len(probe(await fetch_bytes(final["result_url"]))["frames"]) == 12


async def test_audio_track_only_for_audio_models(http: Any) -> None:
    tracks = {}
    for model in ("kling-v3-std-audio", "kling-v3-std-silent"):
        body = await submit(http, {"model": model, "prompt": "sound?", **SMALL})
        final = (await finished_generation(http, body["id"]))[-1]["data"]
        tracks[model] = probe(await fetch_bytes(final["result_url"]))["audio"]
    assert tracks == {"kling-v3-std-audio": ["aac"], "kling-v3-std-silent": []}


async def test_cancel(http: Any) -> None:
    with_long = await submit(
        http, {"model": "sora-2", "prompt": "x", "metadata": {"sandbox_task_seconds": 30}, **SMALL}
    )
    async with http.delete(f"/v1/videos/{with_long['id']}") as resp:
        obj = await resp.json()
    assert (
        resp.status == 200 and obj["status"] == "cancelled" and obj["error"]["code"] == "cancelled"
    )
    wrapped = await gen_status(http, with_long["id"])
    assert wrapped["data"]["status"] == "FAILURE" and wrapped["data"]["fail_reason"]
    async with http.get(f"/v1/videos/{with_long['id']}/content") as resp:
        assert resp.status == 400


# --- downloads ------------------------------------------------------------------------------


async def test_range_requests(http: Any) -> None:
    body = await submit(http, {"model": "kling-v1", "prompt": "ranges", **SMALL})
    final = (await finished_generation(http, body["id"]))[-1]["data"]
    url = final["result_url"]
    full = await fetch_bytes(url)
    size = len(full)
    async with aiohttp.ClientSession() as s:
        for header, start, end in [
            ("bytes=0-99", 0, 99),
            ("bytes=100-", 100, size - 1),
            ("bytes=-50", size - 50, size - 1),
            (f"bytes=10-{size + 500}", 10, size - 1),
        ]:
            async with s.get(url, headers={"Range": header}) as resp:
                assert resp.status == 206, header
                assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
                assert await resp.read() == full[start : end + 1]
        async with s.get(url, headers={"Range": f"bytes={size}-"}) as resp:
            assert resp.status == 416 and resp.headers["Content-Range"] == f"bytes */{size}"
        async with s.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'}) as resp:
            assert resp.status == 200 and len(await resp.read()) == size
        async with s.head(url) as resp:
            assert resp.status == 200 and resp.headers["Accept-Ranges"] == "bytes"
    async with http.get(
        f"/v1/videos/{body['id']}/content", headers={"Range": "bytes=5-14"}
    ) as resp:
        assert resp.status == 206 and await resp.read() == full[5:15]


async def test_identical_requests_render_once(http: Any, sb: Any) -> None:
    ids = [
        (await submit(http, {"model": "kling-v1", "prompt": "same", **SMALL}))["id"]
        for _ in range(4)
    ]
    payloads = []
    for task_id in ids:
        final = (await finished_generation(http, task_id))[-1]["data"]
        payloads.append(await fetch_bytes(final["result_url"]))
    assert len(set(payloads)) == 1
    assert len(set(ids)) == 4
    assert sb.stats(include_tasks=False)["renders"] == 1


# --- lifecycle knobs ------------------------------------------------------------------------


async def test_failure_rate_one_fails_every_task_with_a_message(http: Any, sb: Any) -> None:
    sb.configure(failure_rate=1.0)
    body = await submit(http, {"model": "kling-v1", "prompt": "doomed", **SMALL})
    final = (await finished_generation(http, body["id"]))[-1]["data"]
    assert final["status"] == "FAILURE" and final["fail_reason"] and final["result_url"] == ""
    obj = await video_status(http, body["id"])
    assert obj["status"] == "failed" and obj["error"]["message"] == final["fail_reason"]
    assert obj["metadata"]["url"] == ""
    async with http.get(f"/v1/videos/{body['id']}/content") as resp:
        assert resp.status == 400


def _outcomes(seed: int, n: int) -> list[str]:
    with sandbox.start(task_seconds=0, failure_rate=0.5, seed=seed) as handle:
        outcomes = []
        for i in range(n):
            req = urllib.request.Request(
                handle.base_url + "/v1/video/generations",
                data=json.dumps({"model": "kling-v1", "prompt": f"p{i % 3}"}).encode(),
                headers={**auth(handle), "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                task_id = json.loads(resp.read())["id"]
            with urllib.request.urlopen(
                urllib.request.Request(
                    f"{handle.base_url}/v1/video/generations/{task_id}", headers=auth(handle)
                ),
                timeout=10,
            ) as resp:
                outcomes.append(json.loads(resp.read())["data"]["status"])
        return outcomes


def test_failure_rate_is_deterministic_per_seed() -> None:
    first, again = _outcomes(11, 24), _outcomes(11, 24)
    assert first == again
    assert 3 <= first.count("FAILURE") <= 21
    assert set(first) == {"SUCCESS", "FAILURE"}


async def test_per_task_seconds_override_and_completion_record(http: Any, sb: Any) -> None:
    quick = await submit(
        http, {"model": "veo-3", "prompt": "now", "metadata": {"sandbox_task_seconds": 0}, **SMALL}
    )
    slow = await submit(
        http,
        {"model": "veo-3", "prompt": "later", "metadata": {"sandbox_task_seconds": 60}, **SMALL},
    )
    assert (await gen_status(http, quick["id"]))["data"]["status"] == "SUCCESS"
    assert (await gen_status(http, slow["id"]))["data"]["status"] != "SUCCESS"
    tasks = sb.stats()["tasks"]
    assert tasks[quick["id"]]["outcome"] == "completed"
    assert tasks[quick["id"]]["completed_at"] == pytest.approx(tasks[quick["id"]]["created_at"])
    assert tasks[quick["id"]]["first_completed_read_at"] is not None
    assert tasks[slow["id"]]["completed_at"] is None and tasks[slow["id"]]["outcome"] == "pending"


async def test_never_finish_until_switched_off(http: Any, sb: Any) -> None:
    sb.configure(never_finish=True, task_seconds=0.05)
    body = await submit(http, {"model": "kling-v1", "prompt": "forever", **SMALL})
    seen = await wait_for(
        lambda: video_status(http, body["id"]),
        lambda o: o["status"] == "in_progress" and o["progress"] == 99,
    )
    assert all(o["status"] != "completed" for o in seen)
    sb.configure(never_finish=False)
    assert (await video_status(http, body["id"]))["status"] == "completed"


async def test_flap_back_to_queued_once(http: Any, sb: Any) -> None:
    sb.configure(flap=True, task_seconds=1.0)
    body = await submit(http, {"model": "kling-v1", "prompt": "flap", **SMALL})
    seen = await finished_generation(http, body["id"])
    statuses = [b["data"]["status"] for b in seen]
    running = statuses.index("IN_PROGRESS")
    after = statuses[running:]
    assert after.count("QUEUED") == 1 and statuses[-1] == "SUCCESS"
    assert sb.stats(include_tasks=False)["faults"]["flap"] == 1


async def test_odd_status_strings_before_completion(http: Any, sb: Any) -> None:
    sb.configure(odd_status=True, task_seconds=1.0)
    body = await submit(http, {"model": "sora-2", "prompt": "odd", **SMALL})
    seen = await wait_for(
        lambda: video_status(http, body["id"]), lambda o: o["status"] == "completed"
    )
    statuses = {o["status"] for o in seen}
    assert {"generating", "weird_state"} <= statuses
    assert "in_progress" not in statuses


async def test_poll_after_header_and_latency(http: Any, sb: Any) -> None:
    sb.configure(poll_after_ms=1500, latency=0.15)
    body = await submit(http, {"model": "kling-v1", "prompt": "x", **SMALL})
    started = time.monotonic()
    async with http.get(f"/v1/videos/{body['id']}") as resp:
        assert resp.headers["openai-poll-after-ms"] == "1500"
    assert time.monotonic() - started >= 0.15
    async with http.get(f"/v1/video/generations/{body['id']}") as resp:
        assert resp.headers["openai-poll-after-ms"] == "1500"


async def test_wrong_size_and_duration_render_what_was_not_asked(http: Any, sb: Any) -> None:
    sb.configure(wrong_size="96x64", wrong_duration=2.0)
    body = await submit(http, {"model": "sora-2", "prompt": "x", **SMALL})
    obj = (
        await wait_for(lambda: video_status(http, body["id"]), lambda o: o["status"] == "completed")
    )[-1]
    assert obj["size"] == "160x96" and obj["seconds"] == "1"  # the object still claims the request
    info = probe(await fetch_bytes(obj["metadata"]["url"]))
    assert (info["width"], info["height"]) == (96, 64)
    assert len(info["frames"]) == 24
    sb.configure(wrong_size=True, wrong_duration=False)
    body = await submit(http, {"model": "sora-2", "prompt": "y", **SMALL})
    obj = (
        await wait_for(lambda: video_status(http, body["id"]), lambda o: o["status"] == "completed")
    )[-1]
    info = probe(await fetch_bytes(obj["metadata"]["url"]))
    assert (info["width"], info["height"]) == (80, 48) and len(info["frames"]) == 12
    faults = sb.stats(include_tasks=False)["faults"]
    assert faults["wrong_size"] == 2 and faults["wrong_duration"] == 1


async def test_route_families_can_be_switched_off(http: Any, sb: Any) -> None:
    sb.configure(unified_routes=False)
    async with http.post(
        "/v1/video/generations", json={"model": "kling-v1", "prompt": "x"}
    ) as resp:
        assert resp.status == 404
    created = await submit(
        http, {"model": "sora-2", "prompt": "x", "seconds": "1"}, route="/v1/videos"
    )
    async with http.get(f"/v1/video/generations/{created['id']}") as resp:
        assert resp.status == 404


# --- process and threads --------------------------------------------------------------------


def test_two_sandboxes_and_stop_frees_the_port() -> None:
    a = sandbox.start(task_seconds=0)
    b = sandbox.start(task_seconds=0, api_key="sk-other")
    try:
        assert a.port != b.port
        req = urllib.request.Request(
            a.base_url + "/v1/video/generations",
            data=json.dumps({"model": "kling-v1", "prompt": "x"}).encode(),
            headers={**auth(a), "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10):
            pass
        assert (a.tasks_created, b.tasks_created) == (1, 0)
        with pytest.raises(urllib.error.HTTPError) as err:  # a's key is not b's
            urllib.request.urlopen(
                urllib.request.Request(b.base_url + "/v1/models", headers=auth(a)), timeout=10
            )
        assert err.value.code == 401
    finally:
        a.stop()
        b.stop()
    port = a.port
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(a.base_url + "/v1/models", timeout=5)
    with sandbox.start(port=port) as again:  # the port is free again
        assert again.port == port
    a.stop()  # idempotent
    with pytest.raises(RuntimeError):
        a.stats()


def test_start_on_a_taken_port_raises() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(OSError):
            sandbox.start(port=s.getsockname()[1])


async def test_start_and_stop_from_inside_a_running_loop() -> None:
    # As in a notebook cell: a loop runs on this thread; the sandbox brings its own.
    handle = sandbox.start()
    try:
        async with (
            aiohttp.ClientSession(headers=auth(handle)) as s,
            s.get(handle.base_url + "/v1/models") as resp,
        ):
            assert resp.status == 200
    finally:
        handle.stop()
    assert not handle.running


async def test_admin_routes(http: Any, sb: Any) -> None:
    async with (
        aiohttp.ClientSession(base_url=sb.base_url) as anon,
        anon.get("/_sandbox/stats") as resp,
    ):
        assert resp.status == 401
    async with http.post("/_sandbox/config", json={"failure_rate": 1, "seed": 3}) as resp:
        cfg = await resp.json()
    assert resp.status == 200 and cfg["failure_rate"] == 1.0 and "api_key" not in cfg
    async with http.post("/_sandbox/config", json={"no_such_knob": 1}) as resp:
        assert resp.status == 400 and "no_such_knob" in (await resp.json())["message"]
    async with http.post("/_sandbox/config", json={"failure_rate": 2}) as resp:
        assert resp.status == 400
    await submit(http, {"model": "kling-v1", "prompt": "x", **SMALL})
    async with http.get("/_sandbox/stats?tasks=0") as resp:
        stats = await resp.json()
    assert stats["tasks_created"] == 1 and "tasks" not in stats
    assert stats["behaviour"]["failure_rate"] == 1.0
    # Admin calls are not counted as API traffic.
    assert stats["requests"] == {"POST /v1/video/generations": 1}
    assert stats["statuses"] == {"200": 1}


def test_configure_rejects_unknown_knobs(sb: Any) -> None:
    with pytest.raises(TypeError, match="bogus"):
        sb.configure(bogus=1)
    with pytest.raises(ValueError, match="failure_rate"):
        sb.configure(failure_rate=3)


def test_command_line_server(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "videogen_nb.sandbox",
            "--port",
            "0",
            "--task-seconds",
            "0.1",
            "--api-key",
            "sk-cli-test",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        values = dict(line.split("=", 1) for line in lines)
        assert values["VIDEOGEN_API_KEY"] == "sk-cli-test"
        base = values["VIDEOGEN_BASE_URL"]
        req = urllib.request.Request(
            base + "/_sandbox/stats", headers={"Authorization": "Bearer sk-cli-test"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["behaviour"]["task_seconds"] == 0.1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert DEFAULT_API_KEY == "sk-sandbox-local"


async def test_gemini_channel_shape_for_veo(http: Any, sb: Any) -> None:
    sb.configure(gemini_shape=True)
    body = await submit(http, {"model": "veo_3_1", "prompt": "x", **SMALL})
    seen = await wait_for(
        lambda: gen_status(http, body["id"]), lambda b: b["data"]["status"] == "succeeded"
    )
    final = seen[-1]["data"]
    assert final["task_id"] == body["id"] and final["format"] == "mp4"
    assert {b["data"]["status"] for b in seen} <= {"queued", "processing", "succeeded"}
    assert probe(await fetch_bytes(final["url"]))["width"] == 160


async def test_image_url_on_loopback_is_fetched(http: Any) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 200, 40)).save(buf, "PNG")
    png = buf.getvalue()

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=png, content_type="image/png")

    app = web.Application()
    app.router.add_get("/green.png", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        body = await submit(
            http,
            {
                "model": "kling-v1",
                "prompt": "x",
                "image": f"http://127.0.0.1:{port}/green.png",
                **SMALL,
            },
        )
        final = (await finished_generation(http, body["id"]))[-1]["data"]
        frame = probe(await fetch_bytes(final["result_url"]))["frames"][0]
    finally:
        await runner.cleanup()
    mean = frame[:57].reshape(-1, 3).mean(axis=0)
    assert mean[1] > 150 and mean[0] < 90 and mean[2] < 90, mean
