"""The client against a real LiteLLM proxy (pinned, see scripts/_litellm_venv.sh) in front of
an OpenAI-style upstream written here (``upstream.py``).

What LiteLLM does that the project's own sandbox does not: its submit answers an id that
packs provider and model (``video_`` + base64 of ``litellm:custom_llm_provider:openai;
model_id:sora-2;video_id:...``), its poll answers carry the same id *without* the model,
it sends the create upstream as multipart whatever the client sent, it retries an upstream
429 itself unless told not to (the proxy here has ``num_retries: 0`` so the client's own
handling is what is tested), and it wraps upstream
errors in its own envelope (``litellm.BadRequestError: OpenAIException - {...}``).
Without a key database it answers a key that is not its master key with 400
``no_db_connection`` ("No connected db."), its only refusal of a key in that set-up.
"""

from __future__ import annotations

import base64
import io
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import videogen_nb as vg
from tests.conformance.conftest import LITELLM_MODEL, Proxy
from tests.conformance.upstream import FAILURE_MESSAGE, OpenAIVideoUpstream
from videogen_nb.http.retry import RetryPolicy


@pytest.fixture
async def make_proxy_client(
    litellm_proxy: Proxy, client_options: dict[str, Any]
) -> AsyncIterator[Callable[..., vg.AsyncClient]]:
    """``make_proxy_client(**options)``: an ``AsyncClient`` on the proxy, closed after."""
    clients: list[vg.AsyncClient] = []

    def make(**options: Any) -> vg.AsyncClient:
        # A proxy of many dependencies answers slower than the sandbox on a busy machine.
        merged: dict[str, Any] = {
            **client_options,
            "dialect": "openai",
            "timeout": 30.0,
            "task_timeout": 90.0,
            **options,
        }
        api_key = merged.pop("api_key", litellm_proxy.api_key)
        client = vg.AsyncClient(litellm_proxy.base_url, api_key, **merged)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def _png(tmp_path: pathlib.Path) -> pathlib.Path:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 40, 90)).save(buffer, format="PNG")
    path = tmp_path / "first-frame.png"
    path.write_bytes(buffer.getvalue())
    return path


def _job_of(upstream: OpenAIVideoUpstream, prompt: str) -> Any:
    return next(job for job in upstream.jobs.values() if job.prompt == prompt)


def _packed(video_id: str) -> str:
    return base64.b64decode(video_id.removeprefix("video_") + "==").decode()


@pytest.mark.slow
async def test_submit_answer_packs_provider_and_model_into_the_id(
    make_proxy_client: Callable[..., vg.AsyncClient], upstream: OpenAIVideoUpstream
) -> None:
    client = make_proxy_client()
    prompt = "litellm: the id it hands out"
    task = await client.submit(vg.VideoRequest(model=LITELLM_MODEL, prompt=prompt, seconds=4))
    job = _job_of(upstream, prompt)
    assert task.id != job.id
    assert (
        _packed(task.id)
        == f"litellm:custom_llm_provider:openai;model_id:{LITELLM_MODEL};video_id:{job.id}"
    )


@pytest.mark.slow
async def test_text_to_video_ends_with_the_upstreams_bytes(
    make_proxy_client: Callable[..., vg.AsyncClient], upstream: OpenAIVideoUpstream
) -> None:
    client = make_proxy_client()
    prompt = "litellm: a paper boat in the rain"
    result = await client.generate(
        vg.VideoRequest(model=LITELLM_MODEL, prompt=prompt, seconds=4, size="1280x720")
    )
    assert result.task.status is vg.TaskStatus.COMPLETED
    assert result.path is not None
    assert result.path.read_bytes() == _job_of(upstream, prompt).video
    # The submit's id routes every call: the proxy never had to guess a model.
    assert _packed(result.task.id).startswith(
        f"litellm:custom_llm_provider:openai;model_id:{LITELLM_MODEL};"
    )


@pytest.mark.slow
async def test_image_to_video_sends_the_png_as_multipart_input_reference(
    make_proxy_client: Callable[..., vg.AsyncClient],
    upstream: OpenAIVideoUpstream,
    tmp_path: pathlib.Path,
) -> None:
    client = make_proxy_client()
    png = _png(tmp_path)
    prompt = "litellm: the first frame comes alive"
    result = await client.generate(
        vg.VideoRequest(model=LITELLM_MODEL, prompt=prompt, seconds=4, image=png)
    )
    submission = next(s for s in upstream.submissions if s.fields.get("prompt") == prompt)
    assert submission.content_type == "multipart/form-data"
    _filename, content_type, data = submission.files["input_reference"]
    assert (content_type, data) == ("image/png", png.read_bytes())
    assert result.path is not None
    assert result.path.read_bytes() == _job_of(upstream, prompt).video


@pytest.mark.slow
async def test_auto_dialect_finds_the_videos_route_by_itself(
    make_proxy_client: Callable[..., vg.AsyncClient], upstream: OpenAIVideoUpstream
) -> None:
    client = make_proxy_client(dialect="auto")
    prompt = "litellm: found without being told"
    result = await client.generate(vg.VideoRequest(model=LITELLM_MODEL, prompt=prompt, seconds=4))
    assert result.path is not None
    assert result.path.read_bytes() == _job_of(upstream, prompt).video


async def test_auto_dialect_submits_through_the_videos_route(
    make_proxy_client: Callable[..., vg.AsyncClient], upstream: OpenAIVideoUpstream
) -> None:
    # The part of "auto" that does not depend on polling: the proxy answers 404 to the
    # unified route, and the task is created through /v1/videos.
    client = make_proxy_client(dialect="auto")
    prompt = "litellm: auto submit"
    task = await client.submit(vg.VideoRequest(model=LITELLM_MODEL, prompt=prompt, seconds=4))
    assert _packed(task.id).endswith(f"video_id:{_job_of(upstream, prompt).id}")


async def test_wrong_key_raises_authentication_error_quoting_litellm(
    make_proxy_client: Callable[..., vg.AsyncClient], upstream: OpenAIVideoUpstream
) -> None:
    client = make_proxy_client(api_key="sk-not-the-master-key")
    before = len(upstream.submissions)
    with pytest.raises(vg.AuthenticationError) as caught:
        await client.submit(vg.VideoRequest(model=LITELLM_MODEL, prompt="litellm: wrong key"))
    assert "No connected db." in str(caught.value)
    assert "sk-not-the-master-key" not in str(caught.value)
    assert len(upstream.submissions) == before


@pytest.mark.slow
async def test_failing_job_ends_failed_with_the_upstreams_message(
    make_proxy_client: Callable[..., vg.AsyncClient],
) -> None:
    client = make_proxy_client()
    with pytest.raises(vg.TaskFailedError) as caught:
        await client.generate(
            vg.VideoRequest(
                model=LITELLM_MODEL, prompt="litellm: [fail] a forbidden scene", seconds=4
            )
        )
    assert caught.value.task.status is vg.TaskStatus.FAILED
    assert caught.value.task.error == FAILURE_MESSAGE


async def test_rate_limited_submit_is_retried_once_the_wait_is_over(
    make_proxy_client: Callable[..., vg.AsyncClient], upstream: OpenAIVideoUpstream
) -> None:
    client = make_proxy_client()
    prompt = "litellm: [429] busy, then fine"
    task = await client.submit(vg.VideoRequest(model=LITELLM_MODEL, prompt=prompt, seconds=4))
    tries = [s for s in upstream.submissions if s.fields.get("prompt") == prompt]
    assert len(tries) == 2  # refused with 429 once, then accepted
    assert _packed(task.id).endswith(f"video_id:{_job_of(upstream, prompt).id}")


async def test_rate_limit_without_retries_is_reported_as_rate_limit_error(
    make_proxy_client: Callable[..., vg.AsyncClient],
) -> None:
    client = make_proxy_client(retry=RetryPolicy(max_attempts=1))
    with pytest.raises(vg.RateLimitError) as caught:
        await client.submit(
            vg.VideoRequest(model=LITELLM_MODEL, prompt="litellm: [429] no second try", seconds=4)
        )
    assert caught.value.status_code == 429
    assert "Rate limit reached" in str(caught.value)


async def test_invalid_field_is_named_in_the_error(
    make_proxy_client: Callable[..., vg.AsyncClient],
) -> None:
    # sora-2 takes seconds 4, 8 or 12: the catalog only warns, the upstream refuses with 422.
    client = make_proxy_client()
    with pytest.raises(vg.BadRequestError) as caught:
        await client.submit(vg.VideoRequest(model=LITELLM_MODEL, prompt="litellm: 5 s", seconds=5))
    assert caught.value.status_code == 422
    assert "seconds" in str(caught.value)
    assert "must be one of 4, 8, 12" in str(caught.value)


async def test_a_size_the_spec_forbids_is_refused_before_sending(
    make_proxy_client: Callable[..., vg.AsyncClient], upstream: OpenAIVideoUpstream
) -> None:
    client = make_proxy_client()
    before = len(upstream.submissions)
    with pytest.raises(vg.ValidationError) as caught:
        await client.submit(
            vg.VideoRequest(model=LITELLM_MODEL, prompt="litellm: square", aspect_ratio="1:1")
        )
    assert caught.value.field == "aspect_ratio"
    assert "720x1280, 1280x720, 1024x1792, 1792x1024" in str(caught.value)
    assert len(upstream.submissions) == before


@pytest.mark.parametrize("image", [False, True], ids=["json", "multipart"])
async def test_folded_metadata_passes_the_proxy(
    make_proxy_client: Callable[..., vg.AsyncClient],
    upstream: OpenAIVideoUpstream,
    tmp_path: pathlib.Path,
    image: bool,
) -> None:
    # The dialect folds fields OpenAI has no place for (seed, fps, ...) into ``metadata``;
    # LiteLLM reads a ``metadata`` of its own (for its logging): it accepts the call and
    # keeps that field to itself, so the upstream never sees it. A fact of the pinned
    # version, asserted so that a LiteLLM that starts forwarding it is noticed.
    client = make_proxy_client()
    prompt = f"litellm: metadata through the proxy ({'multipart' if image else 'json'})"
    task = await client.submit(
        vg.VideoRequest(
            model=LITELLM_MODEL,
            prompt=prompt,
            seconds=4,
            seed=7,
            metadata={"style": "film"},
            image=_png(tmp_path) if image else None,
        )
    )
    assert _packed(task.id).endswith(f"video_id:{_job_of(upstream, prompt).id}")
    sent = next(s for s in upstream.submissions if s.fields.get("prompt") == prompt)
    assert "metadata" not in sent.fields
    assert "seed" not in sent.fields


@pytest.mark.slow
async def test_no_cost_is_invented_from_the_proxys_empty_usage(
    make_proxy_client: Callable[..., vg.AsyncClient],
) -> None:
    # LiteLLM 1.106.12 answers a finished video with "usage": null and no cost header for a
    # model its tables do not price: nothing was reported, so no reported cost (never $0).
    client = make_proxy_client()
    result = await client.generate(
        vg.VideoRequest(model=LITELLM_MODEL, prompt="litellm: what it cost", seconds=4)
    )
    assert result.task.status is vg.TaskStatus.COMPLETED
    assert isinstance(result.task.raw, dict) and result.task.raw.get("usage") is None
    assert result.task.cost is None
    assert vg.format_cost(result.task.cost) == "price unknown"
