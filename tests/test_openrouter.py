"""OpenRouter's video API end to end against the sandbox's OpenRouter routes, through the
public clients: submit to ``/api/v1/videos``, poll its ``polling_url``, download ``/content``
with the bearer, ``usage.cost`` kept, provider-prefixed models; and ``dialect="auto"``
finding it by itself."""

from __future__ import annotations

import base64
import io
import logging
import pathlib
from typing import Any

import pytest
from PIL import Image

import videogen_nb as vg
from tests.support import decode_video, small
from videogen_nb.core.errors import TaskFailedError, ValidationError
from videogen_nb.core.task import Task, TaskStatus
from videogen_nb.dialects import OpenRouterDialect, auto_fallback, get_dialect
from videogen_nb.sandbox.openrouter import OPENROUTER_MODELS, PRICE_PER_SECOND
from videogen_nb.store.catalog import check_request, get_model

VEO = "google/veo-3.1"


def _png_uri() -> str:
    out = io.BytesIO()
    Image.new("RGB", (32, 18), (20, 160, 220)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _routes(sb: Any) -> dict[str, int]:
    requests: dict[str, int] = sb.stats(include_tasks=False)["requests"]
    return requests


def _openrouter_only(make_sandbox: Any) -> Any:
    """A sandbox that answers 404 on /v1/video/generations and /v1/videos: OpenRouter alone."""
    return make_sandbox(unified_routes=False, openai_routes=False)


async def test_text_to_video_polls_the_polling_url_and_keeps_the_cost(
    sandbox: Any, make_client: Any
) -> None:
    client = make_client(sandbox, dialect="openrouter")
    result = await client.generate(small(model=VEO, duration=2))

    assert result.path is not None and decode_video(result.path)["frames"] > 0
    raw = result.task.raw
    assert raw["status"] == "completed"
    assert raw["usage"] == {"cost": pytest.approx(2 * PRICE_PER_SECOND), "is_byok": False}
    assert raw["unsigned_urls"][0].endswith(f"/api/v1/videos/{result.task.id}/content?index=0")
    routes = _routes(sandbox)
    assert routes["POST /api/v1/videos"] == 1
    assert routes["GET /api/v1/videos/{task_id}"] >= 1
    assert routes["GET /api/v1/videos/{task_id}/content"] == 1
    # nothing went to the other families' routes
    assert not any(route.split()[1].startswith("/v1/video") for route in routes)


def test_blocking_client_image_to_video(
    sandbox: Any, client_options: dict[str, Any], tmp_path: pathlib.Path
) -> None:
    image = _png_uri()
    with vg.Client(sandbox.base_url, sandbox.api_key, dialect="openrouter", **client_options) as c:
        result = c.generate(small(model=VEO, prompt="the frame comes alive", image=image))
    assert result.ok and decode_video(result.path)["width"] == 160
    # the start frame reached the gateway as OpenRouter's first frame
    served = sandbox._server.state.tasks[result.task.id].request
    assert served.image is not None


async def test_failed_job_raises_with_the_gateway_message(
    make_sandbox: Any, make_client: Any
) -> None:
    sb = make_sandbox(failure_rate=1.0)
    client = make_client(sb, dialect="openrouter")
    with pytest.raises(TaskFailedError) as info:
        await client.generate(small(model=VEO))
    task = info.value.task
    assert task.status is TaskStatus.FAILED
    assert task.error and task.error == task.raw["error"]
    assert "GET /api/v1/videos/{task_id}/content" not in _routes(sb)


async def test_content_needs_the_bearer(sandbox: Any, make_client: Any) -> None:
    import aiohttp

    client = make_client(sandbox, dialect="openrouter")
    task = await client.wait(await client.submit(small(model=VEO)))
    url = f"{sandbox.base_url}/api/v1/videos/{task.id}/content?index=0"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 401
    path = await client.download(task)
    assert path.stat().st_size > 0


async def test_models_lists_openrouter_video_models(sandbox: Any, make_client: Any) -> None:
    client = make_client(sandbox, dialect="openrouter")
    assert await client.models() == list(OPENROUTER_MODELS)
    assert _routes(sandbox) == {"GET /api/v1/videos/models": 1}


async def test_auto_finds_openrouter_by_itself(make_sandbox: Any, make_client: Any) -> None:
    sb = _openrouter_only(make_sandbox)
    client = make_client(sb)  # dialect="auto"
    result = await client.generate(small(model=VEO))
    assert client.dialect == "openrouter"
    assert result.ok and result.task.raw["usage"]["cost"] > 0
    routes = _routes(sb)
    # one 404 per missing family, then OpenRouter; nothing was created twice
    assert routes["POST /v1/video/generations"] == 1
    assert routes["POST /v1/videos"] == 1
    assert routes["POST /api/v1/videos"] == 1
    assert sb.tasks_created == 1
    assert await client.models() == list(OPENROUTER_MODELS)
    # the journal knows the dialect, so a fresh client polls it the OpenRouter way
    entry = client.journal.by_task_id(result.task.id, gateway=client.gateway)
    assert entry is not None and entry.dialect == "openrouter"


async def test_base_url_ending_in_api_v1_is_not_doubled(
    sandbox: Any, client_options: dict[str, Any]
) -> None:
    # OpenRouter's documented API base is https://openrouter.ai/api/v1
    client = vg.AsyncClient(
        sandbox.base_url + "/api/v1", sandbox.api_key, dialect="openrouter", **client_options
    )
    try:
        result = await client.generate(small(model=VEO))
        assert result.ok
        assert _routes(sandbox)["POST /api/v1/videos"] == 1
    finally:
        await client.aclose()


# --- polling_url: followed only on the gateway's origin -----------------------------------


def _submitted(polling_url: str) -> Task:
    return Task(
        id="job-1",
        status=TaskStatus.QUEUED,
        raw={"id": "job-1", "polling_url": polling_url, "status": "pending"},
    )


def test_polling_url_on_the_gateway_origin_is_followed() -> None:
    dialect = OpenRouterDialect()
    dialect.accepted(_submitted("https://gw.example/api/v1/videos/job-1?x=1"), "https://gw.example")
    assert dialect.poll_paths("job-1") == ["https://gw.example/api/v1/videos/job-1?x=1"]
    relative = OpenRouterDialect()
    relative.accepted(_submitted("/api/v1/videos/job-1"), "https://gw.example/api")
    assert relative.poll_paths("job-1") == ["https://gw.example/api/v1/videos/job-1"]


def test_polling_url_on_another_origin_is_refused_and_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dialect = OpenRouterDialect()
    with caplog.at_level(logging.WARNING, logger="videogen_nb"):
        dialect.accepted(_submitted("https://evil.example/steal?k=1"), "https://gw.example")
    assert dialect.poll_paths("job-1") == ["/api/v1/videos/job-1"]
    assert "another origin" in caplog.text and "not sent there" in caplog.text
    assert "k=1" not in caplog.text  # the foreign URL's query is not logged


# --- the request body, model ids -----------------------------------------------------------


def test_body_maps_frames_references_and_refuses_what_has_no_place() -> None:
    dialect = get_dialect("openrouter")
    first, last = "https://e.example/a.png", "https://e.example/b.png"
    body = dialect.build_submit(
        vg.VideoRequest(
            model=VEO,
            prompt="a boat",
            image=first,
            last_image=last,
            size="1280x720",
            seconds=8,
            seed=3,
            extra_body={"resolution": "720p", "generate_audio": False},
        )
    ).json
    assert body == {
        "model": VEO,
        "prompt": "a boat",
        "duration": 8,
        "size": "1280x720",
        "seed": 3,
        "frame_images": [
            {"type": "image_url", "image_url": {"url": first}, "frame_type": "first_frame"},
            {"type": "image_url", "image_url": {"url": last}, "frame_type": "last_frame"},
        ],
        "resolution": "720p",
        "generate_audio": False,
    }
    refs = dialect.build_submit(vg.VideoRequest(model=VEO, prompt="x", images=[first, last]))
    assert refs.json is not None and len(refs.json["input_references"]) == 2
    with pytest.raises(ValidationError, match=r"fps: .*extra_body"):
        dialect.build_submit(vg.VideoRequest(model=VEO, prompt="x", fps=24))
    assert dialect.build_submit(vg.VideoRequest(model=VEO, prompt="x", size="9:16")).json == {
        "model": VEO,
        "prompt": "x",
        "aspect_ratio": "9:16",
    }


def test_routes_and_auto_order() -> None:
    dialect = get_dialect("openrouter")
    assert dialect.content_path("a/b") == "/api/v1/videos/a%2Fb/content?index=0"
    assert dialect.models_path() == "/api/v1/videos/models"
    assert dialect.build_cancel("x") is None
    bound = auto_fallback(get_dialect("openai"), "https://openrouter.ai/api")
    assert isinstance(bound, OpenRouterDialect)
    assert bound.poll_paths("j") == ["/v1/videos/j"]  # under the base's own /api


def test_provider_prefixed_models_map_to_the_catalog() -> None:
    assert get_model("google/veo-3.1").name == "veo_3_1"  # type: ignore[union-attr]
    assert get_model("openai/sora-2").name == "sora-2"  # type: ignore[union-attr]
    assert get_model("google/veo-3.1-fast").name == "veo_3_1-fast"  # type: ignore[union-attr]
    assert get_model("someone/new-model") is None
    warnings = check_request(vg.VideoRequest(model="someone/new-model", prompt="x"))
    assert warnings == ["'someone/new-model' is not in the catalog; sent as is"]
    # a known model behind a prefix gets its real checks, not the unknown-model warning
    sora = check_request(vg.VideoRequest(model="openai/sora-2", prompt="x", seconds=5))
    assert sora and "not in the catalog" not in sora[0]


async def test_a_new_client_follows_a_journalled_openrouter_task(
    sandbox: Any, make_client: Any, client_options: dict[str, Any]
) -> None:
    first = make_client(sandbox, dialect="openrouter")
    task = await first.submit(small(model=VEO))
    await first.aclose()
    # after a restart: an "auto" client learns the task's dialect from the journal
    again = make_client(sandbox)
    done = await again.wait(task.id)
    assert done.id == task.id and done.raw["usage"]["cost"] > 0
    assert (await again.download(done)).stat().st_size > 0
    assert "GET /v1/videos/{task_id}" not in _routes(sandbox)
