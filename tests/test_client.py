"""Issue 2: one task end to end over real HTTP against the sandbox, in every dialect."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

import videogen_nb as vg
from tests.support import FAST_POLL, FAST_RETRY, decode_video, get_count, post_count, small


def _png(color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(buffer, format="PNG")
    return buffer.getvalue()


SUBMIT_ROUTE = {
    "unified": "POST /v1/video/generations",
    "kling": "POST /v1/video/generations",
    "auto": "POST /v1/video/generations",
    "openai": "POST /v1/videos",
}


@pytest.mark.parametrize("dialect", ["unified", "openai", "kling", "auto"])
@pytest.mark.parametrize("mode", ["text", "image"])
async def test_generate_end_to_end_every_dialect(sandbox, make_client, dialect, mode):
    client = make_client(sandbox, dialect=dialect)
    fields = {"image": _png()} if mode == "image" else {}
    request = small(f"{mode} to video in {dialect}", model="kling-v2-5-turbo", **fields)

    result = await client.generate(request)

    assert result.ok and result.task.status is vg.TaskStatus.COMPLETED
    assert result.path is not None and result.path.parent == client.output_dir.resolve()
    video = decode_video(result.path)
    assert video["frames"] > 0
    if dialect == "kling":
        # uniall's Kling takes an aspect ratio, not a size: 160x90 travels as 16:9
        assert video["width"] * 9 == video["height"] * 16
    else:
        assert (video["width"], video["height"]) == (160, 90)
    stats = sandbox.stats(include_tasks=False)
    assert stats["tasks_created"] == 1
    assert stats["requests"].get(SUBMIT_ROUTE[dialect]) == 1
    entry = client.journal.get(result.journal_id)
    assert entry.state == "downloaded" and entry.task_id == result.task.id
    if mode == "image":
        # the sandbox renders the input image into the first frame: it really travelled
        import av

        with av.open(str(result.path)) as container:
            first = next(container.decode(video=0)).to_ndarray(format="rgb24")
        red, green, blue = (first[..., i].mean() for i in range(3))
        assert red > green + 40 and red > blue + 40


async def test_auto_switches_to_openai_when_only_v1_videos_is_served(make_sandbox, make_client):
    sandbox = make_sandbox(unified_routes=False)
    client = make_client(sandbox, dialect="auto")
    assert client.dialect == "unified"

    result = await client.generate(small("openai-only gateway"))

    assert client.dialect == "openai"
    assert decode_video(result.path)["frames"] > 0
    stats = sandbox.stats(include_tasks=False)
    assert stats["tasks_created"] == 1
    assert stats["requests"]["POST /v1/video/generations"] == 1  # the 404 that taught it
    assert stats["requests"]["POST /v1/videos"] == 1
    # the journal remembers the dialect that worked, so a restart polls the right route
    assert client.journal.get(result.journal_id).dialect == "openai"
    # and the next request goes straight to /v1/videos
    await client.generate(small("second request"))
    assert sandbox.stats(include_tasks=False)["requests"]["POST /v1/video/generations"] == 1


async def test_wrong_key_raises_authentication_error_quoting_gateway(sandbox, make_client):
    client = make_client(sandbox, api_key="sk-wrong-key-123")
    with pytest.raises(vg.AuthenticationError) as info:
        await client.generate(small())
    error = info.value
    assert error.status_code == 401
    assert "Invalid token" in str(error)
    assert "sk-wrong-key-123" not in str(error) and "wrong-key-123" not in repr(error)
    assert sandbox.tasks_created == 0
    # nothing was created, so the journal says failed (not submit_unknown)
    (entry,) = client.journal.entries()
    assert entry.state == "failed"


async def test_429_on_get_waits_for_retry_after(sandbox, make_client):
    client = make_client(sandbox)
    task = await client.submit(small())
    sandbox.configure(rate_limit=1, rate_limit_on="get", retry_after=1)
    started = time.monotonic()
    fresh = await client.retrieve(task.id)
    waited = time.monotonic() - started
    assert fresh.id == task.id
    assert waited >= 0.95, f"Retry-After: 1 not honoured (retried after {waited:.2f} s)"
    assert sandbox.stats(include_tasks=False)["statuses"]["429"] == 1


async def test_blocking_client_inside_running_event_loop(sandbox, client_options):
    # As in a notebook cell: a loop is running here, and the blocking client still works.
    asyncio.get_running_loop()
    client = vg.Client(sandbox.base_url, sandbox.api_key, **client_options)
    try:
        result = client.generate(small("from inside a running loop"))
        assert decode_video(result.path)["frames"] > 0
        run = client.run([small(f"row {i}") for i in range(3)])
        await run  # awaiting a run that works on the background loop, from this loop
        assert [r.ok for r in run.results] == [True, True, True]
        assert client.models()[:1] == ["kling-v1"]
        assert "sk-sandbox" not in repr(client)
    finally:
        client.close()
    assert sandbox.tasks_created == 4


def test_blocking_client_in_plain_script(sandbox, client_options):
    with vg.Client(sandbox.base_url, sandbox.api_key, **client_options) as client:
        task = client.submit(small())
        done = client.wait(task, timeout=10)
        path = client.download(done)
        assert decode_video(path)["frames"] > 0
        run = client.compare(
            prompt=["a", "b"], models=["kling-v1", "sora-2"], size="160x90", duration=1
        )
        run.wait(20)
        assert len(run.results) == 4 and all(r.ok for r in run.results)


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_with_or_without_v1(sandbox, make_client, suffix, client_options):
    client = vg.AsyncClient(sandbox.base_url + suffix, sandbox.api_key, **client_options)
    try:
        assert client.base_url == sandbox.base_url
        result = await client.generate(small(f"base url {suffix!r}"))
        assert result.ok
    finally:
        await client.aclose()
    assert get_count(sandbox, "GET /v1/v1") == 0 and post_count(sandbox) == 1


async def test_environment_variables(sandbox, monkeypatch, client_options):
    monkeypatch.setenv("VIDEOGEN_BASE_URL", sandbox.base_url + "/v1")
    monkeypatch.setenv("VIDEOGEN_API_KEY", sandbox.api_key)
    client = vg.AsyncClient(**client_options)
    try:
        assert client.base_url == sandbox.base_url
        assert (await client.generate(small("from the environment"))).ok
    finally:
        await client.aclose()
    monkeypatch.delenv("VIDEOGEN_BASE_URL")
    with pytest.raises(vg.ValidationError, match="VIDEOGEN_BASE_URL"):
        vg.AsyncClient(**client_options)


async def test_wait_timeout_and_failed_task(make_sandbox, make_client):
    sandbox = make_sandbox(never_finish=True)
    client = make_client(sandbox)
    task = await client.submit(small())
    with pytest.raises(vg.TaskTimeoutError):
        await client.wait(task, timeout=0.5)
    assert client.journal.by_task_id(task.id).state == "timed_out"

    failing = make_sandbox(failure_rate=1.0)
    client2 = make_client(failing, journal=None)
    with pytest.raises(vg.TaskFailedError) as info:
        await client2.generate(small())
    assert info.value.task.status is vg.TaskStatus.FAILED
    assert info.value.task.error  # the gateway's own failure text


async def test_validation_before_any_request(sandbox, make_client):
    client = make_client(sandbox)
    with pytest.raises(vg.ValidationError):
        await client.submit("not a request")  # type: ignore[arg-type]
    assert sum(sandbox.stats(include_tasks=False)["requests"].values()) == 0


def test_options_are_checked(sandbox):
    with pytest.raises(vg.ValidationError):
        vg.AsyncClient(
            sandbox.base_url,
            sandbox.api_key,
            journal=None,
            poll=FAST_POLL,
            retry=FAST_RETRY,
            timeout=-1,
        )


def test_blocking_clients_left_open_are_closed_at_exit(tmp_path):
    """A notebook rarely calls close(): the interpreter's exit closes the HTTP session, so
    aiohttp has no unclosed session to complain about."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import videogen_nb as vg
        sandbox = vg.sandbox.start(task_seconds=0.1)
        client = vg.Client(sandbox.base_url, sandbox.api_key, journal=None,
                           output_dir={str(tmp_path)!r})
        print(client.models()[:1])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Unclosed" not in done.stderr
