"""The ``openai`` dialect straight against the OpenAI-style upstream (no proxy between).

These need nothing installed, so they run everywhere; they also prove the upstream is a
faithful stand-in for OpenAI (its answers validate against the published spec), which the
LiteLLM tests rely on.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

import videogen_nb as vg
from tests.conformance.upstream import UPSTREAM_KEY, OpenAIVideoUpstream

SPEC: dict[str, Any] = json.loads(
    pathlib.Path(__file__).with_name("openai_videos_spec.json").read_text()
)


def _schema(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    )


@pytest.fixture
async def make_direct_client(
    upstream: OpenAIVideoUpstream, client_options: dict[str, Any]
) -> AsyncIterator[Callable[..., vg.AsyncClient]]:
    """``make_direct_client(**options)``: an openai-dialect client on the upstream itself."""
    clients: list[vg.AsyncClient] = []
    root = upstream.base_url.removesuffix("/v1")

    def make(**options: Any) -> vg.AsyncClient:
        merged: dict[str, Any] = {**client_options, "dialect": "openai", **options}
        client = vg.AsyncClient(root, merged.pop("api_key", UPSTREAM_KEY), **merged)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def test_a_422_keeps_the_field_at_fault(
    make_direct_client: Callable[..., vg.AsyncClient],
) -> None:
    # The upstream answers like OpenAI: {"error": {"message": "Your request is not valid",
    # "param": "seconds", "validation": [{"location": ["body", "seconds"], ...}]}}.
    client = make_direct_client()
    with pytest.raises(vg.BadRequestError) as caught:
        await client.submit(vg.VideoRequest(model="sora-2", prompt="direct: 5 s", seconds=5))
    assert caught.value.status_code == 422
    assert "Your request is not valid" in str(caught.value)
    assert "seconds: must be one of 4, 8, 12" in str(caught.value)


@pytest.mark.slow
async def test_generate_directly_ends_with_the_upstreams_bytes(
    make_direct_client: Callable[..., vg.AsyncClient], upstream: OpenAIVideoUpstream
) -> None:
    client = make_direct_client()
    prompt = "direct: a lighthouse at dusk"
    result = await client.generate(
        vg.VideoRequest(model="sora-2", prompt=prompt, seconds=8, aspect_ratio="9:16")
    )
    job = next(j for j in upstream.jobs.values() if j.prompt == prompt)
    assert result.task.id == job.id
    assert result.path is not None and result.path.read_bytes() == job.video
    sent = next(s for s in upstream.submissions if s.fields.get("prompt") == prompt)
    assert sent.content_type == "application/json"
    assert sent.fields == {"model": "sora-2", "prompt": prompt, "seconds": "8", "size": "720x1280"}
    assert list(_schema("CreateVideoJsonBody").iter_errors(sent.fields)) == []


async def test_the_upstream_answers_as_the_spec_says(upstream: OpenAIVideoUpstream) -> None:
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.post(
            f"{upstream.base_url}/videos", json={"model": "sora-2", "prompt": "direct: spec"}
        ) as created:
            video = await created.json()
        async with session.get(f"{upstream.base_url}/videos/{video['id']}") as polled:
            again = await polled.json()
        async with session.get(f"{upstream.base_url}/videos/{video['id']}/content") as early:
            assert early.status == 400
    for body in (video, again):
        assert [e.message for e in _schema("VideoResource").iter_errors(body)] == []
