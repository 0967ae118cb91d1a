"""``client.remix``: a new task from a finished one and a new prompt, where the dialect has
OpenAI's ``POST /v1/videos/{id}/remix``; refused before any request where it has not, or
when the origin has not finished; the journal records the origin."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

import videogen_nb as vg
from tests.support import post_count, small
from videogen_nb.core.errors import NotSupportedError, ValidationError
from videogen_nb.dialects import get_dialect

REMIX_ROUTE = "POST /v1/videos/{task_id}/remix"


def _sha(path: Any) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_remix_of_a_finished_result_end_to_end(sandbox: Any, make_client: Any) -> None:
    client = make_client(sandbox, dialect="openai")
    origin = await client.generate(small(prompt="a paper boat"))

    run = client.remix(origin, prompt="the same boat, at night")
    await run
    (remixed,) = run.results
    assert remixed.ok, remixed.error
    assert remixed.task.id != origin.task.id
    assert remixed.request.remix_of == origin.task.id
    assert remixed.request.model == origin.request.model  # the origin's model by default
    assert _sha(remixed.path) != _sha(origin.path)  # a new video, not the origin's file
    requests = sandbox.stats(include_tasks=False)["requests"]
    assert requests[REMIX_ROUTE] == 1 and requests["POST /v1/videos"] == 1
    # the journal records the origin with the new task's request
    entry = client.journal.by_task_id(remixed.task.id, gateway=client.gateway)
    assert entry is not None and entry.request["remix_of"] == origin.task.id
    assert entry.request["prompt"] == "the same boat, at night"


def test_blocking_client_remixes_a_task_id(sandbox: Any, client_options: dict[str, Any]) -> None:
    with vg.Client(sandbox.base_url, sandbox.api_key, dialect="openai", **client_options) as c:
        origin = c.generate(small())
        run = c.remix(origin.task.id, prompt="in watercolour").wait(20)
    (remixed,) = run.results
    assert remixed.ok and remixed.task.id != origin.task.id
    assert remixed.request.remix_of == origin.task.id


@pytest.mark.parametrize("dialect", ["unified", "kling"])
async def test_remix_is_refused_without_a_remix_route(
    sandbox: Any, make_client: Any, dialect: str
) -> None:
    client = make_client(sandbox, dialect=dialect)
    origin = await client.generate(small())
    posts = post_count(sandbox)
    with pytest.raises(NotSupportedError, match="dialect='openai'") as info:
        client.remix(origin, prompt="at night")
    assert isinstance(info.value, ValidationError) and info.value.field == "dialect"
    assert post_count(sandbox) == posts  # nothing was sent
    assert REMIX_ROUTE not in sandbox.stats(include_tasks=False)["requests"]


async def test_remix_is_refused_on_openrouter(sandbox: Any, make_client: Any) -> None:
    client = make_client(sandbox, dialect="openrouter")
    origin = await client.generate(small(model="google/veo-3.1"))
    with pytest.raises(NotSupportedError, match="openrouter dialect has no remix"):
        client.remix(origin, prompt="at night")
    assert sandbox.stats(include_tasks=False)["requests"]["POST /api/v1/videos"] == 1


async def test_remix_of_an_unfinished_task_is_refused(make_sandbox: Any, make_client: Any) -> None:
    sb = make_sandbox(never_finish=True)
    client = make_client(sb, dialect="openai")
    task = await client.submit(small())
    posts = post_count(sb)
    with pytest.raises(ValidationError, match=r"is queued, not completed.*client\.wait") as info:
        client.remix(task, prompt="at night")
    assert info.value.field == "origin" and task.id in str(info.value)
    # by id too: the journal knows it has not finished
    with pytest.raises(ValidationError, match="not completed"):
        client.remix(task.id, prompt="at night")
    assert post_count(sb) == posts


async def test_the_gateway_refuses_an_unfinished_origin_it_alone_knows(
    make_sandbox: Any, make_client: Any, client_options: dict[str, Any]
) -> None:
    sb = make_sandbox(never_finish=True)
    task = await make_client(sb, dialect="openai").submit(small())
    # another client, no shared journal: the id is unknown here, so the gateway judges
    other = make_client(sb, dialect="openai", journal=None)
    run = other.remix(task.id, prompt="at night", model="kling-v1")
    await run
    (result,) = run.results
    assert not result.ok and "not completed" in str(result.error)


async def test_auto_remixes_through_the_route_the_origin_used(
    make_sandbox: Any, make_client: Any
) -> None:
    sb = make_sandbox(unified_routes=False)  # an OpenAI-style gateway
    client = make_client(sb)  # dialect="auto"
    origin = await client.generate(small())
    assert client.dialect == "openai"
    run = client.remix(origin, prompt="at dawn")
    await run
    assert run.results[0].ok


def test_remix_body_is_openai_remix_shape() -> None:
    dialect = get_dialect("openai")
    wire = dialect.build_submit(
        vg.VideoRequest(model="sora-2", prompt="at night", remix_of="video/1", metadata={"k": 1})
    )
    assert (wire.method, wire.path) == ("POST", "/v1/videos/video%2F1/remix")
    assert wire.json == {"prompt": "at night", "metadata": {"k": 1}}
    with pytest.raises(ValidationError, match="seconds: a remix takes only prompt"):
        dialect.build_submit(vg.VideoRequest(model="sora-2", prompt="x", remix_of="v", seconds=8))
